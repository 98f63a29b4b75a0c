"""Load generator: N senders → M receivers of the protocol's round-robin event, through any gateway.

Senders and receivers are lean websockets connections driven by the protocol definition (HELLO →
IDENTIFY → IDENTIFIED, heartbeats at the gateway's interval, answers to heartbeat requests). Each
event carries a ``bench`` field in its data, ``[sender, seq, send time in ns]`` (extra fields pass
validation), so receivers measure end-to-end latency and count every message: lost = sent − received
once the run has drained, duplicates are counted apart.

``raw=True`` speaks no protocol at all: connections go to ``URL/<service>`` and only frames move. The
relay benchmark uses it against its unparsed baseline relay, with the same generator on both sides.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

import orjson

from gwtool.errors import ClosedByGateway, ConnectFailed, GwtoolError
from gwtool.protocol import codec
from gwtool.protocol.examples import heartbeat_payload
from gwtool.records import Record
from gwtool.session import Ack, ServiceSession

if TYPE_CHECKING:
    from collections.abc import Callable
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Barrier

    from websockets.asyncio.client import ClientConnection

    from gwtool.protocol.definition import Definition, Event

OPEN_SECONDS = 10.0  # for the websocket handshake, at most
IDENTIFY_SECONDS = 10.0  # from connected to IDENTIFIED, at most
MARK = "bench"  # the extra field of the event data: [sender index, seq, perf_counter_ns at send]


@dataclass
class BenchConfig:
    url: str
    senders: int = 4
    receivers: int = 4
    rate: float = 0.0  # total events/s; 0 = as fast as the gateway takes them (closed loop)
    duration: float = 5.0  # seconds of sending
    window: int = 64  # per sender, events in flight at most (closed loop only)
    token: str = ""
    idle: int = 0  # extra connections that only heartbeat, of every service type in turn
    heartbeat_interval: float | None = None  # s; None = the gateway's HELLO (raw mode: none)
    drain_timeout: float = 5.0  # s to wait for the last events after sending stops
    connect_concurrency: int = 50
    raw: bool = False
    counted_elsewhere: bool = False  # receivers are not ours (e.g. a dashboard): send only, count nothing
    log: Callable[[Record], None] | None = None  # --log: a subscriber (output.LogOutput) for every event's Record
    # --processes: this process's share of a run spread over several (see run_processes)
    sender_offset: int = 0  # the global number of this process's first sender
    all_senders: int | None = None  # senders in all processes (None: just ours)
    shared: bool = False  # receivers in other processes count some of our events, and ours theirs
    processes: int = 1  # how many processes the whole run was spread over (for the report)


class Snapshot(TypedDict):
    """The live view of a run: ``Stats.snapshot()``."""

    elapsed: float
    sent: int
    received: int
    in_flight: int
    rate: int  # events received in the last second
    p50_ms: float | None
    p99_ms: float | None
    closes: int


class Share(TypedDict):
    """One process's part of a --processes run: ``Bench.export()``, for ``merge`` (picklable)."""

    sent: int
    received: int
    latencies_ms: list[float]
    acks_ms: list[float]
    beats: int
    closes: list[tuple[str, int | None, str]]
    started: float
    send_stopped: float
    last_received: float
    seen: list[bytes]  # per sender (numbered over all processes): a byte per seq, 1 once received


@dataclass
class Stats:
    """Counts and samples of one run; ``snapshot()`` is what a live display shows."""

    sent: int = 0
    received: int = 0
    duplicates: int = 0
    foreign: int = 0  # events without a readable bench field
    latencies_ms: list[float] = field(default_factory=list)
    acks_ms: list[float] = field(default_factory=list)
    beats: int = 0  # heartbeats sent once every connection was up (each should get an ACK)
    closes: list[tuple[str, int | None, str]] = field(default_factory=list)  # (service, code, reason)
    recent: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=20000))  # (t, ms)
    started: float = 0.0
    send_stopped: float = 0.0
    last_received: float = 0.0

    def snapshot(self) -> Snapshot:
        now = time.perf_counter()
        window = [ms for t, ms in self.recent if now - t <= 1.0]
        return {
            "elapsed": now - self.started if self.started else 0.0,
            "sent": self.sent,
            "received": self.received,
            "in_flight": self.sent - self.received,
            "rate": len(window),
            "p50_ms": percentile(window, 50),
            "p99_ms": percentile(window, 99),
            "closes": len(self.closes),
        }


@dataclass
class BenchResult:
    config: BenchConfig
    sent: int
    received: int
    lost: int
    duplicates: int
    seconds: float  # first send → last receive
    rate: float  # received / seconds
    latency_ms: dict[str, float | None]
    ack_ms: dict[str, float | None]
    closes: list[tuple[str, int | None, str]]
    heartbeats: int = 0  # sent while measuring; ack_ms["count"] of them were ACKed

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.config.url,
            "senders": self.config.senders,
            "receivers": self.config.receivers,
            "target_rate": self.config.rate,
            "duration": self.config.duration,
            "processes": self.config.processes,
            "sent": self.sent,
            "received": self.received,
            "lost": self.lost,
            "duplicates": self.duplicates,
            "seconds": round(self.seconds, 3),
            "rate": round(self.rate, 1),
            "latency_ms": self.latency_ms,
            "heartbeats": self.heartbeats,
            "heartbeat_ack_ms": self.ack_ms,
            "closes": [{"service": s, "code": c, "reason": r} for s, c, r in self.closes],
        }


def percentile(samples: list[float], pct: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def summarize(samples: list[float]) -> dict[str, float | None]:
    return {
        "p50": percentile(samples, 50),
        "p99": percentile(samples, 99),
        "max": max(samples) if samples else None,
        "count": len(samples),
    }


class Roles:
    """Which event the bench sends and which service types send and receive it, from the protocol."""

    def __init__(self, proto: Definition):
        event = proto.event_with_routing("round_robin")
        if event is None or event.example is None:
            raise GwtoolError("the protocol has no round-robin event with an example to send")
        if not isinstance(event.example, dict):  # a definition's example is any JSON
            raise GwtoolError(f"{event.t}: its example is not a JSON object, and the bench adds a field to it")
        self.event: Event = event
        self.data: dict[str, Any] = event.example
        sender = proto.first_sender(event.t)
        receiver = next((s for s in proto.services if event.is_received_by(s)), None)
        if sender is None or receiver is None:
            raise GwtoolError(f"{event.t}: no service type may send it, or none receives it")
        self.sender, self.receiver = sender, receiver
        identified = proto.event_with_routing("identified")
        self.identified_t = identified.t if identified else None  # what benchmarks/servers.py's baseline answers IDENTIFY with

    def frame_parts(self, proto: Definition) -> tuple[bytes, bytes]:
        """The event's frame split where the bench field's values go: prefix + b"s,n,ts" + suffix."""
        data = {**self.data, MARK: "@@"}
        frame = codec.encode({"op": proto.op("EVENT"), "t": self.event.t, "d": data})
        prefix, _, suffix = frame.partition(b'"@@"')
        return prefix + b"[", b"]" + suffix


class Bench:
    """One run. ``await run()`` connects everything, sends for ``duration``, drains, and reports."""

    def __init__(self, config: BenchConfig, proto: Definition):
        self.config, self.proto = config, proto
        self.roles = Roles(proto)
        self.stats = Stats()
        self._ops = {name: proto.op(name) for name in ("HELLO", "HEARTBEAT", "HEARTBEAT_ACK", "IDENTIFY", "EVENT")}
        self._prefix, self._suffix = self.roles.frame_parts(proto)
        self._seen: list[bytearray] = [bytearray() for _ in range(config.all_senders or config.senders)]
        self._windows = [asyncio.Semaphore(config.window) for _ in range(config.senders)]
        self._stop = asyncio.Event()
        self._drained = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._conns: list[ClientConnection] = []
        self._conn_ids: dict[ClientConnection, int] = {}  # 1, 2, … in the order they opened (--log's conn)
        self._senders: list[ClientConnection] = []
        self._receivers: list[ClientConnection] = []
        self._sessions: dict[ClientConnection, ServiceSession] = {}  # the protocol's side of each (not raw)
        self._measured: dict[ClientConnection, deque[bool]] = {}  # each un-ACKed beat: sent while measuring?
        self._beat_data: dict[str, dict[str, Any]] = {}  # service type → its heartbeat data, made once
        self._closing = False  # closes after this are ours, not the gateway's

    # --- the run --------------------------------------------------------------------------------

    async def run(self) -> BenchResult:
        try:
            await self.connect()
            await self.load()
        finally:
            await self._close_all()
        return self._result()

    async def connect(self) -> None:
        """Open and identify every connection (the run's first part; ``load`` is the second)."""
        self._receivers = await self._open_many(self.roles.receiver, self.config.receivers)
        self._senders = await self._open_many(self.roles.sender, self.config.senders)
        services = list(self.proto.services)  # idle connections take every service type in turn
        for i, service in enumerate(services):
            await self._open_many(service, len(range(i, self.config.idle, len(services))))
        if not self._receivers and self._senders and not (self.config.counted_elsewhere or self.config.shared):
            raise GwtoolError("no receivers: nothing would count the events")

    async def load(self) -> None:
        """Send for ``duration``, then wait for the events still in flight."""
        self.stats.started = time.perf_counter()
        send_loops = [asyncio.create_task(self._send_loop(i, ws)) for i, ws in enumerate(self._senders)]
        await asyncio.sleep(self.config.duration)
        await self._stop_sending(send_loops)
        self.stats.send_stopped = time.perf_counter()
        if self.config.shared:
            await self._quiet()
        elif not self.config.counted_elsewhere:
            await self._drain()

    async def _quiet(self, seconds: float = 0.5) -> None:
        """Shared with other processes: nothing says which events are ours to wait for, so wait
        until none has come for ``seconds`` (at most ``drain_timeout``)."""
        deadline = time.perf_counter() + self.config.drain_timeout
        while time.perf_counter() < deadline:
            before = self.stats.received
            await asyncio.sleep(seconds)
            if self.stats.received == before:
                return

    async def close(self) -> None:
        await self._close_all()

    def export(self) -> Share:
        """This process's share of a --processes run, for ``merge`` (picklable)."""
        s = self.stats
        return {
            "sent": s.sent, "received": s.received, "latencies_ms": s.latencies_ms, "acks_ms": s.acks_ms,
            "beats": s.beats, "closes": s.closes, "started": s.started, "send_stopped": s.send_stopped,
            "last_received": s.last_received, "seen": [bytes(seen) for seen in self._seen],
        }  # fmt: skip

    async def _stop_sending(self, send_loops: list[asyncio.Task[None]]) -> None:
        """Stop the senders, waking those waiting for window room; cut off any stuck in a send."""
        self._stop.set()
        for window in self._windows:
            for _ in range(self.config.window):
                window.release()
        _, stuck = await asyncio.wait(send_loops, timeout=self.config.drain_timeout) if send_loops else ((), ())
        for task in stuck:  # the gateway stopped reading: its backpressure holds the send
            task.cancel()
        await asyncio.gather(*send_loops, return_exceptions=True)

    async def _drain(self) -> None:
        if self.stats.received - self.stats.duplicates >= self.stats.sent:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.config.drain_timeout):
                await self._drained.wait()

    def _result(self) -> BenchResult:
        s = self.stats
        unique = s.received - s.duplicates
        end = max(s.last_received, s.send_stopped)
        seconds = max(end - s.started, 1e-9)
        return BenchResult(
            config=self.config,
            sent=s.sent,
            received=unique,
            lost=s.sent - unique,
            duplicates=s.duplicates,
            seconds=seconds,
            rate=unique / seconds,
            latency_ms=summarize(s.latencies_ms),
            ack_ms=summarize(s.acks_ms),
            closes=list(s.closes),
            heartbeats=s.beats,
        )

    async def _close_all(self) -> None:
        self._closing = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        closing = [asyncio.create_task(ws.close()) for ws in self._conns]
        if closing:
            _, late = await asyncio.wait(closing, timeout=5)
            for task in late:  # a gateway too busy to finish the closing handshake
                task.cancel()
            if late:
                for ws in self._conns:
                    ws.transport.abort()
            await asyncio.gather(*closing, return_exceptions=True)

    # --- connections ------------------------------------------------------------------------------

    async def _open_many(self, service: str, count: int) -> list[ClientConnection]:
        gate = asyncio.Semaphore(self.config.connect_concurrency)

        async def one() -> ClientConnection:
            async with gate:
                return await self._open(service)

        return list(await asyncio.gather(*(one() for _ in range(count))))

    async def _open(self, service: str) -> ClientConnection:
        from websockets.asyncio.client import connect

        from gwtool.client.core import connect_error_text

        url = f"{self.config.url.rstrip('/')}/{service}" if self.config.raw else self.config.url
        try:
            ws = await connect(url, compression=None, proxy=None, max_size=None, open_timeout=OPEN_SECONDS)
        except Exception as exc:  # refused, no handshake, not a websocket …: in the client's words
            raise ConnectFailed(f"could not connect to {url}: {connect_error_text(exc, OPEN_SECONDS)}") from None
        self._conns.append(ws)
        self._conn_ids[ws] = len(self._conns)
        interval = self.config.heartbeat_interval
        if not self.config.raw:
            interval = await self._identify(ws, service)
        else:  # no protocol to speak: a session only pairs heartbeats ({} data) with the relay's ACKs
            raw = self._sessions[ws] = ServiceSession(self.proto, service, heartbeat=False, heartbeat_data=dict)
            raw.connected(time.monotonic())
        self._tasks.append(asyncio.create_task(self._read_loop(ws, service)))
        if interval:
            self._tasks.append(asyncio.create_task(self._heartbeat_loop(ws, service, interval)))
        return ws

    async def _identify(self, ws: ClientConnection, service: str) -> float:
        """HELLO → IDENTIFY → IDENTIFIED; the heartbeat interval in seconds."""
        from gwtool.client.handshake import HandshakeStalled, handshake

        session = self._sessions[ws] = ServiceSession(
            self.proto, service, token=self.config.token, heartbeat=False, handshake_timeout=IDENTIFY_SECONDS,
            heartbeat_data=lambda: self._heartbeat_data(service),
        )  # fmt: skip
        try:
            await handshake(ws, session)
        except HandshakeStalled as exc:
            raise GwtoolError(f"{self.config.url}: {exc} — is it a gateway of this protocol?") from None
        return self.config.heartbeat_interval or (session.interval_ms or self.proto.default_interval_ms) / 1000

    # --- traffic ----------------------------------------------------------------------------------

    async def _send_loop(self, index: int, ws: ClientConnection) -> None:
        from websockets.exceptions import ConnectionClosed

        rate = self.config.rate / self.config.senders if self.config.rate else 0.0
        window = self._windows[index]
        seen = self._seen[index]
        prefix, suffix = self._prefix + b"%d," % (self.config.sender_offset + index), self._suffix
        stats, stop, clock = self.stats, self._stop, time.perf_counter_ns
        log, conn, sender = self.config.log, self._conn_ids.get(ws, 0), self.roles.sender
        start = time.perf_counter()
        seq = 0
        try:
            while not stop.is_set():
                if rate:
                    burst = int((time.perf_counter() - start) * rate) + 1 - seq
                    if burst <= 0:
                        await asyncio.sleep(seq / rate - (time.perf_counter() - start))
                        continue
                else:
                    await window.acquire()
                    if stop.is_set():
                        break
                    burst = 1
                if seq + burst > len(seen):
                    seen.extend(bytes(65536 + burst))
                for _ in range(burst):
                    frame = prefix + b"%d,%d" % (seq, clock()) + suffix
                    await ws.send(frame, text=True)
                    seq += 1
                    stats.sent += 1
                    if log is not None:
                        log(Record("out", len(frame), orjson.loads(frame), conn=conn, service=sender))
        except ConnectionClosed:
            pass

    async def _read_loop(self, ws: ClientConnection, service: str) -> None:
        from websockets.exceptions import ConnectionClosed

        ops = self._ops
        log, conn = self.config.log, self._conn_ids.get(ws, 0)
        try:
            while True:
                frame = await ws.recv(decode=False)
                try:
                    payload = codec.decode(frame).payload
                except GwtoolError:
                    self.stats.foreign += 1
                    continue
                op = payload.get("op")
                if op == ops["EVENT"]:
                    self._count(payload.get("d"))
                    if log is not None:
                        log(Record("in", len(frame), payload, conn=conn, service=service))
                elif op == ops["HEARTBEAT_ACK"]:
                    self._acked(ws, payload)
                elif op == ops["HEARTBEAT"]:  # the gateway asks for one now
                    await self._heartbeat(ws, service)
        except ConnectionClosed as exc:
            if not self._closing:
                rcvd = exc.rcvd
                self.stats.closes.append((service, rcvd.code if rcvd else None, rcvd.reason if rcvd else ""))

    def _count(self, d: Any) -> None:  # an event's data as received: any JSON, read under the except below
        stats = self.stats
        try:
            sender, seq, sent_ns = d[MARK]
            if type(sender) is not int or type(seq) is not int or type(sent_ns) is not int or sender < 0 or seq < 0:
                raise ValueError("not [sender, seq, ns] as a sender writes it")
            seen = self._seen[sender]
            if seq >= len(seen) and self.config.shared and 0 <= seq < 1 << 32:  # another process's sender
                seen.extend(bytes(seq + 65536 - len(seen)))
            duplicate = seen[seq]
        except (TypeError, KeyError, ValueError, IndexError):
            stats.foreign += 1
            return
        now_ns = time.perf_counter_ns()
        stats.received += 1
        if duplicate:
            stats.duplicates += 1
            return
        seen[seq] = 1
        if not self.config.shared:  # (a shared run is open loop: no windows)
            self._windows[sender].release()
        ms = (now_ns - sent_ns) / 1e6
        stats.latencies_ms.append(ms)
        stats.last_received = now_ns / 1e9
        stats.recent.append((stats.last_received, ms))
        if stats.send_stopped and stats.received - stats.duplicates >= stats.sent:
            self._drained.set()

    # --- heartbeats -------------------------------------------------------------------------------

    async def _heartbeat_loop(self, ws: ClientConnection, service: str, interval: float) -> None:
        from websockets.exceptions import ConnectionClosed

        await asyncio.sleep(random.uniform(0.05, 0.9) * interval)  # spread the first beats out
        try:
            while True:
                await self._heartbeat(ws, service)
                await asyncio.sleep(interval)
        except ConnectionClosed:
            pass

    def _heartbeat_data(self, service: str) -> dict[str, Any]:
        if service not in self._beat_data:
            self._beat_data[service] = heartbeat_payload(self.proto, service)["d"]
        return self._beat_data[service]

    async def _heartbeat(self, ws: ClientConnection, service: str) -> None:
        session = self._sessions.get(ws)
        now = time.monotonic()
        if session is None:  # (not connected yet)
            return
        beat = session.heartbeat(now).payload
        if self.stats.started:
            self.stats.beats += 1
        self._measured.setdefault(ws, deque()).append(self.stats.started > 0)
        await ws.send(codec.encode(beat), text=True)

    def _acked(self, ws: ClientConnection, payload: dict[str, Any]) -> None:
        session = self._sessions.get(ws)
        if session is None:
            return
        for action in session.receive(payload, time.monotonic()):
            measured = self._measured.get(ws)
            if isinstance(action, Ack) and action.latency_ms is not None and measured:
                if measured.popleft():  # the ACK of a beat sent while measuring (not while connecting)
                    self.stats.acks_ms.append(action.latency_ms)


def dumps(result: BenchResult) -> str:
    return orjson.dumps(result.to_json(), option=orjson.OPT_INDENT_2).decode()


# --- one run over several processes (--processes) ---------------------------------------------------


def split(total: int, parts: int) -> list[int]:
    """``total`` as ``parts`` near-equal counts: 10 over 3 → [4, 3, 3]."""
    return [total // parts + (i < total % parts) for i in range(parts)]


def shares(config: BenchConfig, processes: int) -> list[BenchConfig]:
    """Each process's part of the run: its senders (numbered globally), receivers, idle and rate."""
    from dataclasses import replace

    senders, receivers, idle = split(config.senders, processes), split(config.receivers, processes), split(config.idle, processes)
    out, offset = [], 0
    for i in range(processes):
        rate = config.rate * senders[i] / config.senders if config.senders else 0.0
        out.append(replace(config, senders=senders[i], receivers=receivers[i], idle=idle[i], rate=rate, sender_offset=offset,
                           all_senders=config.senders, shared=True, log=None))  # fmt: skip
        offset += senders[i]
    return out


def merge(config: BenchConfig, parts: list[Share]) -> BenchResult:
    """One result from every process's ``export``: an event counts once, whichever process got it."""
    sent = sum(p["sent"] for p in parts)
    received = sum(p["received"] for p in parts)
    unique = 0
    for sender in range(config.senders):
        arrays = [p["seen"][sender] for p in parts if sender < len(p["seen"]) and p["seen"][sender]]
        if arrays:
            width = max(len(a) for a in arrays)
            combined = 0
            for a in arrays:
                combined |= int.from_bytes(a.ljust(width, b"\0"), "big")
            unique += combined.to_bytes(width, "big").count(1)
    started = min((p["started"] for p in parts if p["started"]), default=0.0)  # one monotonic clock per machine
    end = max(max(p["last_received"], p["send_stopped"]) for p in parts)
    seconds = max(end - started, 1e-9)
    latencies = [ms for p in parts for ms in p["latencies_ms"]]
    acks = [ms for p in parts for ms in p["acks_ms"]]
    return BenchResult(
        config=config, sent=sent, received=unique, lost=sent - unique, duplicates=received - unique, seconds=seconds,
        rate=unique / seconds, latency_ms=summarize(latencies), ack_ms=summarize(acks),
        closes=[c for p in parts for c in p["closes"]], heartbeats=sum(p["beats"] for p in parts),
    )  # fmt: skip


def _process_main(config: BenchConfig, protocol: str | None, barrier: Barrier, results: Queue[tuple[str, Any]]) -> None:
    """One process of a --processes run: connect, wait for the others, load, report."""
    from gwtool.loop import run_on_fast_loop
    from gwtool.protocol.definition import load_protocol

    async def main() -> Share:
        bench = Bench(config, load_protocol(protocol, use_env=False))
        try:
            await bench.connect()
            await asyncio.to_thread(barrier.wait, 60)  # everyone connected: the sending starts together
            await bench.load()
        finally:
            await bench.close()
        return bench.export()

    try:
        results.put(("ok", run_on_fast_loop(main())))
    except ClosedByGateway as exc:  # the parent raises it again: exit 3, as in one process
        barrier.abort()
        results.put(("closed", (str(exc), exc.code, exc.name, exc.reason)))
    except BaseException as exc:  # the parent says what went wrong, once
        barrier.abort()
        results.put(("error", f"{type(exc).__name__}: {exc}" if not isinstance(exc, GwtoolError) else str(exc)))


def run_processes(config: BenchConfig, protocol: str | None, processes: int) -> BenchResult:
    """The run spread over ``processes`` local processes (blocking: call it in a thread)."""
    import multiprocessing

    config.processes = processes
    if config.rate <= 0:
        raise GwtoolError(
            "--processes needs --rate: as fast as possible (--rate 0) waits for each event in the process that sent it"
        )
    context = multiprocessing.get_context("spawn")  # a fresh interpreter each: no loop or thread inherited
    barrier, results = context.Barrier(processes), context.Queue()
    children = [context.Process(target=_process_main, args=(part, protocol, barrier, results), daemon=True)
                for part in shares(config, processes)]  # fmt: skip
    for child in children:
        child.start()
    try:
        outcomes = [results.get(timeout=config.duration + config.drain_timeout + 120) for _ in children]
    finally:
        for child in children:
            child.join(5)
            if child.is_alive():
                child.kill()
    if closed := [details for kind, details in outcomes if kind == "closed"]:
        raise ClosedByGateway(*closed[0])
    errors = [text for kind, text in outcomes if kind == "error"]
    if errors:
        raise GwtoolError(f"a bench process failed: {errors[0]}")
    return merge(config, [data for _, data in outcomes])
