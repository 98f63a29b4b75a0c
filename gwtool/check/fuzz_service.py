"""``gwtool check service --fuzz N``: valid events of every shape the service's type may receive.

One scenario: the service identifies, then a sender of our own sends it, event type by event type,
the event with every combination of its optional fields, the events ``generate.py`` draws from the
event's table (optional fields present and absent, any unicode, the 64-bit limits, long strings)
and one large one. After each type's events the service
must still be connected and heartbeating (two heartbeats), and its process alive: a case
``fuzz.event.<T>.valid`` each, with the exit status and the tail of its stderr when it is not.
A service is not re-run per example, so a failure is not shrunk: the report names the last
events delivered before it went.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

from gwtool.check.cases import Case, Skipped
from gwtool.check.generate import Example, Expected, Generator, Kind, kinds, sample
from gwtool.check.probe import Probe
from gwtool.check.service_suite import Run, ServiceContext, Session, _case, close_text
from gwtool.protocol.definition import Definition
from gwtool.protocol.examples import example_data, heartbeat_payload
from gwtool.protocol.validate import validate_payload
from gwtool.text import plural, printable

CHUNK = 20  # events sent before the sender's heartbeat round trip (pacing, and its own keep-alive)
LARGE = 256 << 10  # characters of the large event's longest string
AFTER_BEATS = 2  # the service's heartbeats that must come after the last event of a type
MAX_OPTIONAL = 6  # optional fields whose every combination is sent (2^6 events)
EXIT_WAIT_S = 2.0  # after its connection closed, how long the process has to exit (for its status)


def service_fuzz_cases(proto: Definition, budget: int, seed: int) -> list[Case[ServiceContext]]:
    """A case per event some service type sends to another: skipped for a type that does not receive it."""
    events = [k for k in kinds(proto) if k.t is not None and k.senders and proto.events[k.t].routing != "identified"]
    cases = []
    for kind in events:
        t = kind.t or ""

        def grade(ctx: ServiceContext, run: Run, t: str = t) -> str:
            return _grade(ctx, run, t, seed)

        cases.append(_case(
            f"fuzz.event.{t}.valid", f"it takes {t} events of every shape the table allows",
            f"connected, {AFTER_BEATS} heartbeats after the last, process alive",
            "a worker that crashes on an optional field, a long string or a 64-bit id drops real work",
            "fuzz", _deliver(budget, seed), grade,
        ))  # fmt: skip
    return cases


def _deliver(budget: int, seed: int) -> Any:
    async def play(session: Session) -> None:
        ctx = session.ctx
        proto = ctx.proto
        receivable = [
            k for k in kinds(proto)
            if k.t is not None and k.senders and proto.events[k.t].routing != "identified" and proto.events[k.t].is_received_by(ctx.service)
        ]  # fmt: skip
        if not receivable:
            return
        per_type = max(1, budget // len(receivable))
        generator = Generator(proto, token=ctx.token)
        drawn = {
            k.t: await asyncio.to_thread(sample, generator.examples(k, "valid"), per_type, seed) for k in receivable
        }  # drawn before the run, off the event loop: heartbeats go on meanwhile
        conn = await session.identify()
        senders: dict[str, Probe] = {}
        beating: list[asyncio.Task[None]] = []
        try:
            for kind in receivable:
                t = kind.t or ""
                examples = [*_combinations(proto, kind), *drawn[t], *_large(drawn[t])]
                session.marks[f"{t}:sent"] = 0
                for i, example in enumerate(examples):
                    if conn.closed or session.exited:
                        break
                    sender = senders.get(example.sender)
                    if sender is None:
                        sender = senders[example.sender] = Probe(session.gateway.url, proto)
                        await sender.__aenter__()
                        await sender.identify(example.sender, ctx.token)
                        beating.append(asyncio.create_task(_keep_alive(sender, example.sender, ctx.interval)))
                    text = example.text()
                    await sender.send(text)
                    session.marks[f"{t}:sent"] += 1
                    session.marks[f"{t}:last"] = text
                    session.marks[f"{t}:largest"] = max(session.marks.get(f"{t}:largest", 0), len(text.encode()))
                    if i % CHUNK == CHUNK - 1:
                        await sender.heartbeat(example.sender)  # the gateway has read them: pacing
                ended = time.time()
                session.marks[f"{t}:ended"] = ended

                def settled(ended: float = ended) -> bool:
                    return bool(conn.closed) or len([b for b in conn.beats if b > ended]) >= AFTER_BEATS

                await session.until(settled, ctx.interval * (AFTER_BEATS + 1) + 1)
                if conn.closed:  # a service that went may be exiting: its status says more than the close
                    await session.until(lambda: session.exited, EXIT_WAIT_S)
                session.marks[f"{t}:exit"] = session.process.returncode if session.process is not None else None
        finally:
            for task in beating:
                task.cancel()
            await asyncio.gather(*(p.close() for p in senders.values()))

    return play


async def _keep_alive(sender: Probe, service: str, interval: float) -> None:
    """The sender heartbeats while the service is watched (its ACKs are left unread)."""
    while True:
        await asyncio.sleep(interval / 2)
        await sender.send(heartbeat_payload(sender.proto, service))


def _combinations(proto: Definition, kind: Kind) -> list[Example]:
    """The event's example data with each combination of its optional top-level fields (up to
    2^MAX_OPTIONAL of them) present, from the definition's own example values."""
    fields = kind.fields
    full = example_data(proto, fields, optional=True)
    optional = [f.name for f in fields if "." not in f.path and f.optional and f.name in full][:MAX_OPTIONAL]
    required = {k: v for k, v in full.items() if k not in optional}
    out = []
    for present in itertools.product((False, True), repeat=len(optional)):
        d = {**required, **{name: full[name] for name, there in zip(optional, present) if there}}
        payload = {"op": proto.op("EVENT"), "t": kind.t, "d": d}
        if not validate_payload(proto, payload, service=kind.senders[0]):
            out.append(Example(kind, "valid", kind.senders[0], payload, Expected(accepted=True)))
    return out


def _large(examples: list[Example]) -> list[Example]:
    """One event with its first string field made long (unicode), near the size a gateway allows."""
    for example in examples:
        d = example.payload.get("d")
        if not isinstance(d, dict):
            continue
        name = next((k for k, v in d.items() if isinstance(v, str)), None)
        if name is not None:
            payload = {**example.payload, "d": {**d, name: "é" * LARGE}}
            return [Example(example.kind, example.fault, example.sender, payload, example.expected)]
    return []


def _grade(ctx: ServiceContext, run: Run, t: str, seed: int) -> str:
    event = ctx.proto.events[t]
    if not event.is_received_by(ctx.service):
        raise Skipped(f"{t} is not routed to {ctx.service}")
    conn = next((c for c in run.conns if c.identified), None)
    if conn is None:
        raise run.fail(run.error or "never identified")
    sent = run.marks.get(f"{t}:sent")
    if sent is None:
        raise run.fail(f"no {t} delivered: the service had gone before (a case before this one says how)")
    ended = run.marks.get(f"{t}:ended", run.ended)
    after = [b for b in conn.beats if b > ended]
    close = run.close_of(conn)
    status = run.marks.get(f"{t}:exit")
    last = printable(str(run.marks.get(f"{t}:last", "")))
    last = last if len(last) <= 300 else last[:299] + "…"
    if close or status is not None or len(after) < AFTER_BEATS:
        what = f"{plural(len(after), 'heartbeat')} after the last" if not close else close_text(close)
        if status is not None:
            what = f"exited with status {status} ({what})"
        raise run.fail(f"after {plural(sent, t + ' event')} (seed {seed}): {what}; the last sent: {last}")
    largest = run.marks.get(f"{t}:largest", 0)
    return f"{plural(sent, t + ' event')} (seed {seed}, the largest {largest:,} bytes), then {len(after)} heartbeats"
