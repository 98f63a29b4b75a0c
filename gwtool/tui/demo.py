"""A fixed, deterministic session for snapshot tests and screenshots: no network, fixed clocks.

``DemoSession`` has the surface of ``Session``; the records it feeds are built from the protocol
definition's examples, with fixed times, sizes and connection ids.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gwtool.client import ClientState, LatencyStats, NotConnected
from gwtool.gateway.cache import CacheStore
from gwtool.protocol.codec import encode
from gwtool.protocol.examples import identify_payload
from gwtool.records import Forward, Notice, Record, masked_identify
from gwtool.tui.session import other_half

if TYPE_CHECKING:
    from gwtool.filters import Side
    from gwtool.protocol.definition import Definition
    from gwtool.proxy.faults import Rule
    from gwtool.proxy.server import LinkInfo
    from gwtool.records import Direction, NoticeKind, Sender
    from gwtool.tui.app import GwtoolApp
    from gwtool.tui.source import CacheIndex, Sink

T0 = 1_767_268_800.0  # 2026-01-01 12:00:00 UTC: every demo time is an offset from it
NOW = T0 + 95.0  # the clock the demo app reads
MONOTONIC = 5_000.0
LATENCIES = (0.91, 0.84, 0.88, 1.32, 0.79, 0.86, 0.95, 2.41, 0.83, 0.87, 0.9, 0.82, 1.05, 0.85, 0.88, 0.8)


class DemoSession:
    """The embedded setup after a minute and a half: our ``commands`` client, a sharder, some cache.

    The sharder is the service type ``gwtool tui`` simulates (``other_half``); a definition with
    none that shards or caches shows our client alone."""

    embedded = True
    error: str | None = None
    recording = None  # fixed data, not a recording
    proxy = None  # no proxy in between

    def __init__(self, proto: Definition, *, service: str | None = None, state: ClientState | None = None):
        self.proto = proto
        self.service = service or proto.first_receiver()
        self.url = "ws://127.0.0.1:8765"
        self.other = other_half(proto)
        self.state = state or ClientState(
            phase="identified", identified={}, connected_at=T0 + 0.012, heartbeat_interval=5000, conn=1
        )
        self.latency = LatencyStats()
        for ms in LATENCIES:
            self.latency.add(ms)
        self.cache = CacheStore(proto)
        self.items = self.script()
        for side, item in self.items:
            if side == "gw" and isinstance(item, Record) and item.op == proto.op("CACHE") and item.payload is not None:
                self.cache.put(item.cache_type, item.payload["d"])
        self.sent: list[dict[str, Any]] = []

    @property
    def counts(self) -> tuple[int, int]:
        ours = [i for side, i in self.items if side == "you" and isinstance(i, Record)]
        return sum(r.direction == "in" for r in ours), sum(r.direction == "out" for r in ours)

    def script(self) -> list[tuple[Side, Record | Notice]]:
        """Connect, identify, heartbeats, and the sharder's events and cache payloads."""
        p = self.proto
        out: list[tuple[Side, Record | Notice]] = []
        ours = self.service

        def rec(side: Side, direction: Direction, at: float, payload: dict[str, Any], conn: int, service: str | None) -> None:
            out.append((side, Record(direction, len(encode(payload)), payload, conn=conn, service=service, ts=T0 + at)))

        identified = p.event_with_routing("identified")
        r = p.roles  # the definition's field names

        def identify(service: str) -> dict[str, Any]:
            return identify_payload(p, service, token="", compress=False)

        hello = {"op": p.op("HELLO"), "d": {r.hello_interval: 5000}}
        out.append(("you", Notice("connecting", f"connecting to {self.url} as {ours}", ts=T0)))
        rec("you", "in", 0.004, hello, 1, None)
        rec("you", "out", 0.005, identify(ours), 1, ours)
        if identified is not None:
            rec("you", "in", 0.011, {"op": p.op("EVENT"), "t": identified.t, "d": {}}, 1, ours)
        out.append(("you", Notice("identified", f"identified as {ours}", service=ours, ts=T0 + 0.012)))
        other = self.other
        if other is None:  # no other service type to show: our client alone
            events, caches = [], []
        else:
            shards = p.services[other].shards
            rec("gw", "in", 0.2, identify(other), 2, None)
            if identified is not None:
                d = {r.identified_shards: [0, 1, 2], r.identified_max_shards: 3} if shards else {}
                rec("gw", "out", 0.201, {"op": p.op("EVENT"), "t": identified.t, "d": d}, 2, other)
            joined = f"identified as {other}" + (" with shards [0, 1, 2] of 3" if shards else "")
            out.append(("gw", Notice("identified", joined, conn=2, service=other, ts=T0 + 0.202)))
            events = [e for e in p.events_sendable_by(other) if e.routing != "identified" and e.example is not None]
            caches = [s for s in p.cache_types.values() if s.example is not None] if p.services[other].cache else []
        at = 1.0
        for tick in range(8):
            rec("you", "out", at, {"op": p.op("HEARTBEAT"), "d": {r.heartbeat_memory: 61_203_456 + tick * 4096}}, 1, ours)
            rec("you", "in", at + 0.001, {"op": p.op("HEARTBEAT_ACK"), "d": {}}, 1, ours)
            if events:
                event = {"op": p.op("EVENT"), "t": events[tick % len(events)].t, "d": events[tick % len(events)].example}
                rec("gw", "in", at + 1.5, event, 2, other)  # relayed: the gateway's one record of it names where it went
                read = out[-1][1]
                if isinstance(read, Record):
                    read.forwards = [Forward(1, ours, read.size)]
                rec("you", "in", at + 1.502, event, 1, ours)
            if caches:
                cache = caches[tick % len(caches)]
                rec("gw", "in", at + 2.5, {"op": p.op("CACHE"), "type": cache.name, "d": cache.example}, 2, other)
            at += 5.0
        return out

    async def run(self, sink: Sink) -> None:
        for side, item in self.items:
            sink(side, item)
        await asyncio.sleep(0)

    async def heartbeat_now(self) -> None:
        pass

    def retry_now(self) -> None:
        pass

    async def request_heartbeat(self) -> None:
        pass

    async def send(self, payload: dict[str, Any], *, force: bool = False) -> Record:
        self.sent.append(payload)
        return Record("out", len(encode(payload)), payload, conn=1, service=self.service, ts=NOW)

    async def services(self) -> list[dict[str, Any]]:
        start = int(T0 * 1000)
        ours = {"conn": 1, "type": self.service, "startTime": start + 12, "heapUsed": 61_231_104,
                "lastHeartbeat": int((NOW - 1.4) * 1000)}  # fmt: skip
        if self.other is None:
            return [ours]
        other: dict[str, Any] = {"conn": 2, "type": self.other, "startTime": start + 200, "heapUsed": 88_604_672}
        if "guilds" in {f.name for f in self.proto.heartbeat_fields_for(self.other)}:
            other["guilds"] = 3000
        if self.proto.services[self.other].shards:
            other |= {"shards": [0, 1, 2], "maxShards": 3}
        return [ours, other | {"lastHeartbeat": int((NOW - 3.2) * 1000)}]

    async def cache_index(self) -> CacheIndex:
        index = {kind: self.cache.entities(kind) for kind in self.proto.cache_types}
        return "the gateway's cache", index, None, frozenset(index)

    async def fetch_entity(self, kind: str, key: tuple[str, ...]) -> tuple[int, Any]:
        entity = self.cache.get(kind, *key)
        return (200, entity) if entity is not None else (404, None)


PROXY_URL = "ws://127.0.0.1:8766"
PROXY_RULES = (  # (rule, times applied, enabled)
    ("delay 200±50 t:EXECUTE_COMMAND from:gateway", 6, True),
    ("drop every 4 op:HEARTBEAT_ACK service:sharder", 2, True),
    ("close 1011 after 100 from:gateway", 0, False),
)


class DemoProxySession:
    """``tui --proxy`` after a minute and a half: a sharder and a commands worker connected through
    the proxy to an upstream gateway, three fault rules, a violation by the gateway. Its own
    ``ProxyView``; the rules are the proxy's (faults.py), so the Faults pane adds, toggles and
    removes them for real."""

    embedded = False
    error: str | None = None
    recording = None
    state: ClientState | None = None
    upstream_problem: str | None = None

    def __init__(self, proto: Definition):
        from gwtool.proxy.faults import Faults
        from gwtool.proxy.server import Counts

        self.proto = proto
        self.service = proto.first_receiver()
        self.upstream = self.url = "ws://127.0.0.1:8765"
        self.listen_url = PROXY_URL
        self.other = other_half(proto)
        self.faults = Faults(proto, seed=1)
        for text, applied, enabled in PROXY_RULES:
            rule = self.faults.add(text)
            rule.applied = applied
            self.faults.enable(rule.id, enabled)
        self.latency = LatencyStats()
        self.cache = CacheStore(proto)
        self.items = self.script()
        self.proxy_counts = Counts(connections=2)
        for item in self.items:
            if isinstance(item, Record):
                self.proxy_counts.payloads[item.sender or "service"] += 1
                if item.latency_ms is not None:
                    self.latency.add(item.latency_ms)
                if item.sender == "service" and item.op == proto.op("CACHE") and item.payload is not None:
                    self.cache.put(item.cache_type, item.payload["d"])
            elif item.kind == "violation":
                self.proxy_counts.violations[item.data["by"]] += 1
            elif item.kind == "injected":
                self.proxy_counts.injected += 1

    @property
    def proxy(self) -> DemoProxySession:
        return self

    @property
    def counts(self) -> tuple[int, int]:
        payloads = self.proxy_counts.payloads
        return payloads["gateway"], payloads["service"]

    def script(self) -> list[Record | Notice]:
        """Two services identify through the proxy; heartbeats, events routed, a delayed event, a
        dropped ACK and an event the gateway sent with a field of the wrong type."""
        p, r = self.proto, self.proto.roles
        out: list[Record | Notice] = []
        names: dict[int, str] = {}

        def rec(sender: Sender, at: float, payload: dict[str, Any], conn: int, latency: float | None = None) -> None:
            direction: Direction = "in" if sender == "service" else "out"
            shown = masked_identify(payload, r.identify_token) if payload.get("op") == p.op("IDENTIFY") else payload
            out.append(Record(direction, len(encode(payload)), shown, conn=conn, service=names.get(conn), ts=T0 + at,
                              latency_ms=latency, sender=sender))  # fmt: skip

        def notice(kind: NoticeKind, at: float, text: str, conn: int = 0, **data: Any) -> None:
            out.append(Notice(kind, text, conn, names.get(conn), data, ts=T0 + at))

        notice("info", 0.0, f"proxy listening on {PROXY_URL} → upstream {self.upstream}: "
               f"connect services to {PROXY_URL} instead of the gateway")  # fmt: skip
        for rule in self.faults.rules:
            notice("info", 0.0, f"fault rule {rule.id}: {rule.text}", rule=rule.text, id=rule.id)
        identified = p.event_with_routing("identified")
        parties = [(1, self.other, 0.2), (2, self.service, 0.6)] if self.other else [(1, self.service, 0.2)]
        for conn, kind, at in parties:
            notice("connected", at, f"connected from 127.0.0.1:{53860 + conn}, proxied to {self.upstream}/", conn)
            rec("gateway", at + 0.002, {"op": p.op("HELLO"), "d": {r.hello_interval: 5000}}, conn)
            rec("service", at + 0.003, identify_payload(p, kind, token="s3cret", compress=False), conn)
            names[conn] = kind
            shards = p.services[kind].shards
            if identified is not None:
                d = {r.identified_shards: [0, 1, 2], r.identified_max_shards: 3} if shards else {}
                rec("gateway", at + 0.004, {"op": p.op("EVENT"), "t": identified.t, "d": d}, conn)
            notice("identified", at + 0.004, f"identified as {kind}" + (" with shards [0, 1, 2] of 3" if shards else ""), conn)
        events = [e for e in p.events_sendable_by(self.other or "") if e.routing != "identified" and e.example is not None]
        caches = (
            [s for s in p.cache_types.values() if s.example is not None] if self.other and p.services[self.other].cache else []
        )
        receiver = 2 if self.other else 1
        at = 1.0
        for tick in range(8):
            for conn, kind, _ in parties:
                beat = {"op": p.op("HEARTBEAT"), "d": {r.heartbeat_memory: 61_203_456 + tick * 4096}}
                rec("service", at + conn * 0.01, beat, conn)
                ack = {"op": p.op("HEARTBEAT_ACK"), "d": {}}
                if conn == 1 and self.other and tick % 4 == 3:  # drop every 4 op:HEARTBEAT_ACK service:sharder
                    notice("injected", at + 0.012, f"dropped HEARTBEAT_ACK → #1 {kind}", conn, rule=PROXY_RULES[1][0], id=2)
                else:
                    rec("gateway", at + conn * 0.01 + 0.0009, ack, conn, latency=LATENCIES[(tick * 2 + conn) % len(LATENCIES)])
            if events:
                event = events[tick % len(events)]
                payload = {"op": p.op("EVENT"), "t": event.t, "d": event.example}
                rec("service", at + 1.5, payload, 1)
                if tick == 5:
                    self._bad_event(out, payload, receiver, at + 1.5012, names.get(receiver))
                elif tick < 7:
                    delay = 180 + tick * 9
                    notice("injected", at + 1.501, f"delayed {event.t} → #{receiver} {names.get(receiver)} by {delay} ms",
                           receiver, rule=PROXY_RULES[0][0], id=1)  # fmt: skip
                    rec("gateway", at + 1.5 + delay / 1000, payload, receiver)
            if caches:
                cache = caches[tick % len(caches)]
                rec("service", at + 2.5, {"op": p.op("CACHE"), "type": cache.name, "d": cache.example}, 1)
            at += 5.0
        return out

    def _bad_event(self, out: list[Record | Notice], payload: dict[str, Any], conn: int, at: float, service: str | None) -> None:
        """The gateway sends the event on with a field of the wrong type: the proxy's violation."""
        from gwtool.protocol.validate import validate_payload

        d = payload["d"]
        ids = d.get("ids") if isinstance(d, dict) else None
        if not isinstance(ids, dict) or not ids:
            return
        field = next((k for k, v in ids.items() if isinstance(v, int)), next(iter(ids)))  # the shard, as a string
        bad = {**payload, "d": {**d, "ids": {**ids, field: 1 if isinstance(ids[field], str) else str(ids[field])}}}
        out.append(Record("out", len(encode(bad)), bad, conn=conn, service=service, ts=T0 + at, sender="gateway"))
        errors = validate_payload(self.proto, bad, sender="gateway")
        if errors:
            text = f"gateway → #{conn} {service}: {payload.get('t')} {errors[0]}"
            path = errors[0].partition(":")[0]
            out.append(Notice("violation", text, conn, service, {"by": "gateway", "path": path}, ts=T0 + at))

    @property
    def connections(self) -> list[LinkInfo]:
        from gwtool.proxy.server import LinkInfo

        links = []
        for conn, kind in ((1, self.other), (2, self.service)) if self.other else ((1, self.service),):
            if kind is None:
                continue
            mine = [i for i in self.items if i.conn == conn]
            payloads = {s: sum(isinstance(i, Record) and i.sender == s for i in mine) for s in ("service", "gateway")}
            violations = {s: sum(isinstance(i, Notice) and i.kind == "violation" and i.data["by"] == s for i in mine)
                          for s in ("service", "gateway")}  # fmt: skip
            shards = ([0, 1, 2], 3) if self.proto.services[kind].shards else (None, None)
            links.append(LinkInfo(conn, kind, f"127.0.0.1:{53860 + conn}", f"{self.upstream}/", payloads, violations,
                                  T0 + 0.2 + 0.4 * (conn - 1), *shards))  # fmt: skip
        return links

    @property
    def rules(self) -> list[Rule]:
        return list(self.faults.rules)

    def add_rule(self, text: str) -> Rule:
        return self.faults.add(text)

    def remove_rule(self, rule_id: int) -> Rule | None:
        return self.faults.remove(rule_id)

    def enable_rule(self, rule_id: int, enabled: bool = True) -> Rule | None:
        return self.faults.enable(rule_id, enabled)

    async def run(self, sink: Sink) -> None:
        for item in self.items:
            sink("gw", item)
        await asyncio.sleep(0)

    async def heartbeat_now(self) -> None:
        raise NotConnected("no client of its own behind a proxy")

    def retry_now(self) -> None:
        pass

    async def request_heartbeat(self) -> None:
        raise NotConnected("no client of its own behind a proxy")

    async def send(self, payload: dict[str, Any], *, force: bool = False) -> Record:
        raise NotConnected("no client of its own behind a proxy")

    async def services(self) -> list[dict[str, Any]]:
        return [link.to_json() for link in self.connections]

    async def cache_index(self) -> CacheIndex:
        index = {kind: self.cache.entities(kind) for kind in self.proto.cache_types}
        counts = {kind: len(entities) for kind, entities in index.items()}
        return "GET /cache/{type}/", index, counts, frozenset(index)

    async def fetch_entity(self, kind: str, key: tuple[str, ...]) -> tuple[int, Any]:
        entity = self.cache.get(kind, *key)
        return (200, entity) if entity is not None else (404, None)


def demo_proxy_app(proto: Definition | None = None) -> GwtoolApp:
    """The dashboard over ``DemoProxySession`` (``tui --proxy``'s snapshots and screenshots), frozen clocks."""
    from gwtool.tui.app import GwtoolApp

    if proto is None:
        from gwtool.protocol.definition import load_protocol

        proto = load_protocol(use_env=False)
    return GwtoolApp(DemoProxySession(proto), clock=lambda: NOW, monotonic=lambda: MONOTONIC, remember=False)


def demo_app(proto: Definition | None = None, *, state: ClientState | None = None) -> GwtoolApp:
    """The dashboard over ``DemoSession`` with frozen clocks (times print in the local zone: set TZ)."""
    from gwtool.tui.app import GwtoolApp

    if proto is None:
        from gwtool.protocol.definition import load_protocol

        proto = load_protocol(use_env=False)
    return GwtoolApp(DemoSession(proto, state=state), clock=lambda: NOW, monotonic=lambda: MONOTONIC, remember=False)


def write_demo_recording(path: Path, proto: Definition) -> Path:
    """The demo session as a recording (``tui --open``'s screenshot and tests): fixed times and sizes."""
    from gwtool.console import ndjson
    from gwtool.logfile import header, header_line

    demo = DemoSession(proto)
    first = {
        **header(proto, side="gateway", command="mock-gateway", url=demo.url),
        "ts": T0,
        "started": "2026-01-01T12:00:00+0000",
    }
    lines = [header_line(first)] + [ndjson(item) for side, item in demo.items if side == "gw"]
    path.write_bytes(b"".join(lines))
    return path


def demo_recording_app(path: Path, proto: Definition | None = None, *, keep: int = 10_000, follow: bool = False) -> GwtoolApp:
    """The dashboard over a recording, with the demo's frozen clocks (``tui --open``'s screenshot)."""
    from gwtool.tui.app import GwtoolApp
    from gwtool.tui.recording_source import RecordingSource

    if proto is None:
        from gwtool.protocol.definition import load_protocol

        proto = load_protocol(use_env=False)
    source = RecordingSource(proto, path, keep=keep, follow=follow)
    return GwtoolApp(source, limit=keep, clock=lambda: NOW, monotonic=lambda: MONOTONIC, remember=False)
