"""MockGateway: a strict, in-process gateway that speaks the whole protocol.

One websockets server on one port serves the websocket and the REST routes. Each connection is
read by one handler: decode once (orjson), check with the protocol's compiled checks, answer or
route, and forward events as the very frame their sender sent. Records and Notices are only built
when someone subscribed, so the relay stays cheap when nobody watches; the counters always work.
Every rule comes from the protocol Definition: opcodes and close codes by name, routing by the tables.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from gwtool.errors import DecodeError, clip_reason
from gwtool.gateway.cache import CacheStore
from gwtool.gateway.rest import make_connection_class, make_process_request
from gwtool.gateway.router import Held, Router
from gwtool.gateway.settings import GatewaySettings
from gwtool.gateway.shards import ShardPool
from gwtool.gateway.writes import TurnWrites
from gwtool.protocol.codec import decode_text, too_deep
from gwtool.records import Forward, Notice, Record, masked_identify, preview
from gwtool.session.actions import Action, Close, Joined, Route, Send, Store
from gwtool.session.gateway import GatewayRules, GatewaySession
from gwtool.text import plural
from gwtool.wire import (
    CLOSE_TIMEOUT,
    GOING_AWAY,
    WireServer,
    address_text,
    close_of,
    close_server,
    engine_setup,
    frame_size,
    listen,
)

if TYPE_CHECKING:
    from gwtool.protocol.definition import Definition, Event

OPEN = State.OPEN
_DATA_TYPES = (dict, list)
# A receiver with more than this many bytes written to it and not yet read is "backed up": events
# go to the next receiver (or are held) instead of waiting for it, and past SLOW_RECEIVER_SECONDS
# backed up it is closed with UNKNOWN_ERROR. Its sender never waits on it.
BACKED_UP_BYTES = 1 << 20
# Held events go to a receiver while less than HOLD_PACE_BYTES written to it are unread, so a late
# receiver takes a backlog as fast as it reads it, never as one burst that would find it "not
# reading". A buffer draining is the only sign that a peer has read (nothing calls back below the
# transport's low-water mark, which websockets keeps for its own sends), so while a receiver of a
# held event is full the hold is offered again every HOLD_PACE_SECONDS.
HOLD_PACE_BYTES = 256 << 10
HOLD_PACE_SECONDS = 0.005


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """A snapshot of one connection, for front ends."""

    conn: int
    service: str | None
    identified: bool
    shards: list[int]
    max_shards: int | None
    heap_used: int | None
    guilds: int | None
    start_time: int  # ms since the epoch
    last_heartbeat: float | None  # time.monotonic() of the last heartbeat, None before the first
    compress: bool
    remote: str  # the service's address and port, "127.0.0.1:54321" (its client's local address)
    heartbeat: dict[str, Any] = field(default_factory=dict)  # the last heartbeat's data
    last_heartbeat_at: int | None = None  # ms since the epoch of the last heartbeat, None before the first


class Connection:
    """The gateway's state for one websocket connection: its protocol session, and the socket's."""

    __slots__ = ("id", "ws", "remote", "session", "start_time", "closing", "close_code", "close_name", "close_reason",
                 "task", "backed_up_since", "held_taken", "stalled_since", "last_unread")  # fmt: skip

    def __init__(self, conn_id: int, ws: ServerConnection, remote: str, session: GatewaySession):
        self.id = conn_id
        self.ws = ws
        self.remote = remote
        self.session = session
        self.start_time = int(time.time() * 1000)
        self.closing = False  # the gateway decided to close it (or it is closing)
        self.close_code: int | None = None  # set when the gateway closed it
        self.close_name = ""
        self.close_reason = ""
        self.task: asyncio.Task[Any] | None = None
        self.backed_up_since: float | None = None  # monotonic time it was first found not reading
        self.held_taken = 0  # held events handed to it since the hold last ran dry for its type
        self.stalled_since: float | None = None  # full to the hold's pace and reading nothing since then
        self.last_unread = 0  # its unread bytes when the hold last found it full

    @property
    def service(self) -> str | None:
        return self.session.service

    @property
    def compress(self) -> bool:
        return self.session.compress

    def unread(self) -> int:
        """Bytes written to this connection that its peer has not read yet (ours and the kernel's
        send buffer aside)."""
        transport = self.ws.transport
        return transport.get_write_buffer_size() if transport is not None else 0


class MockGateway(WireServer):
    """A strict gateway on ``host:port``. ``async with MockGateway(port=0) as gw: gw.url …``

    Its rules are ``rules_class`` (made once) and ``session_class`` (one per connection): a gateway
    that breaks a rule on purpose (to see a service or a checker cope) subclasses those."""

    rules_class = GatewayRules
    session_class = GatewaySession

    def __init__(self, proto: Definition | None = None, settings: GatewaySettings | None = None, **overrides: Any):
        """``settings``, or the defaults with ``overrides`` (``MockGateway(port=0, hold=10)``); both
        are checked at once (InvalidSetting names the setting)."""
        super().__init__()
        self.proto, self.settings = engine_setup(proto, GatewaySettings, settings, overrides)
        proto, settings = self.proto, self.settings
        self.host, self.port = settings.host, settings.port  # port: the real one once started
        self.rules = self.rules_class(proto, settings)
        self.cache = CacheStore(proto)
        self.shard_pool = ShardPool(settings.max_shards, settings.shards_per_sharder)
        self.router = Router(proto, settings.hold, settings.hold_bytes)
        self._conns: dict[int, Connection] = {}
        self._next_id = 1
        self._server: Any = None
        self._sweeper: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writes = TurnWrites()
        self._pump_handle: asyncio.Handle | None = None  # the hold offered again (see HOLD_PACE_SECONDS)
        self._unsent_read: Record | None = None  # a relayed event's record, emitted once its forwards are known
        self._stopping = False
        self._identify_op = proto.op("IDENTIFY")

    # settings other parts read by name
    @property
    def token(self) -> str | None:
        return self.settings.token

    @property
    def ack(self) -> str:
        return self.settings.ack

    @property
    def allow_origins(self) -> tuple[str, ...]:
        return self.settings.allow_origins

    @property
    def max_shards(self) -> int:
        return self.settings.max_shards

    @property
    def heartbeat_interval(self) -> int:
        return self.settings.heartbeat_interval

    # --- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> MockGateway:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen on host:port (port 0 picks a free one); raises ListenFailed when it cannot."""
        self._server = await listen(
            self._handle,
            self.host,
            self.port,
            self.warn,
            "gwtool.gateway.websockets",
            max_size=self.settings.max_size,
            # room for one more frame above the backed-up bound: a send never waits to drain
            write_limit=BACKED_UP_BYTES + self.settings.max_size,
            process_request=make_process_request(self),
            create_connection=make_connection_class(self),
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._stopping = False
        self._sweeper = asyncio.create_task(self._sweep_heartbeats())

    async def stop(self) -> None:
        """Close every connection with 1001 (going away); returns within about STOP_TIMEOUT s."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._pump_handle is not None:
            self._pump_handle.cancel()
        if held := self.held_count:  # at-most-once: nothing keeps them past the process
            self._notice(
                "warning", f"shutting down: {plural(held, 'held event')} discarded (no receiver took them)", None, discarded=held
            )
        for conn in list(self._conns.values()):
            self._mark_closing(conn, GOING_AWAY, "GOING_AWAY", "gateway shutting down")
        await close_server(server, "gateway shutting down", self._drop_all)
        for task in list(self._tasks):
            task.cancel()

    def _drop_all(self) -> None:
        for conn in list(self._conns.values()):
            conn.ws.transport.abort()
        for task in [c.task for c in self._conns.values() if c.task] + list(self._tasks):
            task.cancel()

    # --- public API ------------------------------------------------------------------------------

    @property
    def connections(self) -> list[ConnectionInfo]:
        return [self._info(c) for c in self._conns.values()]

    @property
    def connection_count(self) -> int:
        return len(self._conns)

    @property
    def held_count(self) -> int:
        return len(self.router.held)

    @property
    def dropped_count(self) -> int:
        return self.router.dropped

    def services_json(self) -> list[dict[str, Any]]:
        """What GET /services/ returns: every identified connection.

        The gateway's own fields come first and win over a heartbeat field of the same name.
        """
        out = []
        roles = self.proto.roles
        for conn in self._conns.values():
            session = conn.session
            if session.service is None:
                continue
            entry: dict[str, Any] = {
                "conn": conn.id, "type": session.service, "startTime": conn.start_time, "lastHeartbeat": session.last_heartbeat_at,
            }  # fmt: skip
            for f in self.proto.heartbeat_fields_for(session.service):
                entry.setdefault(f.name, session.heartbeat.get(f.name))
            if self.proto.services[session.service].shards:
                entry[roles.identified_shards] = session.shards
                entry[roles.identified_max_shards] = self.max_shards
            out.append(entry)
        return out

    async def request_heartbeat(self, conn: int | None = None) -> None:
        """Ask one connection (or every one) for a heartbeat now (op HEARTBEAT from the gateway)."""
        targets = [self._conns[conn]] if conn is not None and conn in self._conns else []
        if conn is None:
            targets = list(self._conns.values())
        for target in targets:
            if not target.closing:
                try:
                    await self._send_own(target, target.session.heartbeat_request())
                except ConnectionClosed:  # it left meanwhile; its handler reports how
                    pass

    def close_connection(self, conn: int, code: int, reason: str = "") -> bool:
        """Close one connection with any code (the protocol's or RFC 6455's); False if it is gone.

        From this call on the gateway reads nothing more from it; the close frame follows at once."""
        target = self._conns.get(conn)
        if target is None or not self._mark_closing(target, code, self.proto.close_name(code), reason):
            return False
        self._spawn(self._send_close(target))
        return True

    def drop_connection(self, conn: int) -> bool:
        """End one connection's TCP connection with no close frame, as a crash or a cable would."""
        target = self._conns.get(conn)
        if target is None or target.ws.transport is None:
            return False
        self._mark_closing(target, 1006, "ABNORMAL", "dropped by the gateway (no close frame)")
        target.ws.transport.abort()
        return True

    # --- one connection --------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        session = self.session_class(self.rules, self.shard_pool, self._next_id, time.monotonic())
        conn = Connection(self._next_id, ws, address_text(ws.remote_address), session)
        self._next_id += 1
        conn.task = asyncio.current_task()
        self._conns[conn.id] = conn
        if self._subscribers:
            self._notice("connected", f"connected from {conn.remote}", conn, remote=conn.remote)
        try:
            await self._send_own(conn, session.hello())
            await self._read(conn)
        except ConnectionClosed:
            pass
        except Exception as exc:  # a gateway bug must cost one connection, never the gateway
            self._notice("error", f"handler failed: {type(exc).__name__}: {exc}", conn)
            await self._refuse(conn, "gateway_error", error=f"{type(exc).__name__}: {exc}")
        finally:
            self._forget(conn)

    async def _read(self, conn: Connection) -> None:
        recv = conn.ws.recv
        session = conn.session
        clock = time.monotonic
        while not self._stopping:
            frame = await recv()
            if self._stopping or conn.closing:
                return
            now = clock()
            over_rate = session.admit(now)
            payload = _loads(frame)
            if payload is None:
                await self._undecodable(conn, frame, over_rate)
                return
            read = self._record_in(conn, frame, payload) if self._subscribers else None
            if over_rate is not None:  # read and shown like any payload, then refused
                self._emit(read)
                await self._close_with(conn, over_rate)
                return
            actions = session.receive(payload, now)
            if read is not None:
                if actions and type(actions[0]) is Route:  # emitted once routed: its record says where it went
                    self._unsent_read = read
                else:
                    self._emit(read)
            if actions and not await self._act(conn, actions, payload, cast(str, frame), read):  # _loads took only text
                return
            del frame, payload, read  # not kept alive while waiting for the next one (up to --max-size each)

    async def _act(
        self, conn: Connection, actions: Sequence[Action], payload: dict[str, Any], frame: str, read: Record | None
    ) -> bool:
        """Carry out what the session answered; False once the connection is closing. ``read``: the
        payload's record, which a relayed event's forwards are added to."""
        for action in actions:
            if type(action) is Route:
                self._route(conn, action.event, payload, frame, read)
                if self._unsent_read is not None:
                    read, self._unsent_read = self._unsent_read, None
                    self._emit(read)
            elif type(action) is Send:
                await self._send_own(conn, action)
            elif type(action) is Close:
                await self._close_with(conn, action)
                return False
            elif type(action) is Joined:
                self._joined(conn, action)
            elif type(action) is Store:
                self.cache.put(action.cache_type, action.d)
        return not conn.closing

    async def _undecodable(self, conn: Connection, frame: str | bytes, over_rate: Close | None) -> None:
        try:
            decode_text(frame)
            why = "not a gateway payload"
        except DecodeError as exc:
            why = exc.reason
        if self._subscribers:
            self._record_in(conn, frame, None, error=why)
        await self._close_with(conn, over_rate or conn.session.undecodable(why))

    def _joined(self, conn: Connection, joined: Joined) -> None:
        if self._subscribers:
            text = f"identified as {joined.service}"
            if self.proto.services[joined.service].shards:
                text += f" with shards {joined.shards} of {self.max_shards}" if joined.shards else " — no free shard: shards []"
            if joined.compress:
                text += ", compressed"
            self._notice("identified", text, conn, shards=joined.shards, compress=joined.compress)
        if not conn.closing:
            self.router.add(conn)
            self._pump()

    # --- routing -----------------------------------------------------------------------------------

    def _route(self, sender: Connection, event: Event, payload: dict[str, Any], frame: str, read: Record | None) -> None:
        """Synchronous, as every write is: a receiver that reads slowly never holds up its sender."""
        router = self.router
        if event.t in router.held_by_t:  # older ones of its type wait: it goes behind them, in order
            older = router.held_by_t[event.t]
            self._hold(Held(event, frame, sender.id), sender, f"behind {plural(older, 'older one')}")
            self._pump()
        elif event.routing == "round_robin":
            receivers = len(router.receivers(event))
            for _ in range(receivers):  # each receiver once at most: all may be backed up
                target = router.next_receiver(event)
                if target is None:
                    break
                if self._forward(target, payload, frame, read):
                    return
            self._hold(Held(event, frame, sender.id), sender, self._no_receiver(event, receivers))
        elif event.routing == "broadcast":
            delivered = False
            receivers = 0
            for target in list(router.receivers(event)):
                if target is not sender:
                    receivers += 1
                    delivered = self._forward(target, payload, frame, read) or delivered
            if not delivered:
                self._hold(Held(event, frame, sender.id), sender, self._no_receiver(event, receivers))

    @staticmethod
    def _no_receiver(event: Event, receivers: int) -> str:
        targets = " or ".join(event.targets)
        return f"every {targets} service is backed up" if receivers else f"no {targets} service connected"

    def _forward(self, target: Connection, payload: dict[str, Any] | None, frame: str, read: Record | None = None) -> bool:
        """Send an event as its sender sent it (compressed when asked), written when this turn of the
        loop ends (see writes.py); False if the target is gone or backed up (then the event goes to
        another receiver or is held). The forward is added to ``read``, the event's record, or is
        a record of its own when there is none (a held event)."""
        ws = target.ws
        if target.closing or ws.protocol.state is not OPEN:
            self.router.remove(target)
            return False
        if target.unread() > BACKED_UP_BYTES:
            self._backed_up(target)
            return False
        if target.backed_up_since is not None:
            target.backed_up_since = None
            self._notice("info", "reading again: events go to it again", target)
        data: str | bytes = zlib.compress(frame.encode()) if target.compress else frame
        self._writes.add(ws, data)
        if read is not None:
            forward = Forward(target.id, target.service, frame_size(data), target.compress)
            if read.forwards is None:
                read.forwards = [forward]
            else:
                read.forwards.append(forward)
        elif self._subscribers:
            if payload is None:  # a held event: only its frame was kept
                payload = orjson.loads(frame)
            self._emit(Record("out", frame_size(data), payload, target.compress, target.id, target.service))
        return True

    def _backed_up(self, conn: Connection) -> None:
        if conn.backed_up_since is None:
            conn.backed_up_since = time.monotonic()
            kib = conn.unread() // 1024
            self._notice(
                "warning", f"not reading: {kib:,} KiB unread; events go to other receivers or are held"
                f" (closed if it stays so for {self.settings.slow_receiver_seconds:g} s)", conn, unread=kib * 1024,
            )  # fmt: skip

    def _hold(self, item: Held, sender: Connection, why: str) -> None:
        dropped = self.router.hold(item)
        if item not in dropped:
            self._schedule_pump()  # a receiver that was backed up may take it once it reads again
        if not self._subscribers:
            return
        if item not in dropped:
            self._notice(
                "held", f"held {item.event.t}: {why} ({self.held_count:,} held)", sender, t=item.event.t, held=self.held_count
            )
        router = self.router
        for old in dropped:
            since = time.strftime("%H:%M:%S", time.localtime(old.ts))
            why = "it alone is over --hold-bytes" if old is item else "the hold is full"
            self._notice(
                "dropped",
                f"dropped {old.event.t} held since {since}: {why} ({router.hold_limit} events, "
                f"{router.hold_bytes:,} bytes); {self.dropped_count} dropped so far",
                sender, t=old.event.t, dropped=self.dropped_count,
            )  # fmt: skip

    def _pump(self) -> None:
        """Hand held events, oldest first, to receivers with room (in turn), until the hold is
        empty or every receiver of what is left is full; then try again in HOLD_PACE_SECONDS."""
        router = self.router
        full = False
        for service in router.services_with_held():
            receivers = list(router.by_service[service])
            while receivers:
                for conn in list(receivers):
                    if conn.closing or conn.ws.protocol.state is not OPEN or conn.unread() >= HOLD_PACE_BYTES:
                        receivers.remove(conn)
                        if not conn.closing:
                            full = True
                            self._note_full(conn)
                        continue
                    item = router.take_held(service)
                    if item is None:
                        receivers = []
                        break
                    if not self._forward(conn, None, item.frame):
                        router.put_back(item)  # (it was open with room: not expected, but never lost)
                        receivers.remove(conn)
                        continue
                    conn.held_taken += 1
                    conn.stalled_since = None
            if service not in router.services_with_held():
                self._hold_ran_dry(service)
        if full and router.held:
            self._schedule_pump()

    def _schedule_pump(self) -> None:
        """Offer the hold again in HOLD_PACE_SECONDS (once: a pending offer stands)."""
        if self._pump_handle is None and not self._stopping:
            self._pump_handle = asyncio.get_running_loop().call_later(HOLD_PACE_SECONDS, self._pump_again)

    def _pump_again(self) -> None:
        self._pump_handle = None
        self._pump()

    def _note_full(self, conn: Connection) -> None:
        """A receiver the hold found full: it is stalled while its unread bytes do not go down
        (the sweeper closes it past slow_receiver_seconds, as one past BACKED_UP_BYTES)."""
        unread = conn.unread()
        if unread < conn.last_unread:
            conn.stalled_since = None  # it read some since the last look
        elif conn.stalled_since is None:
            conn.stalled_since = time.monotonic()
        conn.last_unread = unread

    def _hold_ran_dry(self, service: str) -> None:
        for conn in self.router.by_service[service]:
            if conn.held_taken:
                self._notice("info", f"delivered {plural(conn.held_taken, 'held event')}", conn, delivered=conn.held_taken)
                conn.held_taken = 0

    # --- sending, closing, bookkeeping ------------------------------------------------------------

    async def _send_own(self, conn: Connection, send: Send) -> None:
        """Send a payload the gateway made: a text frame, or zlib in a binary frame once asked."""
        frame = send.frame if send.frame is not None else orjson.dumps(send.payload)
        if conn.compress:
            data = send.zframe if send.zframe is not None else zlib.compress(frame)
            await conn.ws.send(data)
        else:
            data = frame
            await conn.ws.send(frame, text=True)
        if self._subscribers:
            self._emit(Record("out", len(data), send.payload, conn.compress, conn.id, conn.service))

    def _mark_closing(self, conn: Connection, code: int, name: str, reason: str) -> bool:
        if conn.closing:
            return False
        conn.closing = True
        conn.close_code, conn.close_name, conn.close_reason = code, name, clip_reason(reason)
        self.router.remove(conn)
        return True

    async def _refuse(self, conn: Connection, why: str, **values: Any) -> None:
        """Close with one of the gateway's own reasons (session/reasons.py)."""
        await self._close_with(conn, self.rules.refuse(why, **values))

    async def _close_with(self, conn: Connection, close: Close) -> None:
        if self._mark_closing(conn, close.code, close.name, close.reason):
            await self._send_close(conn)

    async def _send_close(self, conn: Connection) -> None:
        try:  # websockets waits for the write buffer to drain first: a peer that does not read never lets it
            async with asyncio.timeout(CLOSE_TIMEOUT * 1.5):
                await conn.ws.close(conn.close_code, conn.close_reason)  # type: ignore[arg-type]
        except TimeoutError:
            conn.ws.transport.abort()
        except Exception:  # already gone: nothing more to tell it
            pass

    def _forget(self, conn: Connection) -> None:
        """The connection ended: free its shards, leave the router, tell subscribers how it closed."""
        self._conns.pop(conn.id, None)
        self.router.remove(conn)
        conn.session.ended()
        if not self._subscribers:
            return
        if conn.close_code is not None:
            code, name, reason, by = conn.close_code, conn.close_name, conn.close_reason, "gateway"
        else:
            peer_code, reason, by = _peer_close(conn.ws)
            code, name = peer_code or 0, self.proto.close_name(peer_code)
        known = self.proto.close_by_code.get(code)
        final = known is not None and not known.reconnect
        shown = f"closed {code} {name}".rstrip() + (f": {reason}" if reason else "") + f" (by the {by}"
        shown += "; the service should not reconnect)" if final else ")"
        self._notice("closed", shown, conn, code=code, name=name, reason=reason, by=by, reconnect=not final)

    async def _sweep_heartbeats(self) -> None:
        """One task for every connection: the sessions' deadlines, and receivers that stopped reading."""
        period = min(max(self.rules.timeout / 5, 0.01), 1.0)
        slow = self.settings.slow_receiver_seconds
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            for conn in list(self._conns.values()):
                if conn.closing:
                    continue
                if (close := conn.session.tick(now)) is not None:
                    self._spawn(self._close_with(conn, close))
                    continue
                if (stalled := conn.stalled_since) is not None:
                    if conn.service not in self.router.services_with_held():
                        conn.stalled_since = None  # the hold it was full to is gone
                    elif now - stalled > slow:
                        self._spawn(self._refuse(conn, "not_reading", kib=conn.unread() // 1024, seconds=now - stalled))
                        continue
                    elif now - stalled > 1.0:
                        self._backed_up(conn)  # the warning, once
                stuck = conn.backed_up_since
                if stuck is not None and now - stuck > slow:
                    if conn.unread() > BACKED_UP_BYTES:
                        self._spawn(self._refuse(conn, "not_reading", kib=conn.unread() // 1024, seconds=now - stuck))
                    else:
                        conn.backed_up_since = None

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- records and notices ----------------------------------------------------------------------

    def _emit(self, item: Record | Notice | None) -> None:
        if item is None:
            return
        if (read := self._unsent_read) is not None and read is not item:  # a notice during routing: the read first
            self._unsent_read = None
            self._emit(read)
        super()._emit(item)

    def _record_in(
        self, conn: Connection, frame: str | bytes, payload: dict[str, Any] | None, error: str | None = None
    ) -> Record | None:
        """The record of a payload read (emitted here when it did not decode; else by the caller,
        once it knows what became of it)."""
        if not self._subscribers:
            return None
        if payload is None:
            record = Record("in", frame_size(frame), None, False, conn.id, conn.service, error=error, raw=preview(frame))
            self._emit(record)
            return record
        elif payload.get("op") == self._identify_op and not self.settings.show_token:  # its frame has the token
            payload = masked_identify(payload, self.proto.roles.identify_token)
            record = Record("in", frame_size(frame), payload, False, conn.id, conn.service, error=error)
        else:  # a flood's path: positional arguments are the cheap call
            record = Record("in", frame_size(frame), payload, False, conn.id, conn.service, cast(str, frame), error)
        return record

    # --- what the REST side (rest.py) and websockets' logger tell subscribers ------------------------

    def http_notice(self, method: str, path: str, status: int, ws: ServerConnection) -> None:
        """One plain HTTP request the gateway answered."""
        if self._subscribers:
            path = path if len(path) <= 200 else path[:200] + "…"
            text = f"HTTP {method} {path} → {status}"
            data = {"http": path, "status": status, "remote": address_text(ws.remote_address)}
            self._emit(Notice("info", text, 0, "http", data))

    def _info(self, c: Connection) -> ConnectionInfo:
        s = c.session
        has_shards = s.service is not None and self.proto.services[s.service].shards
        return ConnectionInfo(
            conn=c.id, service=s.service, identified=s.phase == "identified", shards=list(s.shards),
            max_shards=self.max_shards if has_shards else None, heap_used=s.heartbeat.get(self.proto.roles.heartbeat_memory),
            guilds=s.heartbeat.get("guilds"), start_time=c.start_time, last_heartbeat=s.last_heartbeat,
            compress=s.compress, remote=c.remote, heartbeat=dict(s.heartbeat), last_heartbeat_at=s.last_heartbeat_at,
        )  # fmt: skip


def _loads(frame: str | bytes) -> dict[str, Any] | None:
    """The payload of a text frame, or None when it is not a gateway payload (see codec)."""
    if type(frame) is not str:
        return None
    try:
        payload = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return None
    if type(payload) is not dict or type(payload.get("d", payload)) not in _DATA_TYPES or too_deep(frame, payload):
        return None
    return payload


def _peer_close(ws: ServerConnection) -> tuple[int | None, str, str]:
    """(code, reason, who) of a close the gateway did not start: the service's, or the library's."""
    protocol = ws.protocol
    close = close_of(protocol.close_rcvd, protocol.close_sent, protocol.close_rcvd_then_sent)
    if close is None:
        return 1006, "connection dropped without a close frame", "service"
    code, reason, by_peer = close
    return code, reason, "service" if by_peer else "gateway"
