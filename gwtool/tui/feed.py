"""The stream's data: every Record and Notice the dashboard saw, in a bounded ring buffer.

Sources push items from their callbacks (cheap: one append); the app drains them once per frame.
Nothing here imports textual, so the buffer and the filter are testable on their own.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from gwtool.console import label, summary
from gwtool.records import Notice, Record

if TYPE_CHECKING:
    from gwtool.protocol.definition import Protocol

Side = Literal["you", "gw"]  # our client's view of the wire, or the (embedded) gateway's
DEFAULT_LIMIT = 10_000


@dataclass(slots=True)
class Entry:
    seq: int  # increases by one per item, never reused: selections survive the ring dropping old entries
    side: Side
    item: Record | Notice
    haystack: str = ""  # lower-case text the free-text filter searches, built on first use

    def text_for_search(self, proto: Protocol) -> str:
        if not self.haystack:
            item = self.item
            if isinstance(item, Record):
                self.haystack = f"{label(item, proto)} {item.service or ''} {summary(item, 2000)}".lower()
            else:
                self.haystack = f"{item.kind} {item.service or ''} {item.text}".lower()
        return self.haystack


@dataclass(frozen=True, slots=True)
class Filter:
    """``op:HEARTBEAT t:EXECUTE dir:in side:gw word -word``: every term must match; ``-`` negates.

    ``op:`` and ``t:`` match a prefix of the op name and of the event name or cache type, ignoring
    case; other words search the line's label, service and data. Notices pass ``op:``/``t:`` terms
    only when negated, so ``-op:heartbeat`` hides heartbeats but keeps connection events.
    """

    terms: tuple[tuple[bool, str, str], ...] = ()  # (negated, key, value)
    text: str = ""
    side: Side | None = None  # the stream's side switch, besides the typed terms

    @classmethod
    def parse(cls, text: str, side: Side | None = None) -> Filter:
        terms = []
        for word in text.split():
            negated = word.startswith("-") and len(word) > 1
            word = word[1:] if negated else word
            key, sep, value = word.partition(":")
            if sep and key.lower() in ("op", "t", "dir", "side", "type"):
                terms.append((negated, "t" if key.lower() == "type" else key.lower(), value.lower()))
            else:
                terms.append((negated, "", word.lower()))
        return cls(tuple(terms), text, side)

    def __bool__(self) -> bool:
        return bool(self.terms) or self.side is not None

    def unknown(self, proto: Protocol) -> list[str]:
        """Terms no payload of this protocol can match (``op:NOPE``, ``dir:sideways``), to say so."""
        ops = [o.name.lower() for o in proto.opcodes.values()]
        kinds = [t.lower() for t in (*proto.events, *proto.cache_types)]
        known = {"op": ops, "t": kinds, "dir": ["in", "out"], "side": ["you", "gw", "gateway"]}
        return [
            f"{key}:{value}"
            for _, key, value in self.terms
            if key in known and not any(name.startswith(value) for name in known[key])
        ]

    def matches(self, entry: Entry, proto: Protocol) -> bool:
        if self.side is not None and entry.side != self.side:
            return False
        return all(self._term(entry, proto, key, value) != negated for negated, key, value in self.terms)

    @staticmethod
    def _term(entry: Entry, proto: Protocol, key: str, value: str) -> bool:
        item = entry.item
        if key == "side":
            return entry.side.startswith(value) or (value in ("gateway", "gw") and entry.side == "gw")
        if key == "dir":
            return isinstance(item, Record) and item.direction == value
        if key == "op":
            return isinstance(item, Record) and item.payload is not None and proto.op_name(item.op).lower().startswith(value)
        if key == "t":
            detail = item.t if isinstance(item, Record) and item.t is not None else getattr(item, "cache_type", None)
            return isinstance(detail, str) and detail.lower().startswith(value)
        return value in entry.text_for_search(proto)


@dataclass
class Feed:
    """A bounded ring buffer of entries plus the items pushed since the last drain."""

    limit: int = DEFAULT_LIMIT
    entries: deque[Entry] = field(init=False)
    pending: list[Entry] = field(default_factory=list)
    dropped: int = 0  # entries pushed out of the ring buffer
    total: int = 0
    next_seq: int = 0

    def __post_init__(self) -> None:
        self.entries = deque(maxlen=self.limit)

    def push(self, side: Side, item: Record | Notice) -> None:
        """Called from record callbacks: must stay cheap."""
        self.pending.append(Entry(self.next_seq, side, item))
        self.next_seq += 1

    def drain(self) -> list[Entry]:
        """Move the pending items into the ring buffer; return them (only the newest ``limit``)."""
        batch, self.pending = self.pending, []
        if len(batch) > self.limit:
            self.dropped += len(batch) - self.limit
            batch = batch[-self.limit :]
        for entry in batch:  # the ring keeps payloads; a frame is for a pipe's line, and would double a big one
            if isinstance(entry.item, Record):
                entry.item.frame = None
        overflow = len(self.entries) + len(batch) - self.limit
        if overflow > 0:
            self.dropped += overflow
        self.entries.extend(batch)
        self.total += len(batch)
        return batch
