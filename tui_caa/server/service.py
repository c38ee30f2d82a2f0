"""`tui-caa gateway`: the integration service of one PBX, served to the site's consoles over HTTP.

One process holds the only PBX connection, records every call into the CRM (with or without a
console open) and serves logged-in consoles. SIGTERM or SIGINT stops it in order: no new requests,
event streams closed, the call records waiting in the outbox written to the CRM, the PBX closed."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import uvicorn
from pydantic import SecretStr

from tui_caa.config import Settings
from tui_caa.crm import CrmStore, open_store, passwords
from tui_caa.domain import Account, DomainError, InvalidInput, Role
from tui_caa.gateway.factory import PbxOverride, make_driver, make_gateway, pbx_entry
from tui_caa.gateway.service import Gateway
from tui_caa.server.app import GatewayApi
from tui_caa.server.auth import Authenticator

log = logging.getLogger(__name__)

DEFAULT_PORT = 8640
# an idle connection is kept longer than a console keeps it (30 s): the console always closes first, so
# it never sends a request on a connection the gateway is closing at that instant
KEEP_ALIVE_SECONDS = 75
FLUSH_SECONDS = 10.0
PURGE_SECONDS = 3600.0  # at stop, how long the outbox may take to reach the CRM (what is left is kept)
DEMO_PASSWORD = "demo1234"
DEMO_SUPERVISOR = "supervisor"


@dataclass(frozen=True)
class ListenAddress:
    host: str
    port: int

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse_listen(value: str, field: str = "--listen") -> ListenAddress:
    """HOST:PORT, [IPv6]:PORT or :PORT (loopback)."""
    host, sep, port = value.strip().rpartition(":")
    if not sep:
        host, port = value.strip(), str(DEFAULT_PORT)
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInput(f"{field}: '{value[:80]}' is not HOST:PORT (e.g. 0.0.0.0:{DEFAULT_PORT})", field=field)
    return ListenAddress(host, int(port))


def tls_context(cert: Path | None, key: Path | None) -> tuple[str | None, str | None]:
    """Both or neither; each readable and a real certificate/key pair (checked now, not at the first client)."""
    if cert is None and key is None:
        return None, None
    if cert is None or key is None:
        raise InvalidInput("TLS needs both --tls-cert and --tls-key (or gateway.tls_cert and gateway.tls_key)",
                           field="--tls-cert" if cert is None else "--tls-key")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidInput(f"--tls-cert/--tls-key: cannot load {cert} with {key}: {exc}", field="--tls-cert") from None
    return str(cert), str(key)


class _Server(uvicorn.Server):
    """Closes the consoles' event streams first when told to stop, so that shutdown does not wait
    for streams that never end by themselves."""

    def __init__(self, config: uvicorn.Config, gateway: Gateway) -> None:
        super().__init__(config)
        self._gateway = gateway

    async def shutdown(self, sockets: list | None = None) -> None:  # type: ignore[type-arg]
        for subscription in self._gateway.hub.subscriptions():
            subscription.close()
        await super().shutdown(sockets)


async def run_gateway(settings: Settings, *, demo: bool, listen: ListenAddress,
                      tls: tuple[str | None, str | None], override: PbxOverride | None = None,
                      ready: asyncio.Event | None = None) -> int:
    store = await _open_crm(settings, demo)
    try:
        if demo:
            override = PbxOverride(kind="simulator")
            await ensure_demo_accounts(store)
        elif not await store.telephony_enabled():
            raise DomainError("the CRM's module switch 'Utilizar serviços de integração com centrais telefônicas' "
                              "is off: turn it on with `tui-caa db telephony on`, then start the gateway again",
                              field="telephony_enabled")
        gateway, simulated = await _start_gateway(store, settings, override)
    except BaseException:
        await store.close()
        raise
    auth = Authenticator(gateway, store, session_ttl=timedelta(hours=settings.gateway.session_hours),
                         simulated=simulated)
    # made now, not at the first login of an unknown name (which would then be slower than the rest)
    await asyncio.to_thread(passwords.dummy_hash)
    housekeeping = asyncio.ensure_future(_purge_expired_sessions(store))
    api = GatewayApi(gateway, auth)
    config = uvicorn.Config(api.app(), host=listen.host, port=listen.port, ssl_certfile=tls[0], ssl_keyfile=tls[1],
                            log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=5,
                            server_header=False, timeout_keep_alive=KEEP_ALIVE_SECONDS)
    server = _Server(config, gateway)
    scheme = "https" if tls[0] else "http"
    log.info("gateway for %s serving consoles on %s://%s:%d", gateway.driver.label, scheme, listen.host, listen.port)
    try:
        with _signals_end_serving():
            serving = asyncio.ensure_future(server.serve())
            if ready is not None:
                while not server.started and not serving.done():
                    await asyncio.sleep(0.02)
                ready.set()
            await serving
    finally:
        housekeeping.cancel()
        await _stop(gateway, store)
    return 0 if server.started else 1


async def _purge_expired_sessions(store: CrmStore) -> None:
    """Ended logins leave their rows: removed every hour (each token check ignores them anyway)."""
    while True:
        try:
            purged = await store.purge_expired_sessions()
            if purged:
                log.info("%d expired login session(s) removed", purged)
        except DomainError as exc:
            log.warning("expired login sessions not removed: %s", exc)
        await asyncio.sleep(PURGE_SECONDS)


@contextlib.contextmanager
def _signals_end_serving() -> Iterator[None]:
    """uvicorn turns SIGTERM/SIGINT into a graceful stop, then raises the signal again with the
    handler it found: with the default ones the process would die before the outbox is written to
    the CRM. Found handlers that do nothing let `run_gateway` finish its orderly stop instead."""
    if threading.current_thread() is not threading.main_thread():
        yield  # (tests serve from other threads: signals are not theirs)
        return
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _ignore(signum: int, frame: object) -> None:
    log.info("stopping on signal %s", signal.Signals(signum).name)


async def _open_crm(settings: Settings, demo: bool) -> CrmStore:
    if demo:
        from tui_caa.commands.db import open_demo_ready_store

        store, created = await open_demo_ready_store(settings)
        if created:
            log.warning("first start: demo CRM created at %s", settings.database.url)
        return store
    return await open_store(settings.database.connect_url(), settings.caller_id)


async def _start_gateway(store: CrmStore, settings: Settings, override: PbxOverride | None) -> tuple[Gateway, bool]:
    entry = await pbx_entry(store, override)
    simulated = entry.kind.value == "simulator"
    options: dict[str, object] = {}
    if simulated:
        from tui_caa.pbx.sim import SimTraffic

        # the extensions someone can log in to answer their own calls; the simulated sellers answer the rest
        humans = frozenset(a.extension for a in await store.accounts() if a.extension and a.active)
        options["traffic"] = SimTraffic(calls_per_minute=2.0, human_extensions=humans)
    driver = await make_driver(entry, store, settings, **options)
    gateway = make_gateway(driver, store, settings)
    await gateway.start()
    return gateway, simulated


async def _stop(gateway: Gateway, store: CrmStore) -> None:
    try:
        await asyncio.wait_for(gateway.recorder.drained(), FLUSH_SECONDS)
    except TimeoutError:
        log.warning("stopping with %d call record(s) still in the outbox: they are written at the next start",
                    gateway.recorder.waiting)
    await gateway.stop()
    await store.close()
    log.info("gateway stopped")


async def ensure_demo_accounts(store: CrmStore) -> None:
    """The demo's logins: one agent per seller's extension (login = the extension) and a supervisor,
    all with the published demo password; made once, on a CRM without accounts."""
    if await store.accounts():
        return
    password = SecretStr(DEMO_PASSWORD)
    sellers = [s for s in await store.sellers() if s.extension and s.active]
    agents, supervisor_seat = (sellers[:-1], sellers[-1]) if len(sellers) > 1 else (sellers, None)
    for seller in agents:
        await store.create_account(Account(login=seller.extension or "", role=Role.AGENT,
                                           extension=seller.extension, seller_id=seller.id), password)
    await store.create_account(Account(login=DEMO_SUPERVISOR, role=Role.SUPERVISOR,
                                       extension=supervisor_seat.extension if supervisor_seat else None,
                                       seller_id=supervisor_seat.id if supervisor_seat else None), password)
    log.warning("demo accounts: agents %s and '%s' (a supervisor), password '%s'",
                ", ".join(s.extension or "" for s in agents), DEMO_SUPERVISOR, DEMO_PASSWORD)
