"""What the fuzz tests feed parsers: arbitrary bytes cut at arbitrary points (a network delivers a
stream in any pieces), and bytes made mostly of the parser's own separators, so the interesting
cases (breaks, colons, blank lines) come up far more often than in uniform random bytes."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# a few seconds per parser: CI must stay fast; no deadline (a loaded 2-core CI machine is slow)
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def stream_bytes(alphabet: bytes, max_size: int = 2000) -> st.SearchStrategy[bytes]:
    """Bytes mostly from `alphabet` (the format's own pieces), sometimes anything at all."""
    pieces = st.sampled_from([alphabet[i:i + 1] for i in range(len(alphabet))])
    framed = st.lists(st.one_of(pieces, st.binary(min_size=1, max_size=8)), max_size=max_size // 4).map(b"".join)
    return st.one_of(framed, st.binary(max_size=max_size))


@st.composite
def split(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """`data` cut at arbitrary points (empty pieces included: a read may return nothing new)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=12)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


async def chunks_of(pieces: list[bytes]):  # type: ignore[no-untyped-def]
    for piece in pieces:
        yield piece
