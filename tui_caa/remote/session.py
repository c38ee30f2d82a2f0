"""`RemoteSession`: the `Session` of a console logged in to a gateway over HTTP.

The event stream reconnects by itself with backoff (trying each of the site's gateway URLs in
turn) and says so with `LinkStatus(UNREACHABLE)`; the gateway opens every stream with a fresh
snapshot, so nothing missed meanwhile is trusted. Commands are sent once, never retried: a dial
whose reply was lost is reported as possibly made, never dialled again."""

from __future__ import annotations

import asyncio
import logging
import secrets
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr, ValidationError

from tui_caa.domain import (
    Appointment,
    CallRecord,
    Contact,
    Customer,
    CustomerSaved,
    HistoryCursor,
    HistoryFilter,
    HistoryPage,
    LifecycleEntry,
    PhoneChange,
    PhoneLookup,
    PhoneSlot,
    Seller,
    TrafficSource,
    Vehicle,
)
from tui_caa.domain.errors import DomainError
from tui_caa.domain.telephony import Capability
from tui_caa.phones import CallerIdRules
from tui_caa.protocol.api import API_PREFIX_V1, OPERATIONS, Credentials, LoginReply, SessionInfo
from tui_caa.protocol.link_errors import GatewayUnanswered, GatewayUnreachable, Unauthorized, WireError
from tui_caa.protocol.messages import GatewayMessage, LinkState, LinkStatus, Synced
from tui_caa.protocol.principal import NotAllowed, Principal, Role
from tui_caa.protocol.session import Session
from tui_caa.protocol.wire import decode_message, error_from_dict
from tui_caa.remote.sse import server_events

log = logging.getLogger(__name__)

MAX_REPLY_BYTES = 16 * 1024 * 1024  # a customer's whole lifecycle is the largest reply
BACKOFF = (0.5, 10.0)
KEEP_ALIVE_SECONDS = 30.0  # shorter than the gateway's 75 s: the console closes an idle connection first


def gateway_urls(value: str) -> list[str]:
    """`URL` or `URL1,URL2` (a site with a standby gateway), each without a trailing slash."""
    urls = [url.strip().rstrip("/") for url in value.split(",") if url.strip()]
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise DomainError(f"gateway URL '{url[:80]}' must start with http:// or https://", field="gateway_url")
    if not urls:
        raise DomainError("no gateway URL given", field="gateway_url")
    return urls


class RemoteSession(Session):
    def __init__(self, urls: str | list[str], *, ca: Path | None = None, timeout: float = 10.0,
                 stream_timeout: float = 45.0, backoff: tuple[float, float] = BACKOFF) -> None:
        self.urls = gateway_urls(urls) if isinstance(urls, str) else list(urls)
        self._url_index = 0
        self.timeout = timeout
        self.stream_timeout = stream_timeout  # three of the gateway's heartbeats
        self.backoff = backoff
        self.info: SessionInfo | None = None
        self._token: str | None = None
        self._client = httpx.AsyncClient(verify=_verify(ca), timeout=timeout, follow_redirects=False,
                                         headers={"User-Agent": "tui-caa console"},
                                         limits=httpx.Limits(keepalive_expiry=KEEP_ALIVE_SECONDS))
        self._synced: dict[str, asyncio.Future[None]] = {}
        # told when the gateway says the login has ended, whoever made the request that learnt it
        self.on_session_ended: Callable[[], None] | None = None

    # ---- who we are ----
    @property
    def url(self) -> str:
        return self.urls[self._url_index]

    @property
    def logged_in(self) -> bool:
        return self._token is not None and self.info is not None

    @property
    def principal(self) -> Principal:  # type: ignore[override]
        info = self._require_info()
        return Principal(info.role, info.extension, info.name)

    @property
    def seller(self) -> Seller | None:
        return self._require_info().seller

    @property
    def simulated(self) -> bool:
        return self.info is not None and self.info.simulated

    @property
    def role(self) -> Role:
        return self._require_info().role

    def _require_info(self) -> SessionInfo:
        if self.info is None:
            raise Unauthorized("log in first", field="login")
        return self.info

    async def login(self, login: str, password: SecretStr) -> SessionInfo:
        """Logs in at the first gateway that answers; the password is sent once and never kept."""
        credentials = Credentials(login=login.strip(), password=password.get_secret_value())
        data = await self._post("/login", credentials.model_dump(), authenticated=False, fail_over=True)
        try:
            reply = LoginReply.model_validate(data)
        except ValidationError as exc:
            raise WireError(f"the gateway's login reply is malformed: {str(exc)[:200]}", field="reply") from None
        self._token, self.info = reply.token, reply.session
        return reply.session

    async def logout(self) -> None:
        if self._token is None:
            return
        try:
            await self._post("/logout", {})
        except DomainError as exc:  # ending a session that already ended is not a failure
            log.info("logout: %s", exc)
        finally:
            self._token = None

    def capabilities(self) -> frozenset[Capability]:
        return self.info.capabilities if self.info else frozenset()

    def caller_id_rules(self) -> CallerIdRules:
        return self.info.caller_id_rules if self.info else CallerIdRules()

    # ---- the event stream ----
    async def messages(self) -> AsyncIterator[GatewayMessage]:  # type: ignore[override]
        """Forever: each (re)connection starts with a snapshot; between connections one
        LinkStatus(UNREACHABLE) says why. Raises Unauthorized when the login has ended."""
        delay, longest = self.backoff
        lost = False
        while True:
            try:
                async for message in self._stream():
                    delay, lost = self.backoff[0], False
                    yield message
                reason = "the gateway closed the event stream"
            except Unauthorized:
                raise  # only a new login helps
            except (httpx.TransportError, DomainError) as exc:  # a refusal (a 503, a malformed stream): try again
                reason = _transport_reason(exc, self.url)
            if not lost:
                lost = True
                yield LinkStatus(LinkState.UNREACHABLE, reason)
            log.info("gateway event stream lost (%s); again in %.1f s", reason, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, longest)
            self._next_url()

    async def _stream(self) -> AsyncIterator[GatewayMessage]:
        timeout = httpx.Timeout(self.timeout, read=self.stream_timeout)
        async with self._client.stream("GET", self.url + API_PREFIX_V1 + "/events", headers=self._auth(),
                                       timeout=timeout) as response:
            if response.status_code != 200:
                body = await _read_limited(response)
                raise error_from_dict(_json(body), response.status_code)
            async for event in server_events(response.aiter_raw()):
                if event.event == "expired":
                    self._ended()
                    raise Unauthorized("your session has ended; log in again", field="authorization")
                message = decode_message(event.data)
                if isinstance(message, Synced):
                    waiter = self._synced.pop(message.token, None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(None)
                    continue
                yield message

    async def sync(self, timeout: float = 5.0) -> None:
        """Returns once everything the gateway published before this call has reached `messages()`
        (while something iterates it)."""
        marker = secrets.token_hex(8)
        waiter = asyncio.get_running_loop().create_future()
        self._synced[marker] = waiter
        try:
            await self._post("/sync", {"token": marker})
            await asyncio.wait_for(waiter, timeout)
        finally:
            self._synced.pop(marker, None)

    # ---- operations ----
    async def _operation(self, name: str, **arguments: Any) -> Any:
        op = OPERATIONS[name]
        data = await self._post(op.path, op.dump_arguments(arguments))
        try:
            return op.parse_result(data.get("result") if isinstance(data, dict) else None)
        except ValidationError as exc:
            raise WireError(f"the gateway's reply to {name} is malformed: {str(exc)[:200]}", field="reply") from None

    async def _post(self, path: str, body: dict[str, Any], *, authenticated: bool = True,
                    fail_over: bool = False) -> Any:
        attempts = len(self.urls) if fail_over else 1
        for attempt in range(attempts):
            try:
                return await self._post_once(path, body, authenticated)
            except httpx.ConnectError as exc:  # nothing reached any gateway: safe to try the next one
                if attempt + 1 < attempts:
                    self._next_url()
                    continue
                raise GatewayUnreachable(f"the gateway at {self.url} cannot be reached ({_cause(exc)}); "
                                         "nothing was sent", field="gateway") from None
            except httpx.TransportError as exc:
                raise GatewayUnanswered(f"the gateway at {self.url} did not answer ({_cause(exc)}); the command "
                                         "may have been carried out: check before repeating it",
                                         field="gateway") from None
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    async def _post_once(self, path: str, body: dict[str, Any], authenticated: bool) -> Any:
        headers = self._auth() if authenticated else {}
        async with self._client.stream("POST", self.url + API_PREFIX_V1 + path, json=body,
                                       headers=headers) as response:
            raw = await _read_limited(response)
        data = _json(raw)
        if response.status_code >= 400:
            error = error_from_dict(data, response.status_code)
            if isinstance(error, Unauthorized) and authenticated:
                self._ended()
            raise error
        return data

    def _ended(self) -> None:
        self._token = None
        if self.on_session_ended is not None:
            self.on_session_ended()

    def _auth(self) -> dict[str, str]:
        if self._token is None:
            raise Unauthorized("your session has ended; log in again", field="authorization")
        return {"Authorization": f"Bearer {self._token}"}

    def _next_url(self) -> None:
        self._url_index = (self._url_index + 1) % len(self.urls)

    async def close(self) -> None:
        await self._client.aclose()

    # ---- the Session protocol ----
    async def dial(self, number: str) -> str:
        return await self._operation("dial", number=number)  # type: ignore[no-any-return]

    async def answer(self, call_id: str) -> None:
        await self._operation("answer", call_id=call_id)

    async def hangup(self, call_id: str) -> None:
        await self._operation("hangup", call_id=call_id)

    async def hold(self, call_id: str) -> None:
        await self._operation("hold", call_id=call_id)

    async def resume(self, call_id: str) -> None:
        await self._operation("resume", call_id=call_id)

    async def blind_transfer(self, call_id: str, target: str) -> None:
        await self._operation("blind_transfer", call_id=call_id, target=target)

    async def consult(self, call_id: str, target: str) -> None:
        await self._operation("consult", call_id=call_id, target=target)

    async def complete_transfer(self, call_id: str) -> None:
        await self._operation("complete_transfer", call_id=call_id)

    async def cancel_transfer(self, call_id: str) -> None:
        await self._operation("cancel_transfer", call_id=call_id)

    async def send_dtmf(self, call_id: str, digits: str) -> None:
        await self._operation("send_dtmf", call_id=call_id, digits=digits)

    async def park(self, call_id: str) -> str:
        return await self._operation("park", call_id=call_id)  # type: ignore[no-any-return]

    async def pickup(self, slot_or_extension: str) -> None:
        await self._operation("pickup", slot_or_extension=slot_or_extension)

    async def monitor(self, mode: Capability, target_extension: str) -> None:
        await self._operation("monitor", mode=mode, target_extension=target_extension)

    async def play_recording(self, pbx_call_id: str, number: str | None = None) -> str:
        return await self._operation("play_recording", pbx_call_id=pbx_call_id, number=number)  # type: ignore[no-any-return]

    async def lookup(self, number: str) -> PhoneLookup:
        return await self._operation("lookup", number=number)  # type: ignore[no-any-return]

    async def search_customers(self, query: str, limit: int = 50) -> list[Customer]:
        return await self._operation("search_customers", query=query, limit=limit)  # type: ignore[no-any-return]

    async def get_customer(self, customer_id: int) -> Customer:
        return await self._operation("get_customer", customer_id=customer_id)  # type: ignore[no-any-return]

    async def create_customer(self, customer: Customer) -> CustomerSaved:
        return await self._operation("create_customer", customer=customer)  # type: ignore[no-any-return]

    async def update_customer(self, customer: Customer) -> CustomerSaved:
        return await self._operation("update_customer", customer=customer)  # type: ignore[no-any-return]

    async def associate_phone(self, customer_id: int, slot: PhoneSlot, number: str) -> PhoneChange:
        return await self._operation("associate_phone", customer_id=customer_id, slot=slot,  # type: ignore[no-any-return]
                                     number=number)

    async def vehicles_of(self, customer_id: int) -> list[Vehicle]:
        return await self._operation("vehicles_of", customer_id=customer_id)  # type: ignore[no-any-return]

    async def add_vehicle(self, vehicle: Vehicle) -> Vehicle:
        return await self._operation("add_vehicle", vehicle=vehicle)  # type: ignore[no-any-return]

    async def create_contact(self, contact: Contact) -> Contact:
        return await self._operation("create_contact", contact=contact)  # type: ignore[no-any-return]

    async def update_contact(self, contact: Contact) -> Contact:
        return await self._operation("update_contact", contact=contact)  # type: ignore[no-any-return]

    async def create_appointment(self, appointment: Appointment) -> Appointment:
        return await self._operation("create_appointment", appointment=appointment)  # type: ignore[no-any-return]

    async def lifecycle(self, customer_id: int) -> list[LifecycleEntry]:
        return await self._operation("lifecycle", customer_id=customer_id)  # type: ignore[no-any-return]

    async def call_history(self, filters: HistoryFilter | None = None, after: HistoryCursor | None = None,
                           limit: int = 50, extension: str | None = None) -> HistoryPage:
        return await self._operation("call_history", filters=filters, after=after,  # type: ignore[no-any-return]
                                     limit=limit, extension=extension)

    async def get_call(self, pbx_call_id: str) -> CallRecord:
        return await self._operation("get_call", pbx_call_id=pbx_call_id)  # type: ignore[no-any-return]

    async def traffic_sources(self) -> list[TrafficSource]:
        return await self._operation("traffic_sources")  # type: ignore[no-any-return]

    async def sellers(self) -> list[Seller]:
        return await self._operation("sellers")  # type: ignore[no-any-return]

    async def simulate_call(self) -> str:
        if not self.simulated:
            raise NotAllowed("only the built-in simulator can make a call ring", field="pbx")
        return await self._operation("simulate_call")  # type: ignore[no-any-return]


def _verify(ca: Path | None) -> ssl.SSLContext | bool:
    if ca is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(ca))
    except (OSError, ssl.SSLError) as exc:
        raise DomainError(f"gateway_ca: cannot load {ca}: {exc}", field="gateway_ca") from None


async def _read_limited(response: httpx.Response) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_raw():
        body += chunk
        if len(body) > MAX_REPLY_BYTES:
            raise WireError(f"the gateway's reply is larger than {MAX_REPLY_BYTES // (1024 * 1024)} MiB",
                            field="reply")
    return bytes(body)


def _json(raw: bytes) -> Any:
    import json

    try:
        return json.loads(raw) if raw else None
    except ValueError:
        raise WireError(f"the gateway answered something that is not JSON: {raw[:80]!r}", field="reply") from None


def _cause(exc: BaseException) -> str:
    return str(exc)[:160] or type(exc).__name__


def _transport_reason(exc: BaseException, url: str) -> str:
    if isinstance(exc, httpx.ConnectError):
        return f"{url} does not answer"
    if isinstance(exc, httpx.ReadTimeout):
        return f"{url} went silent"
    return f"{url}: {_cause(exc)}"
