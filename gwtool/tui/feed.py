"""The stream's data: every Record and Notice the dashboard saw, in a bounded ring buffer.

Sources push items from their callbacks (cheap: one append); the app drains them once per frame.
Nothing here imports textual, so the buffer is testable on its own. The filter language is
gwtool/filters.py, shared with the console's --filter.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gwtool.filters import Side, search_text
from gwtool.records import Notice, Record

if TYPE_CHECKING:
    from gwtool.protocol.definition import Definition

DEFAULT_LIMIT = 10_000


@dataclass(slots=True)
class Entry:
    seq: int  # increases by one per item, never reused: selections survive the ring dropping old entries
    side: Side
    item: Record | Notice
    haystack: str = ""  # lower-case text the free-text filter searches, built on first use

    def text_for_search(self, proto: Definition) -> str:
        if not self.haystack:
            self.haystack = search_text(self.item, proto)
        return self.haystack


@dataclass
class Feed:
    """A bounded ring buffer of entries plus the items pushed since the last drain."""

    limit: int = DEFAULT_LIMIT
    entries: deque[Entry] = field(init=False)
    pending: list[Entry] = field(default_factory=list)
    dropped: int = 0  # entries pushed out of the ring buffer
    total: int = 0
    next_seq: int = 0
    tap: Callable[[list[Entry]], None] | None = None  # sees every drained batch whole (the Stats pane counts them)

    def __post_init__(self) -> None:
        self.entries = deque(maxlen=self.limit)

    def push(self, side: Side, item: Record | Notice) -> None:
        """Called from record callbacks: must stay cheap."""
        self.pending.append(Entry(self.next_seq, side, item))
        self.next_seq += 1

    def drain(self) -> list[Entry]:
        """Move the pending items into the ring buffer; return them (only the newest ``limit``)."""
        batch, self.pending = self.pending, []
        if self.tap is not None and batch:
            self.tap(batch)
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
