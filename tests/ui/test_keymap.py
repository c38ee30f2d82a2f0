"""The console's keys: a `[keymap]` is checked before the console starts, and every key it names
(and every default key) is one that common terminals deliver."""

from __future__ import annotations

import json

import pytest

from tui_caa.ui import i18n
from tui_caa.ui.keymap import all_bindings, keymap_problems, undelivered


@pytest.fixture(autouse=True)
def english() -> None:
    i18n.set_language("en")


def test_a_keymap_that_changes_nothing_wrong_has_no_problems() -> None:
    assert keymap_problems({}) == []
    assert keymap_problems({"call.hangup": "f12", "call.answer": "f6,ctrl+a", "history.reload": "R"}) == []


def test_an_unknown_id_is_named_with_the_ids_it_may_have_meant() -> None:
    [problem] = keymap_problems({"call.hanup": "f12"})
    assert problem.startswith('[keymap] "call.hanup": there is no such action (did you mean call.hangup')
    assert "F1" in problem
    i18n.set_language("pt_BR")
    [problem] = keymap_problems({"nada.disso": "f12"})
    assert problem == '[keymap] "nada.disso": não existe essa ação; F1 no console lista todas com seus ids'


def test_a_key_taken_from_another_action_names_that_action_and_where() -> None:
    # the app's keys hold on every screen: answer on ctrl+q would take Quit's second key
    quit_description = next(b.description for b in all_bindings() if b.id == "app.quit")
    assert keymap_problems({"call.answer": "ctrl+q"}) == [
        f'[keymap] "call.answer" = "ctrl+q": that key already belongs to "app.quit" ({quit_description}) '
        "on every screen"]
    # a screen's key collides with the same screen's keys and with the app's
    [problem] = keymap_problems({"agent.associate": "ctrl+n"})
    assert '"agent.new_customer"' in problem and "AgentScreen" in problem
    [problem] = keymap_problems({"monitor.listen": "f7"})
    assert '"call.hangup"' in problem and "every screen" in problem
    # ...but not with another screen's: ctrl+n adds a vehicle on the card, a new customer on the agent screen
    assert keymap_problems({"monitor.listen": "ctrl+n"}) == []


def test_a_remapped_key_may_move_to_a_key_freed_by_the_same_keymap() -> None:
    assert keymap_problems({"call.hangup": "f9", "call.transfer": "f12"}) == []
    [problem] = keymap_problems({"call.hangup": "f9"})
    assert '"call.transfer"' in problem


@pytest.mark.parametrize(("key", "why"), [
    ("alt+1", "as a character"),
    ("ctrl+2", "as the digit itself"),
    ("ctrl+shift+a", "cannot tell ctrl+shift+a from ctrl+a"),
    ("ctrl+i", "sends ctrl+i as tab"),
    ("ctrl+m", "sends ctrl+m as enter"),
    ("super+k", "no such key"),
    ("f13", "no such key"),
    ("shift+foo", "no such key"),
])
def test_keys_terminals_do_not_deliver_are_refused_with_the_reason(key: str, why: str) -> None:
    assert why in (undelivered(key) or "")
    [problem] = keymap_problems({"call.park": key})
    assert problem.startswith(f'[keymap] "call.park" = "{key}": ') and problem.endswith("choose F1…F12 or ctrl+letter")


@pytest.mark.parametrize("key", ["f5", "shift+f10", "ctrl+s", "alt+x", "escape", "slash", "G", "enter", "question_mark"])
def test_keys_that_terminals_deliver_are_accepted(key: str) -> None:
    assert undelivered(key) is None


def test_keys_of_the_terminal_and_of_textual_are_not_given_away() -> None:
    [problem] = keymap_problems({"call.park": "tab"})
    assert "belongs to the terminal or the console itself (move between fields)" in problem
    [problem] = keymap_problems({"call.park": "ctrl+c"})
    assert "(copy / interrupt)" in problem
    # the palette's key is an action like the others: it can move, and is not given away
    [problem] = keymap_problems({"call.park": "ctrl+p"})
    assert '"app.palette"' in problem
    assert keymap_problems({"app.palette": "f11"}) == []


def test_an_empty_key_is_a_problem() -> None:
    assert keymap_problems({"call.park": " "}) == ['[keymap] "call.park": no key given']


def test_every_action_with_an_id_is_found_across_the_screens_and_widgets() -> None:
    ids = {b.id for b in all_bindings()}
    assert {"call.answer", "app.quit", "agent.history", "history.reload", "monitor.listen",
            "customer.save", "vehicle.save", "appointment.save", "new_customer.save", "help.close"} <= ids


def test_the_console_refuses_to_start_with_a_bad_keymap(run) -> None:  # type: ignore[no-untyped-def]
    keymap = {"call.answer": "ctrl+q", "call.nope": "f11"}
    result = run("--lang", "en", env={"TUI_CAA_KEYMAP": json.dumps(keymap)})
    assert result.returncode == 1
    assert '"call.answer" = "ctrl+q": that key already belongs to "app.quit"' in result.stderr
    assert '"call.nope": there is no such action' in result.stderr
