"""The live sessions (`fixtures/live/`, a real Asterisk 20 driven through tui-caa) replayed: what the
driver says and what the gateway records must be what really happened (the README there)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.asterisk.live import CUSTOMER, DDR_JORNAL, DDR_QUEUE, LIVE, mapped, packets, replay_records
from tui_caa.crm import CrmStore
from tui_caa.domain.events import (
    CallAnswered,
    CallConsulting,
    CallEnded,
    CallEvent,
    CallResumed,
    CallRinging,
    CommandFailed,
)
from tui_caa.domain.lookup import HistoryFilter
from tui_caa.domain.telephony import Direction, Disposition
from tui_caa.protocol.messages import PbxUpdate
from tui_caa.ui.model import ConsoleModel

# ---- e2: 1001 consults 1002 about the customer's call, then cancels ----

E2 = "e2_consult_cancel.ami"
E2_CALL = "1796316314.20"  # the customer's call (Linkedid of every channel in the session)
E2_CONSULT = "1796316323.24"  # 1002's phone channel: the consultation is a call of its own


def test_a_cancelled_consultation_is_an_internal_call_for_the_consulted_agent() -> None:
    run = mapped(E2)
    ring = next(e for e in run.events if isinstance(e, CallRinging) and e.extension == "1002")
    # 1002's phone showed 1001 calling (its ConnectedLine in the session), not the customer
    assert (ring.call_id, ring.direction, ring.number, ring.ddr, ring.caller_name) == (
        E2_CONSULT, Direction.INTERNAL, "1001", None, "Agent 1001")
    phone = next(p for p in packets(E2) if p.get("Event") == "Newstate" and p.get("Channel", "").startswith(
        "PJSIP/1002-") and p.get("ChannelStateDesc") == "Ringing")
    assert (phone["ConnectedLineNum"], phone["Uniqueid"], phone["Linkedid"]) == ("1001", E2_CONSULT, E2_CALL)
    mine = [e for e in run.events if isinstance(e, CallEvent) and e.extension == "1002"]
    assert [type(e) for e in mine] == [CallRinging, CallAnswered, CallEnded]
    assert {e.call_id for e in mine} == {E2_CONSULT}
    # 1001: the customer's call throughout, consulting then back
    first = [type(e) for e in run.events if isinstance(e, CallEvent) and e.extension == "1001"]
    assert CallConsulting in first and CallResumed in first and first[-1] is CallEnded
    assert not [e for e in run.events if isinstance(e, CommandFailed)]  # 1002 answered: the cancel was 1001's


async def test_a_cancelled_consultation_is_recorded_as_what_it_was(store: CrmStore, tmp_path: Path) -> None:
    records = await replay_records(E2, store, tmp_path)
    assert set(records) == {("1001", E2_CALL), ("1002", E2_CONSULT)}
    customer, consult = records["1001", E2_CALL], records["1002", E2_CONSULT]
    assert (customer.direction, customer.remote_raw, customer.ddr_raw, customer.disposition) == (
        Direction.INBOUND, CUSTOMER, DDR_JORNAL, Disposition.ANSWERED)
    assert customer.recording_ref is not None and customer.recording_ref.endswith(f"-{E2_CALL}.wav")
    # 1002 only ever spoke with 1001: an internal call, no DDR (no traffic source), no customer recording
    assert (consult.direction, consult.remote_raw, consult.ddr_raw, consult.recording_ref) == (
        Direction.INTERNAL, "1001", None, None)
    assert consult.disposition is Disposition.ANSWERED and not consult.missed
    assert consult.started_at >= customer.answered_at  # type: ignore[operator]
    assert consult.ended_at <= customer.ended_at  # type: ignore[operator]


# ---- g: the customer calls the sales queue (ringall 1001-1003); 1002 answers ----

G = "g_queue.ami"
G_CALL = "1796316439.30"


def test_queue_colleagues_whose_ringing_stopped_were_answered_elsewhere() -> None:
    ended = {e.extension: e for e in mapped(G).events if isinstance(e, CallEnded)}
    assert {ext: e.disposition for ext, e in ended.items()} == {
        "1001": Disposition.ANSWERED_ELSEWHERE, "1002": Disposition.ANSWERED, "1003": Disposition.ANSWERED_ELSEWHERE}
    # what Asterisk said of those phones: Hangup Cause 26
    causes = {p["Channel"][6:10]: (p["Cause"], p["Cause-txt"]) for p in packets(G) if p.get("Event") == "Hangup"
              and p["Channel"].startswith("PJSIP/100")}
    assert causes["1001"] == causes["1003"] == ("26", "Answered elsewhere")
    # their phones never carried the talk: no recording for them
    assert ended["1001"].recording_ref is None and ended["1003"].recording_ref is None
    assert ended["1002"].recording_ref is not None


async def test_queue_calls_answered_elsewhere_are_not_missed_calls(store: CrmStore, tmp_path: Path) -> None:
    records = await replay_records(G, store, tmp_path)
    assert set(records) == {(ext, G_CALL) for ext in ("1001", "1002", "1003")}
    for ext in ("1001", "1003"):
        rec = records[ext, G_CALL]
        assert (rec.direction, rec.remote_raw, rec.ddr_raw) == (Direction.INBOUND, CUSTOMER, DDR_QUEUE)
        assert rec.disposition is Disposition.ANSWERED_ELSEWHERE and not rec.missed
        assert rec.answered_at is None and rec.recording_ref is None
    answered = records["1002", G_CALL]
    assert answered.disposition is Disposition.ANSWERED and answered.answered_at is not None
    for ext in ("1001", "1003"):
        assert not (await store.call_history(ext, HistoryFilter(missed_only=True))).rows


@pytest.mark.parametrize("extension", ["1001", "1003"])
def test_the_console_does_not_announce_a_call_answered_elsewhere_as_missed(extension: str) -> None:
    model = ConsoleModel(extension=extension)
    changes = set()
    for event in mapped(G).events:
        changes |= model.apply(PbxUpdate(event))
    assert model.missed == [] and "missed" not in changes and not model.my_calls()


# ---- c: 1001 dials (51) 98765-4321 from the console (Originate of PJSIP/1001) ----

async def test_click_to_call_is_recorded_as_what_happened(store: CrmStore, tmp_path: Path) -> None:
    records = await replay_records("c_click_to_call.ami", store, tmp_path)
    ((key, rec),) = records.items()
    assert key[0] == "1001" and key[1].startswith("caa-")  # the ChannelId tui-caa gave the Originate
    assert (rec.direction, rec.remote_raw, rec.ddr_raw, rec.disposition, rec.missed) == (
        Direction.OUTBOUND, "987654321", None, Disposition.ANSWERED, False)


def test_the_live_sessions_are_the_shared_ones_unchanged() -> None:
    shared = Path(__file__).parents[3] / "shared" / "fixtures" / "asterisk" / "live"
    names = sorted(p.name for p in LIVE.iterdir())
    assert names == ["README.md", "c_click_to_call.ami", "e2_consult_cancel.ami", "f_hold_resume_park.ami",
                     "g_queue.ami"]
    if shared.exists():  # beside the project's shared folder (not in every checkout)
        assert all((LIVE / name).read_bytes() == (shared / name).read_bytes() for name in names)
