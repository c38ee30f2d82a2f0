"""Fuzz: the readers of whole replies (Planetfone's SOAP, the JSON of Dígitro and ForIP, and the
capped body reader under them) fed arbitrary bodies in arbitrary pieces. Each gives a clear error
(a PbxError) or a correct result, never reads past its cap, and never hangs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import SecretStr

from tests.fuzz.strategies import FUZZ, split, stream_bytes
from tui_caa.pbx.base import PbxError
from tui_caa.pbx.digitro.http import DigitroHttp
from tui_caa.pbx.forip.api import ApiDown, ApiRefused, ForipApi
from tui_caa.pbx.limits import ReplyTooLarge, request_capped
from tui_caa.pbx.planetfone.soap import SOAP_ENV, SoapError, parse_response

CAP = 256


def _transport(pieces: list[bytes], status: int = 200, length: bool = False) -> httpx.MockTransport:
    """A server answering every request with `pieces` as a streamed body (chunked unless `length`)."""
    async def body() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    def answer(request: httpx.Request) -> httpx.Response:
        headers = {"content-length": str(sum(map(len, pieces)))} if length else {}
        return httpx.Response(status, headers=headers, content=body())

    return httpx.MockTransport(answer)


# ---- the capped reader ----------------------------------------------------------------------------

@FUZZ
@given(st.data(), st.binary(max_size=2 * CAP), st.booleans())
def test_a_body_is_read_whole_within_its_cap_or_refused(data: st.DataObject, raw: bytes, length: bool) -> None:
    async def read() -> bytes:
        async with httpx.AsyncClient(transport=_transport(data.draw(split(raw)), length=length)) as client:
            reply = await request_capped(client, "GET", "http://pbx/api?key=SECRET", cap=CAP, pbx="PBX")
            return reply.content

    try:
        assert asyncio.run(read()) == raw and len(raw) <= CAP
    except ReplyTooLarge as exc:
        assert len(raw) > CAP and f"/api larger than {CAP} bytes" in str(exc) and "SECRET" not in str(exc)


# ---- Planetfone SOAP ------------------------------------------------------------------------------

_XMLISH = b'<>/="?! \n:soap:Envelope Body Fault faultstring OpResponse OpResultado ArrayOfX a&;#x\xc3\xa9'


@FUZZ
@given(stream_bytes(_XMLISH))
@example(b'<?xml version="1.0" encoding="bogus"?><a/>')
@example(b"<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>")
@example(b"<a>" * 50_000)
def test_soap_reply_is_a_result_or_a_soap_error(raw: bytes) -> None:
    try:
        parse_response("Op", raw)
    except SoapError:
        pass


_FIELD = st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"), min_size=1, max_size=10)
_TEXT = st.text(st.characters(blacklist_categories=["Cs", "Cc"]), max_size=20).map(str.strip)


@FUZZ
@given(st.dictionaries(_FIELD.filter(lambda name: not name.startswith("ArrayOf")), _TEXT, max_size=6))
def test_soap_fields_come_back_as_sent(fields: dict[str, str]) -> None:
    from xml.sax.saxutils import escape
    body = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in fields.items())
    raw = (f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body><OpResponse><OpResultado>{body}'
           "</OpResultado></OpResponse></soap:Body></soap:Envelope>").encode()
    assert parse_response("Op", raw).fields == fields


# ---- Dígitro and ForIP JSON -----------------------------------------------------------------------

_JSONISH = b'{}[]":,0123456789.eE+-truefalsenull \\u00e9\xff'


class _Server:
    """What the mock PBX answers next (clients are built once: an httpx client costs ~40 ms)."""

    pieces: list[bytes] = []
    status = 200

    @classmethod
    def transport(cls) -> httpx.MockTransport:
        async def body(pieces: list[bytes]) -> AsyncIterator[bytes]:
            for piece in pieces:
                yield piece
        return httpx.MockTransport(lambda request: httpx.Response(cls.status, content=body(list(cls.pieces))))


_DIGITRO = DigitroHttp.with_api_key("http://pbx", SecretStr("SECRET"))
_DIGITRO._client = httpx.AsyncClient(base_url="http://pbx", transport=_Server.transport())
_FORIP = ForipApi("http://pbx/admanager/crm", "agent@example.com", SecretStr("SECRET"), timeout=5)
_FORIP._http = httpx.AsyncClient(transport=_Server.transport())


def _answer(pieces: list[bytes], status: int, request: Any) -> Any:
    _Server.pieces, _Server.status = pieces, status
    return asyncio.run(request)


@FUZZ
@given(st.data(), stream_bytes(_JSONISH), st.sampled_from([200, 200, 200, 401, 404, 422, 500]))
@example(None, b"[" * 100_000, 200)
@example(None, b"[" * 100_000, 500)
def test_digitro_reply_is_an_object_or_a_pbx_error(data: st.DataObject | None, raw: bytes, status: int) -> None:
    pieces = data.draw(split(raw)) if data is not None else [raw]
    try:
        body = _answer(pieces, status, _DIGITRO.request("POST", "/requests/1/estado", "query a state"))
    except PbxError as exc:
        assert "SECRET" not in str(exc)
        return
    assert status == 200 and isinstance(body, dict)
    assert body == ({} if not raw.strip() else json.loads(raw))


@FUZZ
@given(st.data(), stream_bytes(_JSONISH))
@example(None, b"[" * 100_000)
def test_forip_reply_is_an_object_or_a_clear_error(data: st.DataObject | None, raw: bytes) -> None:
    pieces = data.draw(split(raw)) if data is not None else [raw]
    try:
        body = _answer(pieces, 200, _FORIP._request("POST", "disca_crm", {"api_key": "SECRET"}, what="call"))
    except (ApiDown, ApiRefused) as exc:
        assert "SECRET" not in str(exc)
        return
    assert body == json.loads(raw) and isinstance(body, dict) and "error" not in body


# ---- compression: asked for none, decoded in bounded pieces when it comes anyway -------------------

@FUZZ
@given(st.data(), st.binary(max_size=2 * CAP), st.sampled_from(["gzip", "deflate"]))
def test_a_compressed_body_is_decoded_within_its_cap(data: st.DataObject, raw: bytes, encoding: str) -> None:
    import zlib
    packed = zlib.compress(raw) if encoding == "deflate" else __import__("gzip").compress(raw)

    def answer(request: httpx.Request) -> httpx.Response:
        async def body() -> AsyncIterator[bytes]:
            for piece in data.draw(split(packed)):
                yield piece
        return httpx.Response(200, headers={"content-encoding": encoding}, content=body())

    async def read() -> bytes:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            return (await request_capped(client, "GET", "http://pbx/api", cap=CAP, pbx="PBX")).content

    try:
        assert asyncio.run(read()) == raw and len(raw) <= CAP
    except ReplyTooLarge:
        assert len(raw) > CAP


def test_a_gzip_bomb_costs_one_cap_not_its_expansion() -> None:
    import gzip
    import tracemalloc
    bomb = gzip.compress(b"\0" * (200 * 1024 * 1024), 9)  # 200 MiB in about 200 kB
    cap = 4 * 1024 * 1024

    def answer(request: httpx.Request) -> httpx.Response:
        async def body() -> AsyncIterator[bytes]:  # streamed, as from a socket
            for start in range(0, len(bomb), 65536):
                yield bomb[start:start + 65536]
        return httpx.Response(200, headers={"content-encoding": "gzip"}, content=body())

    async def read() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            await request_capped(client, "GET", "http://pbx/api", cap=cap, pbx="PBX")

    tracemalloc.start()
    try:
        asyncio.run(read())
        raise AssertionError("a 200 MiB body passed a 4 MiB cap")
    except ReplyTooLarge:
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * cap, f"{peak:,} bytes for a gzip bomb"
