"""The gateway's HTTP API over a real socket: logins, who may do what, bad requests, the event
stream of remote consoles, health and metrics."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr

from tests.server_fixtures import PASSWORD, SUPERVISOR, Site
from tui_caa.domain import Customer, NotFound, Phone
from tui_caa.domain.errors import NotAllowed
from tui_caa.protocol.link_errors import TooManyAttempts, Unauthorized
from tui_caa.protocol.messages import LinkState, LinkStatus, PbxUpdate, ScreenPop, StateSnapshot
from tui_caa.remote import RemoteSession

ANA = "+5551987654321"


async def post(site: Site, path: str, body: object = None, *, token: str | None = None,
               content: bytes | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=site.url) as client:
        if content is not None:
            return await client.post("/api/v1" + path, content=content, headers=headers)
        return await client.post("/api/v1" + path, json=body if body is not None else {}, headers=headers)


async def token_of(site: Site, login: str) -> str:
    reply = await post(site, "/login", {"login": login, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["token"])


# ---- logins ----

async def test_the_account_decides_role_and_extension(site: Site) -> None:
    agent = await site.console("1002", listen=False)
    assert (agent.principal.role, agent.principal.extension, agent.principal.name) == ("agent", "1002", "Vendedor 1002")
    assert agent.seller is not None and agent.seller.extension_password is None
    assert agent.info is not None and agent.info.expires_at == site.rig.store.clock() + timedelta(hours=8)
    boss = await site.console(SUPERVISOR, listen=False)
    assert boss.principal.sees_everything and boss.principal.extension == "1009"
    entries = await site.rig.store.audit_entries(login="1002")
    assert [e.kind for e in entries] == ["login"] and entries[0].address == "127.0.0.1"


async def test_wrong_password_and_unknown_login_get_the_same_refusal(site: Site) -> None:
    wrong = await post(site, "/login", {"login": "1001", "password": "nope-nope"})
    unknown = await post(site, "/login", {"login": "ghost", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"] == "wrong login or password"
    assert "token" not in wrong.json()
    kinds = [e.kind for e in await site.rig.store.audit_entries()]
    assert kinds.count("login_failed") == 2


async def test_failed_logins_are_throttled_per_login(site: Site) -> None:
    for _ in range(5):
        assert (await post(site, "/login", {"login": "1003", "password": "wrong-pass"})).status_code == 401
    blocked = await post(site, "/login", {"login": "1003", "password": PASSWORD})  # even the right one, for now
    assert blocked.status_code == 429 and "try again in" in blocked.json()["error"]["message"]
    with pytest.raises(TooManyAttempts):
        await RemoteSession(site.url).login("1003", SecretStr(PASSWORD))
    assert (await post(site, "/login", {"login": "1001", "password": PASSWORD})).status_code == 200  # others log in


async def test_without_a_valid_token_everything_but_login_and_health_is_401(site: Site) -> None:
    async with httpx.AsyncClient(base_url=site.url) as client:
        assert (await client.get("/health")).status_code == 200
        for path in ("/api/v1/dial", "/api/v1/lookup", "/api/v1/sellers", "/api/v1/logout", "/api/v1/sync"):
            reply = await client.post(path, json={}, headers={"Authorization": "Bearer forged-token"})
            assert reply.status_code == 401, path
            assert reply.headers["www-authenticate"] == "Bearer"
        assert (await client.get("/api/v1/events")).status_code == 401
        assert (await client.get("/api/v1/me")).status_code == 401
        assert (await client.get("/metrics")).status_code == 401


async def test_logout_ends_the_token(site: Site) -> None:
    token = await token_of(site, "1001")
    assert (await post(site, "/logout", token=token)).status_code == 200
    assert (await post(site, "/sellers", token=token)).status_code == 401
    assert "logout" in [e.kind for e in await site.rig.store.audit_entries(login="1001")]


async def test_a_revoked_account_loses_its_stream_and_its_commands(site: Site) -> None:
    console = await site.console("1001")
    await site.rig.store.revoke_sessions("1001")  # what `tui-caa user revoke 1001` does from another process
    with pytest.raises(Unauthorized):
        await console.sellers()
    with pytest.raises(Unauthorized):  # the stream ends with the gateway's "expired" event
        await console.pump  # type: ignore[attr-defined]
    assert not console.logged_in


# ---- authorization and bad requests ----

async def test_an_agent_may_not_listen_in_nor_read_another_extension(site: Site) -> None:
    token = await token_of(site, "1001")
    listen = await post(site, "/monitor", {"mode": "listen", "target_extension": "1002"}, token=token)
    assert listen.status_code == 403 and listen.json()["error"]["field"] == "role"
    history = await post(site, "/call-history", {"extension": "1002"}, token=token)
    assert history.status_code == 403 and "own extension" in history.json()["error"]["message"]


async def test_a_supervisor_listening_in_is_audited(site: Site) -> None:
    boss = await site.console(SUPERVISOR, listen=False)
    call_id = await site.rig.ring("1002", "(51) 98765-4321")
    await site.rig.sim.answer("1002", call_id)
    await site.rig.settle()
    await boss.monitor("listen", "1002")
    entry = (await site.rig.store.audit_entries(login=SUPERVISOR))[0]
    assert (entry.kind, entry.detail) == ("listen", "extension 1002")


async def test_commands_on_another_extensions_call_are_refused(site: Site) -> None:
    agent = await site.console("1001", listen=False)
    call_id = await site.rig.ring("1002", "(51) 98765-4321")
    with pytest.raises(NotAllowed, match="1002"):
        await agent.hangup(call_id)
    assert site.rig.gateway.state.call("1002", call_id) is not None  # nothing changed


@pytest.mark.parametrize(("body", "field"), [
    ({"number": 5551}, "number"),
    ({}, "number"),
    ({"number": "1002", "extension": "1003"}, "extension"),  # the extension is never the console's to say
    ([], "body"),
])
async def test_bad_arguments_are_422_naming_the_field(site: Site, body: object, field: str) -> None:
    token = await token_of(site, "1001")
    reply = await post(site, "/dial", body, token=token)
    assert reply.status_code == 422
    assert reply.json()["error"]["field"] == field
    assert not site.rig.gateway.state.calls


async def test_not_json_unknown_ids_unknown_paths_and_huge_bodies(site: Site) -> None:
    token = await token_of(site, "1001")
    bad = await post(site, "/dial", content=b"{not json", token=token)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "body"
    missing = await post(site, "/get-customer", {"customer_id": 999_999}, token=token)
    assert missing.status_code == 404 and "999999" in missing.json()["error"]["message"]
    nowhere = await post(site, "/format-disk", {}, token=token)
    assert nowhere.status_code == 404
    huge = await post(site, "/search-customers", content=b'{"query": "' + b"a" * 600_000 + b'"}', token=token)
    assert huge.status_code == 413
    long_query = await post(site, "/search-customers", {"query": "a" * 300}, token=token)
    assert long_query.status_code == 422 and long_query.json()["error"]["field"] == "query"


# ---- the remote Session ----

async def test_crm_operations_travel_whole(site: Site) -> None:
    agent = await site.console("1001", listen=False)
    saved = await agent.create_customer(Customer(name="Bruno Lima", document="529.982.247-25",
                                                 phones=[Phone(slot="celular", raw="(51) 99111-2222")]))
    assert saved.customer.id and saved.customer.document == "52998224725"
    again = await agent.get_customer(saved.customer.id)
    assert again == saved.customer
    found = await agent.lookup("51991112222")
    assert [m.customer.name for m in found.exact] == ["Bruno Lima"]
    with pytest.raises(NotFound):
        await agent.get_customer(424242)
    assert all(s.extension_password is None for s in await agent.sellers())


async def test_a_ring_pops_the_customer_at_the_remote_console_only(site: Site) -> None:
    ana, bruno = await site.console("1001"), await site.console("1002")
    boss = await site.console(SUPERVISOR)
    call_id = await site.rig.ring("1001", "(51) 98765-4321", ddr="(51) 2101-0001")
    await site.caught_up()
    first = ana.received[0]  # type: ignore[attr-defined]
    assert isinstance(first, StateSnapshot) and first.link is LinkState.CONNECTED
    pops = [m for m in ana.received if isinstance(m, ScreenPop)]  # type: ignore[attr-defined]
    assert [(p.call_id, [m.customer.name for m in p.lookup.exact]) for p in pops] == [(call_id, ["Ana Souza"])]
    ring = next(m for m in ana.received if isinstance(m, PbxUpdate))  # type: ignore[attr-defined]
    assert ring.traffic_source is not None and ring.traffic_source.name == "Jornal"
    assert not any(isinstance(m, PbxUpdate | ScreenPop) for m in bruno.received)  # type: ignore[attr-defined]
    assert any(isinstance(m, ScreenPop) for m in boss.received)  # type: ignore[attr-defined]


async def test_the_stream_says_when_the_gateway_is_gone_and_resnapshots_on_return(site: Site) -> None:
    ana = await site.console("1001")
    ana.received.clear()  # type: ignore[attr-defined]
    for subscription in site.api.gateway.hub.subscriptions():
        subscription.close()  # the gateway ends the stream (as at a restart)
    for _ in range(200):
        if any(isinstance(m, StateSnapshot) for m in ana.received):  # type: ignore[attr-defined]
            break
        await site.rig.settle()
        await asyncio.sleep(0.02)  # the console's backoff is real time
    kinds = [type(m) for m in ana.received]  # type: ignore[attr-defined]
    assert kinds[0] is LinkStatus and ana.received[0].state is LinkState.UNREACHABLE  # type: ignore[attr-defined]
    assert StateSnapshot in kinds  # the same server still runs: the console reconnected by itself


async def test_a_dial_to_a_dead_gateway_is_refused_as_not_sent(site: Site) -> None:
    from tui_caa.protocol.link_errors import GatewayUnreachable

    agent = await site.console("1001", listen=False)
    agent.urls = ["http://127.0.0.1:9"]  # nothing listens on the discard port
    with pytest.raises(GatewayUnreachable, match="nothing was sent"):
        await agent.dial("1002")


# ---- health and metrics ----

async def test_health_and_metrics(site: Site) -> None:
    async with httpx.AsyncClient(base_url=site.url) as client:
        health = (await client.get("/health")).json()
        assert health == {"status": "ok", "link": "connected", "resyncing": False, "outbox_depth": 0,
                          "crm_reachable": True, "consoles": 0, "problems": []}
        agent = await token_of(site, "1001")
        assert (await client.get("/metrics", headers={"Authorization": f"Bearer {agent}"})).status_code == 403
        await site.console("1002")
        await site.rig.ring("1002", "(51) 98765-4321")
        await site.caught_up()
        boss = await token_of(site, SUPERVISOR)
        text = (await client.get("/metrics", headers={"Authorization": f"Bearer {boss}"})).text
    assert "tui_caa_consoles_connected 1.0" in text
    assert "tui_caa_screen_pop_seconds_count 1.0" in text
    assert 'tui_caa_logins_total{result="ok"}' in text
    assert "tui_caa_pbx_link_up 1.0" in text


async def test_health_is_503_while_the_pbx_link_is_down(site: Site) -> None:
    site.rig.gateway._set_link(LinkState.RECONNECTING, "resynchronising with the PBX")
    async with httpx.AsyncClient(base_url=site.url) as client:
        reply = await client.get("/health")
    assert reply.status_code == 503 and reply.json()["resyncing"] is True


async def test_health_lists_the_gateways_problems_and_is_503_while_there_are_any(site: Site) -> None:
    problem = "call recorder failed (OSError: disk I/O error); restarting in 0.5 s"
    site.rig.gateway.supervisor.report("call recorder", problem)
    async with httpx.AsyncClient(base_url=site.url) as client:
        reply = await client.get("/health")
        assert reply.status_code == 503 and reply.json()["problems"] == [problem]
        site.rig.gateway.supervisor.clear("call recorder")
        reply = await client.get("/health")
    assert reply.status_code == 200 and reply.json()["problems"] == []


async def test_a_stream_refused_by_the_gateway_is_retried_not_fatal(site: Site) -> None:
    """A gateway that answers the event stream with an error (a 503 while it starts, a standby)
    is one more reason to try again: the console says so and reconnects, its pump never dies."""
    console = await site.console("1001", listen=False)
    refusals = 0
    real = console._client

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal refusals
        if request.url.path.endswith("/events") and refusals < 2:
            refusals += 1
            body = b'{"error": {"kind": "DomainError", "message": "standby", "field": null}}'
            return httpx.Response(503, headers={"content-type": "application/json"}, stream=httpx.ByteStream(body))
        reply = await real.send(request, stream=True)
        return httpx.Response(reply.status_code, headers=reply.headers, stream=reply.stream)

    console._client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    messages = console.messages()
    first = await messages.__anext__()
    assert isinstance(first, LinkStatus) and first.state is LinkState.UNREACHABLE and "standby" in first.reason
    snapshot = await messages.__anext__()
    assert isinstance(snapshot, StateSnapshot) and refusals == 2
    await messages.aclose()
    await console._client.aclose()
    console._client = real
