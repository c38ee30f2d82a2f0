"""AMI framing and parsing on the real recordings, byte splits, encodings, bad packets, action encoding."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from tests.asterisk.fake_ami import fixture, fixture_names
from tui_caa.pbx.asterisk.errors import ProtocolError
from tui_caa.pbx.asterisk.packets import Packet, PacketReader, c_unescape, encode_action, parse_packet


def parse_all(data: bytes, **kw) -> tuple[PacketReader, list[Packet]]:
    reader = PacketReader(**kw)
    return reader, reader.feed(data)


def count_packets(data: bytes) -> int:
    """Independent count: walk the lines; a packet ends at each empty line after a non-empty one."""
    lines = data.decode("latin-1").split("\r\n")[1:]  # skip the banner line
    count, in_packet = 0, False
    for line in lines:
        if line:
            in_packet = True
        elif in_packet:
            count, in_packet = count + 1, False
    return count


@pytest.mark.parametrize("name", fixture_names())
def test_every_recording_parses_completely(name: str) -> None:
    data = fixture(name)
    reader, packets = parse_all(data)
    assert reader.banner == "Asterisk Call Manager/9.0.0"
    assert len(packets) == count_packets(data) > 0
    assert reader.bad_packets == 0 and reader.pending == 0
    assert all(p.kind in ("event", "response") for p in packets)


def test_counts_match_scenarios_md() -> None:
    # "Size: … bytes, N messages (banner excluded)" in scenarios.md
    expected = {"ami-inbound-answered.txt": 109, "ami-inbound-missed.txt": 67, "ami-click-to-call.txt": 122,
                "ami-attended-transfer.txt": 283, "ami-extension-state.txt": 267, "ami-recording-playback.txt": 40}
    for name, n in expected.items():
        assert len(parse_all(fixture(name))[1]) == n


def test_known_packets_of_inbound_answered() -> None:
    _, packets = parse_all(fixture("ami-inbound-answered.txt"))
    login, booted = packets[0], packets[1]
    assert login.kind == "response" and login["Response"] == "Success"
    assert login["ActionID"] == "lab-1" and login["Message"] == "Authentication accepted"
    assert booted.kind == "event" and booted.name == "FullyBooted" and booted["Status"] == "Fully Booted"
    assert packets[-1]["Response"] == "Goodbye" and packets[-1]["Message"] == "Thanks for all the fish."
    newchannel = next(p for p in packets if p.get("Event") == "Newchannel")
    assert newchannel["Channel"] == "PJSIP/pstn-00000000"
    assert newchannel["CallerIDNum"] == "5133334444" and newchannel["CallerIDName"] == "Ext Caller"
    assert newchannel["Exten"] == "5121010001" and newchannel["Context"] == "from-trunk"
    assert newchannel["Uniqueid"] == newchannel["Linkedid"] == "1795646870.0"
    assert newchannel["AccountCode"] == ""  # "AccountCode: " (empty value) is kept
    hangups = [p for p in packets if p.get("Event") == "Hangup"]
    assert [h["Channel"] for h in hangups] == ["PJSIP/pstn-00000000", "PJSIP/1001-00000001"] or \
        sorted(h["Channel"] for h in hangups) == ["PJSIP/1001-00000001", "PJSIP/pstn-00000000"]
    assert {h["Cause"] for h in hangups} == {"16"}
    dial = next(p for p in packets if p.get("Event") == "DialBegin")
    assert dial["DestExten"] == "5121010001" and dial["DestChannel"] == "PJSIP/1001-00000001"


def test_event_counts_of_inbound_answered() -> None:
    _, packets = parse_all(fixture("ami-inbound-answered.txt"))
    names = Counter(p["Event"] for p in packets if p.kind == "event")
    # from scenarios.md
    assert names["BridgeEnter"] == 2 and names["Hangup"] == 2 and names["DeviceStateChange"] == 5
    assert names["DialBegin"] == names["DialEnd"] == 1 and names["Cdr"] == 1


def test_list_packets_of_extension_state() -> None:
    _, packets = parse_all(fixture("ami-extension-state.txt"))
    lab5 = [p for p in packets if p.get("ActionID") == "lab-5"]
    assert lab5[0]["Response"] == "Success" and lab5[0]["EventList"] == "start"
    assert lab5[-1]["Event"] == "DeviceStateListComplete" and lab5[-1]["EventList"] == "Complete"
    assert int(lab5[-1]["ListItems"]) == len(lab5) - 2
    assert all(p["Event"] == "DeviceStateChange" for p in lab5[1:-1])


@pytest.mark.parametrize("name", fixture_names())
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_splits_give_identical_packets(name: str, seed: int) -> None:
    data = fixture(name)
    _, whole = parse_all(data)
    rng = random.Random(seed)
    reader, got, i = PacketReader(), [], 0
    while i < len(data):
        n = rng.choice((1, 2, 3, rng.randint(1, 100), rng.randint(1, 5000)))
        got.extend(reader.feed(data[i:i + n]))
        i += n
    assert got == whole and reader.bad_packets == 0
    assert reader.banner == "Asterisk Call Manager/9.0.0"


def test_one_byte_at_a_time() -> None:
    data = fixture("ami-recording-playback.txt")
    reader = PacketReader()
    got = [p for i in range(len(data)) for p in reader.feed(data[i:i + 1])]
    assert got == parse_all(data)[1]


def test_utf8_name_split_inside_a_character_survives() -> None:
    raw = "Event: Newchannel\r\nCallerIDName: João da Conceição\r\nCallerIDNum: 5133334444\r\n\r\n".encode()
    for cut in range(1, len(raw)):  # includes every cut between the two bytes of "ã" and "ç"
        reader = PacketReader(expect_banner=False)
        packets = reader.feed(raw[:cut]) + reader.feed(raw[cut:])
        assert [p["CallerIDName"] for p in packets] == ["João da Conceição"]


def test_latin1_trunk_name_does_not_crash() -> None:
    utf8 = "Event: Newchannel\r\nCallerIDName: João\r\n\r\n".encode()
    latin1 = "Event: Newchannel\r\nCallerIDName: Conceição\r\n\r\n".encode("latin-1")
    reader = PacketReader(expect_banner=False)
    packets = reader.feed(utf8 + latin1 + utf8)
    assert [p["CallerIDName"] for p in packets] == ["João", "Conceição", "João"]
    assert reader.bad_packets == 0


def test_repeated_headers_are_kept() -> None:
    p = parse_packet("Response: Success\r\nMessage: Command output follows\r\nOutput: line 1\r\nOutput: \r\n"
                     "Output: line: 3")
    assert p["Output"] == "line 1"
    assert p.all("Output") == ["line 1", "", "line: 3"]
    assert p.all("Missing") == [] and p.all("Message") == ["Command output follows"]
    assert list(p.pairs())[2:] == [("Output", "line 1"), ("Output", ""), ("Output", "line: 3")]


def test_chanvariables_unescaped_and_legacy_form() -> None:
    raw = ("Event: Newstate\r\nChannel: PJSIP/1001-00000001\r\nChanVariable: FROM_DID=5121010001\r\n"
           "ChanVariable: NOTE=line1\\nline2 \\\"q\\\" \\\\x\r\nDestChanVariable: FROM_DID=5121010002\r\n"
           "ChanVariable(PJSIP/1001-00000001): CRM_LEAD=8815\r\nChanVariable(PJSIP/pstn-00000000): OTHER=1\r\n\r\n")
    (p,) = PacketReader(expect_banner=False).feed(raw.encode())
    assert p.chanvars() == {"FROM_DID": "5121010001", "NOTE": 'line1\nline2 "q" \\x', "CRM_LEAD": "8815", "OTHER": "1"}
    assert p.chanvars(channel="PJSIP/1001-00000001")["CRM_LEAD"] == "8815"
    assert "OTHER" not in p.chanvars(channel="PJSIP/1001-00000001")
    assert p.chanvars("Dest") == {"FROM_DID": "5121010002"}
    assert c_unescape("a\\tb\\qc\\") == "a\tb\\qc\\"  # unknown escape and trailing backslash kept


def test_header_without_space_and_stray_blank_lines() -> None:
    reader = PacketReader(expect_banner=False)
    packets = reader.feed(b"\r\n\r\nEvent: X\r\nEmpty:\r\nA:b\r\n\r\n\r\nEvent: Y\r\n\r\n")
    assert [p["Event"] for p in packets] == ["X", "Y"]
    assert packets[0]["Empty"] == "" and packets[0]["A"] == "b"
    assert reader.bad_packets == 0


def test_garbage_and_oversized_are_skipped_and_the_stream_goes_on() -> None:
    errors: list[ProtocolError] = []
    reader = PacketReader(expect_banner=False, max_packet_size=4096, on_error=errors.append)
    big = b"Event: Big\r\n" + b"".join(b"X%d: %s\r\n" % (i, b"y" * 60) for i in range(200)) + b"\r\n"
    stream = (b"Event: A\r\n\r\n" + b"\x00\xffnot a header\r\n\r\n" + big + b"Event: B\r\n\r\n"
              + big + b"Event: C\r\n\r\n")
    for chunk_size in (len(stream), 7, 1000):
        errors.clear()
        reader = PacketReader(expect_banner=False, max_packet_size=4096, on_error=errors.append)
        got = [p for i in range(0, len(stream), chunk_size) for p in reader.feed(stream[i:i + chunk_size])]
        assert [p["Event"] for p in got] == ["A", "B", "C"], chunk_size
        assert reader.bad_packets == 3 == len(errors)
        assert all(isinstance(e, ProtocolError) for e in errors)


def test_oversized_with_terminator_split_across_chunks() -> None:
    reader = PacketReader(expect_banner=False, max_packet_size=100)
    got = reader.feed(b"Event: Big\r\nX: " + b"z" * 300 + b"\r\n\r")
    got += reader.feed(b"\nEvent: Next\r\n\r\n")
    assert [p["Event"] for p in got] == ["Next"] and reader.bad_packets == 1


def test_repr_hides_secrets() -> None:
    p = parse_packet("Action: Login\r\nUsername: ctiuser\r\nSecret: hunter2\r\nKey: abc")
    assert "hunter2" not in repr(p) and "abc" not in repr(p) and "ctiuser" in repr(p)


def test_encode_action() -> None:
    data = encode_action("Originate", "c2c-1", {"Channel": "PJSIP/1001", "Async": True, "Timeout": 30000,
                                                "Variable": ["A=1", "B=João"]})
    assert data == ("Action: Originate\r\nActionID: c2c-1\r\nChannel: PJSIP/1001\r\nAsync: true\r\n"
                    "Timeout: 30000\r\nVariable: A=1\r\nVariable: B=João\r\n\r\n").encode()
    (back,) = PacketReader(expect_banner=False).feed(data)
    assert back.all("Variable") == ["A=1", "B=João"]


@pytest.mark.parametrize("headers", [
    {"Channel": "PJSIP/1001\r\nAction: Originate"},
    {"Exten": "100\n1"},
    {"Variable": ["ok=1", "bad=2\rX: y"]},
    {"Bad\r\nName": "x"},
    {"Bad: name": "x"},
    {"": "x"},
])
def test_header_injection_refused(headers: dict) -> None:
    with pytest.raises(ValueError) as err:
        encode_action("Hangup", "h-1", headers)
    assert "Action: Originate" not in str(err.value)


def test_action_name_injection_refused() -> None:
    with pytest.raises(ValueError):
        encode_action("Ping\r\nAction: Originate", "p-1", {})


def test_a_flood_of_garbage_is_counted_but_not_logged_line_by_line(caplog) -> None:
    import logging

    reader = PacketReader(expect_banner=False)
    with caplog.at_level(logging.WARNING, logger="tui_caa.pbx.asterisk.packets"):
        reader.feed(b"not a header\r\n\r\n" * 5000)
    assert reader.bad_packets == 5000
    assert 20 < len(caplog.records) <= 30
