"""The agent screen as a person uses it: banner, dial field, call commands, caller identification."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import Button, Input, Label, ListView, OptionList, Static

from tests.gateway_fixtures import make_rig
from tests.ui.conftest import settle
from tui_caa.crm import CrmStore
from tui_caa.domain import CallState, Capability, Customer, Phone
from tui_caa.domain.events import CommandFailed
from tui_caa.domain.telephony import CommandFailure
from tui_caa.pbx.sim import SimulatorDriver
from tui_caa.protocol.messages import PbxUpdate
from tui_caa.ui.app import CaaApp
from tui_caa.ui.screens.prompts import PromptScreen


def text_of(app: CaaApp, selector: str) -> str:
    widget = app.screen.query_one(selector, Static)
    return str(widget.render())


def my_call(rig, ext: str = "1001"):  # type: ignore[no-untyped-def]
    calls = rig.gateway.state.calls_of(ext)
    return calls[0] if calls else None


async def test_banner_shows_who_state_link_and_simulator(rig, console) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        banner = text_of(app, "#banner")
        assert "Vendedor 1001" in banner and "ramal 1001" in banner
        assert "● livre" in banner and "● central conectada" in banner and "SIMULADOR" in banner
        await rig.ring("1001", "051987654321", ddr="5121010001")
        await settle(rig, pilot)
        assert "◉ tocando" in text_of(app, "#banner")


async def test_banner_shows_the_gateways_problems_until_they_are_gone(rig, console) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        rig.gateway.supervisor.report("outbox", "the call outbox cannot be written (disk full)")
        await settle(rig, pilot)
        banner = text_of(app, "#banner")
        assert "⚠ serviço de integração com problema: the call outbox cannot be written (disk full)" in banner
        assert "● central conectada" in banner
        rig.gateway.supervisor.clear("outbox")
        await settle(rig, pilot)
        assert "problema" not in text_of(app, "#banner")


async def test_ring_shows_number_and_ddr_source_then_the_customer(rig, console) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        await rig.ring("1001", "051987654321", ddr="5121010001")
        await settle(rig, pilot)
        caller = text_of(app, "#caller-line")
        assert "(51) 98765-4321" in caller and "DDR (51) 2101-0001 · origem: Jornal" in caller
        assert "1 cliente(s) com este número" in text_of(app, "#caller-status")
        items = app.screen.query_one("#exact-matches", ListView).children
        assert len(items) == 1 and "Ana Souza" in str(items[0].query_one(Static).render())
        assert "(Celular)" in str(items[0].query_one(Static).render())
        info = text_of(app, "#call-info")
        assert "entrada" in info and "tocando" in info and "Ana Souza" in info and "Jornal" in info


async def test_shared_number_lists_every_customer_and_near_matches_apart(rig, console) -> None:  # type: ignore[no-untyped-def]
    await rig.store.create_customer(Customer(name="Bruno Souza", phones=[Phone(slot="recado", raw="51 98765-4321")]))
    await rig.store.create_customer(Customer(name="Fixo Parecido", phones=[Phone(slot="residencial", raw="51 8765-4321")]))
    await rig.store.create_customer(Customer(name="Carla Lima", phones=[Phone(slot="residencial", raw="(51) 3765-4321")]))
    async with console() as (app, pilot):
        await rig.ring("1001", "(51) 9 3765-4321")
        await settle(rig, pilot)
        near = app.screen.query_one("#near-matches", ListView)
        assert near.display and "Carla Lima" in str(near.children[0].query_one(Static).render())
        assert "Nenhum cliente com este número" in text_of(app, "#caller-status")
        await rig.settle(30)
        await rig.ring("1001", "051987654321")
        await settle(rig, pilot)
        names = [str(item.query_one(Static).render()) for item in app.screen.query_one("#exact-matches", ListView).children]
        assert len(names) == 3 and any("Bruno Souza" in n for n in names) and any("Ana Souza" in n for n in names)
        assert "3 cliente(s)" in text_of(app, "#caller-status")


async def test_unknown_caller_offers_new_customer_and_association(rig, console) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        await rig.ring("1001", "(48) 3222-1111")
        await settle(rig, pilot)
        assert "Nenhum cliente com este número." in text_of(app, "#caller-status")
        assert app.screen.query_one("#caller-actions").display
        assert not app.screen.query_one("#caller-new", Button).disabled


async def test_answer_hold_resume_and_hang_up_with_keys(rig, console) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        call_id = await rig.ring("1001", "051987654321")
        await settle(rig, pilot)
        await pilot.press("f6")
        await settle(rig, pilot)
        assert my_call(rig).state is CallState.ACTIVE and "em conversa" in text_of(app, "#call-info")
        await pilot.press("f8")
        await settle(rig, pilot)
        assert my_call(rig).state is CallState.HELD
        assert app.screen.query_one("#call-resume", Button).display
        await pilot.press("f8")
        await settle(rig, pilot)
        assert my_call(rig).state is CallState.ACTIVE
        await pilot.press("f7", "f7")  # a double press hangs up once, and raises nothing
        await settle(rig, pilot)
        assert my_call(rig) is None
        assert "Nenhuma chamada em andamento" in text_of(app, "#call-info")
        assert call_id


async def test_buttons_disabled_with_the_reason(rig, console) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        hangup = app.screen.query_one("#call-hangup", Button)
        assert hangup.disabled and hangup.tooltip == "Não há chamada"
        await rig.ring("1001", "051987654321")
        await settle(rig, pilot)
        transfer = app.screen.query_one("#call-transfer", Button)
        assert transfer.disabled and transfer.tooltip == "Só durante uma conversa"
        assert not app.screen.query_one("#call-answer", Button).disabled


async def test_unsupported_command_is_disabled_naming_why(store: CrmStore, tmp_path: Path) -> None:
    from tests.ui.conftest import SIZE

    class NoHold(SimulatorDriver):
        capabilities = SimulatorDriver.capabilities - {Capability.HOLD}

    rig = await make_rig(store, tmp_path, NoHold)
    app = CaaApp(rig.sessions["1001"], simulated=True, clock=rig.clock)
    try:
        async with app.run_test(size=SIZE) as pilot:
            call_id = await rig.ring("1001", "051987654321")
            await rig.sessions["1001"].answer(call_id)
            await settle(rig, pilot)
            hold = app.screen.query_one("#call-hold", Button)
            assert hold.disabled and hold.tooltip == "A central não oferece esta função"
            await pilot.press("f8")
            await settle(rig, pilot)
            assert my_call(rig).state is CallState.ACTIVE
    finally:
        await rig.gateway.stop()


async def test_dial_field_dials_and_explains_a_bad_number(rig, console) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        await pilot.press("f5")
        await pilot.press(*"12a", "enter")
        await settle(rig, pilot)
        assert "'12a' is not a phone number: contains letters" in text_of(app, "#dial-message")
        assert my_call(rig) is None
        field = app.screen.query_one("#dial-input", Input)
        field.value = "(51) 3333-4444"
        await pilot.press("enter")
        await settle(rig, pilot)
        call = my_call(rig)
        assert call is not None and call.number == "33334444" and call.state is CallState.DIALING
        assert field.value == ""
        assert "chamando" in text_of(app, "#call-info")
        assert text_of(app, "#dial-message") == ""  # the call panel tells the rest; no stale "Chamando…"


async def test_blind_transfer_asks_the_target(rig, console) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        call_id = await rig.ring("1001", "051987654321")
        await rig.sessions["1001"].answer(call_id)
        await settle(rig, pilot)
        await pilot.press("f9")
        await settle(rig, pilot)
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*"12ab", "enter")  # said in the agent's words, and the question stays
        await settle(rig, pilot)
        problem = str(app.screen.query_one("#problem", Label).render())
        assert problem == "'12ab' não é um telefone válido: tem letras ou símbolos"
        for _ in range(4):
            await pilot.press("backspace")
        await pilot.press(*"1002", "enter")
        await settle(rig, pilot)
        assert my_call(rig) is None
        assert [c.call_id for c in rig.gateway.state.calls_of("1002")] == [call_id]


async def test_gateway_refusal_is_a_readable_notification(rig, console) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        call_id = await rig.ring("1001", "051987654321")
        await settle(rig, pilot)
        await rig.sim.drop_link("cabo desconectado")
        await settle(rig, pilot)
        assert "reconectando" in text_of(app, "#banner")
        await pilot.press("f6")
        await settle(rig, pilot)
        messages = [n.message for n in app._notifications]
        assert any("conexão com a central está sendo restabelecida" in m for m in messages), messages
        assert all("Traceback" not in m for m in messages)
        assert call_id


async def test_missed_call_is_notified(rig, console) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        await rig.ring("1001", "051987654321")
        await rig.settle(30)
        await settle(rig, pilot)
        assert any("Chamada perdida de (51) 98765-4321" in n.message for n in app._notifications)


@pytest.mark.parametrize("theme", ["caa-dark", "caa-light", "caa-high-contrast"])
async def test_every_shipped_theme_loads(rig, console, theme: str) -> None:  # type: ignore[no-untyped-def]
    async with console(theme_name=theme) as (app, pilot):
        assert app.theme == theme
        assert not [n for n in app._notifications if n.severity == "error"]


async def test_palette_dials_a_typed_number(rig, console) -> None:  # type: ignore[no-untyped-def]
    from textual.command import CommandPalette

    async with console() as (app, pilot):
        await pilot.press("ctrl+p")
        await settle(rig, pilot)
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"51 3333-4444")
        await settle(rig, pilot)
        await pilot.press("enter")
        await settle(rig, pilot)
        call = my_call(rig)
        assert call is not None and call.number == "33334444"


async def test_palette_offers_only_the_consoles_commands_and_themes_in_portuguese(rig, console) -> None:  # type: ignore[no-untyped-def]
    from textual.command import CommandInput, CommandList, CommandPalette

    async with console() as (app, pilot):
        await pilot.press("ctrl+p")
        await settle(rig, pilot)
        assert isinstance(app.screen, CommandPalette)
        assert app.screen.query_one(CommandInput).placeholder == "Buscar comandos…"
        for _ in range(50):  # the discovery hits arrive from a worker
            options = app.screen.query_one(CommandList).options
            if options:
                break
            await pilot.pause(0.02)
        titles = [str(option.prompt).split("\n")[0] for option in options]
        assert "Discar…" in titles and "Buscar cliente…" in titles
        assert {t for t in titles if t.startswith("Tema: ")} == {"Tema: caa-dark", "Tema: caa-light",
                                                              "Tema: caa-high-contrast"}
        assert not [t for t in titles if any(w in t for w in ("Maximize", "Screenshot", "Quit", "Keys", "textual"))]


async def test_help_lists_keys_with_their_ids(rig, console) -> None:  # type: ignore[no-untyped-def]
    from textual.widgets import DataTable

    from tui_caa.ui.screens.help import HelpScreen

    async with console(keymap={"call.hangup": "f12"}) as (app, pilot):
        await pilot.press("f1")
        await settle(rig, pilot)
        assert isinstance(app.screen, HelpScreen)
        rows = [app.screen.query_one(DataTable).get_row_at(i) for i in range(app.screen.query_one(DataTable).row_count)]
        by_id = {row[2]: row for row in rows}
        assert by_id["call.hangup"][0] == "f12" and by_id["call.answer"][0] == "f6"
        assert {"call.dial", "call.transfer", "call.consult", "call.hold", "call.dtmf", "app.search"} <= set(by_id)


async def test_keymap_remaps_and_unknown_ids_are_reported(rig, console) -> None:  # type: ignore[no-untyped-def]
    async with console(keymap={"call.answer": "f12", "call.nonsense": "f11"}) as (app, pilot):
        assert any("call.nonsense" in n.message for n in app._notifications)
        await rig.ring("1001", "051987654321")
        await settle(rig, pilot)
        await pilot.press("f12")
        await settle(rig, pilot)
        assert my_call(rig).state is CallState.ACTIVE


async def test_call_keys_work_on_the_customer_card_and_in_the_dial_field(rig, console) -> None:  # type: ignore[no-untyped-def]
    from tui_caa.ui.screens.customer import CustomerScreen

    async with console() as (app, pilot):
        call_id = await rig.ring("1001", "051987654321")
        await settle(rig, pilot)
        assert app.focused is app.screen.query_one("#dial-input")
        await pilot.press("f6")  # the Discar field has the focus: the key still answers
        await settle(rig, pilot)
        customer_id = rig.gateway.pops[call_id].lookup.exact[0].customer.id
        app.open_customer(customer_id, call_id=call_id)
        await settle(rig, pilot)
        assert isinstance(app.screen, CustomerScreen)
        await pilot.press("f8")
        await settle(rig, pilot)
        assert my_call(rig).state is CallState.HELD
        await pilot.press("f7")
        await settle(rig, pilot)
        assert my_call(rig) is None


async def test_a_bad_theme_file_is_named_and_the_default_is_used(rig, console, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "themes"
    folder.mkdir()
    (folder / "mine.toml").write_text('name = "mine"\nprimary = "not-a-colour"\n')
    (folder / "good.toml").write_text('name = "good"\nprimary = "#ff0000"\n')
    async with console(theme_name="mine", theme_dirs=(folder,)) as (app, pilot):
        messages = [n.message for n in app._notifications if n.severity == "error"]
        assert any("mine.toml: key 'primary': 'not-a-colour' is not a colour" in m for m in messages), messages
        assert any("Tema 'mine' não existe; usando caa-dark" in m for m in messages), messages
        assert app.theme == "caa-dark" and "good" in app.available_themes


async def test_palette_simulates_an_incoming_call(rig, console) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        await pilot.press("ctrl+p")
        await settle(rig, pilot)
        await pilot.press(*"simular", "enter")
        await settle(rig, pilot)
        call = my_call(rig)
        assert call is not None and call.state is CallState.RINGING
        assert "tocando" in text_of(app, "#call-info")


async def test_caller_panel_keys_open_the_customer_and_the_new_customer_form(rig, console) -> None:  # type: ignore[no-untyped-def]
    from tui_caa.ui.screens.customer import CustomerScreen
    from tui_caa.ui.screens.customer_form import NewCustomerScreen

    async with console() as (app, pilot):
        await rig.ring("1001", "051987654321")
        await settle(rig, pilot)
        await pilot.press("ctrl+r", "enter")
        await settle(rig, pilot)
        assert isinstance(app.screen, CustomerScreen)
        await pilot.press("escape")
        await settle(rig, pilot)
        await pilot.press("ctrl+n")
        await settle(rig, pilot)
        assert isinstance(app.screen, NewCustomerScreen)


def menu_entries(app: CaaApp) -> dict[str, tuple[str, bool]]:
    """The "+ Funções" menu on screen: id → (label, disabled)."""
    options = app.screen.query_one(OptionList)
    return {str(o.id): (str(o.prompt), o.disabled) for o in (options.get_option_at_index(i)
                                                             for i in range(options.option_count))}


async def test_functions_menu_lists_hold_once_and_park_only_with_a_call(rig, console) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        await pilot.press("ctrl+o")
        await settle(rig, pilot)
        entries = menu_entries(app)
        labels = [label for label, _ in entries.values()]
        assert sum(label.startswith("Espera") for label in labels) == 1 and "resume" not in entries
        assert entries["park"] == ("Estacionar — Não há chamada", True)
        assert entries["pickup"] == ("Capturar", False)  # picking a call up needs no call of one's own
        await pilot.press("escape")
        await rig.ring("1001", "051987654321")
        await settle(rig, pilot)
        await pilot.press("f6")
        await settle(rig, pilot)
        await pilot.press("f8")
        await settle(rig, pilot)
        assert my_call(rig).state is CallState.HELD
        await pilot.press("ctrl+o")
        await settle(rig, pilot)
        entries = menu_entries(app)
        assert entries["resume"] == ("Retomar", False) and "hold" not in entries
        assert entries["park"] == ("Estacionar", False)


async def test_consulting_says_whom_once(rig, console) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        call_id = await rig.ring("1001", "051987654321")
        await settle(rig, pilot)
        await pilot.press("f6")
        await settle(rig, pilot)
        await rig.gateway.driver.consult("1001", call_id, "1002")
        await settle(rig, pilot)
        info = text_of(app, "#call-info")
        assert "consultando ramal 1002" in info and info.count("consultando") == 1


async def test_a_command_the_pbx_did_not_carry_out_is_an_error_notice(rig, console) -> None:  # type: ignore[no-untyped-def]
    """What the gateway publishes when a driver finds a transfer it sent was not carried out
    (an Asterisk Atxfer to an unknown extension: tests/asterisk/test_unconfirmed_commands.py)."""
    async with console() as (app, pilot):
        call_id = await rig.ring("1001", "051987654321")
        await settle(rig, pilot)
        await pilot.press("f6")
        await settle(rig, pilot)
        failed = CommandFailed(at=rig.clock.now(), extension="1001", call_id=call_id,
                               command=Capability.ATTENDED_TRANSFER, reason=CommandFailure.TRANSFER_ABORTED,
                               target="1999")
        rig.gateway.hub.publish("1001", PbxUpdate(failed))
        rig.gateway.hub.publish("1002", PbxUpdate(replace(failed, extension="1002")))  # not this console's
        await settle(rig, pilot)
        notices = [n for n in app._notifications if n.severity == "error"]
        assert [n.message for n in notices] == [
            "A transferência para 1999 não foi concluída: a central desistiu dela (ramal inexistente?). "
            "A chamada continua com você."]
        assert my_call(rig).state is CallState.ACTIVE


async def test_quitting_during_a_call_asks_first_and_defaults_to_staying(rig, console, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tui_caa.ui.screens.prompts import ConfirmScreen

    async with console() as (app, pilot):
        exits: list[object] = []
        monkeypatch.setattr(app, "exit", lambda *args, **kwargs: exits.append(args))
        await rig.ring("1001", "051987654321")
        await settle(rig, pilot)
        await pilot.press("f10")
        await settle(rig, pilot)
        assert isinstance(app.screen, ConfirmScreen) and exits == []
        assert any("ligação em andamento" in str(label.render()) for label in app.screen.query("Label"))
        await pilot.press("enter")  # "Não" has the focus: a reflex Enter does not quit
        await settle(rig, pilot)
        assert not isinstance(app.screen, ConfirmScreen) and exits == []
        await pilot.press("f10")
        await settle(rig, pilot)
        await pilot.press("f10")  # the quit key on its own question: yes
        await settle(rig, pilot)
        assert len(exits) == 1
        assert my_call(rig) is not None  # quitting is not hanging up


async def test_quitting_with_no_call_is_immediate(rig, console, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        exits: list[object] = []
        monkeypatch.setattr(app, "exit", lambda *args, **kwargs: exits.append(args))
        await pilot.press("ctrl+q")
        await settle(rig, pilot)
        assert len(exits) == 1


async def test_numbers_are_shown_as_people_read_them(rig, console) -> None:  # type: ignore[no-untyped-def]
    """A withheld caller is said in words, a local number gets the site's DDD, an extension is named."""
    async with console() as (app, pilot):
        await rig.ring("1001", "anonymous")
        await settle(rig, pilot)
        assert "Chamador: número não identificado" in str(app.screen.query_one("#caller-line", Static).render())
        assert "anonymous" not in text_of(app, "#call-info")
    from tui_caa.ui import labels

    rules = rig.sessions["1001"].caller_id_rules()
    assert labels.phone_number("27176045", rules.model_copy(update={"default_ddd": "51"})) == "(51) 2717-6045"
    assert labels.phone_number("1002", rules) == "ramal 1002"
    assert labels.phone_number("+5551987654321", rules) == "(51) 98765-4321"
    assert labels.phone_number("not a number", rules) == "not a number"
