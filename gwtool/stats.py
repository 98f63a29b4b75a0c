"""Statistics of a stream of records: conversations, kinds, delivery, closes, I/O over time.

``Stats`` is fed records one at a time, in their NDJSON form (``add_json``: a recording's lines,
as ``gwtool stats`` reads them) or as Records and Notices (``add``: a live stream). Its memory is
bounded by the number of connections, kinds, event types and close codes, never by the payloads:

- counts and byte totals are exact;
- percentiles (``Quantiles``) are exact nearest-rank values while a series holds at most
  ``EXACT_SAMPLES`` samples; beyond, they come from a histogram of logarithmic buckets and are
  within ``RELATIVE_ERROR`` (1 %) of the exact value; min and max stay exact;
- the I/O series keeps at most ``MAX_INTERVALS`` intervals: a longer stream doubles the interval
  (merging neighbours) rather than growing.

How the console summary could use it: ``Summary`` in output.py keeps one second of counts per kind
on the hot path; a ``Stats`` subscribed beside it (fed by ``add``) would give the same kinds with
sizes and rates over the whole run, for a closing summary, without touching that path.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gwtool.protocol.definition import Definition
    from gwtool.records import Notice, Record

EXACT_SAMPLES = 1000  # samples a series keeps as they are (percentiles exact up to here)
RELATIVE_ERROR = 0.01  # of a percentile from the histogram (half a bucket's width)
_GROWTH = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)  # bucket i holds [g^i, g^(i+1)); g^i × 1.01 is within 1 % of both
_LOG_GROWTH = math.log(_GROWTH)
_ZERO = -(1 << 30)  # the bucket of zero and negative values (a clock that went back)
MAX_INTERVALS = 4096  # of the I/O series, before its interval doubles
MAX_WAITING = 100_000  # held events waiting for their delivery, per event type (the gateway's hold is smaller)
PERCENTILES_NOTE = (
    f"nearest-rank; exact up to {EXACT_SAMPLES:,} samples, above within {RELATIVE_ERROR:.0%} (log histogram); max exact"
)


class Quantiles:
    """Percentiles of a series in bounded memory (see the module's note on exactness)."""

    __slots__ = ("count", "max", "_exact", "_buckets")

    def __init__(self) -> None:
        self.count = 0
        self.max: float | None = None
        self._exact: list[float] | None = []
        self._buckets: dict[int, int] = {}

    def add(self, value: float) -> None:
        self.count += 1
        if self.max is None or value > self.max:
            self.max = value
        exact = self._exact
        if exact is not None:
            exact.append(value)
            if len(exact) > EXACT_SAMPLES:
                for sample in exact:
                    self._bucket(sample)
                self._exact = None
        else:
            self._bucket(value)

    def _bucket(self, value: float) -> None:
        key = math.floor(math.log(value) / _LOG_GROWTH) if value > 0 else _ZERO
        self._buckets[key] = self._buckets.get(key, 0) + 1

    def percentile(self, pct: float) -> float | None:
        """The nearest-rank ``pct`` percentile (None with no samples)."""
        if not self.count:
            return None
        rank = max(1, math.ceil(self.count * pct / 100))
        if self._exact is not None:
            return sorted(self._exact)[rank - 1]
        seen = 0
        for key in sorted(self._buckets):
            seen += self._buckets[key]
            if seen >= rank:
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
    waiting: deque[float] = field(default_factory=deque)  # held notices' times, oldest first


class Stats:
    """Everything ``gwtool stats`` reports, built one record at a time."""

    def __init__(self, proto: Definition, interval: float = 1.0) -> None:
        self.proto = proto
        self.heartbeat = proto.op("HEARTBEAT")
        self.ack = proto.op("HEARTBEAT_ACK")
        self.event = proto.op("EVENT")
        self.interval = interval
        self.session = 0
        self.side = "client"
        self.service_dir = "out"  # the direction of what a service sent, on this recording's side
        self.payloads = 0
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
        self.gateway_seen = False

    # --- feeding -------------------------------------------------------------------------------

    def start_session(self, header: dict[str, Any]) -> None:
        """A recording's header: the records after it are read from its side of the wire."""
        self.session += 1
        self.side = "gateway" if header.get("side") == "gateway" else "client"
        self.service_dir = "in" if self.side == "gateway" else "out"
        self.gateway_seen = self.gateway_seen or self.side == "gateway"

    def add(self, item: Record | Notice) -> None:
        """A live Record or Notice."""
        self.add_json(item.to_json())

    def add_json(self, record: dict[str, Any]) -> None:
        """One record in its NDJSON form (``Record.to_json`` / ``Notice.to_json``); anything a
        hostile file holds is counted as nameless, never raised."""
        ts = record.get("ts")
        ts = float(ts) if isinstance(ts, int | float) and math.isfinite(ts) else (self.last or 0.0)
        if self.first is None or ts < self.first:
            self.first = ts
        if self.last is None or ts > self.last:
            self.last = ts
        conn = record.get("conn")
        conn = conn if type(conn) is int else 0
        if record.get("kind") == "payload":
            self._payload(record, ts, conn)
        else:
            self._notice(record, ts, conn)

    def _conversation(self, conn: int, service: Any, ts: float) -> Conversation:
        key = (self.session, conn)
        talk = self.conversations.get(key)
        if talk is None:
            talk = self.conversations[key] = Conversation(self.session, conn)
        if isinstance(service, str):
            talk.service = service
        talk.seen(ts)
        return talk

    def _payload(self, record: dict[str, Any], ts: float, conn: int) -> None:
        direction = "in" if record.get("dir") == "in" else "out"
        size = record.get("size")
        size = size if type(size) is int and size >= 0 else 0
        op, name = record.get("op"), record.get("t")
        if name is None:
            name = record.get("type")
        op = op if type(op) is int else None
        name = name if type(name) is str else None
        self.payloads += 1
        talk = self._conversation(conn, record.get("service"), ts)
        talk.payloads[direction] += 1
        talk.bytes[direction] += size
        self._kind(direction, op, name, size)
        self._io(ts, direction, 1, size)
        sender = record.get("from")
        by_service = sender == "service" if sender is not None else direction == self.service_dir
        if op == self.heartbeat and by_service:
            if talk.heartbeat_ts is not None:
                talk.missed += 1
            talk.heartbeat_ts = ts
        elif op == self.ack and not by_service:
            latency = record.get("latency_ms")
            if isinstance(latency, int | float) and math.isfinite(latency):
                talk.latency.add(float(latency))
            elif talk.heartbeat_ts is not None:
                talk.latency.add((ts - talk.heartbeat_ts) * 1000)
            talk.heartbeat_ts = None
        elif op == self.event and name is not None and self.side == "gateway" and sender is None:
            self._delivery(record, ts, name, by_service)
        to = record.get("to")
        if isinstance(to, list):
            self._forwards(to, ts, op, name)

    def _forwards(self, to: list[Any], ts: float, op: int | None, name: str | None) -> None:
        """A relayed event's receivers: payloads the gateway wrote, on their connections."""
        for forward in to:
            if not isinstance(forward, dict) or type(forward.get("conn")) is not int:
                continue
            size = forward.get("size")
            size = size if type(size) is int and size >= 0 else 0
            self.payloads += 1
            talk = self._conversation(forward["conn"], forward.get("service"), ts)
            talk.payloads["out"] += 1
            talk.bytes["out"] += size
            self._kind("out", op, name, size)
            self._io(ts, "out", 1, size)

    def _delivery(self, record: dict[str, Any], ts: float, name: str, by_service: bool) -> None:
        flow = self.delivery.get(name)
        if flow is None:
            if not by_service:  # an event the gateway made itself (IDENTIFIED …), not a delivery
                return
            flow = self.delivery[name] = Delivery()
        if by_service:
            flow.read += 1
            to = record.get("to")
            flow.forwarded += len(to) if isinstance(to, list) else 0
        elif flow.waiting:  # an event written later, on its own: one the hold gave up
            flow.delivered_later += 1
            flow.wait.add((ts - flow.waiting.popleft()) * 1000)

    def _notice(self, record: dict[str, Any], ts: float, conn: int) -> None:
        self.notices += 1
        kind = record.get("kind")
        if kind == "header":
            return
        talk = self._conversation(conn, record.get("service"), ts)
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
            flow = self.delivery.get(record["t"])
            if flow is None:
                flow = self.delivery[record["t"]] = Delivery()
            if kind == "held":
                flow.held += 1
                if len(flow.waiting) < MAX_WAITING:
                    flow.waiting.append(ts)
            else:
                flow.dropped += 1
                if flow.waiting:  # the oldest held one went
                    flow.waiting.popleft()

    def _kind(self, direction: str, op: int | None, name: str | None, size: int) -> None:
        key = (direction, op, name)
        kind = self.kinds.get(key)
        if kind is None:
            kind = self.kinds[key] = Kind()
        kind.count += 1
        kind.bytes += size
        kind.sizes.add(size)

    def _io(self, ts: float, direction: str, count: int, size: int) -> None:
        if self.io_start is None:
            self.io_start = ts
        index = max(0, int((ts - self.io_start) / self.interval))
        while index >= MAX_INTERVALS:
            self._coarsen()
            index = max(0, int((ts - self.io_start) / self.interval))
        io = self.io
        while len(io) <= index:
            io.append([0, 0, 0, 0])
        row = io[index]
        if direction == "in":
            row[0] += count
            row[2] += size
        else:
            row[1] += count
            row[3] += size

    def _coarsen(self) -> None:
        """Twice the interval, half the rows: the series stays within MAX_INTERVALS."""
        io = self.io
        self.io = [[a + b for a, b in zip(io[i], io[i + 1] if i + 1 < len(io) else [0, 0, 0, 0])] for i in range(0, len(io), 2)]
        self.interval *= 2

    # --- results -------------------------------------------------------------------------------

    @property
    def duration(self) -> float:
        return (self.last - self.first) if self.first is not None and self.last is not None else 0.0

    def rate(self, count: int, seconds: float) -> float | None:
        return round(count / seconds, 3) if seconds > 0 else None

    def kind_label(self, op: int | None, name: str | None) -> str:
        return self.proto.op_name(op) if op is not None else "no op"

    def to_json(self) -> dict[str, Any]:
        """The one object of ``gwtool stats --json``."""
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
                "held": flow.held,
                "delivered_later": flow.delivered_later,
                "dropped": flow.dropped,
                "still_held": len(flow.waiting),
                "wait_ms": {"count": flow.wait.count, **flow.wait.summary(50, 99)},
            }  # fmt: skip
            for name, flow in sorted(self.delivery.items())
        ]

    def io_json(self) -> dict[str, Any]:
        keys = ("payloads_in", "payloads_out", "bytes_in", "bytes_out")
        return {
            "interval_s": self.interval,
            "start_ts": self.io_start,
            "series": [{"t": round(i * self.interval, 6), **dict(zip(keys, row))} for i, row in enumerate(self.io)],
        }


def _hashable(value: Any) -> Any:
    """A value from a file as a key: JSON's lists and objects become their text."""
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)
