"""``gwtool check gateway --fuzz N``: generated cases, judged by sets of acceptable outcomes.

Each case is a group ``fuzz.<kind>.<fault>`` (``generate.py``): Hypothesis draws its examples with a
seed derived from ``--seed`` and the group's id, so a group draws the same examples whichever
others run. Every example goes to the gateway and is judged at once; the first that fails is
shrunk (Hypothesis runs smaller ones against the gateway) to the smallest payload that still fails.

Speed: the groups run concurrently, each search in a thread of its own that hands each example to
the event loop. Valid heartbeats, events and cache payloads reuse one identified connection per
group; each mutant, expected to be closed, gets a fresh one. Valid events and cache payloads run
after everything else (so no other connection of ours takes an event, and cache keys are not
written by two groups at once): events concurrently, cache types one after another.
"""

from __future__ import annotations

import asyncio
import threading
import time
import zlib
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from gwtool.check.cases import Case, Failed, Skipped
from gwtool.check.generate import (
    FAULTS,
    Example,
    Expected,
    Found,
    Generator,
    Kind,
    fault_closes,
    groups,
    named,
    reproducer,
    rest_path,
    search,
    shares,
    targets,
    warm_up,
)
from gwtool.check.probe import WAIT, Closed, Frame, Probe
from gwtool.protocol.definition import Definition, Structure
from gwtool.protocol.examples import heartbeat_payload
from gwtool.text import plural, printable

if TYPE_CHECKING:
    from gwtool.check.gateway_suite import GatewayContext

T = TypeVar("T")
WORKERS = 6  # searches at once: enough to keep a gateway busy, few enough for the GIL
SHOWN_PAYLOAD = 400  # characters of a shrunk payload in the report line (--json has it whole)


@dataclass(frozen=True)
class Group:
    kind: Kind
    fault: str
    seed: int
    budget: int = 0  # its share of --fuzz N, once the selected groups are known

    @property
    def id(self) -> str:
        return f"fuzz.{self.kind.id}.{self.fault}"

    @property
    def later(self) -> bool:
        """Valid events and cache payloads: judged after the rest (see the module's doc)."""
        return self.fault == "valid" and self.kind.op in ("EVENT", "CACHE")


def group_seed(seed: int, group_id: str) -> int:
    return zlib.crc32(f"{seed}:{group_id}".encode())


class GatewayFuzz:
    """The generated cases of one run: ``cases()`` for the suite, ``select(ids)`` once the user's
    --only / --skip are known (only those groups run)."""

    def __init__(self, proto: Definition, budget: int, seed: int):
        self.proto, self.budget, self.seed = proto, budget, seed
        self.groups = [Group(kind, fault, group_seed(seed, f"fuzz.{kind.id}.{fault}")) for kind, fault in groups(proto)]
        self.select({g.id for g in self.groups})
        self.on_example: Callable[[], None] | None = None  # called on the event loop for every example judged
        self._run: asyncio.Future[dict[str, Found | str | Exception]] | None = None
        self._stop = threading.Event()  # set when the check stops: each search ends (_Stopped)
        self.elapsed_ms: dict[str, float] = {}  # each group's own time, from its search's start to its end

    def select(self, ids: set[str]) -> None:
        """Run only these groups: --fuzz N is spread over them (at least one example each)."""
        chosen = [g.id for g in self.groups if g.id in ids]
        budget = dict(zip(chosen, shares(self.budget, len(chosen))))
        self.groups = [replace(g, budget=max(1, budget.get(g.id, 0))) for g in self.groups]
        self.selected = set(chosen)

    @property
    def examples(self) -> int:
        return sum(g.budget for g in self.groups if g.id in self.selected)

    def cases(self) -> list[Case[GatewayContext]]:
        return [self._case(g) for g in self.groups]

    def _case(self, group: Group) -> Case[GatewayContext]:
        kind, fault = group.kind, group.fault
        title = f"{kind.id}: {FAULTS[fault]}"
        expected = _expected_text(self.proto, kind, fault)

        async def run(ctx: GatewayContext) -> str:
            if self._run is None:
                self._run = asyncio.ensure_future(self._run_all(ctx))
            try:
                outcome = (await asyncio.shield(self._run))[group.id]
            except asyncio.CancelledError:  # Ctrl-C: the searches stop at their next payload
                self._stop.set()
                raise
            if isinstance(outcome, str):
                raise Skipped(outcome)
            if isinstance(outcome, Exception):
                raise Failed(f"the search stopped: {type(outcome).__name__}: {printable(str(outcome))}")
            if outcome.failure is None:
                return f"{plural(outcome.tried, 'payload')} (seed {self.seed}), each {expected}"
            raise _failure(ctx, group, self.seed, outcome)

        return Case(group.id, title, expected, _WHY[fault], run, timeout=3600.0, own_ms=lambda: self.elapsed_ms.get(group.id))

    async def _run_all(self, ctx: GatewayContext) -> dict[str, Found | str | Exception]:
        loop = asyncio.get_running_loop()
        chosen = [g for g in self.groups if g.id in self.selected]
        results: dict[str, Found | str | Exception] = {}
        deliveries = Deliveries(ctx)
        generator = Generator(ctx.proto, ctx.max_size, ctx.token_sent)
        stop = self._stop
        await asyncio.to_thread(warm_up, generator)  # one thread: see warm_up
        judges: list[Judge] = []
        pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="gwtool-fuzz")

        searching: set[asyncio.Future[Found]] = set()

        async def run(group: Group) -> None:
            started = time.perf_counter()
            judge = Judge(ctx, group, deliveries, self.on_example)
            judges.append(judge)
            search = loop.run_in_executor(pool, _search, generator, group, judge, loop, stop)
            searching.add(search)
            try:
                results[group.id] = await search
            except _Stopped:
                results[group.id] = "stopped"
            except Skipped as exc:
                results[group.id] = str(exc)
            except Exception as exc:  # this group's search broke: its case fails, the others keep their results
                results[group.id] = exc
            finally:
                if not (group.later and group.kind.op == "EVENT"):
                    await judge.close()  # a valid event's connections stay: another's events may reach them
                self.elapsed_ms[group.id] = (time.perf_counter() - started) * 1000

        async def in_turn(todo: list[Group]) -> None:
            for group in todo:
                await run(group)

        try:
            await asyncio.gather(*(run(g) for g in chosen if not g.later))
            await deliveries.check_alone([g.kind for g in chosen if g.later and g.kind.op == "EVENT"])
            await asyncio.gather(
                *(run(g) for g in chosen if g.later and g.kind.op == "EVENT"),
                in_turn([g for g in chosen if g.later and g.kind.op == "CACHE"]),
            )
        finally:
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
            if running := [f for f in searching if not f.done()]:  # Ctrl-C: let each search see ``stop``
                await asyncio.wait(running, timeout=2.0)
            if judging := [t for judge in judges for t in judge.judging]:
                for task in judging:
                    task.cancel()
                await asyncio.wait(judging, timeout=2.0)
            await asyncio.gather(*(judge.close() for judge in judges))
            await deliveries.close()
        return results


class _Stopped(BaseException):
    """The check is stopping (Ctrl-C): a BaseException, so that Hypothesis does not shrink it."""


def _search(generator: Generator, group: Group, judge: Judge, loop: asyncio.AbstractEventLoop, stop: threading.Event) -> Found:
    """One group's search, in a worker thread: each example is judged on the event loop."""

    def on_loop(coroutine: Coroutine[Any, Any, T]) -> T:
        if stop.is_set():
            coroutine.close()
            raise _Stopped
        future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        while True:  # waits in short steps, to notice the check stopping
            if stop.is_set():  # the loop cancels the coroutine as it ends
                raise _Stopped
            try:
                return future.result(timeout=0.25)
            except FutureTimeout:
                continue

    def judged(example: Example) -> str | None:
        return on_loop(judge.judge(example))

    if (skipped := on_loop(judge.ready())) is not None:
        raise Skipped(skipped)
    aims = targets(generator.proto, group.kind, group.fault)
    tried = 0
    for aim, share in zip(aims, shares(group.budget, len(aims))):
        if share:
            seed = group_seed(group.seed, f"{aim[0]}:{aim[1]}")
            found = search(generator.examples(group.kind, group.fault, aim), share, seed, judged)
            tried += found.tried
            if found.failure is not None:
                return replace(found, tried=tried)
    return Found(tried)


def _failure(ctx: GatewayContext, group: Group, seed: int, found: Found) -> Failed:
    example = found.failure
    assert example is not None
    text = example.text()
    shown = printable(text if len(text) <= SHOWN_PAYLOAD else text[: SHOWN_PAYLOAD - 1] + "…")
    command = reproducer(example, ctx.url, ctx.token is not None)
    where = f"{example.path} ({group.fault})" if example.path else group.fault
    flaky = " (flaky: it did not fail again when re-run)" if found.flaky else ""
    expected = example.expected.describe(ctx.proto)
    got = (
        f"{where}: got {found.got}; expected {expected}{flaky} · sent as {example.sender}: {shown} · "
        f"seed {seed}, {plural(found.tried, 'payload')} tried · reproduce: {command}"
    )
    detail = {
        "seed": seed, "group_seed": group.seed, "field": example.path, "fault": group.fault, "sender": example.sender,
        "payload": text, "expected": expected, "got": found.got, "reproduce": command, "tried": found.tried, "flaky": found.flaky,
    }  # fmt: skip
    return Failed(got, detail)


def _expected_text(proto: Definition, kind: Kind, fault: str) -> str:
    if fault == "valid":
        return {
            "HEARTBEAT": "ACKed, the connection open", "IDENTIFY": "IDENTIFIED",
            "EVENT": "delivered unchanged to a receiver", "CACHE": "read back equal from REST",
        }[kind.op]  # fmt: skip
    service_field = fault == "bad-format" and kind.op == "IDENTIFY"
    closes = Expected(fault_closes(fault, service_field=service_field)).describe(proto)
    if fault == "not-allowed":
        return closes + (f" naming {kind.t}" if kind.t else "")
    if fault == "wrong-op":
        return closes
    return closes + (" naming the field" if service_field else " naming the broken field")


_WHY = {
    "valid": "a gateway that refuses or changes a valid payload breaks the services that send it",
    "missing": "receivers must never get data that breaks a table; the reason names the field",
    "wrong-type": "receivers must never get data that breaks a table; the reason names the field",
    "null": "a null where the table has none crashes a receiver that trusts the table",
    "int-range": "an integer past 64 bits is a double to most readers: it must not pass as an integer",
    "not-snowflake": "ids are strings of digits; anything else breaks the services that parse them",
    "bad-format": "timestamps, discriminators, choices and service types have a form of their own",
    "unknown-type": "a typo in t or type must be named, not routed nowhere or cached under nothing",
    "not-allowed": "only the types the definition allows may send it",
    "wrong-op": "op is what every payload is dispatched on",
}


# --- judging one example ------------------------------------------------------------------------


class Live:
    """An identified connection a group reuses for its valid payloads, kept alive between them.
    One reader takes every frame: ACKs are counted (an ACK answers the payload just sent, not an
    earlier beat) and events routed to it are handed on (``on_event``), wherever they were meant."""

    def __init__(self, ctx: GatewayContext, service: str, probe: Probe, on_event: Callable[[dict[str, Any]], None]):
        self.ctx, self.service, self.probe, self.on_event = ctx, service, probe, on_event
        self.lock = asyncio.Lock()
        self.beats = self.acks = 0
        self.closed: Closed | None = None
        self._changed = asyncio.Event()
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._keep())]

    async def send_and_confirm(self, text: str) -> None:
        """Send ``text`` and a heartbeat; return once the gateway ACKed it (Failed on a close)."""
        async with self.lock:
            await self.probe.send(text)
            await self._roundtrip()

    async def _roundtrip(self) -> None:
        await self.probe.send(heartbeat_payload(self.ctx.proto, self.service))
        self.beats += 1
        deadline = time.monotonic() + WAIT
        while True:
            self._changed.clear()
            if self.acks >= self.beats:
                return
            if self.closed is not None:
                raise Failed(self.closed.describe(self.ctx.proto))
            try:
                async with asyncio.timeout(max(deadline - time.monotonic(), 0.001)):
                    await self._changed.wait()
            except TimeoutError:
                raise Failed(f"no ACK within {WAIT:g} s, and no close") from None

    async def _read(self) -> None:
        ack, event = self.ctx.proto.op("HEARTBEAT_ACK"), self.ctx.proto.op("EVENT")
        while True:
            frame = await self.probe.next(1.0)
            if isinstance(frame, Closed):
                self.closed = frame
                self._changed.set()
                return
            payload = frame.payload if frame is not None else None
            if payload is not None and payload.get("op") == ack:
                self.acks += 1
                self._changed.set()
            elif payload is not None and payload.get("op") == event:
                self.on_event(payload)

    async def _keep(self) -> None:
        every = max(self.ctx.interval_ms / 3000, 0.05) if self.ctx.interval_ms else 10.0
        while self.closed is None:
            await asyncio.sleep(every)
            if not self.lock.locked():
                async with self.lock:
                    try:
                        await self._roundtrip()
                    except Failed:
                        return

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.probe.close()


class Judge:
    """Sends one group's examples and judges what comes of each (None: as expected)."""

    def __init__(self, ctx: GatewayContext, group: Group, deliveries: Deliveries, on_example: Callable[[], None] | None):
        self.ctx, self.group, self.deliveries, self.on_example = ctx, group, deliveries, on_example
        self.live: dict[str, Live] = {}
        self.judging: set[asyncio.Task[Any]] = set()  # examples being judged (cancelled on Ctrl-C)

    async def ready(self) -> str | None:
        """Why this group cannot run here (a skip), or None."""
        if self.group.later and self.group.kind.op == "EVENT":
            return self.deliveries.skip_reason(self.group.kind)
        return None

    async def judge(self, example: Example) -> str | None:
        task = asyncio.current_task()
        if task is not None:
            self.judging.add(task)
        try:
            if example.expected.accepted:
                return await self._valid(example)
            return _verdict(self.ctx, await self._refused(example), example.expected)
        except Failed as exc:
            return str(exc)
        except Exception as exc:  # the gateway did something no case foresaw: that is what came
            return f"{type(exc).__name__}: {exc}"
        finally:
            self.judging.discard(task)
            if self.on_example is not None:
                self.on_example()

    async def _refused(self, example: Example) -> Closed | str:
        """A fresh connection: IDENTIFY (unless the mutant is one), the mutant, a heartbeat; then the
        close, or what showed the gateway took it (an ACK, IDENTIFIED)."""
        proto = self.ctx.proto
        async with self.ctx.probe() as p:
            if example.kind.op == "IDENTIFY":
                await p.hello()
                await p.send(example.text())
            else:
                await p.identify(example.sender, self.ctx.token_sent)
                await p.send(example.text())
                await p.send(heartbeat_payload(proto, example.sender))
            return await _answer(p, proto)

    async def _valid(self, example: Example) -> str | None:
        op = example.kind.op
        if op == "IDENTIFY":
            async with self.ctx.probe() as p:
                await p.hello()
                await p.send(example.text())
                answer = await _answer(p, self.ctx.proto)
            return None if answer == _IDENTIFIED else _not_accepted(self.ctx, answer)
        live = await self._live(example.sender)
        waiting = self.deliveries.expect(example.kind, example.payload["d"]) if op == "EVENT" else None
        try:
            await live.send_and_confirm(example.text())
        except Failed as exc:
            self.live.pop(example.sender, None)
            await live.close()
            return f"closed: {exc}"
        if waiting is not None:
            return await self.deliveries.arrival(example.kind, waiting)
        if op == "CACHE":
            return await _read_back(self.ctx, example)
        return None

    async def _live(self, service: str) -> Live:
        if service not in self.live:
            p, _ = await self.ctx.identified(service)
            self.live[service] = Live(self.ctx, service, p, self.deliveries.arrived)
        return self.live[service]

    async def close(self) -> None:
        await asyncio.gather(*(live.close() for live in self.live.values()))
        self.live.clear()


_IDENTIFIED = "accepted: IDENTIFIED came"
_ACKED = "accepted: the heartbeat after it was ACKed, the connection open"


async def _answer(p: Probe, proto: Definition) -> Closed | str:
    """The close, or what showed the payload was taken, whichever comes first (bounded)."""
    ack, event = proto.op("HEARTBEAT_ACK"), proto.op("EVENT")
    identified = proto.event_with_routing("identified")
    deadline = time.monotonic() + WAIT
    while True:
        frame = await p.next(max(deadline - time.monotonic(), 0.001))
        if isinstance(frame, Closed):
            return frame
        if frame is None:
            return f"no close and no answer within {WAIT:g} s"
        payload = frame.payload or {}
        if payload.get("op") == ack:
            return _ACKED
        if identified is not None and payload.get("op") == event and payload.get("t") == identified.t:
            return _IDENTIFIED


def _verdict(ctx: GatewayContext, answer: Closed | str, expected: Expected) -> str | None:
    if not isinstance(answer, Closed):
        return answer
    got = answer.describe(ctx.proto)
    names = [name for name in expected.closes if ctx.proto.close(name).code == answer.code]
    if not names:
        return got
    if expected.path is not None and names[0] in expected.path_closes and not named(answer.reason, expected.path):
        return f"{got} (the reason does not name {expected.path})"
    return None


def _not_accepted(ctx: GatewayContext, answer: Closed | str) -> str:
    return answer.describe(ctx.proto) if isinstance(answer, Closed) else answer


# --- where valid payloads must arrive ---------------------------------------------------------------


@dataclass
class _Receiver:
    probe: Probe
    reader: asyncio.Task[None]
    beater: asyncio.Task[None]
    closed: Closed | None = None


@dataclass
class Deliveries:
    """One receiver connection per receiving service type, reading everything routed to it, and
    the valid events waiting to arrive (matched by t and d, so nothing need be added to d) at any
    connection of the check (a sender of one event may be a receiver of another)."""

    ctx: GatewayContext
    receivers: dict[str, _Receiver] = field(default_factory=dict)
    waiting: dict[tuple[str, bytes], list[asyncio.Future[None]]] = field(default_factory=dict)
    others: dict[str, str] = field(default_factory=dict)  # event → why its valid group is skipped
    last_seen: dict[str, Any] = field(default_factory=dict)  # t → the d that last arrived unmatched

    def receiver_type(self, kind: Kind) -> str | None:
        event = self.ctx.proto.events[kind.t or ""]
        return next((s for s in self.ctx.proto.services if event.is_received_by(s)), None)

    async def check_alone(self, kinds: list[Kind]) -> None:
        """Skip an event's valid group when services not ours would take turns receiving it."""
        from gwtool.check.gateway_suite import _others_connected

        for kind in kinds:
            receiver = self.receiver_type(kind)
            if receiver is not None and (others := await _others_connected(self.ctx, receiver)):
                self.others[kind.id] = (
                    f"{plural(others, receiver + ' service')} already connected: they would take turns receiving"
                )
                continue
            if receiver is not None and receiver not in self.receivers:
                p, _ = await self.ctx.identified(receiver)
                rx = _Receiver(p, asyncio.create_task(self._read(receiver, p)), asyncio.create_task(self._beat(receiver, p)))
                self.receivers[receiver] = rx

    def skip_reason(self, kind: Kind) -> str | None:
        return self.others.get(kind.id)

    def expect(self, kind: Kind, d: Any) -> asyncio.Future[None] | None:
        if self.receiver_type(kind) is None:
            return None  # nobody receives it: accepted is all there is to see
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.setdefault((kind.t or "", _canonical(d)), []).append(future)
        return future

    async def arrival(self, kind: Kind, future: asyncio.Future[None]) -> str | None:
        try:
            await asyncio.wait_for(asyncio.shield(future), WAIT)
            return None
        except TimeoutError:
            future.cancel()
            receiver = self.receivers.get(self.receiver_type(kind) or "")
            if receiver is not None and receiver.closed is not None:
                return f"the receiver was closed: {receiver.closed.describe(self.ctx.proto)}"
            seen = self.last_seen.pop(kind.t or "", None)
            if seen is not None:
                return f"it arrived changed: d = {printable(orjson.dumps(seen).decode())[:200]}"
            return f"not delivered to the {self.receiver_type(kind)} within {WAIT:g} s"

    async def _read(self, service: str, p: Probe) -> None:
        event_op = self.ctx.proto.op("EVENT")
        while True:
            frame = await p.next(1.0)
            if isinstance(frame, Closed):
                self.receivers[service].closed = frame
                return
            if isinstance(frame, Frame) and frame.payload is not None and frame.payload.get("op") == event_op:
                self.arrived(frame.payload)

    def arrived(self, payload: dict[str, Any]) -> None:
        """An event reached one of the check's connections: the valid event it is, if one waits."""
        t, d = payload.get("t"), payload.get("d")
        futures = self.waiting.get((str(t), _canonical(d)), [])
        while futures and futures[0].done():
            futures.pop(0)
        if futures:
            futures.pop(0).set_result(None)
        elif str(t) in self.ctx.proto.events:  # (a hostile gateway's made-up types would grow it without bound)
            self.last_seen[str(t)] = d

    async def _beat(self, service: str, p: Probe) -> None:
        every = max(self.ctx.interval_ms / 3000, 0.05) if self.ctx.interval_ms else 10.0
        while True:
            await p.send(heartbeat_payload(self.ctx.proto, service))
            await asyncio.sleep(every)

    async def close(self) -> None:
        for rx in self.receivers.values():
            rx.reader.cancel()
            rx.beater.cancel()
        await asyncio.gather(*(rx.probe.close() for rx in self.receivers.values()))
        self.receivers.clear()


def _canonical(d: Any) -> bytes:
    try:
        return orjson.dumps(d, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return b""


# --- reading cache entities back ----------------------------------------------------------------------


async def _read_back(ctx: GatewayContext, example: Example) -> str | None:
    """Every entity of a valid CACHE (its nested parts too) is served by REST as it was sent."""
    expected: dict[str, list[dict[str, Any]]] = {}
    _entities(ctx.proto, example.kind.cache_type or "", example.payload["d"], expected)
    for path, candidates in expected.items():
        status, body = await ctx.get(path)
        if status != 200:
            return f"GET {path} → {status}"
        if body not in candidates:
            return f"GET {path} → an entity other than the one sent: {printable(orjson.dumps(body).decode())[:200]}"
    return None


def _entities(proto: Definition, cache_type: str, data: Any, out: dict[str, list[dict[str, Any]]]) -> None:
    """REST path → the entities a CACHE of ``data`` may leave there (two with one key: either)."""
    structure = proto.cache_types[cache_type]
    for entity in data if isinstance(data, list) else [data]:
        if not isinstance(entity, dict):
            continue
        path = rest_path(cache_type, entity, structure.key)
        out.setdefault(path, []).append(entity)
        for name, item_type in _nested(proto, structure):
            children = entity.get(name)
            if isinstance(children, list):
                _entities(proto, item_type, children, out)


def _nested(proto: Definition, structure: Structure) -> list[tuple[str, str]]:
    out = []
    for name in structure.nested:
        expr = next((f.type for f in structure.fields if f.path == name), None)
        while expr is not None and expr.item is not None:
            expr = expr.item
        if expr is not None and expr.name in proto.cache_types:
            out.append((name, expr.name))
    return out
