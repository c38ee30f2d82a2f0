"""HTTP to the Dígitro PABX API (and EasyCall Record) over httpx, with every failure as a clear PbxError.

The API key travels only in the `x-api-key` header; it is read out of its SecretStr when the client
is built and never logged (httpx logs request lines, not headers)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import SecretStr

from tui_caa.pbx.base import NotConnected, PbxError
from tui_caa.pbx.digitro import protocol as p
from tui_caa.pbx.limits import (
    ERROR_REPLY_BYTES,
    IDENTITY,
    JSON_REPLY_BYTES,
    Reply,
    ReplyTooLarge,
    read_capped,
    request_capped,
)

LABEL = "Dígitro"


class ApiKeyRefused(PbxError):
    """HTTP 401/403: the API key is wrong, expired or lacks permission."""


class NotFoundAtPbx(PbxError):
    """HTTP 404/410: the PBX does not know the path, or no longer knows the event channel in it."""


def api_key_message(status: int, what: str) -> str:
    return (f"{LABEL} refused the API key (HTTP {status}) to {what}: check the PBX registry field "
            "`secret` (the Dígitro API key, sent as x-api-key); it is wrong, expired or lacks permission")


def error_detail(response: Reply) -> tuple[str, str]:
    """(code, message) from a Dígitro error body, whatever its shape."""
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return "", response.text.strip()[:200]
    if isinstance(body, dict):
        code = body.get(p.ERROR_CODE, "")
        message = body.get(p.ERROR_MESSAGE) or body.get("message") or body.get("error") or ""
        return str(code), str(message)
    return "", str(body)[:200]


def check_response(response: Reply, what: str) -> dict[str, Any]:
    """The JSON object of a successful answer; otherwise the PbxError that says what went wrong."""
    status = response.status_code
    if status in (401, 403):
        raise ApiKeyRefused(api_key_message(status, what), field="secret")
    if status >= 400:
        code, message = error_detail(response)
        detail = message or response.reason_phrase or "no reason given"
        if status in (404, 410):
            raise NotFoundAtPbx(f"{LABEL} does not know what was asked to {what} (HTTP {status}): {detail}; "
                                "the event channel expired, or check [pbx.digitro] base_path and operations")
        if status >= 500:
            raise PbxError(f"{LABEL} failed to {what} (HTTP {status}): {detail}")
        if code == p.DEVICE_PASSWORD_ERROR or p.DEVICE_PASSWORD in code:
            raise PbxError(f"{LABEL} refused the device password to {what} (HTTP {status}): {detail}; check the "
                           "seller's extension password (Cadastro Vendedores → Central Telefônica)",
                           field="device_password")
        raise PbxError(f"{LABEL} refused to {what} (HTTP {status}): {detail}")
    if not response.content.strip():
        return {}
    try:
        body = response.json()
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        raise PbxError(f"{LABEL} answered the request to {what} with something that is not JSON: "
                       f"{response.text[:80]!r}") from None
    if not isinstance(body, dict):
        raise PbxError(f"{LABEL} answered the request to {what} with JSON that is not an object: "
                       f"{json.dumps(body)[:80]}")
    return body


class DigitroHttp:
    """One httpx client for one base URL; `post` is one request, `open_stream` the SSE channel."""

    def __init__(self, base_url: str, *, headers: dict[str, str] | None = None, auth: tuple[str, str] | None = None,
                 verify: bool = True, connect_timeout: float = 5.0, request_timeout: float = 10.0,
                 settings_hint: str = "the registry fields address and port") -> None:
        self.base_url = base_url
        self.request_timeout = request_timeout
        self._hint = settings_hint
        self.oversized = 0  # replies refused for passing their cap
        self.on_too_large: Callable[[str], None] = lambda message: None  # the driver counts and logs them
        self._client = httpx.AsyncClient(
            base_url=base_url, headers={**IDENTITY, **(headers or {})}, auth=auth, verify=verify,
            timeout=httpx.Timeout(request_timeout, connect=connect_timeout),
        )

    @classmethod
    def with_api_key(cls, base_url: str, api_key: SecretStr, **kwargs: Any) -> DigitroHttp:
        return cls(base_url, headers={"x-api-key": api_key.get_secret_value(), "accept": "application/json"},
                   **kwargs)

    async def close(self) -> None:
        await self._client.aclose()

    async def request(self, method: str, path: str, what: str, *, body: dict[str, Any] | None = None,
                      params: dict[str, str] | None = None) -> dict[str, Any]:
        try:
            # the whole reply within request_timeout too: a body trickling in forever is a timeout
            response = await request_capped(self._client, method, path, cap=JSON_REPLY_BYTES, pbx=LABEL,
                                            deadline=self.request_timeout, json=body, params=params)
        except ReplyTooLarge as exc:
            self.oversized += 1
            self.on_too_large(str(exc))
            raise
        except httpx.TimeoutException:
            raise PbxError(f"{LABEL} did not answer the request to {what} within {self.request_timeout:g} s "
                           "([pbx.digitro] request_timeout); it was not sent again") from None
        except httpx.HTTPError as exc:
            raise NotConnected(f"cannot reach {LABEL} at {self.base_url} to {what}: "
                               f"{exc or type(exc).__name__}; check {self._hint}") from None
        return check_response(response, what)

    async def post(self, path: str, body: dict[str, Any], what: str) -> dict[str, Any]:
        return await self.request("POST", path, what, body=body)

    async def open_stream(self, path: str, heartbeat_timeout: float) -> httpx.Response:
        """The channel's streaming response (200, not read yet); the caller closes it with `aclose()`.
        The read timeout is the heartbeat timeout: a channel silent longer than that raises ReadTimeout."""
        timeout = httpx.Timeout(self.request_timeout, connect=self._client.timeout.connect, read=heartbeat_timeout)
        request = self._client.build_request("GET", path, headers={"accept": "text/event-stream"}, timeout=timeout)
        what = "open the event channel"
        try:
            # the headers must come within request_timeout; after them, silence is the heartbeat's business
            async with asyncio.timeout(self.request_timeout):
                response = await self._client.send(request, stream=True)
        except (httpx.TimeoutException, TimeoutError):
            raise NotConnected(f"{LABEL} did not open the event channel within {self.request_timeout:g} s "
                               "([pbx.digitro] request_timeout)") from None
        except httpx.HTTPError as exc:
            raise NotConnected(f"cannot reach {LABEL} at {self.base_url}: {exc or type(exc).__name__}; "
                               f"check {self._hint}") from None
        if response.status_code != 200:
            content = b""
            try:
                content = await read_capped(response, ERROR_REPLY_BYTES, pbx=LABEL)
            except (httpx.HTTPError, ReplyTooLarge):
                pass  # the status says enough
            finally:
                await response.aclose()
            check_response(Reply(response.status_code, response.reason_phrase, response.headers, content), what)
            raise PbxError(f"{LABEL} answered HTTP {response.status_code} to open the event channel")
        ctype = response.headers.get("content-type", "")
        if "text/event-stream" not in ctype:
            await response.aclose()
            raise PbxError(f"{LABEL} did not open an event stream at {self.base_url}{path} (content-type "
                           f"{ctype or 'missing'}); check [pbx.digitro] channel_path and base_path")
        return response
