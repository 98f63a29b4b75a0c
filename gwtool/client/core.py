"""GatewayClient: a service's side of the gateway protocol, as one async core.

It connects, reads HELLO, identifies as any service type of the protocol definition, heartbeats,
measures latency, detects a dead connection, and reconnects with backoff. Every frame in or out
becomes a ``Record`` and every lifecycle step a ``Notice``, handed synchronously to subscribers:
the CLI prints them, the dashboard renders them. Nothing here prints.

Protocol facts come from the ``Definition`` object: opcodes and close codes by name, services,
events and field tables as data.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException
from websockets.protocol import State
from websockets.uri import parse_uri

from gwtool import __version__
from gwtool.client.backoff import Backoff
from gwtool.client.latency import LatencyStats
from gwtool.client.memory import resident_memory
from gwtool.errors import ClosedByGateway, ConnectFailed, ConnectFailure, DecodeError, GwtoolError, InvalidPayload, clip_reason
from gwtool.protocol import codec
from gwtool.protocol.definition import WEBSOCKET_CLOSES, Definition, load_protocol
from gwtool.protocol.examples import example_value
from gwtool.protocol.validate import permission_error, validate_payload
from gwtool.records import Notice, Record, masked_identify, preview
from gwtool.session import Ack, Action, Close, Hello, Identified, Problem, Send, ServiceSession, Stalled, Zombie
from gwtool.session.service import ZOMBIE_CLOSE
from gwtool.text import plural
from gwtool.wire import close_of, frame_size

Item = Record | Notice
# connecting → identifying → identified; reconnecting (waiting out a backoff); closed (run() ended)
ClientPhase = Literal["connecting", "identifying", "identified", "reconnecting", "closed"]
Listener = Callable[[Item], None]
T = TypeVar("T")

NORMAL_CLOSE, ABNORMAL_CLOSE = 1000, 1006  # RFC 6455: a clean close / no close frame at all


class NotConnected(GwtoolError):
    """A send while there is no open connection."""

    exit_code = 2


class NotAllowed(GwtoolError):
    """The identified service type may not send this payload (the definition's From table)."""


@dataclass
class ClientState:
    """Where the client is. ``phase``: connecting → identifying → identified; reconnecting; closed."""

    phase: ClientPhase = "connecting"
    retry_at: float | None = None  # time.monotonic() of the next reconnect attempt
    close_code: int | None = None  # of the last connection (or attempt) that ended
    close_name: str = ""
    close_reason: str = ""
    connect_failure: ConnectFailure | None = None  # why that last attempt never opened; None: it opened
    identified: dict[str, Any] | None = None  # the IDENTIFIED data of the current connection
    shards: list[int] = field(default_factory=list)
    max_shards: int | None = None
    connected_at: float | None = None  # wall-clock time the current connection opened
    heartbeat_interval: int | None = None  # ms, from HELLO
    conn: int = 0  # id of the current connection (1, 2, … one per reconnect)
    attempt: int = 0  # reconnect attempts since the last IDENTIFIED


@dataclass(frozen=True)
class _Ended:
    """How one connection (or one attempt) ended."""

    code: int
    reason: str
    by_gateway: bool
    failure: ConnectFailure | None = None  # an attempt that never opened, and why
    stalled: str | None = None  # the handshake step the gateway never answered ("no HELLO …")


class GatewayClient:
    """Impersonates one service: ``await client.run()`` until ``close()`` or a give-up.

    ``reconnect``: reconnect on network errors and on close codes the definition marks
    reconnectable; never on the others (``run()`` raises ``ClosedByGateway``). The first connection
    attempt failing raises ``ConnectFailed`` unless ``retry_first``. ``heartbeat=False`` sends no
    scheduled heartbeats (to test a gateway's timeout); gateway requests are still answered.
    """

    def __init__(
        self,
        url: str,
        *,
        service: str,
        token: str = "",
        compress: bool = False,
        proto: Definition | None = None,
        heartbeat: bool = True,
        guilds: int = 0,
        reconnect: bool = True,
        retry_first: bool = False,
        heartbeat_values: dict[str, Any] | None = None,
        backoff: Backoff | None = None,
        open_timeout: float = 5.0,
        close_timeout: float = 2.0,
        max_size: int = 1 << 24,
        show_token: bool = False,
    ):
        self.proto = proto or load_protocol()
        if service not in self.proto.services:
            raise GwtoolError(self.proto.unknown_service_text(service))
        check_url(url)
        self.url, self.service, self.token, self.compress = url, service, token, compress
        self.heartbeat, self.reconnect, self.retry_first = heartbeat, reconnect, retry_first
        self.backoff = backoff or Backoff()
        self.open_timeout, self.close_timeout, self.max_size = open_timeout, close_timeout, max_size
        self.show_token = show_token  # records show our IDENTIFY token masked unless this is set
        known = {f.name for f in self.proto.heartbeat_fields_for(service)}
        self.heartbeat_values = {k: v for k, v in {"guilds": guilds}.items() if k in known}
        self.heartbeat_values.update(heartbeat_values or {})

        self.state = ClientState()
        self.latency = LatencyStats()
        self.sent_count = self.received_count = 0
        self.last_ack_ms: float | None = None  # latency of the ACK being emitted; None if unsolicited
        # the protocol's side of it: HELLO → IDENTIFY → IDENTIFIED, heartbeats, ACKs, zombies
        self.session = ServiceSession(
            self.proto, service, token=token, compress=compress, heartbeat=heartbeat,
            handshake_timeout=open_timeout, heartbeat_data=self.heartbeat_data,
        )  # fmt: skip

        self._listeners: list[Listener] = []
        self._failed_listeners: set[Listener] = set()
        self._waiters: list[asyncio.Future[None]] = []
        self._ws: ClientConnection | None = None
        self._clock_task: asyncio.Task[None] | None = None
        self._deadline_moved = asyncio.Event()  # wakes the clock task early
        self._stalled: str | None = None  # the handshake step the gateway never took, on this connection
        self._running = self._closing = self._ever_connected = False
        self._reading = True  # stop() ends it: frames that come after are not read
        self._stopper: asyncio.Task[None] | None = None
        self.unread = 0  # frames that arrived after stop() (the gateway had sent them already)
        self._ever_identified = False
        self._error: GwtoolError | None = None
        self._wake = asyncio.Event()  # set by close(): interrupts connecting and backoff sleeps
        self._retry = asyncio.Event()  # set by retry_now(): ends a backoff wait early
        self._stopped = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._run_task: asyncio.Task[Any] | None = None
        self._op = {name: self.proto.op(name) for name in self.proto.opcodes}

    # payloads other than heartbeats: written, and known taken (sent before an ACKed heartbeat; the
    # gateway handles a connection's payloads in order)
    @property
    def data_sent(self) -> int:
        return self.session.data_sent

    @property
    def data_confirmed(self) -> int:
        return self.session.data_confirmed

    @property
    def unsolicited_acks(self) -> int:
        return self.session.unsolicited_acks

    # --- subscribers -------------------------------------------------------------------------

    def subscribe(self, fn: Listener) -> Callable[[], None]:
        """Call ``fn(item)`` for every Record and Notice from now on; returns the unsubscribe."""
        self._listeners.append(fn)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(fn)

        return unsubscribe

    def _emit(self, item: Item) -> None:
        for fn in tuple(self._listeners):
            try:
                fn(item)
            except Exception as exc:  # a broken listener costs its own view, never the connection
                self._listener_failed(fn, exc)

    def _listener_failed(self, fn: Listener, exc: Exception) -> None:
        """Say once per listener that it failed; the others (and the wire) carry on."""
        if fn in self._failed_listeners:
            return
        self._failed_listeners.add(fn)
        text = f"a subscriber failed and missed a record: {type(exc).__name__}: {exc}"
        notice = Notice("error", text, conn=self.state.conn, service=self.service)
        for other in tuple(self._listeners):
            if other is not fn:
                with contextlib.suppress(Exception):
                    other(notice)

    def _notice(self, kind: str, text: str, **data: Any) -> None:
        self._emit(Notice(kind, text, conn=self.state.conn, service=self.service, data=data))  # type: ignore[arg-type]

    def _notify(self) -> None:
        """Wake everything waiting for a change of state."""
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def _changed(self) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        return fut

    def _set_phase(self, phase: ClientPhase) -> None:
        self.state.phase = phase
        self._notify()

    # --- running ------------------------------------------------------------------------------

    async def __aenter__(self) -> GatewayClient:
        self._task = asyncio.create_task(self.run())
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        await self.close()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await task
        except GwtoolError:
            if exc_type is None:
                raise

    async def run(self) -> None:
        """Connect, identify, heartbeat and reconnect until ``close()``; raise on give-up."""
        if self._running:
            raise RuntimeError("GatewayClient.run() is already running")
        self._running, self._error = True, None  # close() is final: a closed client stays closed
        self._stopped.clear()
        self._run_task = asyncio.current_task()
        try:
            while not self._closing:
                ended = await self._connection()
                if ended is None:
                    self._notice("closed", "closed while connecting", final=True)
                    break
                give_up = self._report_end(ended)
                if self._closing:
                    break
                if ended.stalled and not self._ever_identified and not self.retry_first:
                    raise ConnectFailed(f"{self.url}: {ended.stalled}")  # the first connection never got going
                if give_up is not None:
                    raise give_up
                await self._wait_to_reconnect(ended)
                if self._closing:
                    self._notice("closed", "closed while waiting to reconnect", final=True)
        except GwtoolError as exc:
            self._error = exc
            raise
        finally:
            self.state.retry_at = None
            self._running = False
            self._stopped.set()
            self._set_phase("closed")

    async def close(self, code: int = NORMAL_CLOSE, reason: str = "") -> None:
        """Close the connection with ``code`` and stop; returns once ``run()`` has ended."""
        self._closing = True
        self._wake.set()
        if (ws := self._ws) is not None:
            await ws.close(code, reason)
        if self._running and self._run_task is not asyncio.current_task():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.close_timeout + 1.0):
                    await self._stopped.wait()

    def stop(self) -> None:
        """``close()`` for synchronous code, such as a subscriber that has seen what it wanted: no
        frame read after this call reaches subscribers (they are counted in ``unread``), and the
        connection closes with 1000 as soon as the event loop turns."""
        if not self._reading:
            return
        self._reading = False
        self._stopper = asyncio.get_running_loop().create_task(self.close())

    async def abandon(self, reason: str) -> None:
        """Close and stop because the gateway did not answer in time: with the code a dead
        connection gets (not 1000, so the gateway can tell it from a clean exit) and ``reason``."""
        await self.close(self.proto.close(ZOMBIE_CLOSE).code, clip_reason(reason))

    @property
    def local_address(self) -> tuple[str, int] | None:
        """(host, port) of our end of the current connection, None while not connected.

        The gateway sees it as the connection's remote address: it tells our connection from
        another of the same service type.
        """
        address = self._ws.local_address if self._ws is not None else None
        return (str(address[0]), int(address[1])) if isinstance(address, tuple) and len(address) >= 2 else None

    async def wait_identified(self, timeout: float | None = None) -> dict[str, Any]:
        """The IDENTIFIED data once the current connection is identified; raises on give-up."""
        async with asyncio.timeout(timeout):
            while True:
                if self.state.phase == "identified" and self.state.identified is not None:
                    return self.state.identified
                self._raise_if_stopped()
                await self._changed()

    async def wait_for_record(self, match: Callable[[Record], bool], timeout: float | None = None) -> Record:
        """The next received Record for which ``match`` is true; raises on give-up or timeout."""
        found: asyncio.Future[Record] = asyncio.get_running_loop().create_future()

        def on_item(item: Item) -> None:
            if isinstance(item, Record) and item.direction == "in" and not found.done() and match(item):
                found.set_result(item)

        unsubscribe = self.subscribe(on_item)
        try:
            async with asyncio.timeout(timeout):
                while not found.done():
                    self._raise_if_stopped()
                    changed: asyncio.Future[Any] = self._changed()
                    await asyncio.wait({found, changed}, return_when=asyncio.FIRST_COMPLETED)
                return found.result()
        finally:
            unsubscribe()

    async def wait_for_event(self, t: str, timeout: float | None = None) -> Record:
        event_op = self._op["EVENT"]
        return await self.wait_for_record(lambda r: r.op == event_op and r.t == t, timeout)

    @property
    def saw_hello(self) -> bool:
        """Whether the current connection has had its HELLO."""
        return self.session.interval_ms is not None

    def _raise_if_stopped(self) -> None:
        if self._error is not None:
            raise self._error
        if self._stopped.is_set():
            raise NotConnected("the client is closed")

    # --- one connection ------------------------------------------------------------------------

    async def _connection(self) -> _Ended | None:
        """Open one connection and serve it until it ends; None when close() interrupted it."""
        self.state.conn += 1
        self.state.retry_at = None
        self._set_phase("connecting")
        self._notice("connecting", f"connecting to {self.url} as {self.service}", url=self.url)
        try:
            ws = await self._interruptible(self._open())
        except ConnectFailed as exc:
            if not self.reconnect or not (self._ever_connected or self.retry_first):
                raise
            return _Ended(ABNORMAL_CLOSE, str(exc), by_gateway=False, failure=exc.failure or "network")
        if ws is None:
            return None
        if self._closing:  # close() came as it opened: leave at once, and say with what
            await ws.close(NORMAL_CLOSE)
            return await self._end_of(ws)
        self._ws, self._ever_connected = ws, True
        self.state.connected_at = time.time()
        self.state.identified, self.state.shards, self.state.max_shards = None, [], None
        self._notice("connected", f"connected to {self.url}", url=self.url)
        self.state.heartbeat_interval, self._stalled = None, None
        self.session.connected(time.monotonic())
        self._set_phase("identifying")
        self._clock_task = asyncio.create_task(self._clock(ws))
        try:
            return await self._serve(ws)
        finally:
            self._ws = None
            self.state.connected_at = None
            self.session.lost()
            self._clock_task.cancel()
            self._clock_task = None
            if ws.state is not State.CLOSED:  # cancelled from outside: leave cleanly, but not forever
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(self.close_timeout):
                        await ws.close(NORMAL_CLOSE)
                        self._report_end(await self._end_of(ws), final=True)  # the close that went, as it went

    async def _open(self) -> ClientConnection:
        try:
            return await connect(
                self.url,
                compression=None,  # permessage-deflate costs CPU; the protocol compresses on its own
                proxy=None,  # gateways are local: ignore proxy environment variables
                max_size=self.max_size,
                open_timeout=self.open_timeout,
                close_timeout=self.close_timeout,
                ping_interval=None,  # liveness is the protocol's heartbeats, not websocket pings
                user_agent_header=f"gwtool/{__version__}",
            )
        except (OSError, TimeoutError, EOFError, WebSocketException) as exc:
            failure, text = connect_failure(exc, self.open_timeout)
            raise ConnectFailed(f"could not connect to {self.url}: {text}", failure) from None

    async def _interruptible(self, coro: Awaitable[T]) -> T | None:
        """Await ``coro`` unless close() comes first (then None; a connection it opened is closed)."""
        work = asyncio.ensure_future(coro)
        wake = asyncio.ensure_future(self._wake.wait())
        try:
            done, _ = await asyncio.wait({work, wake}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            work.cancel()
            raise
        finally:
            wake.cancel()
        if work not in done:
            work.cancel()
            try:
                await work
            except asyncio.CancelledError:
                if asyncio.current_task().cancelling():  # type: ignore[union-attr]  # we are cancelled too
                    raise
                return None
            except GwtoolError:
                return None
        return work.result()

    async def _serve(self, ws: ClientConnection) -> _Ended:
        """Read frames until the connection ends (the clock task keeps the session's deadlines).
        How it ended is websockets' account of the close frames that went each way, never what we
        meant to send: a close already under way wins."""
        try:
            while True:
                frame = await ws.recv()
                if not self._reading:  # stop(): the frames that come after are counted, not read
                    self.unread += 1
                    continue
                try:
                    await self._handle(ws, self._record_in(frame))
                except NotConnected:  # closed while answering: the next recv() says how
                    continue
        except ConnectionClosed as exc:
            if self.unread:
                self._notice(
                    "info",
                    f"{plural(self.unread, 'more payload')} arrived after reading stopped and "
                    f"{'was' if self.unread == 1 else 'were'} not shown (the gateway had sent them already)",
                    unread=self.unread,
                )
            return replace(self._ended(exc), stalled=self._stalled)

    async def _clock(self, ws: ClientConnection) -> None:
        """What the session says is due: a handshake deadline, heartbeats, the zombie check. A
        payload that moves the deadline (HELLO schedules the first beat) wakes it early."""
        session, moved = self.session, self._deadline_moved
        try:
            while (due := session.deadline()) is not None:
                moved.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, due - time.monotonic())):
                        await moved.wait()
                        continue
                await self._act(ws, session.tick(time.monotonic()))
        except (ConnectionClosed, NotConnected):
            return
        except Exception as exc:  # a bug must not leave a silent connection: report and reconnect
            self._notice("error", f"heartbeat failed: {type(exc).__name__}: {exc}")
            await ws.close(self.proto.close(ZOMBIE_CLOSE).code, clip_reason(f"client error: {exc}"))

    async def _end_of(self, ws: ClientConnection) -> _Ended:
        """How a connection we closed ended, from the close frames that went each way."""
        try:
            while True:  # frames that came before the close are left unread: the caller is leaving
                await ws.recv()
        except ConnectionClosed as exc:
            return self._ended(exc)

    def _record_in(self, frame: str | bytes) -> Record:
        size = frame_size(frame)
        self.received_count += 1
        try:
            decoded = codec.decode(frame, max_size=self.max_size)
        except DecodeError as exc:
            return Record(
                "in", size, None, codec.is_compressed(frame), self.state.conn, self.service, error=str(exc), raw=preview(frame)
            )
        text = frame if isinstance(frame, str) else None  # the frame as it came, for a pipe's line
        # positional arguments: the cheaper call, once per frame
        return Record("in", size, decoded.payload, decoded.compressed, self.state.conn, self.service, text)

    async def _handle(self, ws: ClientConnection, record: Record) -> None:
        """Hand one received payload to the session, its record to subscribers, then act."""
        payload = record.payload
        if payload is None:
            self._emit(record)
            return
        actions = self.session.receive(payload, time.monotonic(), compressed=record.compressed)
        for action in actions:
            if isinstance(action, Ack):  # measured before subscribers see the ACK's record
                self.last_ack_ms = record.latency_ms = action.latency_ms
                if action.latency_ms is not None:
                    self.latency.add(action.latency_ms)
        self._emit(record)
        await self._act(ws, actions)

    async def _act(self, ws: ClientConnection, actions: list[Action]) -> None:
        """Carry out what the session answered, in order. Only the handshake's steps move the session's
        deadline (HELLO schedules the first beat, IDENTIFIED ends the handshake's): they wake the clock."""
        invalid = [a.text for a in actions if isinstance(a, Problem) and a.invalid]
        if invalid:
            self._notice("warning", f"the gateway sent an invalid payload: {'; '.join(invalid)}", errors=invalid)
        for action in actions:
            if isinstance(action, Send):
                await self._send_beat_or(ws, action.payload)
            elif isinstance(action, Problem) and not action.invalid:
                self._notice("warning", action.text, path=action.path)
            elif isinstance(action, Hello):
                self.state.heartbeat_interval = action.interval_ms
                self._deadline_moved.set()
            elif isinstance(action, Identified):
                self._deadline_moved.set()
                self._on_identified(action)
            elif isinstance(action, Zombie):
                self._zombie(ws, action)
            elif isinstance(action, Stalled):
                self._stalled = f"the gateway sent {action.reason}"
            elif isinstance(action, Close) and ws.state is State.OPEN and not self._closing:  # else one is under way
                if self._stalled is not None:
                    self._notice("warning", f"{self._stalled}: closing ({action.code} {action.name})")
                await ws.close(action.code, action.reason)

    async def _send_beat_or(self, ws: ClientConnection, payload: dict[str, Any]) -> None:
        """Send a payload the session made; a heartbeat that cannot go is forgotten by it."""
        try:
            await self._send(ws, payload)
        except NotConnected:  # not sent: the session forgets a heartbeat, unless the connection's end settled it
            if payload.get("op") == self._op["HEARTBEAT"] and self._ws is ws:
                self.session.unsent()
            raise

    def _on_identified(self, identified: Identified) -> None:
        self.state.identified = identified.d
        self.state.shards, self.state.max_shards = identified.shards, identified.max_shards
        self.state.attempt = 0
        self._ever_identified = True
        self.backoff.reset()
        text = f"identified as {self.service}"
        if self.proto.services[self.service].shards:
            text += f": shards {self.state.shards} of {self.state.max_shards}"
        self._set_phase("identified")
        self._notice("identified", text, shards=self.state.shards, max_shards=self.state.max_shards)

    def _zombie(self, ws: ClientConnection, zombie: Zombie) -> None:
        self.latency.missed += zombie.missed
        if ws.state is not State.OPEN or self._closing:  # a close is under way already
            return
        close = self.proto.close(ZOMBIE_CLOSE)
        self._notice(
            "warning",
            f"no HEARTBEAT_ACK within {zombie.interval_ms} ms: the connection looks dead, closing it ({close.code} {close.name})",
            missed=self.latency.missed,
        )

    def _ended(self, exc: ConnectionClosed) -> _Ended:
        close = close_of(exc.rcvd, exc.sent, exc.rcvd_then_sent)
        if close is None:
            return _Ended(ABNORMAL_CLOSE, "no close frame", by_gateway=False)
        code, reason, by_gateway = close
        return _Ended(code, reason, by_gateway=by_gateway)

    # --- after a connection ended ----------------------------------------------------------------

    def close_name(self, code: int) -> str:
        return self.proto.close_name(code)

    def _report_end(self, ended: _Ended, *, final: bool = False) -> GwtoolError | None:
        """Tell subscribers how the connection ended; the error to give up with, if it is final."""
        name = self.close_name(ended.code)
        self.state.close_code, self.state.close_name, self.state.close_reason = ended.code, name, ended.reason
        self.state.connect_failure = ended.failure
        known = self.proto.close_by_code.get(ended.code)
        final = final or self._closing or not self.reconnect
        final = final or (ended.by_gateway and known is not None and not known.reconnect)
        if ended.failure is not None:
            self._notice("error", ended.reason, code=None, final=final)
            return ConnectFailed(ended.reason, ended.failure) if final else None
        if ended.by_gateway:
            who = "closed by the gateway"
        else:
            who = "connection lost" if ended.code == ABNORMAL_CLOSE else "closed by gwtool"
        text = f"{who}: {ended.code} {name}".rstrip() + (f" — {ended.reason}" if ended.reason else "")
        if why := dict(WEBSOCKET_CLOSES).get(ended.code):  # the websocket layer's own close: say what it means
            text += f" ({why})"
        self._notice("closed", text, code=ended.code, name=name, reason=ended.reason, by_gateway=ended.by_gateway, final=final)
        if not final or self._closing:
            return None
        if ended.by_gateway:
            return ClosedByGateway(text, ended.code, name, ended.reason)
        return ConnectFailed(f"{text} ({self.url})")

    async def _wait_to_reconnect(self, ended: _Ended) -> None:
        delay = self.backoff.next_delay()
        self.state.attempt += 1
        self.state.retry_at = time.monotonic() + delay
        self._set_phase("reconnecting")
        self._notice(
            "reconnecting",
            f"reconnecting in {delay:.2f} s (attempt {self.state.attempt})",
            delay=round(delay, 3),
            attempt=self.state.attempt,
        )
        self._retry.clear()
        await self._interruptible(self._backoff_wait(delay))

    async def _backoff_wait(self, delay: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._retry.wait()

    def retry_now(self) -> None:
        """Cut a backoff wait short: reconnect at once (the gateway is back, say)."""
        self._retry.set()

    # --- heartbeats -------------------------------------------------------------------------------

    def heartbeat_data(self) -> dict[str, Any]:
        """The heartbeat's d: every required field of the definition for this service type."""
        d: dict[str, Any] = {}
        for f in self.proto.heartbeat_fields_for(self.service):
            if not f.optional and "." not in f.path:
                d[f.name] = example_value(self.proto, f.type)
        memory = self.proto.roles.heartbeat_memory
        if memory in d or memory not in self.heartbeat_values:
            d[memory] = resident_memory()
        d.update(self.heartbeat_values)
        return d

    async def _send_heartbeat(self, ws: ClientConnection) -> Record:
        """Send a heartbeat now; its ACK is measured like any other."""
        beat = self.session.heartbeat(time.monotonic())
        try:
            return await self._send(ws, beat.payload)
        except BaseException:  # not sent: the session forgets it, unless the connection's end settled it
            if self._ws is ws:
                self.session.unsent()
            raise

    async def heartbeat_now(self) -> Record:
        """Send a heartbeat now (its ACK is measured like any other)."""
        return await self._send_heartbeat(self._require_ws())

    async def round_trip(self, timeout: float | None = None) -> float:
        """Send a heartbeat and wait for its own ACK; the latency in ms.

        The gateway handles payloads in order, so this ACK also means it has taken everything sent
        before it. A gateway that refuses something closes instead: that error is raised here.
        """
        ack_op = self._op["HEARTBEAT_ACK"]
        session = self.session
        mine = session.beats_sent + 1  # our heartbeat's number in the ACK queue
        async with asyncio.timeout(timeout):
            waiting = asyncio.ensure_future(self.wait_for_record(lambda r: r.op == ack_op and session.beats_settled >= mine))
            await asyncio.sleep(0)  # subscribed before the ACK can arrive
            try:
                await self._send_heartbeat(self._require_ws())
                await waiting
            finally:
                waiting.cancel()
        return self.last_ack_ms if self.last_ack_ms is not None else 0.0

    # --- sending ---------------------------------------------------------------------------------

    async def send_event(self, t: str, d: Any, *, validate: bool = True, force: bool = False) -> Record:
        return await self.send_payload({"op": self._op["EVENT"], "t": t, "d": d}, validate=validate, force=force)

    async def send_cache(self, cache_type: str, d: Any, *, validate: bool = True, force: bool = False) -> Record:
        return await self.send_payload({"op": self._op["CACHE"], "type": cache_type, "d": d}, validate=validate, force=force)

    async def send_payload(self, payload: dict[str, Any], *, validate: bool = True, force: bool = False) -> Record:
        """Send a payload once it is checked: InvalidPayload (each path) or NotAllowed refuse it."""
        self.check_payload(payload, validate=validate, force=force)
        return await self._send(self._require_ws(), payload)

    def check_payload(self, payload: Any, *, validate: bool = True, force: bool = False) -> None:
        """Raise what send_payload would refuse ``payload`` with, without sending it."""
        if validate and (errors := validate_payload(self.proto, payload, sender="service", service=self.service)):
            raise InvalidPayload(errors)
        if not force and isinstance(payload, dict) and (why := permission_error(self.proto, payload, self.service)):
            raise NotAllowed(f"{why}; force it to test the gateway's refusal")

    def _require_ws(self) -> ClientConnection:
        if self._ws is None:
            raise NotConnected(f"not connected to {self.url} ({self.state.phase})")
        return self._ws

    async def _send(self, ws: ClientConnection, payload: dict[str, Any]) -> Record:
        data = codec.encode(payload)  # EncodeError (a GwtoolError) when it cannot be JSON
        ts = time.time()
        try:
            await ws.send(data, text=True)
        except ConnectionClosed:
            raise NotConnected(f"the connection to {self.url} closed before the payload was sent") from None
        self.sent_count += 1
        op = payload.get("op")
        if op != self._op["HEARTBEAT"]:
            self.session.sent_data()
        if op == self._op["IDENTIFY"] and not self.show_token:
            payload = masked_identify(payload, self.proto.roles.identify_token)
        record = Record("out", len(data), payload, False, self.state.conn, self.service, ts=ts)
        self._emit(record)
        return record


def check_url(url: str) -> None:
    """Refuse what cannot be a gateway's websocket URL before trying to connect."""
    try:
        parse_uri(url)
        return
    except InvalidURI:
        problem = "expected ws://HOST:PORT or wss://HOST:PORT"
    except ValueError as exc:  # e.g. a port out of range
        problem = str(exc).lower()
    raise GwtoolError(f"invalid gateway URL {url!r}: {problem}{url_hint(url)}")


def url_hint(url: str) -> str:
    """`` — did you mean ws://…?`` for an http:// URL or a bare HOST:PORT ("" otherwise)."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f" — did you mean ws://{parts.netloc}?"
    return f" — did you mean ws://{url}?" if "://" not in url and url[:1].isalnum() else ""


def connect_error_text(exc: BaseException, open_timeout: float) -> str:
    """Why a connection attempt failed, in words a user can act on."""
    return connect_failure(exc, open_timeout)[1]


def connect_failure(exc: BaseException, open_timeout: float) -> tuple[ConnectFailure, str]:
    """What kind of failure a connection attempt's exception is (what front ends act on), and
    why it failed in words a user can act on."""
    if isinstance(exc, ConnectionRefusedError):
        return "refused", "connection refused — is a gateway running? `gwtool mock-gateway` starts one"
    if isinstance(exc, TimeoutError):
        return "timeout", f"no websocket handshake within {open_timeout:g} s"
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        return "not_websocket", f"the server answered HTTP {status} instead of a websocket upgrade — is this the gateway's URL?"
    if isinstance(exc, OSError):
        if exc.strerror:
            return "network", exc.strerror.lower() if not exc.strerror[1:2].isupper() else exc.strerror
        return "network", str(exc) or type(exc).__name__
    return "handshake", str(exc) or type(exc).__name__
