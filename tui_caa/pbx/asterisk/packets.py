"""AMI framing on bytes: TCP chunks in, `Packet`s out; actions out as bytes.

AMI packets are `Header: value` lines ending in CRLF, closed by an empty line (`\\r\\n\\r\\n`); the
server first sends one banner line (`Asterisk Call Manager/9.0.0\\r\\n`) with no blank line after it.
We frame on bytes and decode only complete packets, so a UTF-8 character split between two TCP reads
("João") is never damaged. Speed matters (an event flood must not make Asterisk drop us after its
`writetimeout`), so the hot path decodes a whole batch of packets at once and builds each header
dict with C-level `str.split`/`dict()`; the slower per-line path only runs for repeated headers,
odd lines or non-UTF-8 bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from itertools import repeat
from typing import Literal

from tui_caa.pbx.asterisk.errors import ProtocolError

log = logging.getLogger(__name__)

TERMINATOR = b"\r\n\r\n"
DEFAULT_MAX_PACKET_SIZE = 1 << 20  # 1 MiB: far above any real event (a big Cdr is ~2 KiB)
LOGGED_BAD_PACKETS = 20  # then one line per 1000

PacketKind = Literal["event", "response", "other"]

# headers whose values must never reach a log or a repr
_SECRET_HEADERS = frozenset({"secret", "key"})

# ast_escape_c() escapes these (main/utils.c); ChanVariable values of Stasis events go through it
_C_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
              "\\": "\\", "'": "'", '"': '"', "?": "?"}


class Packet(dict[str, str]):
    """One AMI packet: a dict of header → FIRST value, in arrival order.

    Repeated headers (`Output`, `ChanVariable`, `Variable`…) keep every value: `packet.all(name)`.
    Being a plain dict keeps lookups at C speed and makes packets JSON-friendly.
    """

    # set only on packets with repeated headers; a class default keeps construction at dict() speed
    _multi: dict[str, list[str]] | None = None

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> Packet:
        """Build from (name, value) pairs in order, keeping repeated names."""
        first: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for name, value in pairs:
            if name in first:
                multi.setdefault(name, [first[name]]).append(value)
            else:
                first[name] = value
        packet = cls(first)
        if multi:
            packet._multi = multi
        return packet

    def all(self, name: str) -> list[str]:
        """Every value of a header, in order ([] when absent)."""
        if self._multi is not None and name in self._multi:
            return list(self._multi[name])
        value = self.get(name)
        return [] if value is None else [value]

    def pairs(self) -> Iterator[tuple[str, str]]:
        """(name, value) for every header line, repeated ones included (grouped by name)."""
        for name, value in self.items():
            if self._multi is not None and name in self._multi:
                for v in self._multi[name]:
                    yield name, v
            else:
                yield name, value

    @property
    def kind(self) -> PacketKind:
        if "Event" in self:
            return "event"
        if "Response" in self:
            return "response"
        return "other"

    @property
    def name(self) -> str:
        """The event name, or the response value (Success, Error, Goodbye…)."""
        return self.get("Event") or self.get("Response") or ""

    def chanvars(self, prefix: str = "", *, channel: str | None = None) -> dict[str, str]:
        """Channel variables (manager.conf `channelvars`) as NAME → value.

        `ChanVariable: NAME=VALUE` (with a `Dest`/`Transferee`… `prefix` for the other channel of
        Stasis events) is C-escaped by Asterisk (ast_escape_c_alloc), so it is unescaped here. The
        legacy `ChanVariable(<channel>): NAME=VALUE` form of old-style events is included for the
        empty prefix (only for `channel` when given); it is written raw, so it is not unescaped.
        """
        out: dict[str, str] = {}
        for value in self.all(prefix + "ChanVariable"):
            var, _, val = value.partition("=")
            out[var] = c_unescape(val)
        if not prefix:
            for header in self:
                if header.startswith("ChanVariable(") and header.endswith(")"):
                    if channel is not None and header[13:-1] != channel:
                        continue
                    for value in self.all(header):
                        var, _, val = value.partition("=")
                        out[var] = val
        return out

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Packet):
            return dict.__eq__(self, other) and (self._multi or None) == (other._multi or None)
        return dict.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]  # mutable, like dict

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={'***' if k.lower() in _SECRET_HEADERS else v!r}" for k, v in self.pairs())
        return f"Packet({shown})"


def c_unescape(value: str) -> str:
    """Undo ast_escape_c(): `\\n` → newline, `\\\\` → backslash… Unknown escapes are kept as they are."""
    if "\\" not in value:
        return value
    out: list[str] = []
    i, n = 0, len(value)
    while i < n:
        j = value.find("\\", i)
        if j < 0 or j + 1 >= n:
            out.append(value[i:])
            break
        out.append(value[i:j])
        esc = _C_ESCAPES.get(value[j + 1])
        out.append(esc if esc is not None else value[j:j + 2])
        i = j + 2
    return "".join(out)


_split = str.split
_SEP = repeat(": ")
_ONE = repeat(1)


def parse_packet(text: str) -> Packet:
    """Parse one packet's text (no terminator). Raises ProtocolError for a line that is not a header."""
    lines = text.split("\r\n")
    try:
        # fast path: every line is "Name: value" and no name repeats
        packet = Packet(map(_split, lines, _SEP, _ONE))
        if len(packet) == len(lines):
            return packet
    except ValueError:  # a line without ": "
        pass
    return Packet.from_pairs(_slow_pairs(lines))


def _slow_pairs(lines: list[str]) -> Iterator[tuple[str, str]]:
    for line in lines:
        name, sep, value = line.partition(": ")
        if not sep:
            # "Name:" with an empty value and no space, seen from some modules
            name, sep, value = line.partition(":")
            if not sep or not name:
                raise ProtocolError(f"AMI line is not a header: {line[:80]!r}")
            value = value.lstrip(" ")
        elif not name:
            raise ProtocolError(f"AMI line is not a header: {line[:80]!r}")
        yield name, value


def _decode(data: bytes) -> str:
    # AMI is byte-transparent: caller-ID names are UTF-8 normally, Latin-1 from some old trunks
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


class PacketReader:
    """Incremental framer: `feed(chunk)` returns the packets completed by that chunk.

    A bad packet (garbage lines, larger than `max_packet_size`) is skipped: `bad_packets` counts it
    and `on_error` (if given) receives the ProtocolError; framing resumes at the next `\\r\\n\\r\\n`.

    `skip_event(text)`, if given, sees the text of every packet that starts with `Event: ` before it
    is parsed; True drops it (counted in `skipped`). Half of a busy Asterisk's traffic is VarSet and
    Newexten that nobody reads: not building their header dicts is the cheapest way to keep up.
    """

    def __init__(self, *, max_packet_size: int = DEFAULT_MAX_PACKET_SIZE, expect_banner: bool = True,
                 on_error: Callable[[ProtocolError], None] | None = None,
                 skip_event: Callable[[str], bool] | None = None) -> None:
        self.max_packet_size = max_packet_size
        self.on_error = on_error
        self.skip_event = skip_event
        self.skipped = 0
        self.banner: str | None = None  # "Asterisk Call Manager/9.0.0" once seen
        self.bad_packets = 0
        self.packets = 0
        self._expect_banner = expect_banner
        self._buf = b""
        self._skipping = False  # inside an oversized packet: drop bytes up to the next terminator

    @property
    def pending(self) -> int:
        """Bytes of an incomplete packet held back (e.g. when the connection ends mid-packet)."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Packet]:
        old = len(self._buf)
        buf = self._buf + data if old else data
        if self._expect_banner:
            buf = self._take_banner(buf)
            if self._expect_banner:  # banner line not complete yet
                self._buf = buf
                return []
            old = 0
        if self._skipping:
            buf, old = self._skip_oversized(buf, old)
            if self._skipping:
                return []
        # only the new bytes (plus 3 of overlap) can hold a new terminator: no rescans of a big buffer
        end = buf.rfind(TERMINATOR, max(0, old - 3))
        if end < 0:
            self._buf = buf
            if len(buf) > self.max_packet_size:
                self._buf = buf[-3:]  # the terminator may straddle this chunk and the next one
                self._skipping = True
                self._error(f"AMI packet larger than {self.max_packet_size} bytes, skipped")
            return []
        end += 4
        self._buf = buf[end:]
        out = self._parse_batch(buf[:end] if end < len(buf) else buf)
        if len(self._buf) > self.max_packet_size:  # the tail alone is already too big
            self._buf = self._buf[-3:]
            self._skipping = True
            self._error(f"AMI packet larger than {self.max_packet_size} bytes, skipped")
        return out

    def _take_banner(self, buf: bytes) -> bytes:
        eol = buf.find(b"\r\n")
        if eol < 0:
            if len(buf) > 1024:  # no banner line in sight: this is not an AMI server greeting
                self._expect_banner = False
            return buf
        self._expect_banner = False
        first = buf[:eol]
        if b":" in first:  # no banner (e.g. a proxy that strips it): treat as packet data
            return buf
        self.banner = _decode(first)
        return buf[eol + 2:]

    def _skip_oversized(self, buf: bytes, old: int) -> tuple[bytes, int]:
        end = buf.find(TERMINATOR, max(0, old - 3))
        if end < 0:
            # keep 3 bytes: the terminator may straddle this chunk and the next one
            self._buf = buf[-3:]
            return b"", 0
        self._skipping = False
        return buf[end + 4:], 0

    def _parse_batch(self, data: bytes) -> list[Packet]:
        """Parse `data`, which ends exactly with a terminator."""
        if len(data) <= self.max_packet_size:
            try:
                chunks = data.decode("utf-8").split("\r\n\r\n")
            except UnicodeDecodeError:  # rare: decode packet by packet, Latin-1 where needed
                chunks = [_decode(c) for c in data.split(TERMINATOR)]
        else:
            chunks = []
            for c in data.split(TERMINATOR):
                if len(c) > self.max_packet_size:
                    chunks.append(None)
                else:
                    chunks.append(_decode(c))
        chunks.pop()  # the empty piece after the final terminator
        out: list[Packet] = []
        append = out.append
        split, sep, one = _split, _SEP, _ONE
        skip = self.skip_event
        skipped = 0
        for text in chunks:
            if text is None:
                self._error(f"AMI packet larger than {self.max_packet_size} bytes, skipped")
                continue
            if skip is not None and text.startswith("Event: ") and skip(text):
                skipped += 1
                continue
            lines = text.split("\r\n")
            try:  # the fast path of parse_packet(), inlined: this loop runs for every packet
                packet = Packet(map(split, lines, sep, one))
                if len(packet) == len(lines):
                    append(packet)
                    continue
            except ValueError:  # a line without ": ", or stray blank lines before the packet
                pass
            while lines and not lines[0]:
                del lines[0]
            if not lines:  # only blank lines: harmless
                continue
            try:
                append(Packet.from_pairs(_slow_pairs(lines)))
            except ProtocolError as exc:
                self._report(exc)
        self.packets += len(out)
        self.skipped += skipped
        return out

    def _error(self, message: str) -> None:
        self._report(ProtocolError(message))

    def _report(self, exc: ProtocolError) -> None:
        self.bad_packets += 1
        # a PBX that sends garbage all the time must not fill the disk with the same line
        if self.bad_packets <= LOGGED_BAD_PACKETS or self.bad_packets % 1000 == 0:
            log.warning("skipping bad AMI packet (%d so far): %s", self.bad_packets, exc)
        if self.on_error is not None:
            self.on_error(exc)


def encode_action(name: str, action_id: str, headers: dict[str, str | int | bool | list[str]] | None = None) -> bytes:
    """`Action: name` + `ActionID` + headers as one packet. A list value repeats the header
    (`Variable: A=1`, `Variable: B=2`). CR/LF in a name or value is refused: it would let a value
    inject its own headers or a whole second action."""
    lines = [f"Action: {_checked('Action', name)}", f"ActionID: {_checked('ActionID', action_id)}"]
    for header, value in (headers or {}).items():
        if not header or ":" in header or any(c in header for c in "\r\n "):
            raise ValueError(f"invalid AMI header name: {header!r}")
        values = value if isinstance(value, list | tuple) else [value]
        for v in values:
            lines.append(f"{header}: {_checked(header, _text(v))}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _checked(header: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        # never echo the value: it may be a secret
        raise ValueError(f"CR/LF in the value of AMI header {header!r} refused (header injection)")
    return value
