"""The gateway's HTTP face (Starlette): login, the `Session` operations, one event stream per
console, `/health` and `/metrics`. An adapter only: every rule lives in `Gateway`, `LocalSession`
and the CRM store; this module authenticates, bounds and translates."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from pydantic import SecretStr, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tui_caa.domain import DomainError, InvalidInput
from tui_caa.domain.errors import InvalidCredentials
from tui_caa.gateway.hub import Subscription
from tui_caa.gateway.service import Gateway
from tui_caa.protocol.api import API_PREFIX_V1, MAX_BODY_BYTES, OPERATIONS, Credentials, LoginReply, Operation
from tui_caa.protocol.link_errors import Unauthorized
from tui_caa.protocol.messages import GatewayMessage, LinkState, Synced
from tui_caa.protocol.wire import ERROR_STATUS, encode_message, error_kind, error_to_dict
from tui_caa.server.auth import Authenticator, Console
from tui_caa.server.metrics import CONTENT_TYPE, GatewayMetrics

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0  # a comment line on an idle stream: the console sees a dead link within 3 of them
CRM_PROBE_SECONDS = 5.0
MONITOR_MODES = {"listen", "whisper", "barge"}


class GatewayApi:
    def __init__(self, gateway: Gateway, auth: Authenticator, *, heartbeat: float = HEARTBEAT_SECONDS) -> None:
        self.gateway = gateway
        self.auth = auth
        self.metrics = GatewayMetrics(gateway)
        self.heartbeat = heartbeat
        self.streams: dict[str, set[Subscription]] = {}  # by login token
        self._crm_ok: tuple[float, bool] = (float("-inf"), False)
        self._encoded: dict[int, tuple[GatewayMessage, bytes]] = {}

    def app(self) -> Starlette:
        routes = [
            Route("/health", self.health, methods=["GET"]),
            Route("/metrics", self.prometheus, methods=["GET"]),
            Route(f"{API_PREFIX_V1}/login", self.login, methods=["POST"]),
            Route(f"{API_PREFIX_V1}/logout", self.logout, methods=["POST"]),
            Route(f"{API_PREFIX_V1}/me", self.me, methods=["GET"]),
            Route(f"{API_PREFIX_V1}/events", self.events, methods=["GET"]),
            Route(f"{API_PREFIX_V1}/sync", self.sync, methods=["POST"]),
        ]
        routes += [Route(f"{API_PREFIX_V1}{op.path}", self._operation_endpoint(op), methods=["POST"])
                   for op in OPERATIONS.values()]
        return Starlette(routes=routes, exception_handlers={404: _not_found, 405: _wrong_method})

    # ---- open ----
    async def health(self, request: Request) -> Response:
        crm = await self._crm_reachable()
        link = self.gateway.link
        problems = self.gateway.problems  # a task being restarted, an outbox it cannot write
        body = {"status": "ok" if crm and link is LinkState.CONNECTED and not problems else "degraded",
                "link": link.value, "resyncing": link is LinkState.RECONNECTING,
                "outbox_depth": self.gateway.recorder.waiting, "crm_reachable": crm,
                "consoles": sum(len(s) for s in self.streams.values()), "problems": list(problems)}
        return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)

    async def _crm_reachable(self) -> bool:
        checked_at, ok = self._crm_ok
        now = asyncio.get_running_loop().time()
        if now - checked_at >= CRM_PROBE_SECONDS:
            try:
                await asyncio.wait_for(self.gateway.store.telephony_enabled(), 3)
                ok = True
            except (DomainError, TimeoutError, OSError):
                ok = False
            self._crm_ok = (now, ok)
        return ok

    async def login(self, request: Request) -> Response:
        try:
            body = await _json_body(request)
            try:
                credentials = Credentials.model_validate(body)
            except ValidationError as exc:
                raise InvalidInput("send {\"login\": …, \"password\": …}", field=_first_field(exc)) from None
            token, info = await self.auth.login(credentials.login, SecretStr(credentials.password), _address(request))
        except InvalidCredentials as exc:
            self.metrics.logins.labels("refused").inc()
            return _refusal(Unauthorized(str(exc), field="login"))
        except DomainError as exc:
            self.metrics.logins.labels(error_kind(exc).__name__).inc()
            return _refusal(exc)
        self.metrics.logins.labels("ok").inc()
        return JSONResponse(LoginReply(token=token, session=info).model_dump(mode="json"))

    # ---- authenticated ----
    async def logout(self, request: Request) -> Response:
        token = _token(request)
        try:
            await self.auth.logout(token or "", _address(request))
        except DomainError as exc:
            return _refusal(exc)
        for subscription in self.streams.pop(token or "", set()):
            subscription.close()
        return JSONResponse({"result": None})

    async def me(self, request: Request) -> Response:
        try:
            console = await self.auth.console(_token(request))
        except DomainError as exc:
            return _refusal(exc)
        return JSONResponse({"result": self.auth.info(console).model_dump(mode="json")})

    async def prometheus(self, request: Request) -> Response:
        """Supervisors only: the figures show the site's activity."""
        try:
            console = await self.auth.console(_token(request))
        except DomainError as exc:
            return _refusal(exc)
        if not console.principal.sees_everything:
            return _refusal(DomainError("only supervisors may read the metrics", field="role"), status=403)
        return Response(self.metrics.render(), media_type=CONTENT_TYPE)

    async def sync(self, request: Request) -> Response:
        """Puts a marker on this console's event streams after everything published so far."""
        token = _token(request)
        try:
            await self.auth.console(token)
            body = await _json_body(request)
            marker = body.get("token") if isinstance(body, dict) else None
            if not isinstance(marker, str) or not 0 < len(marker) <= 64:
                raise InvalidInput("token: a string of 1 to 64 characters", field="token")
        except DomainError as exc:
            return _refusal(exc)
        for subscription in self.streams.get(token or "", ()):
            subscription.mark(Synced(marker))
        return JSONResponse({"result": None})

    async def events(self, request: Request) -> Response:
        token = _token(request)
        try:
            console = await self.auth.console(token)
        except DomainError as exc:
            return _refusal(exc)
        subscription = self.gateway.subscribe(console.principal)
        self.streams.setdefault(console.token, set()).add(subscription)
        return StreamingResponse(self._stream(console, subscription), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def _stream(self, console: Console, subscription: Subscription) -> AsyncIterator[bytes]:
        self.metrics.consoles.inc()
        try:
            yield b": tui-caa gateway\n\n"  # headers and a first byte at once: the console knows it is connected
            while True:
                try:
                    batch = await asyncio.wait_for(subscription.get_batch(), self.heartbeat)
                except TimeoutError:
                    try:
                        await self.auth.console(console.token)  # revoked, expired or disabled meanwhile?
                    except Unauthorized as exc:
                        yield b"event: expired\ndata: " + json.dumps(str(exc)).encode() + b"\n\n"
                        return
                    except DomainError:
                        pass  # the CRM is briefly down: keep the console's stream, check again later
                    yield b": ping\n\n"
                    continue
                if not batch:
                    return  # closed: logged out, or the gateway stops
                self.metrics.events.inc(len(batch))
                yield b"".join(b"data: " + self._encode(message) + b"\n\n" for message in batch)
        finally:
            self.metrics.consoles.dec()
            subscription.close()
            streams = self.streams.get(console.token)
            if streams is not None:
                streams.discard(subscription)
                if not streams:
                    del self.streams[console.token]

    def _encode(self, message: GatewayMessage) -> bytes:
        """Each message once, however many consoles receive it (a ring reaches every supervisor)."""
        cached = self._encoded.get(id(message))
        if cached is not None and cached[0] is message:
            return cached[1]
        encoded = encode_message(message)
        if len(self._encoded) >= 512:
            self._encoded.clear()
        self._encoded[id(message)] = (message, encoded)
        return encoded

    def _operation_endpoint(self, op: Operation) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                console = await self.auth.console(_token(request))
                arguments = op.parse_arguments(await _json_body(request))
                if op.name == "monitor":
                    await self._audit_monitor(console, arguments, request)
                result = await getattr(console.session, op.name)(**arguments)
            except DomainError as exc:
                self.metrics.commands.labels(op.name, error_kind(exc).__name__).inc()
                return _refusal(exc)
            except Exception:  # a bug must not leak a stack trace to a console; the log has it
                log.exception("operation %s failed", op.name)
                self.metrics.commands.labels(op.name, "error").inc()
                return JSONResponse({"error": {"kind": "DomainError", "field": None,
                                               "message": "the gateway failed to do this; its log says why"}},
                                    status_code=500)
            self.metrics.commands.labels(op.name, "ok").inc()
            return JSONResponse({"result": op.dump_result(result)})

        endpoint.__name__ = op.name
        return endpoint

    async def _audit_monitor(self, console: Console, arguments: dict[str, Any], request: Request) -> None:
        mode = str(arguments["mode"])
        if mode in MONITOR_MODES and console.principal.sees_everything:
            await self.gateway.store.audit(mode, login=console.account.login, address=_address(request),
                                           detail=f"extension {arguments['target_extension']}")


# ---- helpers ----

def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" and len(token) <= 256 else None


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _json_body(request: Request) -> object:
    """The request's JSON, read with a byte limit (a console sends a few KB at most)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise _TooLarge()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _TooLarge()
    if not body:
        return {}
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"the request body is not JSON: {str(exc)[:80]}", field="body") from None


class _TooLarge(InvalidInput):
    def __init__(self) -> None:
        super().__init__(f"the request body is larger than {MAX_BODY_BYTES // 1024} KiB", field="body")


def _first_field(exc: ValidationError) -> str:
    loc = exc.errors()[0]["loc"]
    return ".".join(str(part) for part in loc) or "body"


def _refusal(exc: DomainError, *, status: int | None = None) -> JSONResponse:
    code = status or (413 if isinstance(exc, _TooLarge) else ERROR_STATUS[error_kind(exc)])
    headers = {"WWW-Authenticate": "Bearer"} if code == 401 else None
    return JSONResponse(error_to_dict(exc), status_code=code, headers=headers)


async def _not_found(request: Request, exc: Exception) -> Response:
    return _refusal(DomainError(f"no such API path: {request.url.path[:100]}", field="path"), status=404)


async def _wrong_method(request: Request, exc: Exception) -> Response:
    return _refusal(DomainError(f"{request.method} is not allowed on {request.url.path[:100]}", field="method"),
                    status=405)
