"""``gwtool check service``: does a service behave towards its gateway?

Each scenario starts the service under test afresh, with ``GWTOOL_URL`` and ``GWTOOL_TOKEN`` in
its environment (and ``{url}`` / ``{token}`` in its arguments replaced), against a strict
``MockGateway`` that the scenario steers: it closes the connection with a chosen code, drops it,
stops ACKing, ACKs without ``d``, asks for a heartbeat. What the service does is read from the
gateway's own Records and Notices. Several cases may grade one scenario (the steady run grades
identify, heartbeats and validity); a scenario runs once per suite, and only if a selected case
needs it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from gwtool.check.cases import Case, Failed, Skipped
from gwtool.check.probe import Probe
from gwtool.errors import CannotStart, GwtoolError
from gwtool.gateway.server import MockGateway
from gwtool.protocol.definition import Definition
from gwtool.protocol.examples import event_data
from gwtool.protocol.validate import permission_error, validate_payload
from gwtool.records import Notice, Record
from gwtool.text import plural, printable

DEFAULT_INTERVAL_MS = 1000  # short, so that the whole suite takes about a minute
DEFAULT_TOKEN = "gwtool-check-token"
WRONG_TOKEN = "gwtool-check-wrong-token"  # what the service is given to see it refused with 4004
IDENTIFY_WITHIN_S = 10.0  # a service must identify this soon after it starts (or after a reconnectable close)
TOLERANCE = 0.25  # heartbeat gaps may be this much of the interval off (late: the gateway allows 1.5 ×)
FIRST_BEAT_SLACK = 0.05  # the first heartbeat may be this much of the interval late (scheduling)
STDERR_TAIL = 20  # lines of the service's stderr kept for a failed case's report
STOP_WAIT_S = 2.0  # after SIGTERM, before SIGKILL
EXIT_GRACE_S = 1.0  # a service that closed its own connection may be exiting: let it (and its stderr) finish


@dataclass
class ServiceContext:
    proto: Definition
    service: str  # the type the service must identify as (--as)
    command: list[str]
    token: str = DEFAULT_TOKEN
    interval_ms: int = DEFAULT_INTERVAL_MS
    scenarios: dict[str, Awaitable[Run]] = field(default_factory=dict)  # each scenario runs once

    @property
    def interval(self) -> float:
        return self.interval_ms / 1000

    def scenario(
        self, name: str, play: Callable[[Session], Awaitable[None]], gateway: dict[str, Any], token: str | None = None
    ) -> Awaitable[Run]:
        """The run of scenario ``name`` (started on first use, shared by the cases that grade it):
        ``gateway`` are MockGateway options, ``token`` what the service is given (else ours)."""
        if name not in self.scenarios:
            self.scenarios[name] = asyncio.ensure_future(_play(self, play, gateway, token))
        return self.scenarios[name]


def check_command(command: list[str]) -> None:
    """Raise CannotStart unless the command's program exists and may be run."""
    if not command:
        raise GwtoolError("no command given: put the service's command after --, e.g. -- python worker.py")
    program = command[0]
    if os.sep in program or (os.altsep and os.altsep in program):
        if not os.path.isfile(program):
            raise CannotStart(f"{program}: no such file")
        if not os.access(program, os.X_OK):
            raise CannotStart(f"{program}: not executable")
    elif shutil.which(program) is None:
        raise CannotStart(f"{program}: command not found on PATH")


# --- what the gateway saw ---------------------------------------------------------------------------


@dataclass
class Conn:
    """One connection of the service under test, as the gateway saw it."""

    id: int
    connected: float  # time.time()
    identified: float | None = None
    service: str | None = None
    compress: bool = False
    beats: list[float] = field(default_factory=list)
    sent: list[Record] = field(default_factory=list)
    closed: float | None = None
    close: dict[str, Any] = field(default_factory=dict)  # code, name, reason, by


class Session:
    """One scenario's gateway and process; ``conns`` fills in as the gateway sees things."""

    def __init__(self, ctx: ServiceContext, gateway: dict[str, Any], token: str | None = None):
        self.ctx = ctx
        self.token = token or ctx.token  # what the service is given (a scenario may give a wrong one)
        self.marks: dict[str, Any] = {}  # what the scenario wrote down (times, connections) for grading
        self.gateway = MockGateway(
            ctx.proto, port=0, heartbeat_interval=ctx.interval_ms, token=ctx.token, identify_timeout=IDENTIFY_WITHIN_S, **gateway
        )
        self.conns: dict[int, Conn] = {}
        self.on_connect: Callable[[Conn], None] | None = None
        self.process: asyncio.subprocess.Process | None = None
        self.stderr: deque[str] = deque(maxlen=STDERR_TAIL)
        self.started = 0.0
        self._changed = asyncio.Event()
        self._stderr_task: asyncio.Task[None] | None = None
        self.gateway.subscribe(self._see)

    def _see(self, item: Record | Notice) -> None:
        if isinstance(item, Notice):
            self._notice(item)
        elif item.direction == "in" and item.conn in self.conns:
            conn = self.conns[item.conn]
            conn.sent.append(item)
            if item.payload is not None:
                if item.payload.get("op") == self.ctx.proto.op("HEARTBEAT"):
                    conn.beats.append(item.ts)
                elif item.payload.get("op") == self.ctx.proto.op("IDENTIFY"):
                    d = item.payload.get("d")
                    conn.compress = isinstance(d, dict) and d.get(self.ctx.proto.roles.identify_compress) is True
        self._changed.set()

    def _notice(self, notice: Notice) -> None:
        if notice.kind == "connected":
            conn = self.conns[notice.conn] = Conn(notice.conn, notice.ts)
            if self.on_connect is not None:
                self.on_connect(conn)
        elif notice.conn in self.conns:
            conn = self.conns[notice.conn]
            if notice.kind == "identified":
                conn.identified, conn.service = notice.ts, notice.service
            elif notice.kind == "closed":
                conn.closed, conn.close = notice.ts, dict(notice.data)

    async def start(self) -> None:
        await self.gateway.start()
        url, token = self.gateway.url, self.token
        args = [a.replace("{url}", url).replace("{token}", token) for a in self.ctx.command]
        env = {**os.environ, "GWTOOL_URL": url, "GWTOOL_TOKEN": token}
        self.started = time.time()
        try:
            self.process = await asyncio.create_subprocess_exec(
                *args, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE, start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            await self.gateway.stop()
            raise CannotStart(f"{args[0]}: {exc.strerror or exc}") from None
        self._stderr_task = asyncio.create_task(self._read_stderr())

    async def _read_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        while line := await self.process.stderr.readline():
            self.stderr.append(printable(line[:500].decode(errors="replace").rstrip()))

    async def stop(self) -> int | None:
        """Stop the service (SIGTERM, then SIGKILL) and the gateway; the service's exit status."""
        process, code = self.process, None
        if process is not None:
            if process.returncode is None and self._closed_itself():
                try:
                    async with asyncio.timeout(EXIT_GRACE_S):
                        await process.wait()
                except TimeoutError:
                    pass
            if process.returncode is None:
                _signal_group(process, signal.SIGTERM)
                try:
                    async with asyncio.timeout(STOP_WAIT_S):
                        await process.wait()
                except TimeoutError:
                    _signal_group(process, signal.SIGKILL)
                    await process.wait()
            code = process.returncode
        if self._stderr_task is not None:
            try:
                async with asyncio.timeout(1.0):
                    await self._stderr_task
            except TimeoutError:
                self._stderr_task.cancel()
        await self.gateway.stop()
        return code

    def _closed_itself(self) -> bool:
        """Whether every connection is closed and the last close was the service's own."""
        if not self.conns or any(c.closed is None for c in self.conns.values()):
            return False
        last = max(self.conns.values(), key=lambda c: c.closed or 0.0)
        return last.close.get("by") == "service"

    async def until(self, predicate: Callable[[], Any], timeout: float) -> Any:
        """The first true value of ``predicate()`` as things arrive, or None after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while not (value := predicate()):
            left = deadline - time.monotonic()
            if left <= 0 or self.exited:
                return predicate() or None
            self._changed.clear()
            try:
                async with asyncio.timeout(min(left, 0.2)):
                    await self._changed.wait()
            except TimeoutError:
                pass
        return value

    async def wait(self, seconds: float) -> None:
        """Let the service run for ``seconds`` (unless it exits)."""
        await self.until(lambda: False, seconds)

    @property
    def exited(self) -> bool:
        return self.process is not None and self.process.returncode is not None

    def identified(self, after: float = 0.0) -> Conn | None:
        """The first connection identified as the expected type after ``after`` (time.time())."""
        return next((c for c in self.conns.values() if c.identified and c.connected > after), None)

    async def identify(self, after: float = 0.0) -> Conn:
        conn = await self.until(lambda: self.identified(after), IDENTIFY_WITHIN_S)
        if conn is None:
            raise Failed(self.why_not_identified())
        return conn  # type: ignore[no-any-return]

    def why_not_identified(self) -> str:
        if self.exited:
            return f"the service exited with status {self.process.returncode} before identifying"  # type: ignore[union-attr]
        closed = [c for c in self.conns.values() if c.close]
        if closed:
            return f"not identified: the gateway closed it: {close_text(closed[-1].close)}"
        if self.conns:
            return f"connected but sent no good IDENTIFY within {IDENTIFY_WITHIN_S:g} s"
        return f"no connection within {IDENTIFY_WITHIN_S:g} s"


@dataclass(frozen=True)
class Run:
    """What a scenario saw, for the cases that grade it."""

    session: Session
    ended: float  # time.time() the scenario ended: what happens after (stopping the service) is not graded
    error: str = ""  # the scenario could not play out (the service never identified, say)
    exit_status: int | None = None
    marks: dict[str, Any] = field(default_factory=dict)  # what the play wrote down (times, connections)

    @property
    def conns(self) -> list[Conn]:
        return list(self.session.conns.values())

    def tail(self) -> str:
        lines = list(self.session.stderr)
        return " | stderr: " + " ⏎ ".join(lines[-5:]) if lines else " | stderr: (empty)"

    def mark(self, name: str, missing: str = "the scenario did not get that far") -> float:
        """A time (or count) the scenario wrote down; the case fails when the scenario did not get to it."""
        value = self.marks.get(name)
        if value is None:
            raise self.fail(self.error or missing)
        return float(value)

    def close_of(self, conn: Conn) -> dict[str, Any]:
        """How ``conn`` closed while the scenario ran ({} when it was open at its end)."""
        return conn.close if conn.closed is not None and conn.closed <= self.ended else {}

    def fail(self, got: str) -> Failed:
        return Failed(got + self.tail())

    def require(self, condition: object, got: str) -> None:
        if not condition:
            raise self.fail(got)


async def _play(
    ctx: ServiceContext, play: Callable[[Session], Awaitable[None]], gateway: dict[str, Any], token: str | None
) -> Run:
    session = Session(ctx, gateway, token)
    await session.start()
    error = ""
    try:
        await play(session)
    except Failed as exc:
        error = str(exc)
    finally:
        ended = time.time()
        status = await session.stop()
    return Run(session, ended, error, status, session.marks)


def close_text(close: dict[str, Any]) -> str:
    text = f"{close.get('code')} {close.get('name', '')}".rstrip()
    if close.get("reason"):
        text += f": {printable(str(close['reason']))}"
    return f"{text} (by the {close.get('by', '?')})"


def _signal_group(process: asyncio.subprocess.Process, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)  # the service may have started children of its own
    except (ProcessLookupError, PermissionError):
        try:
            process.send_signal(sig)
        except ProcessLookupError:
            pass


# --- scenarios ----------------------------------------------------------------------------------------


async def _steady(session: Session) -> None:
    """Identify, then run undisturbed for 4.5 intervals."""
    conn = await session.identify()
    await session.until(lambda: len(conn.beats) >= 5 or conn.closed, session.ctx.interval * 5.5 + 1)


def _close_and_return(code: int | None) -> Callable[[Session], Awaitable[None]]:
    """Close the identified connection with ``code`` (None: drop it), then wait for a new one."""

    async def play(session: Session) -> None:
        conn = await session.identify()
        await session.until(lambda: conn.beats, session.ctx.interval * 1.5)
        if code is None:
            session.gateway.drop_connection(conn.id)
        else:
            session.gateway.close_connection(conn.id, code, "gwtool check: closing on purpose")
        closed_at = time.time()
        session.marks.update(first=conn.id, closed_at=closed_at)
        await session.until(lambda: session.identified(after=closed_at), IDENTIFY_WITHIN_S)

    return play


def _closes_for_good(code: int, watch_intervals: float = 3.0) -> Callable[[Session], Awaitable[None]]:
    async def play(session: Session) -> None:
        conn = await session.identify()
        session.gateway.close_connection(conn.id, code, "gwtool check: a close that says do not reconnect")
        closed_at = time.time()
        session.marks.update(closed_at=closed_at)
        await session.until(
            lambda: any(c.connected > closed_at for c in session.conns.values()), max(3.0, watch_intervals * session.ctx.interval)
        )

    return play


async def _refused_token(session: Session) -> None:
    await session.until(lambda: any(c.close for c in session.conns.values()), IDENTIFY_WITHIN_S)
    first = next((c for c in session.conns.values() if c.close), None)
    if first is None:
        raise Failed(session.why_not_identified())
    session.marks.update(closed_at=first.closed)
    await session.until(lambda: len(session.conns) > 1, max(3.0, 3 * session.ctx.interval))


BACKOFF_CLOSES = 4


async def _backoff(session: Session) -> None:
    """Close each of the first connections at once (before IDENTIFIED, so no backoff resets)."""
    code = session.ctx.proto.close("UNKNOWN_ERROR").code

    def refuse(conn: Conn) -> None:
        if len(session.conns) <= BACKOFF_CLOSES:
            session.gateway.close_connection(conn.id, code, "gwtool check: refusing, to see the backoff")

    session.on_connect = refuse
    await session.until(lambda: len(session.conns) > BACKOFF_CLOSES, 40.0)
    await session.identify()


async def _until_beats(session: Session, conn: Conn, count: int, intervals: float) -> None:
    await session.until(lambda: len(conn.beats) >= count or conn.closed, session.ctx.interval * intervals + 1)


async def _ackless(session: Session) -> None:
    conn = await session.identify()
    await _until_beats(session, conn, 4, 4.5)


async def _zombie(session: Session) -> None:
    conn = await session.identify()
    session.marks.update(first=conn.id)
    await session.until(
        lambda: conn.closed and session.identified(after=conn.connected), session.ctx.interval * 4 + IDENTIFY_WITHIN_S
    )


async def _request(session: Session) -> None:
    """Ask for a heartbeat between two regular ones; of a service that sends none by itself, one
    interval after HELLO (before the gateway's 1.5 × timeout would close it)."""
    conn = await session.identify()
    await session.until(lambda: conn.beats or conn.closed, session.ctx.interval - (time.time() - conn.connected))
    if conn.closed:
        return
    if conn.beats:
        await asyncio.sleep(session.ctx.interval * 0.4)  # between two regular heartbeats
    before = len(conn.beats)
    asked = time.time()
    await session.gateway.request_heartbeat(conn.id)
    session.marks.update(asked=asked, before=before)
    await session.until(lambda: len(conn.beats) > before, session.ctx.interval)


async def _receives(session: Session) -> None:
    """A sender of our own (a raw probe) sends the service each event it receives."""
    ctx = session.ctx
    conn = await session.identify()
    events = [e for e in ctx.proto.events.values() if e.routing != "identified" and e.is_received_by(ctx.service)]
    sender_type = next((ctx.proto.first_sender(e.t) for e in events), None)
    if sender_type is None:
        return
    async with Probe(session.gateway.url, ctx.proto) as sender:
        await sender.identify(sender_type, ctx.token)
        for event in events:
            if event.may_be_sent_by(sender_type):
                await sender.send({"op": ctx.proto.op("EVENT"), "t": event.t, "d": event_data(ctx.proto, event.t)})
        session.marks.update(sent_at=time.time(), events=[e.t for e in events])
        await _until_beats(session, conn, len(conn.beats) + 2, 3)


# --- the cases ----------------------------------------------------------------------------------------

Grade = Callable[[ServiceContext, Run], str]


def _case(
    case_id: str, title: str, expected: str, why: str, scenario: str, play: Callable[[Session], Awaitable[None]], grade: Grade,
    *, needs_identify: bool = True, token: str | None = None, **gateway: Any,
) -> Case[ServiceContext]:  # fmt: skip
    async def run(ctx: ServiceContext) -> str:
        result = await ctx.scenario(scenario, play, gateway, token)
        if result.error and needs_identify:
            raise result.fail(result.error)
        return grade(ctx, result)

    return Case(case_id, title, expected, why, run, timeout=120.0)


def _first_conn(run: Run) -> Conn:
    conn = next((c for c in run.conns if c.identified), None)
    if conn is None:
        raise run.fail(run.error or "never identified")
    return conn


def _conn_of_its_type(ctx: ServiceContext, run: Run) -> Conn:
    """The first connection, which must have identified as the type it is checked as (--as): what
    it may send, and what is routed to it, follow from that type."""
    conn = _first_conn(run)
    run.require(conn.service == ctx.service, f"identified as {conn.service}, not as the {ctx.service} it is checked as (--as)")
    return conn


def grade_identifies(ctx: ServiceContext, run: Run) -> str:
    conn = _first_conn(run)
    run.require(conn.service == ctx.service, f"identified as {conn.service}, not {ctx.service}")
    return f"identified as {conn.service} {conn.identified - run.session.started:.2f} s after starting"  # type: ignore[operator]


def grade_first_beat(ctx: ServiceContext, run: Run) -> str:
    conn = _first_conn(run)
    run.require(conn.beats, f"no heartbeat in {ctx.interval * 5.5 + 1:.1f} s")
    after = conn.beats[0] - conn.connected
    got = f"first heartbeat {after * 1000:.0f} ms after HELLO (interval {ctx.interval_ms} ms)"
    run.require(after <= ctx.interval * (1 + FIRST_BEAT_SLACK), got + f", over {ctx.interval_ms * (1 + FIRST_BEAT_SLACK):.0f} ms")
    return got


def grade_interval(ctx: ServiceContext, run: Run) -> str:
    conn = _first_conn(run)
    run.require(len(conn.beats) >= 4, f"{plural(len(conn.beats), 'heartbeat')} in {ctx.interval * 5.5 + 1:.1f} s")
    gaps = [(b - a) * 1000 for a, b in zip(conn.beats, conn.beats[1:])]
    low, high = ctx.interval_ms * (1 - 2 * TOLERANCE), ctx.interval_ms * (1 + TOLERANCE) + 100
    got = "gaps " + ", ".join(f"{g:.0f}" for g in gaps) + f" ms (interval {ctx.interval_ms} ms)"
    run.require(all(low <= g <= high for g in gaps), got + f", outside {low:.0f}…{high:.0f} ms")
    return got


def grade_beat_data(ctx: ServiceContext, run: Run) -> str:
    conn = _first_conn(run)
    beats = [r for r in conn.sent if r.payload is not None and r.payload.get("op") == ctx.proto.op("HEARTBEAT")]
    if not beats:  # their absence is heartbeat.first's failure
        raise Skipped(f"no heartbeat to check in {ctx.interval * 5.5 + 1:.1f} s")
    for record in beats:
        errors = validate_payload(ctx.proto, record.payload, service=ctx.service)
        run.require(not errors, f"heartbeat: {'; '.join(errors)}")
    return f"{plural(len(beats), 'heartbeat')}, each valid for {ctx.service}"


def grade_valid_sends(ctx: ServiceContext, run: Run) -> str:
    conn = _conn_of_its_type(ctx, run)
    for record in conn.sent:
        if record.payload is None:
            raise run.fail(f"sent an undecodable frame: {printable(record.error or '')}")
        errors = validate_payload(ctx.proto, record.payload, service=ctx.service)
        denied = permission_error(ctx.proto, record.payload, ctx.service)
        run.require(not errors and not denied, f"sent {ctx.proto.op_name(record.op)}: {'; '.join(errors) or denied}")
    if run.close_of(conn).get("by") == "gateway":
        raise run.fail(f"the gateway closed it: {close_text(run.close_of(conn))}")
    return f"{plural(len(conn.sent), 'payload')}, all valid and allowed for {ctx.service}"


def grade_compress(ctx: ServiceContext, run: Run) -> str:
    conn = _first_conn(run)
    if not conn.compress:
        raise Skipped("the service does not ask for compression")
    after = [b for b in conn.beats if b > conn.identified]  # type: ignore[operator]
    run.require(len(after) >= 2 and not run.close_of(conn), f"asked for compression, then {plural(len(after), 'heartbeat')}"
                + (f" and {close_text(run.close_of(conn))}" if run.close_of(conn) else ""))  # fmt: skip
    return f"asked for compression; {len(after)} heartbeats on compressed ACKs"


def grade_reconnect(ctx: ServiceContext, run: Run) -> str:
    closed_at = run.mark("closed_at")
    again = run.session.identified(after=closed_at)
    run.require(again is not None, f"no new IDENTIFY within {IDENTIFY_WITHIN_S:g} s of the close")
    assert again is not None
    return f"reconnected and identified {again.connected - closed_at:.2f} s after the close"


def grade_backoff(ctx: ServiceContext, run: Run) -> str:
    conns = sorted(run.conns, key=lambda c: c.connected)
    refused = conns[: BACKOFF_CLOSES + 1]
    run.require(
        len(refused) > BACKOFF_CLOSES, f"{plural(len(conns), 'connection')} after {len(conns)} refusals: it stopped reconnecting"
    )
    delays = [b.connected - (a.closed or a.connected) for a, b in zip(refused, refused[1:])]
    got = "delays " + ", ".join(f"{d:.2f}" for d in delays) + " s"
    run.require(min(delays) >= 0.05, got + ": a tight loop (under 50 ms)")
    run.require(delays[-1] >= 1.5 * delays[0], got + ": not growing")
    return got


def grade_stays_away(ctx: ServiceContext, run: Run) -> str:
    closed_at = run.mark("closed_at")
    later = [c for c in run.conns if c.connected > closed_at]
    run.require(not later, f"reconnected {later[0].connected - closed_at:.2f} s after a close that says not to" if later else "")
    if run.session.exited and run.exit_status is not None:
        return f"exited (status {run.exit_status}) without reconnecting"
    return f"no new connection in {max(3.0, 3 * ctx.interval):g} s after the close"


def grade_ack_without_d(ctx: ServiceContext, run: Run) -> str:
    conn = _first_conn(run)
    run.require(len(conn.beats) >= 4 and not run.close_of(conn), f"{len(conn.beats)} heartbeat(s), then "
                + (close_text(run.close_of(conn)) if run.close_of(conn) else "silence"))  # fmt: skip
    return f"{len(conn.beats)} heartbeats on one connection, every ACK without d"


def grade_zombie(ctx: ServiceContext, run: Run) -> str:
    conn = _first_conn(run)
    if not conn.beats:  # nothing left unanswered: heartbeat.first fails it for sending none
        raise Skipped("it sent no heartbeat to leave unanswered")
    run.require(run.close_of(conn), f"still on its first connection after {len(conn.beats)} unanswered heartbeats")
    run.require(run.close_of(conn).get("by") == "service", f"the gateway closed it first: {close_text(run.close_of(conn))}")
    run.require(run.close_of(conn).get("code") != 1000, "closed with 1000 (a dead connection is not a normal close)")
    again = run.session.identified(after=conn.connected)
    run.require(again is not None, f"closed it ({close_text(run.close_of(conn))}) but did not reconnect")
    return f"closed {close_text(run.close_of(conn))} after {len(conn.beats)} unanswered heartbeat(s), then reconnected"


def grade_request(ctx: ServiceContext, run: Run) -> str:
    conn = _first_conn(run)
    asked, before = run.mark("asked", "the connection closed before the request"), int(run.mark("before"))
    bound = min(ctx.interval / 4, 1.0)
    answer = conn.beats[before] - asked if len(conn.beats) > before else None
    run.require(answer is not None, "no heartbeat after the request")
    assert answer is not None
    got = f"answered in {answer * 1000:.0f} ms"
    run.require(answer <= bound, got + f" (bound {bound * 1000:.0f} ms: it waited for its next regular heartbeat?)")
    return got


def grade_receives(ctx: ServiceContext, run: Run) -> str:
    if "events" not in run.marks:
        raise Skipped(f"no event of the definition is routed to {ctx.service} by a service")
    conn = _conn_of_its_type(ctx, run)
    after = [b for b in conn.beats if b > run.marks["sent_at"]]
    run.require(not run.close_of(conn) and len(after) >= 2, f"after {', '.join(run.marks['events'])}: {len(after)} heartbeat(s)"
                + (f", {close_text(run.close_of(conn))}" if run.close_of(conn) else ""))  # fmt: skip
    return f"took {', '.join(run.marks['events'])} and kept heartbeating"


def service_cases(proto: Definition) -> list[Case[ServiceContext]]:
    code = {name: c.code for name, c in proto.close_codes.items()}
    reconnects = [
        (code["HEARTBEAT_TIMEOUT"], "HEARTBEAT_TIMEOUT"),
        (code["UNKNOWN_ERROR"], "UNKNOWN_ERROR"),
        (1001, "GOING_AWAY"),
    ]
    finals = [c for c in proto.close_codes.values() if not c.reconnect]
    steady = ("steady", _steady)
    cases = [
        _case("connect.identifies", "connects and identifies as its type", f"IDENTIFY within {IDENTIFY_WITHIN_S:g} s",
              "nothing reaches a service that never identifies", *steady, grade_identifies),
        _case("heartbeat.first", "the first heartbeat comes within one interval of HELLO", f"≤ {1 + FIRST_BEAT_SLACK:g} × the interval",
              "the gateway times out a silent connection at 1.5 × the interval", *steady, grade_first_beat),
        _case("heartbeat.interval", "heartbeats keep the interval",
              f"gaps within {1 - 2 * TOLERANCE:g}…{1 + TOLERANCE:g} × the interval",
              "late beats get it closed; early ones waste the gateway's time", *steady, grade_interval),
        _case("heartbeat.data", "heartbeat data is valid for its type", "every heartbeat passes its field table",
              "GET /services/ shows it (a sharder's guilds, say)", *steady, grade_beat_data),
        _case("sends.valid", "everything it sends is valid and allowed for its type",
              "no payload failing its table or its permissions; no close by the gateway",
              "a strict gateway closes a service for any of these", *steady, grade_valid_sends),
        _case("compress.works", "if it asks for compression, it keeps working on compressed frames",
              "heartbeats go on after IDENTIFIED (skip when it does not ask)",
              "compressed frames are binary zlib: a text-only reader breaks", *steady, grade_compress),
        _case("heartbeat.request", "it answers the gateway's heartbeat request at once",
              "a heartbeat within a quarter interval (at most 1 s)", "the gateway asks when it needs to know now",
              "request", _request, grade_request),
        _case("events.received", "it takes the events routed to it and keeps running",
              "heartbeats go on after each event (skip when none is routed to its type)",
              "a worker that dies on its first event is worse than none", "receives", _receives, grade_receives),
        _case("reconnect.dropped", "after the TCP connection drops, it reconnects", "a new IDENTIFY",
              "networks fail; a service must come back by itself", "dropped", _close_and_return(None), grade_reconnect),
    ]  # fmt: skip
    for number, name in reconnects:
        cases.append(_case(
            f"reconnect.after-{number}", f"after close {number} {name}, it reconnects", "a new IDENTIFY",
            f"{number} says: come back", f"close-{number}", _close_and_return(number), grade_reconnect,
        ))  # fmt: skip
    cases.append(_case(
        "reconnect.backoff", f"refused {BACKOFF_CLOSES} times, it backs off", "delays ≥ 50 ms and growing",
        "a tight reconnect loop hammers a gateway that is already struggling; the cap is not observed in a minute",
        "backoff", _backoff, grade_backoff, needs_identify=False,
    ))  # fmt: skip
    for close in finals:
        if close.name == "AUTHENTICATION_FAILED":
            cases.append(_case(
                f"final.after-{close.code}", f"refused with {close.code} {close.name}, it does not reconnect",
                "no new connection for 3 intervals (at least 3 s)", "retrying a wrong token only fills the gateway's logs",
                "wrong-token", _refused_token, grade_stays_away, needs_identify=False, token=WRONG_TOKEN,
            ))  # fmt: skip
        else:
            cases.append(_case(
                f"final.after-{close.code}", f"closed with {close.code} {close.name}, it does not reconnect",
                "no new connection for 3 intervals (at least 3 s)", f"{close.code} says: do not come back",
                f"final-{close.code}", _closes_for_good(close.code), grade_stays_away,
            ))  # fmt: skip
    cases += [
        _case("ack.without-d", "it accepts an ACK without d", "heartbeats go on, on one connection",
              "the protocol lets a gateway leave d out of an ACK", "ack-without-d", _ackless, grade_ack_without_d,
              ack="without_d"),
        _case("heartbeat.zombie", "with its heartbeats unanswered, it closes (not with 1000) and reconnects",
              "a close by the service, then a new IDENTIFY", "a connection that stopped ACKing is dead even if TCP says not",
              "zombie", _zombie, grade_zombie, ack="never"),
    ]  # fmt: skip
    return cases
