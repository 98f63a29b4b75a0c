"""The dashboard as a viewer of a recording (``gwtool tui --open FILE``): no network at all.

The stream shows the last ``keep`` records, read backwards from the end of the file, so a
recording of a million lines opens at once. A pass over the whole file, in a thread, then fills
what the panes show: latency from the recorded ACKs (or, from a gateway's recording, from each
heartbeat and its ACK), the cache from the recorded CACHE payloads, the services from the recorded
identifies. The filter searches the whole file (``search``). ``--follow`` reads lines appended
after opening, as ``tail -f`` does.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gwtool.client import LatencyStats, NotConnected
from gwtool.gateway.cache import CacheStore
from gwtool.logfile import first_header, item_of, parse_lines, read_lines, sent_by_service, tail_lines
from gwtool.records import Notice, Record
from gwtool.stats import Stats

if TYPE_CHECKING:
    from gwtool.client import ClientState
    from gwtool.filters import Filter, Side
    from gwtool.logfile import Line
    from gwtool.protocol.definition import Definition
    from gwtool.tui.source import CacheIndex, FileMatch, Sink

FOLLOW_SECONDS = 0.25  # how often --follow looks for appended lines
FIRST_SCREEN_SECONDS = 0.3  # the whole-file pass waits this long: the first screen draws before it takes the GIL
SEARCH_LIMIT = 100_000  # matches a whole-file search keeps (the newest)


class RecordingSource:
    """A recording: a ``Source`` (actions say there is nothing to act on) and its own
    ``RecordingView`` (gwtool/tui/source.py)."""

    embedded = False
    error: str | None = None
    state: ClientState | None = None  # no client behind it
    proxy = None  # a file: nothing runs

    def __init__(self, proto: Definition, path: Path, *, keep: int, follow: bool = False):
        self.proto, self.path, self.keep, self.follow = proto, path, keep, follow
        self.header = first_header(path)
        service = self.header.get("service")
        self.service = service if isinstance(service, str) and service in proto.services else proto.first_receiver()
        recorded = self.header.get("url")
        self.url = f"{path.name} (a recording{' of ' + str(recorded) if recorded else ''})"
        # a gateway's recording is the gateway's side of the wire: its lines read "sent by the gateway"
        self.side_shown: Side = "gw" if self.header.get("side") == "gateway" else "you"
        self.whose = "the gateway's side" if self.side_shown == "gw" else f"a {self.service}'s side"
        if self.header.get("command") == "proxy":  # written as a gateway's (dir: in from services), but it saw both
            upstream = self.header.get("upstream")
            self.whose = "a proxy's recording of both sides (services ↔ gateway, through the proxy)"
            self.url = f"{path.name} (through {recorded}" + (f" to {upstream})" if upstream else ")")
        self.latency = LatencyStats()
        self.cache = CacheStore(proto)
        self._services: dict[int, dict[str, Any]] = {}
        self._beats: dict[int, float] = {}  # conn → ts of its last heartbeat (gateway side: for latency)
        self._counts = [0, 0]  # (in, out) payloads of the whole file
        self.lines = 0  # lines read in the whole-file pass
        self.stats = Stats(proto)  # of every line, from the whole-file pass (and --follow's)
        self._stats_header: dict[str, Any] | None = None
        self.scanned = asyncio.Event()  # the whole-file pass is done (tests and the status wait on it)
        self._lock = threading.Lock()

    @property
    def counts(self) -> tuple[int, int]:
        return self._counts[0], self._counts[1]

    @property
    def recording(self) -> RecordingSource:
        return self

    # --- reading ---------------------------------------------------------------------------------
    async def run(self, sink: Sink) -> None:
        try:
            lines, end = await asyncio.to_thread(tail_lines, self.path, self.keep)
            for line in parse_lines(lines, str(self.path), header=self.header):
                item = item_of(line.record)
                if item is not None:
                    sink(self.side_shown, item)
            await asyncio.sleep(FIRST_SCREEN_SECONDS)
            await asyncio.to_thread(self._scan)
            self.scanned.set()
            if self.follow:
                await self._follow(sink, end)
        except Exception as exc:  # a file that cannot be read or a broken line: said, never a crash
            self.error = str(exc) or type(exc).__name__
            sink("you", Notice("error", f"cannot read the recording: {self.error}"))

    def _scan(self) -> None:
        """One pass over the whole file for the panes: nothing of it is kept but their figures."""
        for line in read_lines(self.path):
            self.lines = line.number
            self._count(line)
            item = item_of(line.record)
            if item is not None:
                self._learn(item, sent_by_service(line))

    def _count(self, line: Line) -> None:
        with self._lock:
            if line.header is not self._stats_header and line.header != self._stats_header:  # --follow's are copies
                self._stats_header = line.header
                self.stats.start_session(line.header)
            self.stats.add_json(line.record)

    def _learn(self, item: Record | Notice, from_service: bool) -> None:
        proto = self.proto
        with self._lock:
            if isinstance(item, Notice):
                self._learn_notice(item)
                return
            self._counts[0 if item.direction == "in" else 1] += 1
            op = item.op
            if item.latency_ms is not None:
                self.latency.add(item.latency_ms)
            elif op == proto.op("HEARTBEAT") and from_service:
                self._beats[item.conn] = item.ts
                entry = self._services.get(item.conn)
                if entry is not None and isinstance(item.payload, dict) and isinstance(item.payload.get("d"), dict):
                    entry.update(item.payload["d"])
                    entry["lastHeartbeat"] = int(item.ts * 1000)
            elif op == proto.op("HEARTBEAT_ACK") and self.side_shown == "gw" and item.conn in self._beats:
                self.latency.add((item.ts - self._beats.pop(item.conn)) * 1000)  # the gateway's side of it
            elif op == proto.op("CACHE") and from_service and item.payload is not None:
                kind, data = item.payload.get("type"), item.payload.get("d")
                if kind in self.cache.types and isinstance(data, dict | list):
                    self.cache.put(kind, data)

    def _learn_notice(self, notice: Notice) -> None:
        if notice.kind == "identified":
            entry = {"conn": notice.conn, "type": notice.service, "startTime": int(notice.ts * 1000), "lastHeartbeat": None}
            shards = notice.data.get("shards")
            if shards:
                entry[self.proto.roles.identified_shards] = shards
            self._services[notice.conn] = entry
        elif notice.kind == "closed":
            self._services.pop(notice.conn, None)

    async def _follow(self, sink: Sink, offset: int) -> None:
        """Read what is appended after ``offset``, a complete line at a time."""
        rest = b""
        while True:
            await asyncio.sleep(FOLLOW_SECONDS)
            chunk, offset = await asyncio.to_thread(_read_from, self.path, offset)
            if not chunk:
                continue
            data = rest + chunk
            complete = data[: data.rfind(b"\n") + 1]
            rest = data[len(complete) :]
            for line in parse_lines(complete.splitlines(keepends=True), str(self.path), header=self.header):
                self._count(line)
                item = item_of(line.record)
                if item is not None:
                    self._learn(item, sent_by_service(line))
                    sink(self.side_shown, item)

    def search(self, filter: Filter, cancelled: Callable[[], bool] = lambda: False) -> list[FileMatch]:
        """(line number, item) of every line of the whole file that ``filter`` matches, the newest
        SEARCH_LIMIT of them (run it in a thread: it reads the file; ``cancelled`` stops it)."""
        found: deque[FileMatch] = deque(maxlen=SEARCH_LIMIT)
        for line in read_lines(self.path):
            if line.number % 4096 == 0 and cancelled():
                return []
            item = item_of(line.record)
            if item is not None and filter.matches(item, self.proto, self.side_shown):
                found.append((line.number, item))
        return list(found)

    # --- what the panes read -----------------------------------------------------------------------
    def statistics(self) -> dict[str, Any] | None:
        with self._lock:
            return self.stats.to_json() if self._stats_header is not None else None

    async def services(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self._services.values()]

    async def cache_index(self) -> CacheIndex:
        with self._lock:
            index = {kind: self.cache.entities(kind) for kind in self.proto.cache_types}
        return "the recorded CACHE payloads", index, None, frozenset(index)

    async def fetch_entity(self, kind: str, key: tuple[str, ...]) -> tuple[int, Any]:
        entity = self.cache.get(kind, *key)
        return (200, entity) if entity is not None else (404, None)

    # --- actions: a recording cannot be acted on -----------------------------------------------------
    async def heartbeat_now(self) -> None:
        raise NotConnected("a recording: there is no connection to heartbeat on")

    def retry_now(self) -> None:
        pass

    async def request_heartbeat(self) -> None:
        raise NotConnected("a recording: there is no gateway to ask")

    async def send(self, payload: dict[str, Any], *, force: bool = False) -> Record:
        raise NotConnected("a recording: nothing is connected to send to (gwtool replay sends a recording again)")


def _read_from(path: Path, offset: int) -> tuple[bytes, int]:
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        if size < offset:  # truncated or replaced: start again from its beginning
            offset = 0
        handle.seek(offset)
        data = handle.read()
    return data, offset + len(data)
