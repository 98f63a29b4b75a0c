"""Statistics of a stream of records: conversations, kinds, delivery, closes, I/O over time.

``Stats`` is fed records in order, in their NDJSON form (``add_json`` one at a time, ``add_many`` a
batch: a recording's lines, as ``gwtool stats`` reads them from ``logfile.parse_batches``) or as
Records and Notices (``add``: a live stream; the dashboard's Stats pane). Its memory is
bounded by the number of connections, kinds, event types and close codes, never by the payloads:

- counts and byte totals are exact;
- percentiles (``Quantiles``) are exact nearest-rank values while a series holds at most
  ``EXACT_VALUES`` distinct values (payload sizes rarely have more; latencies have one per ACK);
  beyond, they come from a histogram of logarithmic buckets and are within ``RELATIVE_ERROR``
  (1 %) of the exact value; the max stays exact;
- the I/O series keeps at most ``MAX_INTERVALS`` intervals: a longer stream doubles the interval
  (merging neighbours) rather than growing.

How the console summary could use it: ``Summary`` in output.py keeps one second of counts per kind
on the hot path; a ``Stats`` subscribed beside it (fed by ``add``) would give the same kinds with
sizes and rates over the whole run, for a closing summary, without touching that path.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from gwtool.protocol.definition import NOBODY

if TYPE_CHECKING:
    from gwtool.protocol.definition import Definition
    from gwtool.records import Notice, Record

EXACT_VALUES = 1000  # distinct values a series keeps as they are, with their counts (percentiles exact up to here)
RELATIVE_ERROR = 0.01  # of a percentile from the histogram (half a bucket's width)
_GROWTH = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)  # bucket i holds [g^i, g^(i+1)); g^i × 1.01 is within 1 % of both
_LOG_GROWTH = math.log(_GROWTH)
_HUGE = 1e300
_NUMBER = (int, float)  # (isinstance with a tuple: ``int | float`` would make a union on each call)
_NEVER = object()  # an op no record has
_ZERO = -(1 << 30)  # the bucket of zero and negative values (a clock that went back)
MAX_INTERVALS = 4096  # of the I/O series, before its interval doubles
FOLD_EVERY = 50_000  # distinct payload keys counted before they are folded into the results
_KEY_FIELDS = ("kind", "conn", "dir", "op", "t", "type", "size", "service")  # a payload record's, as gwtool writes them
_KEY = itemgetter(*_KEY_FIELDS)  # its counting key, in one C call
_NOT_A_PAYLOAD = (None,) * len(_KEY_FIELDS)
_FORWARD_KEY = itemgetter("conn", "size", "service")  # a relayed event's receiver, as its "to" names it
FORWARD = "forward"  # the direction a relayed event's forwards are counted under (out, and forwarded)
MAX_WAITING = 100_000  # held events waiting for their delivery, per event type (the gateway's hold is smaller)
PERCENTILES_NOTE = (
    f"nearest-rank; exact up to {EXACT_VALUES:,} distinct values, above within {RELATIVE_ERROR:.0%} (log histogram); max exact"
)


class Quantiles:
    """Percentiles of a series in bounded memory: exact while it holds at most ``EXACT_VALUES``
    distinct values (each kept with its count), then from logarithmic buckets (within
    ``RELATIVE_ERROR``). Max is always exact."""

    __slots__ = ("count", "max", "_exact", "_buckets")

    def __init__(self) -> None:
        self.count = 0
        self.max: float | None = None
        self._exact: dict[float, int] | None = {}
        self._buckets: dict[int, int] = {}

    def add(self, value: float, times: int = 1) -> None:
        self.count += times
        if self.max is None or value > self.max:
            self.max = value
        exact = self._exact
        if exact is not None:
            exact[value] = exact.get(value, 0) + times
            if len(exact) > EXACT_VALUES:
                for sample, n in exact.items():
                    self._bucket(sample, n)
                self._exact = None
        else:
            self._bucket(value, times)

    def _bucket(self, value: float, times: int) -> None:
        key = math.floor(math.log(value) / _LOG_GROWTH) if value > 0 else _ZERO
        self._buckets[key] = self._buckets.get(key, 0) + times

    def percentile(self, pct: float) -> float | None:
        """The nearest-rank ``pct`` percentile (None with no samples)."""
        if not self.count:
            return None
        rank = max(1, math.ceil(self.count * pct / 100))
        exact = self._exact is not None
        counts: dict[Any, int] = self._exact if self._exact is not None else self._buckets
        seen = 0
        for key in sorted(counts):
            seen += counts[key]
            if seen >= rank:
                if exact:  # as it was added: a size stays an int
                    return key if type(key) is int else float(key)
                middle = 0.0 if key == _ZERO else _GROWTH**key * (1 + RELATIVE_ERROR)  # within 1 % of both ends
                return min(middle, self.max) if self.max is not None else middle
        return self.max

    def summary(self, *pcts: int) -> dict[str, float | None]:
        """``{"p50": …, "p99": …, "max": …}``, rounded for JSON."""
        out = {f"p{p}": _round(self.percentile(p)) for p in pcts}
        out["max"] = _round(self.max)
        return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


@dataclass(slots=True)
class Conversation:
    """One connection: who it was, what crossed it each way, its heartbeats, how it ended."""

    session: int
    conn: int
    service: str | None = None
    first: float | None = None
    last: float | None = None
    payloads: dict[str, int] = field(default_factory=lambda: {"in": 0, "out": 0})
    bytes: dict[str, int] = field(default_factory=lambda: {"in": 0, "out": 0})
    latency: Quantiles = field(default_factory=Quantiles)  # heartbeat → ACK, ms
    missed: int = 0  # heartbeats followed by another before their ACK
    heartbeat_ts: float | None = None  # the heartbeat waiting for its ACK
    violations: int = 0
    close: dict[str, Any] | None = None  # code, name, reason, by

    def seen(self, ts: float) -> None:
        if self.first is None or ts < self.first:
            self.first = ts
        if self.last is None or ts > self.last:
            self.last = ts

    @property
    def duration(self) -> float:
        return (self.last - self.first) if self.first is not None and self.last is not None else 0.0


@dataclass(slots=True)
class Kind:
    count: int = 0
    bytes: int = 0
    sizes: Quantiles = field(default_factory=Quantiles)


@dataclass(slots=True)
class Delivery:
    """One event type through a gateway: read from services, forwarded at once, held, delivered
    later (from the hold), dropped from the hold; and how long the held ones waited."""

    read: int = 0
    forwarded: int = 0
    held: int = 0
    delivered_later: int = 0
    dropped: int = 0
    wait: Quantiles = field(default_factory=Quantiles)  # held → delivered, ms
    # seen by a proxy: what the gateway wrote to services counts as forwarded; its hold is not seen
    through_proxy: bool = False
    waiting: deque[float] = field(default_factory=deque)  # held notices' times, oldest first


class Stats:
    """Everything ``gwtool stats`` reports, built one record at a time.

    A payload costs a few dictionary operations: it is counted under its key (``_KEY_FIELDS``:
    connection, direction, op, event or cache type, size, service; a relayed event's forwards under
    their receiver's, with the direction ``FORWARD``) until ``fold`` (at most every ``FOLD_EVERY``
    distinct keys, and before any result is read) adds the counts to conversations, kinds and
    delivery. Heartbeats, ACKs and events held and delivered later are followed one by one (their
    timing is the point). With ``conn``, only what that connection sent or was sent is counted."""

    def __init__(self, proto: Definition, interval: float = 1.0, *, conn: int | None = None) -> None:
        self.proto = proto
        self.only = conn  # count only what connection ``conn`` sent or was sent (not a relayed event's other receivers)
        self.heartbeat = proto.op("HEARTBEAT")
        self.ack = proto.op("HEARTBEAT_ACK")
        self.event = proto.op("EVENT")
        self.interval = interval
        self.session = 0
        self.side = "client"
        self.service_dir = "out"  # the direction of what a service sent, on this recording's side
        self._payloads = 0
        self._beats = frozenset((self.heartbeat, self.ack))
        self._relayed: Any = _NEVER  # the EVENT op on a gateway's side (events it forwards)
        self._per_second = 1 / interval
        self.notices = 0
        self.first: float | None = None
        self.last: float | None = None
        self.conversations: dict[tuple[int, int], Conversation] = {}
        self.kinds: dict[tuple[str, Any, Any], Kind] = {}
        self.delivery: dict[str, Delivery] = {}
        self.closes: dict[tuple[Any, Any, Any], int] = {}
        self.violations: dict[tuple[Any, Any], int] = {}
        self.io: list[list[int]] = []  # per interval: payloads in, out, bytes in, out
        self.io_start: float | None = None
        self._row = [0, 0, 0, 0]  # the I/O row of the last payload (none yet: a spare one), and the times it covers
        self._row_from = self._row_to = 0.0
        # payloads not folded yet, by key; each count in a list of its own, added to where it is found
        # (``counted[key] += 1`` would hash the key twice)
        self._counted: dict[tuple[Any, ...], list[int]] = {}
        self._spans: dict[int, list[float]] = {}  # this session's connections: [first, last] seen
        self._conn: int | None = None  # the connection of the last record, and its span
        self._span: list[float] = []

    # --- feeding -------------------------------------------------------------------------------

    def start_session(self, header: dict[str, Any]) -> None:
        """A recording's header: the records after it are read from its side of the wire."""
        self.fold()
        self.session += 1
        self.side = "gateway" if header.get("side") == "gateway" else "client"
        self._relayed = self.event if self.side == "gateway" else _NEVER
        self.service_dir = "in" if self.side == "gateway" else "out"
        self.through_proxy = self.side == "gateway" and header.get("command") == "proxy"

    def add(self, item: Record | Notice) -> None:
        """A live Record or Notice."""
        self.add_json(item.to_json())

    def add_json(self, record: dict[str, Any]) -> None:
        """One record in its NDJSON form (``Record.to_json`` / ``Notice.to_json``); anything a
        hostile file holds is counted as nameless, never raised."""
        self.add_many((record,))

    def add_many(self, records: Iterable[dict[str, Any]]) -> None:
        """Records in their NDJSON form, in order: ``add_json`` of each, in one loop (the hot path
        of ``gwtool stats``, which feeds a recording's lines in batches).

        A payload record as gwtool writes it costs one C call for its key (``_KEY``) and a few
        dictionary operations, with the state it touches held in local variables (reloaded after
        any call that may change it; the I/O row's counts are added to it before any call that may
        replace it); anything else (a notice, a record missing a field or with an
        odd time) goes through ``_add_other`` first."""
        counted, spans, beats, relayed, service_dir = self._counted, self._spans, self._beats, self._relayed, self.service_dir
        current, span = self._conn, self._span
        row, row_from, row_to = self._row, self._row_from, self._row_to
        ins = outs = in_bytes = out_bytes = 0  # payloads of the row at hand not added to it yet (locals: faster than its items)
        key_of, receiver_of, low, high, forwards = _KEY, _FORWARD_KEY, -_HUGE, _HUGE, FORWARD  # (locals: the fastest names)
        for record in records:
            try:
                key = key_of(record)
                ts = record["ts"]
            except KeyError:
                key, ts = _NOT_A_PAYLOAD, None
            kind, conn, direction, op, name, cache_type, size, _ = key
            if kind != "payload" or type(ts) is not float or not low < ts < high:  # NaN, infinities
                _add_io(row, ins, outs, in_bytes, out_bytes)  # (before the series may change)
                ins = outs = in_bytes = out_bytes = 0
                self._add_other(record)
                current, span = self._conn, self._span
                row, row_from, row_to = self._row, self._row_from, self._row_to
                continue
            if conn != current or type(conn) is not int:
                current = self._switch(conn, ts)
                if current is None:  # another connection's: only what it relayed to ours counts
                    _add_io(row, ins, outs, in_bytes, out_bytes)
                    ins = outs = in_bytes = out_bytes = 0
                    self._forwards_only(record, ts, op, name, cache_type)
                    row, row_from, row_to = self._row, self._row_from, self._row_to
                    continue
                conn, span = current, self._span
            if ts > span[1]:
                span[1] = ts
            elif ts < span[0]:
                span[0] = ts
            try:
                counted[key][0] += 1
            except KeyError:
                if len(counted) >= FOLD_EVERY:
                    self.fold()
                    current = None  # (fold forgot the connection at hand)
                counted[key] = [1]
            except TypeError:  # a list or an object in a field: a hostile file's
                direction, op, name = self._odd_payload(conn, direction, op, name, cache_type, size, key[7])
                cache_type = None
            if not row_from <= ts < row_to:  # not the interval of the last payload (they come in order)
                _add_io(row, ins, outs, in_bytes, out_bytes)
                ins = outs = in_bytes = out_bytes = 0
                row = self._io_row_of(ts)
                row_from, row_to = self._row_from, self._row_to
            if type(size) is not int:
                size = 0
            if direction == "in":
                ins += 1
                in_bytes += size
            else:
                outs += 1
                out_bytes += size
            if op in beats:
                self._heartbeat(record, ts, conn, direction, op)
            elif op == relayed and direction != service_dir:
                name = name if name is not None else cache_type
                if type(name) is str:
                    self._delivered_later(name, ts)
            to = record.get("to")
            if not to:
                continue
            try:  # a relayed event's receivers; most have one, counted here: every lookup that can fail first
                (forward,) = to
                receiver, bytes_, service = receiver_of(forward)
                key = ("payload", receiver, forwards, op, name, cache_type, bytes_, service)
                receiving = spans[receiver]
                counted[key][0] += 1
            except (KeyError, TypeError, ValueError):  # several, a new key, or a hostile entry
                self._forwards(to, ts, op, name, cache_type, row)
                continue
            if ts > receiving[1]:
                receiving[1] = ts
            outs += 1
            out_bytes += bytes_ if type(bytes_) is int else 0
        _add_io(row, ins, outs, in_bytes, out_bytes)

    def _odd_payload(
        self, conn: int, direction: Any, op: Any, name: Any, cache_type: Any, size: Any, service: Any
    ) -> tuple[str, Any, Any]:
        """A payload with a list or an object in a field (a hostile file's): counted with that field
        as missing. Its direction, op and name as counted."""
        direction = "in" if direction == "in" else "out"
        op, name, size, service = (
            value if _hashable(value) is value else None
            for value in (op, name if name is not None else cache_type, size, service)
        )
        self._count(("payload", conn, direction, op, name, None, size, service))
        return direction, op, name

    def _add_other(self, record: dict[str, Any]) -> None:
        """A notice, or a payload record the hot path cannot take as it is (a field missing, a time
        that is not a finite float): made whole, then counted as any."""
        get = record.get
        ts = get("ts")
        if type(ts) is not float or not -_HUGE < ts < _HUGE:
            ts = float(ts) if type(ts) is int and -_HUGE < ts < _HUGE else (self._span[1] if self._span else 0.0)
        if get("kind") == "payload":
            whole = dict.fromkeys(_KEY_FIELDS) | record
            whole["ts"] = ts
            self.add_json(whole)
            return
        about = get("conn")
        if type(about) is not int or about <= 0:  # about no connection: a start, a client connecting
            if self.only is None:
                self._notice(record, ts, None)
            return
        conn = self._switch(get("conn"), ts)
        if conn is None:  # another connection's notice
            return
        span = self._span
        if ts > span[1]:
            span[1] = ts
        elif ts < span[0]:
            span[0] = ts
        self._notice(record, ts, conn)

    def _switch(self, conn: Any, ts: float) -> int | None:
        """The connection records are about now (they come in runs): its span, kept at hand. None
        for another connection than the one counted (``only``): none of it is, but its forwards to ours."""
        if type(conn) is not int:
            conn = 0
        if self.only is not None and conn != self.only:
            return None
        span = self._spans.get(conn)
        if span is None:
            span = self._spans[conn] = [ts, ts]
        self._conn, self._span = conn, span
        return conn  # type: ignore[no-any-return]

    def _io_row_of(self, ts: float) -> list[int]:
        """The I/O row of the interval ``ts`` falls in (before the series' start: the first), kept
        at hand with its bounds."""
        if self.io_start is None:
            self.io_start = ts
        index = self._io_row(int((ts - self.io_start) * self._per_second))
        start, interval = self.io_start, self.interval
        self._row_from, self._row_to = (
            (start + index * interval, start + (index + 1) * interval) if index else (-_HUGE, start + interval)
        )
        self._row = self.io[index]
        return self._row

    def _io_row(self, index: int) -> int:
        """The row of an interval not in the series yet (or before its start: the first)."""
        index = max(0, index)
        while index >= MAX_INTERVALS:
            self._coarsen()
            index //= 2
        while len(self.io) <= index:
            self.io.append([0, 0, 0, 0])
        return index

    def _coarsen(self) -> None:
        """Twice the interval, half the rows: the series stays within MAX_INTERVALS."""
        io = self.io
        self.io = [[a + b for a, b in zip(io[i], io[i + 1] if i + 1 < len(io) else [0, 0, 0, 0])] for i in range(0, len(io), 2)]
        self.interval *= 2
        self._per_second = 1 / self.interval
        self._row_from = self._row_to = 0.0  # the row at hand is gone

    def _talk(self, conn: int, service: Any = None) -> Conversation:
        key = (self.session, conn)
        talk = self.conversations.get(key)
        if talk is None:
            talk = self.conversations[key] = Conversation(self.session, conn)
        if isinstance(service, str):
            talk.service = service
        return talk

    def _heartbeat(self, record: dict[str, Any], ts: float, conn: int, direction: Any, op: Any) -> None:
        sender = record.get("from")
        by_service = sender == "service" if sender is not None else direction == self.service_dir
        talk = self.conversations.get((self.session, conn)) or self._talk(conn)  # (a call less: one in five records)
        if op == self.heartbeat and by_service:
            if talk.heartbeat_ts is not None:
                talk.missed += 1
            talk.heartbeat_ts = ts
        elif op == self.ack and not by_service:
            latency = record.get("latency_ms")
            if isinstance(latency, _NUMBER) and math.isfinite(latency):
                talk.latency.add(float(latency))
            elif talk.heartbeat_ts is not None:
                talk.latency.add(round((ts - talk.heartbeat_ts) * 1000, 6))
            talk.heartbeat_ts = None

    def _forwards(self, to: Any, ts: float, op: Any, name: Any, cache_type: Any, row: list[int]) -> None:
        """A relayed event's receivers: payloads the gateway wrote, on their connections."""
        if not isinstance(to, list):
            return
        counted, spans, only = self._counted, self._spans, self.only
        count = size = 0
        for forward in to:
            if only is not None and (type(forward) is not dict or forward.get("conn") != only):
                continue
            try:
                conn, bytes_ = forward["conn"], forward["size"]
                key = ("payload", conn, FORWARD, op, name, cache_type, bytes_, forward["service"])
                counted[key][0] += 1
            except (KeyError, TypeError):  # a new key; or a hostile entry, counted if it names a connection
                odd = self._odd_forward(forward, op, name, cache_type)
                if odd is None:
                    continue
                conn, bytes_ = odd
            count += 1
            size += bytes_ if type(bytes_) is int else 0
            span = spans.get(conn)
            if span is None:
                spans[conn] = [ts, ts]
            elif ts > span[1]:
                span[1] = ts
        row[1] += count
        row[3] += size

    def _forwards_only(self, record: dict[str, Any], ts: float, op: Any, name: Any, cache_type: Any) -> None:
        """Another connection's relayed event: its forwards to the connection counted (``only``)."""
        to = record.get("to")
        if isinstance(to, list) and any(type(forward) is dict and forward.get("conn") == self.only for forward in to):
            self._forwards(to, ts, op, name, cache_type, self._io_row_of(ts))

    def _odd_forward(self, forward: Any, op: Any, name: Any, cache_type: Any) -> tuple[int, Any] | None:
        """A ``to`` entry the fast path did not count: a new key, or a hostile entry (nameless)."""
        if type(forward) is not dict or type(forward.get("conn")) is not int:
            return None
        conn, size, service = forward["conn"], forward.get("size"), forward.get("service")
        key = ("payload", conn, FORWARD, op, name, cache_type, size, service)
        try:
            self._count(key)
        except TypeError:
            self._count(("payload", conn, FORWARD, None, None, None, 0, None))
        return conn, size

    def _count(self, key: tuple[Any, ...]) -> None:
        """One more payload of ``key`` (off the hot path)."""
        count = self._counted.get(key)
        if count is None:
            self._counted[key] = [1]
        else:
            count[0] += 1

    def _flow(self, name: str) -> Delivery:
        flow = self.delivery.get(name)
        if flow is None:
            flow = self.delivery[name] = Delivery(through_proxy=self.through_proxy)
        return flow

    def _delivered_later(self, name: str, ts: float) -> None:
        """An event the gateway wrote on its own: one the hold gave up, if one is waiting (else an
        event it made itself, IDENTIFIED …, not a delivery). Through a proxy, every event a service
        may send that the gateway wrote to a service: the proxy sees no hold."""
        if self.through_proxy:
            event = self.proto.events.get(name)
            if event is not None and NOBODY not in event.sources:  # not one the gateway makes (IDENTIFIED)
                self._flow(name).forwarded += 1
            return
        flow = self.delivery.get(name)
        if flow is not None and flow.waiting:
            flow.delivered_later += 1
            flow.wait.add(round((ts - flow.waiting.popleft()) * 1000, 6))

    def _notice(self, record: dict[str, Any], ts: float, conn: int | None) -> None:
        """A notice: counted in its conversation (None: one about no connection, in none)."""
        self.notices += 1
        if self.io_start is None:  # the series starts with the first record, whatever it is
            self.io_start = ts
        kind = record.get("kind")
        # (about no connection: counted in a conversation that is not kept)
        talk = self._talk(conn, record.get("service")) if conn is not None else Conversation(self.session, 0)
        if kind == "closed":
            close = {key: record.get(key) for key in ("code", "name", "reason", "by")}
            if close["by"] is None and "by_gateway" in record:  # a client's recording
                close["by"] = "gateway" if record.get("by_gateway") else "service"
            talk.close = close
            talk.heartbeat_ts = None
            key = (_hashable(close["code"]), _hashable(close["name"]), _hashable(close["by"]))
            self.closes[key] = self.closes.get(key, 0) + 1
        elif kind == "violation":
            talk.violations += 1
            key2 = (_hashable(record.get("path")), _hashable(record.get("by")))
            self.violations[key2] = self.violations.get(key2, 0) + 1
        elif kind in ("held", "dropped") and type(record.get("t")) is str:
            flow = self._flow(record["t"])
            if kind == "held":
                flow.held += 1
                if len(flow.waiting) < MAX_WAITING:
                    flow.waiting.append(ts)
            else:
                flow.dropped += 1
                if flow.waiting:  # the oldest held one went
                    flow.waiting.popleft()

    def fold(self) -> None:
        """Add the counted payloads to conversations, kinds and delivery (before reading them)."""
        for (_, conn, direction, op, name, cache_type, size, service), (n,) in self._counted.items():
            self._payloads += n
            if name is None:
                name = cache_type
            if direction == FORWARD and op == self._relayed and type(name) is str:
                self._flow(name).forwarded += n
            direction = "in" if direction == "in" else "out"
            op = op if type(op) is int else None
            name = name if type(name) is str else None
            size = size if type(size) is int and size >= 0 else 0
            talk = self._talk(conn if type(conn) is int else 0, service)
            talk.payloads[direction] += n
            talk.bytes[direction] += size * n
            kind = self.kinds.get((direction, op, name))
            if kind is None:
                kind = self.kinds[(direction, op, name)] = Kind()
            kind.count += n
            kind.bytes += size * n
            kind.sizes.add(size, n)
            if op == self.event and name is not None and self.side == "gateway" and direction == self.service_dir:
                self._flow(name).read += n
        self._counted.clear()
        self._conn = None
        for conn, (first, last) in self._spans.items():
            talk = self._talk(conn if type(conn) is int else 0)  # a hostile receiver's "conn"
            talk.seen(first)
            talk.seen(last)
            if self.first is None or first < self.first:
                self.first = first
            if self.last is None or last > self.last:
                self.last = last
        self._spans.clear()

    # --- results -------------------------------------------------------------------------------

    @property
    def payloads(self) -> int:
        """Every payload: read or written, a relayed event's forwards included."""
        self.fold()
        return self._payloads

    @property
    def duration(self) -> float:
        self.fold()
        return (self.last - self.first) if self.first is not None and self.last is not None else 0.0

    def rate(self, count: int, seconds: float) -> float | None:
        return round(count / seconds, 3) if seconds > 0 else None

    def kind_label(self, op: int | None, name: str | None) -> str:
        return self.proto.op_name(op) if op is not None else "no op"

    def to_json(self) -> dict[str, Any]:
        """The one object of ``gwtool stats --json``."""
        self.fold()
        duration = self.duration
        return {
            "payloads": self.payloads,
            "notices": self.notices,
            "duration_s": round(duration, 6),
            "first_ts": self.first,
            "last_ts": self.last,
            "percentiles": PERCENTILES_NOTE,
            "conversations": [self._conversation_json(talk) for talk in self.conversations.values()],
            "kinds": self._kinds_json(duration),
            "delivery": self._delivery_json(),
            "closes": [
                {"code": code, "name": name, "by": by, "count": n}
                for (code, name, by), n in sorted(self.closes.items(), key=lambda item: -item[1])
            ],
            "violations": [
                {"path": path, "by": by, "count": n}
                for (path, by), n in sorted(self.violations.items(), key=lambda item: -item[1])
            ],
            "io": self.io_json(),
        }

    def _conversation_json(self, talk: Conversation) -> dict[str, Any]:
        total = talk.payloads["in"] + talk.payloads["out"]
        return {
            "session": talk.session,
            "conn": talk.conn,
            "service": talk.service,
            "first_ts": talk.first,
            "last_ts": talk.last,
            "duration_s": round(talk.duration, 6),
            "payloads_in": talk.payloads["in"],
            "payloads_out": talk.payloads["out"],
            "bytes_in": talk.bytes["in"],
            "bytes_out": talk.bytes["out"],
            "rate": self.rate(total, talk.duration),
            "latency_ms": {"count": talk.latency.count, **talk.latency.summary(50, 95, 99)},
            "missed_acks": talk.missed,
            "violations": talk.violations,
            "close": talk.close,
        }

    def sorted_kinds(self) -> list[tuple[tuple[str, Any, Any], Kind]]:
        return sorted(self.kinds.items(), key=lambda item: (item[0][0], -item[1].count))

    def _kinds_json(self, duration: float) -> list[dict[str, Any]]:
        total = self.payloads or 1
        return [
            {
                "dir": direction,
                "op": self.kind_label(op, name),
                "op_code": op,
                "name": name,
                "count": kind.count,
                "bytes": kind.bytes,
                "share": round(kind.count / total, 6),
                "rate": self.rate(kind.count, duration),
                **{f"size_{key}": value for key, value in kind.sizes.summary(50, 99).items()},
            }  # fmt: skip
            for (direction, op, name), kind in self.sorted_kinds()
        ]

    def _delivery_json(self) -> list[dict[str, Any]]:
        return [
            {
                "t": name,
                "read": flow.read,
                "forwarded": flow.forwarded,
                **self._hold_json(flow),
                "through_proxy": flow.through_proxy,
            }  # fmt: skip
            for name, flow in sorted(self.delivery.items())
        ]

    @staticmethod
    def _hold_json(flow: Delivery) -> dict[str, Any]:
        """What the gateway's hold did with one event type: unknown (None) through a proxy."""
        known = not flow.through_proxy
        return {
            "held": flow.held if known else None,
            "delivered_later": flow.delivered_later if known else None,
            "dropped": flow.dropped if known else None,
            "still_held": len(flow.waiting) if known else None,
            "wait_ms": {"count": flow.wait.count, **flow.wait.summary(50, 99)},
        }

    def io_json(self) -> dict[str, Any]:
        keys = ("payloads_in", "payloads_out", "bytes_in", "bytes_out")
        return {
            "interval_s": self.interval,
            "start_ts": self.io_start,
            "series": [{"t": round(i * self.interval, 6), **dict(zip(keys, row))} for i, row in enumerate(self.io)],
        }


def _add_io(row: list[int], ins: int, outs: int, in_bytes: int, out_bytes: int) -> None:
    """Payloads in and out and their bytes, added to an I/O row."""
    row[0] += ins
    row[1] += outs
    row[2] += in_bytes
    row[3] += out_bytes


def _hashable(value: Any) -> Any:
    """A value from a file as a key: JSON's lists and objects become their text."""
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)
