"""What only a remote console has: the login screen, a session that ends under an open form, and a
gateway that goes away."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Label

from tests.server_fixtures import PASSWORD, Site
from tests.ui.conftest import SIZE, settle
from tests.ui.test_customer_screens import open_card, type_into, wait_until
from tui_caa.protocol.messages import LinkState
from tui_caa.remote import RemoteSession
from tui_caa.ui.app import CaaApp
from tui_caa.ui.screens.customer import CustomerScreen
from tui_caa.ui.screens.login import LoginScreen


def remembering(tmp_path: Path):  # type: ignore[no-untyped-def]
    saved: list[str] = []

    def remember(login: str | None) -> str:
        if login is not None:
            saved.append(login)
        return saved[-1] if saved else ""

    return remember, saved


async def test_login_screen_opens_the_accounts_console(site: Site, tmp_path: Path) -> None:
    remember, saved = remembering(tmp_path)
    session = RemoteSession(site.url)
    app = CaaApp(session, clock=site.rig.clock, remembered_login=remember)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, LoginScreen)
        assert site.url in str(app.screen.query_one(".hint", Label).render())
        await type_into(pilot, app.screen.query_one("#login", Input), "1002")
        await pilot.press("enter")
        await type_into(pilot, app.screen.query_one("#password", Input), "wrong-password")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "incorretos" in str(app.screen.query_one("#problem", Label).render()))
        assert app.screen.query_one("#password", Input).value == ""  # a refused password is not kept
        await type_into(pilot, app.screen.query_one("#password", Input), PASSWORD)
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, LoginScreen))
        await settle(site.rig, pilot)
        banner = str(app.screen.query_one("#banner").render())
        assert "Vendedor 1002" in banner and "ramal 1002" in banner and "central conectada" in banner
        assert saved == ["1002"]  # the login is remembered, never the password
    await session.close()


async def test_an_ended_session_asks_again_on_top_of_the_open_form(site: Site, tmp_path: Path) -> None:
    remember, _ = remembering(tmp_path)
    session = await site.console("1001", listen=False)
    app = CaaApp(session, clock=site.rig.clock, remembered_login=remember)
    customer_id = (await site.rig.store.search_customers("Ana Souza"))[0].id
    async with app.run_test(size=SIZE) as pilot:
        await settle(site.rig, pilot)
        card = await open_card(app, pilot, site.rig, customer_id)  # type: ignore[arg-type]
        await type_into(pilot, card.query_one("#city", Input), "Canoas")
        await site.rig.store.revoke_sessions("1001")  # `tui-caa user revoke 1001`, meanwhile
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen))
        assert "terminou" in str(app.screen.query_one(".problem", Label).render())
        assert app.screen.query_one("#login", Input).value == "1001"
        await type_into(pilot, app.screen.query_one("#password", Input), PASSWORD)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CustomerScreen))
        assert app.screen is card and card.query_one("#city", Input).value == "Canoas"  # nothing typed was lost
        await pilot.press("ctrl+s")  # and it saves now
        await wait_until(pilot, lambda: True)
        await settle(site.rig, pilot)
    stored = await site.rig.store.get_customer(customer_id)  # type: ignore[arg-type]
    assert stored.city == "Canoas"


async def test_the_banner_says_when_the_gateway_is_unreachable(site: Site) -> None:
    session = await site.console("1001", listen=False)
    app = CaaApp(session, clock=site.rig.clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(site.rig, pilot)
        session.urls = ["http://127.0.0.1:9"]  # the gateway's address stops answering
        for subscription in site.api.gateway.hub.subscriptions():
            subscription.close()  # and the stream it had ends
        await wait_until(pilot, lambda: app.model.link is LinkState.UNREACHABLE)
        await pilot.pause()
        assert "sem contato com o serviço de integração" in str(app.screen.query_one("#banner").render())
        await pilot.press("f5")  # a command meanwhile is refused with the reason, and nothing breaks
        app.screen.query_one("#dial-input", Input).value = "1002"
        await pilot.press("enter")
        await wait_until(pilot, lambda: "nada foi enviado" in str(app.screen.query_one("#dial-message", Label).render()))
        session.urls = [site.url]  # back
        await wait_until(pilot, lambda: app.model.link is LinkState.CONNECTED, tries=300)
