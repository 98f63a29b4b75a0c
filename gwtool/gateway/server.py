"""MockGateway: a strict, in-process gateway that speaks the whole protocol.

One websockets server on one port serves the websocket and the REST routes. Each connection is
read by one handler: decode once (orjson), check with the protocol's compiled checks, answer or
route, and forward events as the very frame their sender sent. Records and Notices are only built
when someone subscribed, so the relay stays cheap when nobody watches; the counters always work.
Every rule comes from the Protocol object: opcodes and close codes by name, routing by the tables.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import logging
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

import orjson
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from gwtool.errors import DecodeError, GwtoolError, clip_reason
from gwtool.gateway.cache import CacheStore
from gwtool.gateway.reasons import reason
from gwtool.gateway.rest import make_connection_class, make_process_request
from gwtool.gateway.router import Held, Router
from gwtool.gateway.shards import ShardPool
from gwtool.gateway.writes import TurnWrites
from gwtool.protocol.codec import decode_text, encode, too_deep
from gwtool.protocol.validate import check_data as _check_data
from gwtool.protocol.validate import permission_error, validate_payload
from gwtool.records import Notice, Record, masked_identify, preview

if TYPE_CHECKING:
    from gwtool.protocol.definition import Event, Protocol

Subscriber = Callable[[Record | Notice], None]
OPEN = State.OPEN
_DATA_TYPES = (dict, list)
CLOSE_TIMEOUT = 1.0  # seconds a close handshake may take before the TCP connection is dropped
STOP_TIMEOUT = 2.0  # seconds stop() waits for connections to close before aborting them
GOING_AWAY = 1001  # RFC 6455: the gateway is shutting down
# A receiver with more than this many bytes written to it and not yet read is "backed up": events
# go to the next receiver (or are held) instead of waiting for it, and past SLOW_RECEIVER_SECONDS
# backed up it is closed with UNKNOWN_ERROR. Its sender never waits on it.
BACKED_UP_BYTES = 1 << 20
SLOW_RECEIVER_SECONDS = 5.0
HOLD_BYTES = 64 << 20  # bytes of held frames at most (besides the count, --hold)
# Held events go to a receiver while less than HOLD_PACE_BYTES written to it are unread, so a late
# receiver takes a backlog as fast as it reads it, never as one burst that would find it "not
# reading". A buffer draining is the only sign that a peer has read (nothing calls back below the
# transport's low-water mark, which websockets keeps for its own sends), so while a receiver of a
# held event is full the hold is offered again every HOLD_PACE_SECONDS.
HOLD_PACE_BYTES = 256 << 10
HOLD_PACE_SECONDS = 0.005
IDENTIFY_TIMEOUT = 30.0  # seconds a connection may stay without IDENTIFY (heartbeating or not)
Ack = Literal["always", "without_d", "never"]  # how the gateway answers heartbeats
ACK_MODES: tuple[Ack, ...] = ("always", "without_d", "never")


class ListenFailed(GwtoolError):
    """The gateway could not listen on its host and port (in use, or not allowed)."""

    exit_code = 2


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
    """The gateway's state for one websocket connection."""

    __slots__ = (
        "id", "ws", "remote", "service", "identified", "compress", "shards", "heartbeat", "start_time",
        "opened", "last_heartbeat", "last_heartbeat_at", "window_start", "window_count", "closing", "close_code",
        "close_name", "close_reason", "task", "backed_up_since", "held_taken",
    )  # fmt: skip

    def __init__(self, conn_id: int, ws: ServerConnection, remote: str):
        self.id = conn_id
        self.ws = ws
        self.remote = remote
        self.service: str | None = None
        self.identified = False
        self.compress = False
        self.shards: list[int] = []
        self.heartbeat: dict[str, Any] = {}
        self.start_time = int(time.time() * 1000)
        self.opened = time.monotonic()
        self.last_heartbeat: float | None = None
        self.last_heartbeat_at: int | None = None  # ms since the epoch, for GET /services/
        self.window_start = self.opened
        self.window_count = 0
        self.closing = False  # the gateway decided to close it (or it is closing)
        self.close_code: int | None = None  # set when the gateway closed it
        self.close_name = ""
        self.close_reason = ""
        self.task: asyncio.Task[Any] | None = None
        self.backed_up_since: float | None = None  # monotonic time it was first found not reading
        self.held_taken = 0  # held events handed to it since the hold last ran dry for its type

    def unread(self) -> int:
        """Bytes written to this connection that its peer has not read yet (ours and the kernel's
        send buffer aside)."""
        transport = self.ws.transport
        return transport.get_write_buffer_size() if transport is not None else 0


class MockGateway:
    """A strict gateway on ``host:port``. ``async with MockGateway(port=0) as gw: gw.url …``"""

    def __init__(
        self,
        proto: Protocol | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        heartbeat_interval: int = 30000,
        token: str | None = None,
        max_shards: int = 3,
        shards_per_sharder: int = 3,
        max_size: int = 1 << 20,
        rate_limit: tuple[int, float] | None = None,
        hold: int = 1000,
        slow_receiver_seconds: float = SLOW_RECEIVER_SECONDS,
        hold_bytes: int = HOLD_BYTES,
        identify_timeout: float = IDENTIFY_TIMEOUT,
        allow_origins: tuple[str, ...] = (),
        show_token: bool = False,
        ack: Ack = "always",
    ):
        if proto is None:
            from gwtool.protocol.definition import load_protocol

            proto = load_protocol()
        self.proto = proto
        self.host = host
        self.port = port
        self.heartbeat_interval = heartbeat_interval
        self.token = token or None
        self.max_shards = max_shards
        self.max_size = max_size
        self.rate_limit = rate_limit
        self.slow_receiver_seconds = slow_receiver_seconds
        self.identify_timeout = identify_timeout
        self.show_token = show_token  # records show IDENTIFY tokens masked unless this is set
        if ack not in ACK_MODES:
            raise ValueError(f"ack: expected one of {', '.join(ACK_MODES)}, got {ack!r}")
        self.ack = ack  # "without_d" and "never" let a service's developer see it cope (or not)
        self.allow_origins = tuple(allow_origins)  # browser origins allowed; clients without one always are
        self.cache = CacheStore(proto)
        self.shard_pool = ShardPool(max_shards, shards_per_sharder)
        self.router = Router(proto, hold, hold_bytes)
        self._conns: dict[int, Connection] = {}
        self._next_id = 1
        self._subscribers: list[Subscriber] = []
        self._server: Any = None
        self._sweeper: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writes = TurnWrites()
        self._pump_handle: asyncio.Handle | None = None  # the hold offered again (see HOLD_PACE_SECONDS)
        self._stopping = False
        self._checks = proto.checks
        self._heartbeat_names = {
            service: frozenset(f.name for f in proto.heartbeat_fields_for(service) if "." not in f.path)
            for service in (None, *proto.services)
        }
        self._timeout = heartbeat_interval * proto.heartbeat_timeout_factor / 1000  # seconds
        self._op = {name: proto.op(name) for name in proto.opcodes}
        self._identify_op = self._op["IDENTIFY"]
        self._handlers = self._opcode_handlers()
        self._roles = roles = proto.roles  # the field names behind each meaning (the definition's [roles])
        self._hello = self._own_payload("HELLO", {roles.hello_interval: heartbeat_interval})
        self._ack: tuple[dict[str, Any], bytes, bytes] | None = self._own_payload("HEARTBEAT_ACK", {})  # None: --ack never
        if ack == "without_d":
            frame = encode({"op": self._op["HEARTBEAT_ACK"]})
            self._ack = ({"op": self._op["HEARTBEAT_ACK"]}, frame, zlib.compress(frame))
        elif ack == "never":
            self._ack = None
        self._beat_request = self._own_payload("HEARTBEAT", {})
        self._identified_event = proto.event_with_routing("identified")

    def _own_payload(self, op_name: str, d: dict[str, Any]) -> tuple[dict[str, Any], bytes, bytes]:
        """A payload the gateway sends often: (payload, JSON frame, compressed frame), made once."""
        payload = {"op": self._op[op_name], "d": d}
        frame = encode(payload)
        return payload, frame, zlib.compress(frame)

    def _opcode_handlers(self) -> dict[int, Callable[[Connection, dict[str, Any], str], Awaitable[None]]]:
        """op code → handler for every opcode a service may send (by name, from the protocol)."""
        by_name = {
            "HEARTBEAT": self._on_heartbeat,
            "IDENTIFY": self._on_identify,
            "EVENT": self._on_event,
            "CACHE": self._on_cache,
        }
        return {op.code: by_name.get(op.name, self._on_other) for op in self.proto.opcodes.values() if "service" in op.sent_by}

    # --- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> MockGateway:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen on host:port (port 0 picks a free one); raises ListenFailed when it cannot."""
        try:
            self._server = await serve(
                self._handle,
                self.host,
                self.port,
                compression=None,
                max_size=self.max_size,
                ping_interval=None,  # the protocol has its own heartbeats
                close_timeout=CLOSE_TIMEOUT,
                # room for one more frame above the backed-up bound: a send never waits to drain
                write_limit=BACKED_UP_BYTES + self.max_size,
                process_request=make_process_request(self),
                create_connection=make_connection_class(self),
                logger=_NoticeLogger(self),
            )
        except OSError as exc:
            why = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
            raise ListenFailed(f"cannot listen on {self.host}:{self.port}: {why}") from None
        except OverflowError:  # a port outside 0…65535
            raise ListenFailed(f"cannot listen on {self.host}:{self.port}: a port is 0…65535") from None
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
                "warning", f"shutting down: {held} held event(s) discarded (no receiver took them)", None, discarded=held
            )
        for conn in list(self._conns.values()):
            self._mark_closing(conn, GOING_AWAY, "GOING_AWAY", "gateway shutting down")
        server.close(close_connections=True, code=GOING_AWAY, reason="gateway shutting down")
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await server.wait_closed()
        except TimeoutError:  # a peer that does not read: drop it
            for conn in list(self._conns.values()):
                conn.ws.transport.abort()
            for task in [c.task for c in self._conns.values() if c.task] + list(self._tasks):
                task.cancel()
            try:
                async with asyncio.timeout(0.5):
                    await server.wait_closed()
            except TimeoutError:
                pass
        for task in list(self._tasks):
            task.cancel()

    # --- public API ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"ws://{_host_for_url(self.host)}:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://{_host_for_url(self.host)}:{self.port}"

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

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call ``fn(record_or_notice)`` for everything from now on; returns the unsubscribe."""
        self._subscribers = [*self._subscribers, fn]

        def unsubscribe() -> None:
            if fn in self._subscribers:
                rest = list(self._subscribers)
                rest.remove(fn)
                self._subscribers = rest

        return unsubscribe

    def services_json(self) -> list[dict[str, Any]]:
        """What GET /services/ returns: every identified connection.

        The gateway's own fields come first and win over a heartbeat field of the same name.
        """
        out = []
        for conn in self._conns.values():
            if not conn.identified:
                continue
            entry: dict[str, Any] = {
                "conn": conn.id, "type": conn.service, "startTime": conn.start_time, "lastHeartbeat": conn.last_heartbeat_at,
            }  # fmt: skip
            for f in self.proto.heartbeat_fields_for(conn.service):
                entry.setdefault(f.name, conn.heartbeat.get(f.name))
            if self.proto.services[conn.service].shards:  # type: ignore[index]
                entry[self._roles.identified_shards] = conn.shards
                entry[self._roles.identified_max_shards] = self.max_shards
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
                    await self._send_own(target, self._beat_request)
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
        conn = Connection(self._next_id, ws, address_text(ws.remote_address))
        self._next_id += 1
        conn.task = asyncio.current_task()
        self._conns[conn.id] = conn
        if self._subscribers:
            self._notice("connected", f"connected from {conn.remote}", conn, remote=conn.remote)
        try:
            await self._send_own(conn, self._hello)
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
        handlers = self._handlers
        rate_limit = self.rate_limit
        before_identify = (self._op["HEARTBEAT"], self._op["IDENTIFY"])
        while not self._stopping:
            frame = await recv()
            if self._stopping or conn.closing:
                return
            over_rate = rate_limit is not None and self._over_rate(conn, rate_limit)
            payload = _loads(frame)
            if payload is None:
                await self._undecodable(conn, frame, over_rate)
                return
            op = payload.get("op")
            handler = handlers.get(op) if type(op) is int else None
            if self._subscribers:
                self._record_in(conn, frame, payload)
            if over_rate:  # read and shown like any payload, then refused
                await self._refuse_over_rate(conn)
                return
            if handler is None:
                await self._close(conn, "UNKNOWN_OPCODE", self._unknown_op_reason(op))
                return
            if not conn.identified and op not in before_identify:
                await self._refuse(conn, "before_identify", op=self.proto.op_name(op))
                return
            await handler(conn, payload, cast(str, frame))  # _loads took only a text frame
            del frame, payload  # not kept alive while waiting for the next one (up to --max-size each)

    async def _undecodable(self, conn: Connection, frame: str | bytes, over_rate: bool) -> None:
        try:
            decode_text(frame)
            reason = "not a gateway payload"
        except DecodeError as exc:
            reason = exc.reason
        if self._subscribers:
            self._record_in(conn, frame, None, error=reason)
        if over_rate:
            await self._refuse_over_rate(conn)
        else:
            await self._close(conn, "DECODE_ERROR", reason)

    async def _refuse_over_rate(self, conn: Connection) -> None:
        count, seconds = self.rate_limit or (0, 0.0)
        await self._refuse(conn, "rate_limited", count=count, s="s" * (count != 1), seconds=seconds)

    def _unknown_op_reason(self, op: Any) -> str:
        known = ", ".join(f"{o.code} {o.name}" for o in self.proto.opcodes.values() if "service" in o.sent_by)
        if op is None:
            return f"op: missing (one of {known})"
        opcode = self.proto.opcode_by_code.get(op) if type(op) is int else None
        if opcode is not None:
            return f"op: {opcode.code} {opcode.name} is sent by the gateway only (services send {known})"
        return f"op: unknown opcode {op!r} (services send {known})"

    def _over_rate(self, conn: Connection, limit: tuple[int, float]) -> bool:
        now = time.monotonic()
        if now - conn.window_start >= limit[1]:
            conn.window_start, conn.window_count = now, 0
        conn.window_count += 1
        return conn.window_count > limit[0]

    # --- opcodes -----------------------------------------------------------------------------------

    async def _on_heartbeat(self, conn: Connection, payload: dict[str, Any], frame: str) -> None:
        if await self._reject_t(conn, payload):
            return
        checks = self._checks.heartbeat
        d, errors = _check_data(checks.get(conn.service, checks[None]), payload)
        if errors:
            await self._close(conn, "INVALID_PAYLOAD", "; ".join(errors))
            return
        conn.last_heartbeat = time.monotonic()
        conn.last_heartbeat_at = int(time.time() * 1000)
        kept = self._heartbeat_names.get(conn.service, self._heartbeat_names[None])
        conn.heartbeat = {k: v for k, v in d.items() if k in kept}  # the definition's fields only
        if self._ack is not None:
            await self._send_own(conn, self._ack)

    async def _on_identify(self, conn: Connection, payload: dict[str, Any], frame: str) -> None:
        if conn.identified:
            await self._refuse(conn, "already_identified", service=conn.service)
            return
        if await self._reject_t(conn, payload):
            return
        d, errors = _check_data(self._checks.identify, payload)
        roles = self._roles
        service = d.get(roles.identify_service) if type(d) is dict else None
        unknown_service = type(service) is str and service not in self.proto.services
        if unknown_service:  # its own close code, once the rest is well-formed and the token matches
            errors = [e for e in errors if not e.startswith(f"d.{roles.identify_service}:")]
        if errors:
            await self._close(conn, "INVALID_PAYLOAD", "; ".join(errors))
            return
        if self.token is not None and not hmac.compare_digest(str(d[roles.identify_token]).encode(), self.token.encode()):
            await self._refuse(conn, "bad_token")
            return
        if unknown_service or type(service) is not str:
            await self._refuse(conn, "unknown_service", service=service, known=", ".join(self.proto.services))
            return
        await self._identify(conn, service, d.get(roles.identify_compress) is True)

    async def _identify(self, conn: Connection, service: str, compress: bool) -> None:
        conn.service, conn.identified, conn.compress = service, True, compress
        answer: dict[str, Any] = {}
        has_shards = self.proto.services[service].shards
        if has_shards:
            conn.shards = self.shard_pool.allocate(conn.id)
            answer = {self._roles.identified_shards: conn.shards, self._roles.identified_max_shards: self.max_shards}
        if self._identified_event is not None:
            payload = {"op": self._op["EVENT"], "t": self._identified_event.t, "d": answer}
            frame = encode(payload)
            await self._send_own(conn, (payload, frame, None))
        if self._subscribers:
            text = f"identified as {service}"
            if has_shards:
                text += f" with shards {conn.shards} of {self.max_shards}" if conn.shards else " — no free shard: shards []"
            if compress:
                text += ", compressed"
            self._notice("identified", text, conn, shards=conn.shards, compress=compress)
        if not conn.closing:
            self.router.add(conn)
            self._pump()

    async def _on_event(self, conn: Connection, payload: dict[str, Any], frame: str) -> None:
        t = payload.get("t")
        event = self.proto.events.get(t) if type(t) is str else None
        if event is None:
            known = ", ".join(self.proto.events)
            what = (
                "missing"
                if t is None
                else f"unknown event {t!r}"
                if type(t) is str
                else f"expected string, got {type(t).__name__}"
            )
            await self._refuse(conn, "unknown_event", what=what, known=known)
            return
        if not event.may_be_sent_by(conn.service):  # type: ignore[arg-type]
            await self._close(conn, "EVENT_NOT_ALLOWED", permission_error(self.proto, payload, conn.service))  # type: ignore[arg-type]
            return
        _, errors = _check_data(self._checks.events[event.t], payload)
        if errors:
            await self._close(conn, "INVALID_PAYLOAD", "; ".join(errors))
            return
        self._route(conn, event, payload, frame)

    async def _on_cache(self, conn: Connection, payload: dict[str, Any], frame: str) -> None:
        if denied := permission_error(self.proto, payload, conn.service):  # type: ignore[arg-type]
            await self._close(conn, "EVENT_NOT_ALLOWED", denied)
            return
        if errors := validate_payload(self.proto, payload, service=conn.service):
            await self._close(conn, "INVALID_PAYLOAD", "; ".join(errors))
            return
        self.cache.put(payload["type"], payload["d"])

    async def _on_other(self, conn: Connection, payload: dict[str, Any], frame: str) -> None:
        """An opcode a user's protocol adds for services: checked, otherwise accepted as is."""
        if errors := validate_payload(self.proto, payload, service=conn.service):
            await self._close(conn, "INVALID_PAYLOAD", "; ".join(errors))

    async def _reject_t(self, conn: Connection, payload: dict[str, Any]) -> bool:
        if payload.get("t") is None:
            return False
        await self._refuse(conn, "t_on_other_op", op=self._op["EVENT"])
        return True

    # --- routing -----------------------------------------------------------------------------------

    def _route(self, sender: Connection, event: Event, payload: dict[str, Any], frame: str) -> None:
        """Synchronous, as every write is: a receiver that reads slowly never holds up its sender."""
        router = self.router
        if event.t in router.held_by_t:  # older ones of its type wait: it goes behind them, in order
            older = router.held_by_t[event.t]
            self._hold(Held(event, frame, sender.id), sender, f"behind {older:,} older one{'s' * (older != 1)}")
            self._pump()
        elif event.routing == "round_robin":
            receivers = len(router.receivers(event))
            for _ in range(receivers):  # each receiver once at most: all may be backed up
                target = router.next_receiver(event)
                if target is None:
                    break
                if self._forward(target, payload, frame):
                    return
            self._hold(Held(event, frame, sender.id), sender, self._no_receiver(event, receivers))
        elif event.routing == "broadcast":
            delivered = False
            receivers = 0
            for target in list(router.receivers(event)):
                if target is not sender:
                    receivers += 1
                    delivered = self._forward(target, payload, frame) or delivered
            if not delivered:
                self._hold(Held(event, frame, sender.id), sender, self._no_receiver(event, receivers))

    @staticmethod
    def _no_receiver(event: Event, receivers: int) -> str:
        targets = " or ".join(event.targets)
        return f"every {targets} service is backed up" if receivers else f"no {targets} service connected"

    def _forward(self, target: Connection, payload: dict[str, Any] | None, frame: str) -> bool:
        """Send an event as its sender sent it (compressed when asked), written when this turn of the
        loop ends (see writes.py); False if the target is gone or backed up (then the event goes to
        another receiver or is held)."""
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
        if self._subscribers:
            if payload is None:  # a held event: only its frame was kept
                payload = orjson.loads(frame)
            self._emit(Record("out", _size(data), payload, target.compress, target.id, target.service))
        return True

    def _backed_up(self, conn: Connection) -> None:
        if conn.backed_up_since is None:
            conn.backed_up_since = time.monotonic()
            kib = conn.unread() // 1024
            self._notice(
                "warning", f"not reading: {kib:,} KiB unread; events go to other receivers or are held"
                f" (closed if it stays so for {self.slow_receiver_seconds:g} s)", conn, unread=kib * 1024,
            )  # fmt: skip

    def _hold(self, item: Held, sender: Connection, why: str) -> None:
        dropped = self.router.hold(item)
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
        if self._pump_handle is not None:
            self._pump_handle.cancel()
            self._pump_handle = None
        router = self.router
        full = False
        for service in router.services_with_held():
            receivers = list(router.by_service[service])
            while receivers:
                for conn in list(receivers):
                    if conn.closing or conn.ws.protocol.state is not OPEN or conn.unread() >= HOLD_PACE_BYTES:
                        receivers.remove(conn)
                        full = full or not conn.closing
                        continue
                    item = router.take_held(service)
                    if item is None:
                        receivers = []
                        break
                    self._forward(conn, None, item.frame)  # open and with room: it takes it
                    conn.held_taken += 1
            if service not in router.services_with_held():
                self._hold_ran_dry(service)
        if full and router.held and not self._stopping:
            self._pump_handle = asyncio.get_running_loop().call_later(HOLD_PACE_SECONDS, self._pump)

    def _hold_ran_dry(self, service: str) -> None:
        for conn in self.router.by_service[service]:
            if conn.held_taken:
                self._notice("info", f"delivered {conn.held_taken:,} held event(s)", conn, delivered=conn.held_taken)
                conn.held_taken = 0

    # --- sending, closing, bookkeeping ------------------------------------------------------------

    async def _send_own(self, conn: Connection, own: tuple[dict[str, Any], bytes, bytes | None]) -> None:
        """Send a payload the gateway made: a text frame, or zlib in a binary frame once asked."""
        payload, frame, zframe = own
        if conn.compress:
            data = zframe if zframe is not None else zlib.compress(frame)
            await conn.ws.send(data)
        else:
            data = frame
            await conn.ws.send(frame, text=True)
        if self._subscribers:
            self._emit(Record("out", len(data), payload, conn.compress, conn.id, conn.service))

    def _mark_closing(self, conn: Connection, code: int, name: str, reason: str) -> bool:
        if conn.closing:
            return False
        conn.closing = True
        conn.close_code, conn.close_name, conn.close_reason = code, name, clip_reason(reason)
        self.router.remove(conn)
        return True

    async def _refuse(self, conn: Connection, why: str, **values: Any) -> None:
        """Close with one of the gateway's own reasons (gateway/reasons.py)."""
        await self._close(conn, *reason(why, **values))

    async def _close(self, conn: Connection, name: str, reason: str) -> None:
        """Close with the protocol's code called ``name`` and a reason naming the problem."""
        await self._close_with(conn, self.proto.close(name).code, name, reason)

    async def _close_with(self, conn: Connection, code: int, name: str, reason: str) -> None:
        if self._mark_closing(conn, code, name, reason):
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
        if conn.shards:
            self.shard_pool.release(conn.id)
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
        """One task for every connection: close those silent for longer than the timeout."""
        period = min(max(self._timeout / 5, 0.01), 1.0)
        interval = self.heartbeat_interval
        factor = self.proto.heartbeat_timeout_factor
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            for conn in list(self._conns.values()):
                if not conn.identified and not conn.closing and now - conn.opened > self.identify_timeout:
                    self._spawn(self._refuse(conn, "identify_deadline", seconds=self.identify_timeout))
                    continue
                stuck = conn.backed_up_since
                if stuck is not None and not conn.closing and now - stuck > self.slow_receiver_seconds:
                    if conn.unread() > BACKED_UP_BYTES:
                        self._spawn(self._refuse(conn, "not_reading", kib=conn.unread() // 1024, seconds=now - stuck))
                    else:
                        conn.backed_up_since = None
                since = conn.last_heartbeat or conn.opened
                if not conn.closing and now - since > self._timeout:
                    what = "no heartbeat" if conn.last_heartbeat is None else "no heartbeat since the last one"
                    ms = (now - since) * 1000
                    self._spawn(self._refuse(conn, "heartbeat_timeout", what=what, ms=ms, factor=factor, interval=interval))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- records and notices ----------------------------------------------------------------------

    def _emit(self, item: Record | Notice) -> None:
        for fn in self._subscribers:  # a new list on each (un)subscribe: safe to iterate as one changes it
            try:
                fn(item)
            except Exception:  # a broken subscriber must not break the gateway
                pass

    def _notice(self, kind: str, text: str, conn: Connection | None, **data: Any) -> None:
        if self._subscribers:
            conn_id, service = (conn.id, conn.service) if conn is not None else (0, None)
            self._emit(Notice(kind, text, conn_id, service, data))  # type: ignore[arg-type]

    def _record_in(self, conn: Connection, frame: str | bytes, payload: dict[str, Any] | None, error: str | None = None) -> None:
        if not self._subscribers:
            return
        if payload is None:
            record = Record("in", _size(frame), None, False, conn.id, conn.service, error=error, raw=preview(frame))
        elif payload.get("op") == self._identify_op and not self.show_token:  # its frame has the token
            payload = masked_identify(payload, self._roles.identify_token)
            record = Record("in", _size(frame), payload, False, conn.id, conn.service, error=error)
        else:  # a flood's path: positional arguments are the cheap call
            record = Record("in", _size(frame), payload, False, conn.id, conn.service, cast(str, frame), error)
        self._emit(record)

    def _http_notice(self, method: str, path: str, status: int, ws: ServerConnection) -> None:
        if self._subscribers:
            path = path if len(path) <= 200 else path[:200] + "…"
            text = f"HTTP {method} {path} → {status}"
            data = {"http": path, "status": status, "remote": address_text(ws.remote_address)}
            self._emit(Notice("info", text, 0, "http", data))

    def _info(self, c: Connection) -> ConnectionInfo:
        has_shards = c.service is not None and self.proto.services[c.service].shards
        return ConnectionInfo(
            conn=c.id, service=c.service, identified=c.identified, shards=list(c.shards),
            max_shards=self.max_shards if has_shards else None, heap_used=c.heartbeat.get(self._roles.heartbeat_memory),
            guilds=c.heartbeat.get("guilds"), start_time=c.start_time, last_heartbeat=c.last_heartbeat,
            compress=c.compress, remote=c.remote, heartbeat=dict(c.heartbeat), last_heartbeat_at=c.last_heartbeat_at,
        )  # fmt: skip


class _NoticeLogger(logging.Logger):
    """websockets' own log messages become warning Notices: no traceback on anyone's console."""

    def __init__(self, gw: MockGateway):
        super().__init__("gwtool.gateway.websockets", logging.WARNING)
        self.propagate = False
        self.addHandler(_NoticeHandler(gw))


class _NoticeHandler(logging.Handler):
    def __init__(self, gw: MockGateway):
        super().__init__(logging.WARNING)
        self.gw = gw

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text += f": {type(exc).__name__}: {exc}"
        self.gw._notice("warning", text, None)


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


def _size(frame: str | bytes) -> int:
    return len(frame) if type(frame) is bytes or frame.isascii() else len(frame.encode())  # type: ignore[union-attr]


def address_text(address: Any) -> str:
    """A socket address as "host:port" ("[::1]:port" for IPv6): how ``ConnectionInfo.remote`` reads.

    A client's ``local_address`` formatted with this equals the gateway's ``remote`` for its connection.
    """
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{_host_for_url(str(address[0]))}:{address[1]}"
    return str(address)


def _host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _peer_close(ws: ServerConnection) -> tuple[int | None, str, str]:
    """(code, reason, who) of a close the gateway did not start: the service's, or the library's."""
    protocol = ws.protocol
    sent, received = protocol.close_sent, protocol.close_rcvd
    if received is not None and (sent is None or protocol.close_rcvd_then_sent):
        return received.code, received.reason, "service"
    if sent is not None:  # websockets closed it: a message over max_size, a protocol error
        return sent.code, sent.reason, "gateway"
    return 1006, "connection dropped without a close frame", "service"
