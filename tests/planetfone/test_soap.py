"""SOAP envelopes: what the driver sends and how it reads (and refuses) what comes back."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tui_caa.pbx.planetfone.driver import service_url
from tui_caa.pbx.planetfone.soap import MAX_RESPONSE_BYTES, SoapError, SoapFault, envelope, parse_response

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


def wrap(body: str) -> bytes:
    return (f'<?xml version="1.0"?><s:Envelope xmlns:s="{SOAP}" xmlns:t="http://appserver/">'
            f"<s:Body>{body}</s:Body></s:Envelope>").encode()


def test_envelope_is_document_literal_and_escaped() -> None:
    data = envelope("Disca", {"NroTelefOrigem": "1001", "NroTelefDestino": "<&>", "PermissoesSistema": True,
                              "CodFila": None})
    root = ET.fromstring(data)
    op = root.find(f"{{{SOAP}}}Body/{{http://appserver/}}Disca")
    assert op is not None
    assert [(child.tag.split("}")[1], child.text or "") for child in op] == [
        ("NroTelefOrigem", "1001"), ("NroTelefDestino", "<&>"), ("PermissoesSistema", "1"), ("CodFila", "")]


def test_fields_and_lists_are_read_by_local_name() -> None:
    result = parse_response("CanaisAtivos", wrap(
        "<t:CanaisAtivosResponse><t:CanaisAtivosResultado><t:Total>2</t:Total>"
        "<t:ArrayOfCanaisAtivosDadosCanais><t:DadosCanais><t:Channel>SIP/1001-0a</t:Channel></t:DadosCanais>"
        "<t:DadosCanais><Channel> SIP/trunk-0b </Channel><State/></t:DadosCanais>"
        "</t:ArrayOfCanaisAtivosDadosCanais></t:CanaisAtivosResultado></t:CanaisAtivosResponse>"))
    assert result.get("Total") == "2"
    assert result.items("DadosCanais") == [{"Channel": "SIP/1001-0a"}, {"Channel": "SIP/trunk-0b", "State": ""}]
    assert result.items("Nothing") == []


def test_a_fault_is_reported_with_its_words() -> None:
    with pytest.raises(SoapFault, match=r"Disca: the Planetfone service reported a SOAP Fault \(soap:Client\): "
                                        r"bad NroTelefOrigem"):
        parse_response("Disca", wrap("<s:Fault><faultcode>soap:Client</faultcode>"
                                     "<faultstring>bad NroTelefOrigem</faultstring></s:Fault>"))


@pytest.mark.parametrize(("data", "message"), [
    (b"<html>oops</html>", r"the response is XML but not a SOAP envelope \(<html>\)"),
    (b"not xml at all", "the response is not valid XML"),
    (wrap(""), "the SOAP envelope has no Body"),
    (wrap("<t:OutraResponse/>"), "expected <DiscaResponse>, got <OutraResponse>"),
    (wrap("<t:DiscaResponse/>"), "<DiscaResponse> holds no result"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
     r"declares a DOCTYPE or entities, refused \(unsafe XML\)"),
    (b"<x>" + b" " * (MAX_RESPONSE_BYTES + 1) + b"</x>", "more than the .* accepted"),
])
def test_bad_responses_are_named(data: bytes, message: str) -> None:
    with pytest.raises(SoapError, match=message):
        parse_response("Disca", data)


@pytest.mark.parametrize(("address", "port", "url"), [
    ("192.168.111.222", 3080, "http://192.168.111.222:3080/wenvpabx2"),
    ("192.168.111.222", None, "http://192.168.111.222:3080/wenvpabx2"),
    ("http://pf.central.com.br", 3080, "http://pf.central.com.br:3080/wenvpabx2"),
    ("http://pf.central.com.br/pabx/", 8080, "http://pf.central.com.br:8080/pabx/wenvpabx2"),
    ("HTTPS://pf.central.com.br", None, "https://pf.central.com.br/wenvpabx2"),
])
def test_the_service_url_follows_the_registry(address: str, port: int | None, url: str) -> None:
    assert service_url(address, port, "/wenvpabx2") == url
