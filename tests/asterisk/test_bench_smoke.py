"""The parse benchmark still runs and prints sane figures (tiny size; no timing asserted)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ami_parse_benchmark_smoke() -> None:
    result = subprocess.run([sys.executable, "-m", "tests.bench.ami_parse", "--repeat", "2", "--runs", "1"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["packets"] == 2 * 1532 and figures["bad_packets"] == 0  # 1532 packets in the 11 recordings
    assert figures["packets_per_second"] > 0
