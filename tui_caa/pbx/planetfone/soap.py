"""SOAP 1.1 for Planetfone's `wenvpabx2` service: envelopes built and read with the standard library.

Document/literal, target namespace `http://appserver/`, `SOAPAction` = the operation's name (all from
the public WSDL). A response's `<Op>Response` holds one `<Op>Resultado` whose children are plain
fields, or `ArrayOf…` lists of records; `parse_response` turns that into dicts of strings.

Untrusted XML: a document with a DOCTYPE (the door to entity expansion and external entities) is
refused before it is parsed; a reply is read within MAX_RESPONSE_BYTES (streamed, refused as soon as it
passes the cap: SoapTooLarge, a lost link), and the parser refuses anything larger too.
"""

from __future__ import annotations

import logging
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

import httpx

from tui_caa.pbx.base import NotConnected, PbxError
from tui_caa.pbx.limits import IDENTITY, SOAP_REPLY_BYTES, LimitLog, ReplyTooLarge, request_capped

log = logging.getLogger(__name__)

NAMESPACE = "http://appserver/"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
MAX_RESPONSE_BYTES = SOAP_REPLY_BYTES

Record = dict[str, str]


class SoapError(PbxError):
    """The service answered, but not with a usable result (HTTP error, bad XML, a SOAP Fault)."""


class SoapFault(SoapError):
    def __init__(self, operation: str, code: str, text: str) -> None:
        super().__init__(f"{operation}: the Planetfone service reported a SOAP Fault ({code}): {text}")
        self.code, self.text = code, text


class SoapUnreachable(SoapError, NotConnected):
    """No answer at all: connection refused or reset, or no reply within the timeout."""


class SoapTooLarge(SoapUnreachable, ReplyTooLarge):
    """A reply past MAX_RESPONSE_BYTES: a protocol error, the link is treated as lost."""


@dataclass(slots=True)
class Result:
    """One operation's result: its plain fields and its lists of records, by the list's item name."""

    fields: Record = field(default_factory=dict)
    lists: dict[str, list[Record]] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        return self.fields.get(name, default)

    def items(self, name: str) -> list[Record]:
        return self.lists.get(name, [])


def envelope(operation: str, params: Mapping[str, object]) -> bytes:
    """The request: every parameter as a child of `<tns:Operation>`, in the given order."""
    parts = []
    for name, value in params.items():
        text = "" if value is None else str(int(value) if isinstance(value, bool) else value)
        parts.append(f"<tns:{name}>{escape(text)}</tns:{name}>")
    body = "".join(parts)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:tns="{NAMESPACE}">'
        f"<soap:Body><tns:{operation}>{body}</tns:{operation}></soap:Body></soap:Envelope>"
    ).encode()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def safe_fromstring(data: bytes, what: str) -> ET.Element:
    if len(data) > MAX_RESPONSE_BYTES:
        raise SoapError(f"{what}: the response is {len(data)} bytes, more than the {MAX_RESPONSE_BYTES} accepted")
    head = data[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in data.lower():
        raise SoapError(f"{what}: the response declares a DOCTYPE or entities, refused (unsafe XML)")
    try:
        return ET.fromstring(data)
    except (ET.ParseError, LookupError) as exc:  # LookupError: an encoding Python does not know
        raise SoapError(f"{what}: the response is not valid XML ({str(exc)[:80]})") from None


def parse_response(operation: str, data: bytes) -> Result:
    root = safe_fromstring(data, operation)
    if _local(root.tag) != "Envelope":
        raise SoapError(f"{operation}: the response is XML but not a SOAP envelope (<{_local(root.tag)}>)")
    body = next((child for child in root if _local(child.tag) == "Body"), None)
    if body is None or len(body) == 0:
        raise SoapError(f"{operation}: the SOAP envelope has no Body")
    first = body[0]
    if _local(first.tag) == "Fault":
        code = text = ""
        for child in first:
            name = _local(child.tag)
            if name == "faultcode":
                code = (child.text or "").strip()
            elif name == "faultstring":
                text = (child.text or "").strip()
        raise SoapFault(operation, code or "?", text or "no faultstring")
    if _local(first.tag) != f"{operation}Response":
        raise SoapError(f"{operation}: expected <{operation}Response>, got <{_local(first.tag)}>")
    holder = next(iter(first), None)
    if holder is None:
        raise SoapError(f"{operation}: <{operation}Response> holds no result")
    result = Result()
    for child in holder:
        name = _local(child.tag)
        if name.startswith("ArrayOf"):
            for item in child:
                result.lists.setdefault(_local(item.tag), []).append(
                    {_local(f.tag): (f.text or "").strip() for f in item})
        else:
            result.fields[name] = (child.text or "").strip()
    return result


class SoapClient:
    """One httpx client for one service URL; every call is one POST, never retried here
    (a Disca must never be sent twice: retrying is the caller's decision, per operation)."""

    def __init__(self, url: str, *, timeout: float, connect_timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=connect_timeout), headers=IDENTITY)
        self.requests = 0
        self.failures = 0  # counted: bad XML, HTTP errors, faults, timeouts, replies too large
        self.limits = LimitLog(log)  # replies too large: counted, logged once then rate-limited
        self.last_seconds = 0.0

    async def close(self) -> None:
        await self._http.aclose()

    async def call(self, operation: str, params: Mapping[str, object], *, timeout: float | None = None) -> Result:
        self.requests += 1
        started = time.monotonic()
        try:
            return await self._call(operation, params, timeout)
        except SoapTooLarge as exc:
            self.failures += 1
            self.limits(f"Planetfone {operation}", str(exc))
            raise
        except SoapError as exc:
            self.failures += 1
            log.warning("Planetfone %s failed: %s", operation, exc)
            raise
        finally:
            self.last_seconds = time.monotonic() - started

    async def _call(self, operation: str, params: Mapping[str, object], timeout: float | None) -> Result:
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{operation}"'}
        limit = timeout or self.timeout
        try:
            # the whole reply within the timeout too: an endless trickle is a timeout, not a wait forever
            response = await request_capped(
                self._http, "POST", self.url, cap=MAX_RESPONSE_BYTES, pbx=f"Planetfone ({operation})",
                error=SoapTooLarge, deadline=limit, content=envelope(operation, params), headers=headers,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT)
        except httpx.TimeoutException:
            raise SoapUnreachable(f"{operation}: no answer from the SOAP service at {self.url} "
                                  f"within {limit:g} s (request_timeout in [pbx.planetfone])") from None
        except httpx.HTTPError as exc:
            raise SoapUnreachable(f"{operation}: cannot reach the SOAP service at {self.url}: "
                                  f"{type(exc).__name__} {exc}".rstrip()) from None
        data = response.content
        if response.status_code >= 400:
            # a SOAP Fault travels with HTTP 500: report the fault's own words when there is one
            if data.lstrip().startswith(b"<"):
                try:
                    parse_response(operation, data)
                except SoapFault:
                    raise
                except SoapError:
                    pass
            raise SoapError(f"{operation}: the SOAP service at {self.url} answered HTTP {response.status_code}"
                            f" {response.reason_phrase}".rstrip())
        return parse_response(operation, data)
