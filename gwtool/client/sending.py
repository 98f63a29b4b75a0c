"""Runs of sends on a GatewayClient: paced, confirmed, and counted when cut short.

``send`` identifies, sends a payload ``repeat`` times at most ``rate`` a second, confirms them with
a heartbeat round trip (the gateway handles a connection's payloads in order, so its ACK means it
took everything sent before), then waits for a reply event. ``replay`` sends a recording's payloads
with their recorded spacing. A run cut short says how far it got: a refusal (ClosedByGateway) or
a lost connection (LostMidway) carry how many were written and how many confirmed, and ``stop``
(Ctrl-C in the CLI, a button in a dashboard) ends it with Interrupted, saying the same.

The client is run for the call and closed at its end; its Records and Notices go to its
subscribers as ever, so a front end renders them and the outcome, nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gwtool.client.core import GatewayClient, NotConnected
from gwtool.errors import ClosedByGateway, ConnectFailed, GwtoolError, Interrupted, InvalidSetting, LostMidway
from gwtool.records import Record

if TYPE_CHECKING:
    from gwtool.logfile import Plan
    from gwtool.protocol.definition import Definition

HANDSHAKE_SECONDS = 5.0  # the longest a run waits for the websocket, HELLO and IDENTIFIED
LAST_ROUND_TRIP_SECONDS = 1.0  # after a stop: a brief round trip says exactly what was taken

Schedule = Iterable[tuple[float, dict[str, Any]]]  # (seconds after the first send, payload)


def _check_timeout(timeout: float) -> None:
    if not timeout >= 0:
        raise InvalidSetting("timeout", f"must be ≥ 0 (0: no limit), got {timeout:g}")


@dataclass(frozen=True, slots=True)
class SendPlan:
    """How ``send`` goes: ``repeat`` times, at most ``rate`` a second (None: as fast as the gateway
    takes them), then ``wait_for`` an event (None: none). ``timeout`` bounds identifying, the final
    ACK and the wait, in seconds (0: no limit); checked when made (InvalidSetting names the setting)."""

    repeat: int = 1
    rate: float | None = None
    wait_for: str | None = None
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.repeat < 1:
            raise InvalidSetting("repeat", f"must be ≥ 1, got {self.repeat}")
        if self.rate is not None and not self.rate > 0:
            raise InvalidSetting("rate", f"must be > 0 (or None: no limit), got {self.rate:g}")
        _check_timeout(self.timeout)

    @property
    def open_timeout(self) -> float:
        """The client's own bound on the websocket handshake, HELLO and IDENTIFIED."""
        return min(self.timeout or HANDSHAKE_SECONDS, HANDSHAKE_SECONDS)

    def schedule(self, payload: dict[str, Any]) -> Schedule:
        return ((i / self.rate if self.rate else 0.0, payload) for i in range(self.repeat))


@dataclass(frozen=True, slots=True)
class ReplaySettings:
    """How ``replay`` goes: the recorded spacing divided by ``speed`` (None: no spacing, as fast
    as the gateway takes them); ``timeout`` as SendPlan's (identifying and the final ACK)."""

    speed: float | None = 1.0
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.speed is not None and not self.speed > 0:
            raise InvalidSetting("speed", f"must be > 0 (or None: no spacing), got {self.speed:g}")
        _check_timeout(self.timeout)

    @property
    def open_timeout(self) -> float:
        return min(self.timeout or HANDSHAKE_SECONDS, HANDSHAKE_SECONDS)


@dataclass(frozen=True, slots=True)
class Sent:
    """What ``send`` did: how many payloads were written (and confirmed), their bytes, the reply."""

    count: int
    size: int
    reply: Record | None = None


@dataclass(frozen=True, slots=True)
class Replayed:
    """What ``replay`` did: payloads written and confirmed, in ``seconds``; ``recorded``: their
    spacing in the recording, first to last."""

    count: int
    seconds: float
    recorded: float


def check_reply(proto: Definition, service: str, wait_for: str) -> None:
    """Refuse to wait for an event that cannot come after a send: one ``service`` never receives,
    or the answer to IDENTIFY (it came before anything was sent). InvalidSetting("wait_for", …)."""
    event = proto.events.get(wait_for)
    if event is None:
        raise InvalidSetting("wait_for", f"{wait_for!r}: unknown event (known: {', '.join(proto.events)})")
    handshake = proto.event_with_routing("identified")
    if event is handshake:
        why = "it answers IDENTIFY, before anything is sent"
    elif not event.is_received_by(service):
        why = f"a {service} never receives it (it goes to {', '.join(event.targets)})"
    else:
        return
    receives = [e.t for e in proto.events.values() if e.is_received_by(service) and e is not handshake]
    after = f"a {service} receives {', '.join(receives)}" if receives else f"a {service} receives no event after identifying"
    raise InvalidSetting("wait_for", f"{wait_for}: {why}; {after}")


async def send(
    client: GatewayClient, payload: dict[str, Any], plan: SendPlan, *, what: str, stop: asyncio.Event | None = None
) -> Sent:
    """Run ``client`` (made with reconnect=False), send ``payload`` as ``plan`` says, confirm it,
    wait for the reply, and close. ``what`` names the payloads in the counts (the event's name).

    Raises ConnectFailed (no gateway, or no IDENTIFIED in time), ClosedByGateway (a refusal; with
    the counts when repeated), LostMidway, GwtoolError (no ACK or no reply in time) or Interrupted
    (``stop`` was set)."""
    if plan.wait_for is not None:
        check_reply(client.proto, client.service, plan.wait_for)
    stop = stop or asyncio.Event()
    async with identified(client, plan.timeout, stop) as runner:
        reply = asyncio.create_task(client.wait_for_event(plan.wait_for, plan.timeout or None)) if plan.wait_for else None
        try:
            await asyncio.sleep(0)  # the reply waiter subscribes before anything is sent
            size = await send_scheduled(
                client, runner, plan.schedule(payload), plan.repeat, what, plan.timeout, counts=plan.repeat > 1, stop=stop
            )
            record = await _reply(reply, plan, what, stop) if reply is not None else None
        finally:
            if reply is not None:
                reply.cancel()
    return Sent(plan.repeat, size, record)


async def _reply(reply: asyncio.Task[Record], plan: SendPlan, what: str, stop: asyncio.Event) -> Record:
    sent = f"sent {plan.repeat} {what}"
    try:
        await until(stop, reply)
    except TimeoutError:
        raise GwtoolError(f"no {plan.wait_for} within {plan.timeout:g} s ({sent})") from None
    if stop.is_set():
        raise Interrupted(f"interrupted waiting for {plan.wait_for} ({sent})")
    return reply.result()


async def replay(
    client: GatewayClient,
    plan: Plan,
    settings: ReplaySettings,
    *,
    progress: Callable[[int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> Replayed:
    """Run ``client``, send ``plan``'s payloads with their recorded spacing (``settings.speed``),
    confirm them, and close. ``progress(n)`` is told after each write. Raises as ``send`` does."""
    speed = settings.speed
    schedule = ((offset / speed if speed is not None else 0.0, payload) for offset, payload, _ in plan.items)
    async with identified(client, settings.timeout, stop) as runner:
        started = time.monotonic()
        await send_scheduled(
            client, runner, schedule, len(plan.items), "payloads", settings.timeout, progress=progress, stop=stop
        )
        seconds = time.monotonic() - started
    return Replayed(len(plan.items), seconds, plan.items[-1][0] if plan.items else 0.0)


async def run_until(client: GatewayClient, stop: asyncio.Event, duration: float | None = None) -> None:
    """Run ``client`` until ``stop`` is set or ``duration`` passes, then close it; raise its
    give-up (ConnectFailed, ClosedByGateway) if it gave up first."""
    runner = asyncio.create_task(client.run())
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({runner, stopper}, timeout=duration, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if not runner.done():
        await client.close()
    await runner


@contextlib.asynccontextmanager
async def identified(
    client: GatewayClient, timeout: float, stop: asyncio.Event | None = None
) -> AsyncIterator[asyncio.Task[None]]:
    """Run ``client`` for the block, which starts once it is IDENTIFIED (ConnectFailed after
    ``timeout`` seconds, 0: no limit; Interrupted if ``stop`` is set first) and gets the client's
    task. Afterwards the client is closed. An error in the block wins over the client's own give-up
    (connection refused …), which is raised otherwise; a NotConnected in the block becomes the close
    that caused it (code, name, reason)."""
    runner = asyncio.create_task(client.run())
    failed = False
    try:
        try:
            await until(stop or asyncio.Event(), client.wait_identified(timeout=timeout or None))
        except TimeoutError:
            step = "IDENTIFIED" if client.saw_hello else "HELLO"
            await client.abandon(f"no {step} within {timeout:g} s")  # told why, as a stalled handshake is
            answer = " (the answer to IDENTIFY)" if client.saw_hello else ""
            raise ConnectFailed(f"{client.url}: the gateway sent no {step}{answer} within {timeout:g} s") from None
        if stop is not None and stop.is_set():
            raise Interrupted("interrupted before identifying: nothing was sent")
        yield runner
    except NotConnected:
        failed = True
        if runner.done() and not runner.cancelled() and (cause := runner.exception()) is not None:
            raise cause from None  # ClosedByGateway: code, name and reason
        raise
    except BaseException:
        failed = True
        raise
    finally:
        if not runner.done():
            await client.close()
        if not failed:
            await runner  # the client's own give-up (connection refused …), if any
        else:  # the error in flight says what happened
            await asyncio.wait({runner})
            if not runner.cancelled():
                runner.exception()  # retrieved: no "never retrieved" warning


async def send_scheduled(
    client: GatewayClient,
    runner: asyncio.Task[None],
    schedule: Schedule,
    total: int,
    what: str,
    timeout: float,
    *,
    counts: bool = True,
    progress: Callable[[int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Send each payload ``offset`` seconds after the first, then confirm them with a heartbeat
    round trip; the bytes sent. ``runner`` is the identified client's task (see ``identified``).
    A refusal or a lost connection raises the close that caused it, with how many were written and
    confirmed (``counts``); ``stop`` ends it with Interrupted, saying the same."""
    stop = stop or asyncio.Event()
    base, written, size = client.data_sent, 0, 0
    try:
        started = time.monotonic()
        for offset, payload in schedule:
            if (delay := started + offset - time.monotonic()) > 0:
                await until(stop, asyncio.sleep(delay))
            if stop.is_set():
                break
            size += (await client.send_payload(payload, validate=False, force=True)).size
            written += 1
            if progress is not None:
                progress(written)
        else:
            await until(stop, confirm(client, timeout))
    except (NotConnected, ClosedByGateway):  # refused, or gone: the counts say how far it got
        await asyncio.wait({runner}, timeout=client.close_timeout)
        if counts:
            raise lost_midway(client, runner, what, written, total, base) from None
        raise
    if stop.is_set():
        with contextlib.suppress(Exception):  # a brief last round trip: what it took, exactly
            await client.round_trip(timeout=LAST_ROUND_TRIP_SECONDS)
        raise Interrupted(f"interrupted: {sent_counts(client, what, written, total, base)}")
    return size


async def until(stop: asyncio.Event, work: Awaitable[Any]) -> None:
    """Await ``work`` unless ``stop`` is set first (then it is cancelled); ``work``'s error is raised."""
    task, stopped = asyncio.ensure_future(work), asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if task.done() and not task.cancelled():
        task.result()  # its error, if any


async def confirm(client: GatewayClient, timeout: float) -> None:
    """A heartbeat round trip: its ACK means the gateway took what we sent (it keeps order)."""
    try:
        await client.round_trip(timeout or None)
    except TimeoutError:
        await client.abandon(f"no HEARTBEAT_ACK within {timeout:g} s")
        raise GwtoolError(
            f"the gateway did not ACK a heartbeat within {timeout:g} s: the payload was written, not confirmed"
        ) from None


def sent_counts(client: GatewayClient, what: str, written: int, total: int, base: int) -> str:
    """``244 of 600 EXECUTE_COMMAND written, 230 confirmed by a heartbeat ACK; the rest were not sent``."""
    confirmed = max(0, min(written, client.data_confirmed - base))
    rest = "; the rest were not sent" if written < total else ""
    return f"{written:,} of {total:,} {what} written, {confirmed:,} confirmed by a heartbeat ACK{rest}"


def lost_midway(client: GatewayClient, runner: asyncio.Task[None], what: str, written: int, total: int, base: int) -> GwtoolError:
    """The error for a run of sends cut short: how many were written and how many confirmed."""
    counts = sent_counts(client, what, written, total, base)
    cause = runner.exception() if runner.done() and not runner.cancelled() else None
    if isinstance(cause, ClosedByGateway):  # a refusal: exit 3 as ever, with the counts
        return ClosedByGateway(f"{cause} ({counts})", cause.code, cause.name, cause.reason)
    state = client.state
    if state.close_code is None:
        how = ""
    else:  # how the connection ended, once (the client's own text already begins "connection lost")
        how = f": {state.close_code} {state.close_name}".rstrip() + (f" — {state.close_reason}" if state.close_reason else "")
    return LostMidway(f"connection lost midway{how} ({counts})")
