"""The live sessions of `fixtures/live/` (a real Asterisk 20 with real SIP phones, see its README),
replayed two ways:

- `replay_records`: through the product end to end: `FakeAmi` sends the session's bytes to a real
  `AsteriskDriver` (configured as the session's site was) under a `Gateway`, whose recorder writes
  the call records into a real SQLite CRM; the records are read back from the CRM;
- `mapped`: the session's packets through the `AmiMapper` alone, each stamped with the latest
  wall-clock time the stream carries (a Newchannel's Uniqueid is its creation second, RTCP reports
  carry SentNTP, security events EventTV): what the driver would say, and when.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from tests.asterisk.fake_ami import FIXTURES, FakeAmi, split_packets
from tui_caa.clock import ManualClock
from tui_caa.crm import CrmStore
from tui_caa.domain import TrafficSource
from tui_caa.domain.events import PbxEvent
from tui_caa.domain.telephony import CallRecord
from tui_caa.gateway.outbox import Outbox
from tui_caa.gateway.service import Gateway
from tui_caa.gateway.state import PbxState
from tui_caa.pbx.asterisk.driver import AsteriskDriver
from tui_caa.pbx.asterisk.mapping import AmiMapper, MapperConfig
from tui_caa.pbx.asterisk.packets import Packet, PacketReader
from tui_caa.phones import DialRules

LIVE = FIXTURES / "live"
CUSTOMER = "5133334444"
DDR_JORNAL = "5121010001"  # rings 1001
DDR_QUEUE = "5121010002"  # the sales queue (ringall 1001-1003)
# the `[pbx.asterisk]` of the site the sessions were recorded at (fixtures/live/README.md)
SITE = {"channel_pattern": r"^PJSIP/(?P<ext>\d{2,8})-", "trunk_contexts": ("from-trunk",),
        "dial_context": "from-internal", "did_variable": "FROM_DID", "atxfer_enabled": True,
        "hold_method": "park", "parking_enabled": True, "spy_enabled": True}
TEST_OPTIONS: dict[str, Any] = {"ping_interval": 0, "action_timeout": 5.0, "connect_timeout": 5.0,
                                "reconnect_delay": 0.01, "reconnect_max_delay": 0.1}
EXTENSIONS = ("1001", "1002", "1003")
T0 = datetime(2026, 12, 3, 16, 0, tzinfo=UTC)


IDLE_LISTS = {"DeviceStateList": "Device State Changes will follow",
         "ExtensionStateList": "Extension Statuses will follow", "CoreShowChannels": "Channels will follow"}


def empty_list(action: str, message: str) -> list[bytes]:
    """A list action's reply with no items, as Asterisk words it (the ActionID is put in by FakeAmi)."""
    return [f"Response: Success\r\nActionID: x\r\nEventList: start\r\nMessage: {message}\r\n\r\n".encode(),
            f"Event: {action}Complete\r\nActionID: x\r\nEventList: Complete\r\nListItems: 0\r\n\r\n".encode()]


def session_bytes(name: str) -> bytes:
    return (LIVE / name).read_bytes()


def packets(name: str) -> list[Packet]:
    """The session's packets after the login response (FullyBooted … Goodbye)."""
    return PacketReader(expect_banner=False).feed(b"".join(split_packets(session_bytes(name))[1:]))


def _anchors(p: Packet) -> list[datetime]:
    out = []
    if tv := p.get("EventTV"):
        out.append(datetime.fromisoformat(tv))
    if ntp := p.get("SentNTP"):
        out.append(datetime.fromtimestamp(float(ntp), UTC))
    if p.get("Event") == "Newchannel" and p["Uniqueid"].split(".", 1)[0].isdigit():
        out.append(datetime.fromtimestamp(int(p["Uniqueid"].split(".", 1)[0]), UTC))
    return out


@dataclass
class Mapped:
    events: list[PbxEvent]
    records: list[CallRecord]
    open_calls: int  # calls the gateway's state still follows at the end


def mapped(name: str) -> Mapped:
    config = MapperConfig(channel_pattern=SITE["channel_pattern"], trunk_contexts=SITE["trunk_contexts"],
                          did_variable=SITE["did_variable"])
    mapper, state = AmiMapper(config), PbxState()
    clock: datetime | None = None
    events, records = [], []
    for packet in packets(name):
        for at in _anchors(packet):
            clock = at if clock is None else max(clock, at)
        for event in mapper.feed(packet, now=clock):
            events.append(event)
            if (record := state.apply(event)) is not None:
                records.append(record)
    return Mapped(events, records, len(state.calls))


async def replay_records(name: str, store: CrmStore, tmp_path: Path, **options: Any) -> dict[tuple[str, str],
                                                                                              CallRecord]:
    """(extension, call id) → the record the gateway wrote into the CRM for the replayed session."""
    await store.save_traffic_source(TrafficSource(name="Jornal", ddr_raw="(51) 2101-0001"))
    fake = await FakeAmi(secret="live").start()
    fake.list_replies = {action: empty_list(action, message) for action, message in IDLE_LISTS.items()}  # an idle PBX
    fake.replay = session_bytes(name)
    fake.replay_after = "CoreShowChannels"  # once the driver has resynced, as a live session goes
    driver = AsteriskDriver("127.0.0.1", fake.port, "ctiuser", SecretStr("live"),
                            **{**SITE, **TEST_OPTIONS, **options})
    gateway = Gateway(driver, store, Outbox(tmp_path / "outbox.sqlite3"), clock=ManualClock(T0),
                      dial_rules=DialRules(site_ddd="51"))
    try:
        await gateway.start()
        await asyncio.wait_for(gateway.wait_connected(), 5)
        await asyncio.wait_for(fake.replay_done.wait(), 5)
        for _ in range(500):  # the driver's pump and the gateway catch up with the last bytes
            if not gateway.state.calls:
                break
            await asyncio.sleep(0.01)
        assert not gateway.state.calls, f"calls still followed after the session: {gateway.state.calls}"
        await asyncio.wait_for(gateway.recorder.drained(), 5)
        out = {}
        for ext in EXTENSIONS:
            for row in (await store.call_history(ext)).rows:
                out[(row.call.extension, row.call.pbx_call_id)] = row.call
        return out
    finally:
        await gateway.stop()
        await fake.stop()
