"""Benchmark: AMI bytes → domain events (`PacketReader` + `AmiMapper`), side by side with panoramisk.

    python -m tests.bench.ami                      # >= 1,000,000 events, 64 KiB reads
    python -m tests.bench.ami --events 20000       # CI smoke size (panoramisk optional)

The stream repeats every event packet of the real recordings (`tests/asterisk/fixtures/ami-*.txt`)
until it holds `--events` events. Each repetition gets its own Uniqueids/Linkedids (`<epoch>.<seq>`
with a fresh sequence) and bridge UUIDs, so the mapper really tracks a new call every time instead
of hitting channels it already forgot. Both parsers get the same bytes in the same `--chunk`-sized
reads (what one TCP read returns):

- ours: `PacketReader.feed(chunk)` as the driver runs it (events no mapping reads, such as VarSet of
  other variables and Newexten, are recognised by their first line and dropped unparsed), then
  `AmiMapper.feed(packet)` for every packet kept: mapping to domain events, on one core;
- panoramisk (not a project dependency: `pip install panoramisk` to compare): its `AMIProtocol`
  wired to a `Manager` exactly as `Manager.connection_made` does, `data_received(chunk)` called the
  way asyncio calls it, with one plain callback registered for every event (`'*'`). That is parse
  and dispatch only: panoramisk has no call model, so it does strictly less work than ours.

Targets: >= 150,000 events/s for ours and >= 4x panoramisk. Best of `--runs`. The last line
printed is JSON with the figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import re
import time
from datetime import UTC, datetime
from pathlib import Path

from tui_caa.pbx.asterisk.mapping import AmiMapper, event_filter
from tui_caa.pbx.asterisk.packets import PacketReader

FIXTURES = Path(__file__).resolve().parent.parent / "asterisk" / "fixtures"
BANNER = b"Asterisk Call Manager/9.0.0\r\n"
TERM = b"\r\n\r\n"
TARGET_EVENTS_PER_SECOND = 150_000
TARGET_RATIO = 4.0

# Uniqueid / Linkedid / DestUniqueid… values, and the same ids inside recording file names
_UNIQUEID = re.compile(rb"(?<![0-9.])(1795\d{6})\.(\d+)(?![0-9])")
_BRIDGE = re.compile(rb"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-)[0-9a-f]{12}")


def event_packets() -> list[bytes]:
    """Every event packet of the recordings, in order (responses and FullyBooted left out: they
    belong to the AMI session, not to call traffic)."""
    out: list[bytes] = []
    for path in sorted(FIXTURES.glob("ami-*.txt")):
        body = path.read_bytes().split(b"\r\n", 1)[1]
        for raw in body.split(TERM)[:-1]:
            if raw.startswith(b"Event: ") and not raw.startswith(b"Event: FullyBooted\r\n"):
                out.append(raw + TERM)
    return out


def _template(block: bytes) -> list[bytes | tuple[str, bytes]]:
    """`block` cut around the ids that must change per repetition."""
    parts: list[bytes | tuple[str, bytes]] = []
    pos = 0
    spans = [(m.start(), m.end(), ("uid", m.group(1), int(m.group(2)))) for m in _UNIQUEID.finditer(block)]
    spans += [(m.start(), m.end(), ("bridge", m.group(1))) for m in _BRIDGE.finditer(block)]
    for start, end, what in sorted(spans):
        parts.append(block[pos:start])
        parts.append(what)  # type: ignore[arg-type]
        pos = end
    parts.append(block[pos:])
    return parts


def build_stream(events: int) -> tuple[bytes, int, int]:
    """(stream, events in it, repetitions): the banner, then the recorded events repeated."""
    packets = event_packets()
    per_rep = len(packets)
    reps = max(1, -(-events // per_rep))
    parts = _template(b"".join(packets))
    seq_stride = 1 + max(int(m.group(2)) for m in _UNIQUEID.finditer(b"".join(packets)))
    pieces: list[bytes] = [BANNER]
    for rep in range(reps):
        base = rep * seq_stride
        tag = b"%012x" % rep
        for part in parts:
            if isinstance(part, bytes):
                pieces.append(part)
            elif part[0] == "uid":
                pieces.append(part[1] + b".%d" % (base + part[2]))
            else:
                pieces.append(part[1] + tag)
    return b"".join(pieces), per_rep * reps, reps


def run_ours(stream: bytes, chunk: int) -> dict:
    reader = PacketReader(skip_event=event_filter())
    mapper = AmiMapper()
    feed = mapper.feed
    now = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)  # recordings have no timestamps: skip the clock
    packets = domain = 0
    gc.collect()
    start = time.perf_counter()
    for i in range(0, len(stream), chunk):
        batch = reader.feed(stream[i:i + chunk])
        packets += len(batch)
        for packet in batch:
            domain += len(feed(packet, now))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "packets": packets + reader.skipped, "mapped": packets, "skipped": reader.skipped,
            "domain_events": domain, "bad_packets": reader.bad_packets, "open_channels": len(mapper.channels)}


def panoramisk_available() -> bool:
    try:
        import panoramisk  # noqa: F401
    except ImportError:
        return False
    return True


class _NullTransport:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def run_panoramisk(stream: bytes, chunk: int) -> dict:
    from collections import deque

    from panoramisk.ami_protocol import AMIProtocol
    from panoramisk.manager import Manager

    counted = [0]

    def on_event(manager, event) -> None:  # a plain callback, as an application registers one
        counted[0] += 1

    manager = Manager(encoding="utf8")
    manager.register_event("*", on_event)
    protocol = AMIProtocol()
    protocol.connection_made(_NullTransport())
    # what Manager.connection_made sets up on the protocol (without the login and the pinger)
    protocol.queue = deque()
    protocol.factory = manager
    protocol.config = manager.config
    protocol.encoding = manager.encoding = manager.config["encoding"]
    manager.responses = protocol.responses = {}
    manager.protocol = protocol
    data_received = protocol.data_received
    gc.collect()
    start = time.perf_counter()
    for i in range(0, len(stream), chunk):
        data_received(stream[i:i + chunk])
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "packets": counted[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the stream (at least)")
    parser.add_argument("--chunk", type=int, default=65536, help="bytes per read (feed / data_received call)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each parser; the best one is reported")
    parser.add_argument("--no-panoramisk", action="store_true", help="skip the comparison")
    args = parser.parse_args()

    t0 = time.perf_counter()
    stream, events, reps = build_stream(args.events)
    print(f"stream: {events:,} events ({reps} x {events // reps} recorded events), {len(stream) / 1e6:.1f} MB, "
          f"built in {time.perf_counter() - t0:.1f} s; reads of {args.chunk} bytes")

    ours = min((run_ours(stream, args.chunk) for _ in range(args.runs)), key=lambda r: r["seconds"])
    ours_rate = ours["packets"] / ours["seconds"]
    print(f"ours (PacketReader + AmiMapper): {ours['packets']:,} events ({ours['skipped']:,} dropped unparsed, "
          f"{ours['mapped']:,} mapped) -> {ours['domain_events']:,} domain events "
          f"in {ours['seconds']:.3f} s: {ours_rate:,.0f} events/s (target {TARGET_EVENTS_PER_SECOND:,})")

    theirs_rate: float | None = None
    theirs: dict | None = None
    if args.no_panoramisk:
        print("panoramisk: skipped (--no-panoramisk)")
    elif not panoramisk_available():
        print("panoramisk: not installed, comparison skipped (pip install panoramisk to compare; "
              "it is not a dependency of tui-caa)")
    else:
        theirs = min((run_panoramisk(stream, args.chunk) for _ in range(args.runs)), key=lambda r: r["seconds"])
        theirs_rate = theirs["packets"] / theirs["seconds"]
        print(f"panoramisk (AMIProtocol.data_received + dispatch): {theirs['packets']:,} events "
              f"in {theirs['seconds']:.3f} s: {theirs_rate:,.0f} events/s")
        print(f"ratio: {ours_rate / theirs_rate:.1f}x (target {TARGET_RATIO:.0f}x)")

    ratio = round(ours_rate / theirs_rate, 2) if theirs_rate else None
    print(json.dumps({
        "events": events, "bytes": len(stream), "repetitions": reps, "chunk": args.chunk, "runs": args.runs,
        "ours_seconds": round(ours["seconds"], 4), "ours_events_per_s": round(ours_rate),
        "domain_events": ours["domain_events"], "ours_packets": ours["packets"], "ours_skipped": ours["skipped"], "bad_packets": ours["bad_packets"],
        "open_channels_at_end": ours["open_channels"],
        "panoramisk_seconds": round(theirs["seconds"], 4) if theirs else None,
        "panoramisk_events": theirs["packets"] if theirs else None,
        "panoramisk_events_per_s": round(theirs_rate) if theirs_rate else None,
        "ratio": ratio,
        "target_events_per_s": TARGET_EVENTS_PER_SECOND, "target_ratio": TARGET_RATIO,
        "meets_target": ours_rate >= TARGET_EVENTS_PER_SECOND and (ratio is None or ratio >= TARGET_RATIO),
        "python": platform.python_version(),
    }))


if __name__ == "__main__":
    main()
