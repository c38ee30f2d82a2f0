"""Benchmark: AMI framing + parsing alone (`PacketReader.feed`), on the real recordings repeated.

    python -m tests.bench.ami_parse                  # all recordings x 200, 64 KiB reads
    python -m tests.bench.ami_parse --repeat 5       # CI smoke size

The stream is one banner then the bodies of every `tests/asterisk/fixtures/ami-*.txt` recording,
fed in chunks of `--chunk` bytes (what one TCP read returns). Target: >= 300,000 packets/s on one
core, so that parsing plus the mapping layer keeps well above 150,000 events/s. Best of `--runs`.
The last line printed is JSON with the figures."""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from tui_caa.pbx.asterisk.packets import PacketReader

FIXTURES = Path(__file__).resolve().parent.parent / "asterisk" / "fixtures"
TARGET_PACKETS_PER_SECOND = 300_000


def build_stream(repeat: int) -> bytes:
    bodies = [p.read_bytes().split(b"\r\n", 1)[1] for p in sorted(FIXTURES.glob("ami-*.txt"))]
    return b"Asterisk Call Manager/9.0.0\r\n" + b"".join(bodies) * repeat


def run_once(stream: bytes, chunk: int) -> tuple[int, float, int]:
    reader = PacketReader()
    packets = 0
    start = time.perf_counter()
    for i in range(0, len(stream), chunk):
        packets += len(reader.feed(stream[i:i + chunk]))
    return packets, time.perf_counter() - start, reader.bad_packets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=200, help="how many times the recordings are repeated")
    parser.add_argument("--chunk", type=int, default=65536, help="bytes per feed() call")
    parser.add_argument("--runs", type=int, default=5, help="runs; the best one is reported")
    args = parser.parse_args()

    stream = build_stream(args.repeat)
    runs = [run_once(stream, args.chunk) for _ in range(args.runs)]
    packets, best, bad = min(runs, key=lambda r: r[1])
    rate = packets / best
    print(f"{packets} packets, {len(stream) / 1e6:.1f} MB in {best:.3f} s: {rate:,.0f} packets/s, "
          f"{len(stream) / best / 1e6:.0f} MB/s (target {TARGET_PACKETS_PER_SECOND:,} packets/s)")
    print(json.dumps({
        "packets": packets, "bytes": len(stream), "chunk": args.chunk, "runs": args.runs,
        "seconds": round(best, 4), "packets_per_second": round(rate), "mb_per_second": round(len(stream) / best / 1e6, 1),
        "bad_packets": bad, "target_packets_per_second": TARGET_PACKETS_PER_SECOND,
        "meets_target": rate >= TARGET_PACKETS_PER_SECOND, "python": platform.python_version(),
    }))


if __name__ == "__main__":
    main()
