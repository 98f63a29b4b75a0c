"""Proxy: a protocol-aware proxy between services and a real gateway.

Services connect to the proxy as they would to the gateway; each connection gets its own
connection to the upstream gateway (same path and query), and two pumps forward every message
unchanged, one per direction: text as text, binary as the same bytes, a close's code and reason
passed on. A pump reads one message, hands it on and awaits the send: a side that reads slowly
stops the pump, websockets stops reading the other side once ``max_queue`` messages wait, and TCP
tells the sender to wait (backpressure, never an unbounded queue).

Each payload is decoded once (decompressed with a size cap) and checked both ways by the
sessions of gwtool/session (checks.py): what a service sends as a gateway validates it, what the
gateway sends as a service must expect it. Records and notices are built only when someone
subscribed. Faults (faults.py) drop, delay, duplicate, reorder, corrupt, throttle, stall or close.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.protocol import State

from gwtool.errors import DecodeError, ListenFailed, clip_reason
from gwtool.gateway.rest import is_websocket_upgrade, origin_refusal
from gwtool.gateway.writes import TurnWrites
from gwtool.protocol.codec import decode, decode_text
from gwtool.proxy.checks import Checks, RuleBook, Violation, payload_name
from gwtool.proxy.control import Control
from gwtool.proxy.faults import REORDER_WAIT, Faults, Out, Rule, Shaper, check_rules
from gwtool.proxy.http import relay_get, upstream_url
from gwtool.proxy.settings import ProxySettings
from gwtool.records import Direction, Notice, Record, Sender, masked_identify, preview
from gwtool.text import plural
from gwtool.wire import (
    ABNORMAL,
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
    from websockets.http11 import Request, Response

    from gwtool.protocol.definition import Definition

BAD_GATEWAY = 1014  # RFC 6455 (IANA registry): the upstream could not be reached or refused
NO_STATUS = 1005  # RFC 6455: a close frame without a code (passed on as one)
WRITE_HIGH = 64 << 10  # bytes written to a side and not yet taken by its peer before forwarding waits
OPEN = State.OPEN
SWEEP_SECONDS = 0.25
SHAPER_DRAIN = 30.0  # seconds a closed connection's delayed or throttled messages may still take  # how often the sessions' deadlines (heartbeats, handshake, ACKs) are looked at
OTHER: dict[Sender, Sender] = {"service": "gateway", "gateway": "service"}


@dataclass(slots=True)
class Counts:
    """What the proxy saw, by sender: the verdict line's figures."""

    payloads: dict[str, int] = dataclasses.field(default_factory=lambda: {"service": 0, "gateway": 0})
    violations: dict[str, int] = dataclasses.field(default_factory=lambda: {"service": 0, "gateway": 0})
    injected: int = 0
    connections: int = 0  # proxied connections so far
    refused: int = 0  # connections the upstream could not take (closed with BAD_GATEWAY)


@dataclass(frozen=True, slots=True)
class LinkInfo:
    """A snapshot of one proxied connection, for front ends and the control API."""

    conn: int
    service: str | None
    remote: str  # the service's address
    upstream: str  # the URL it is proxied to
    payloads: dict[str, int]  # by sender
    violations: dict[str, int]  # by sender
    since: float = 0.0  # when the service connected (time.time())
    shards: list[int] | None = None  # the shards the gateway's IDENTIFIED gave it, for a type that holds them
    max_shards: int | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Lane:
    """One direction of one proxied connection: what ``sender`` sends, read from ``src``, written to ``dst``."""

    __slots__ = ("sender", "src", "dst", "payloads", "violations", "reading", "shaper")

    def __init__(self, sender: Sender, src: ServerConnection | ClientConnection, dst: ServerConnection | ClientConnection):
        self.sender = sender
        self.src, self.dst = src, dst
        self.payloads = 0
        self.violations = 0
        self.reading = False  # waiting for the next message: whatever ``src`` sent was handed on
        self.shaper: Shaper | None = None  # its writer once a fault delays, throttles, reorders or stalls


class Link:
    """One service's connection through the proxy, and its own connection to the upstream."""

    __slots__ = ("id", "svc", "up", "remote", "url", "service", "lanes", "closing", "close_code", "close_reason",
                 "closed_by", "task", "checks", "told_identified", "fault_counts", "since")  # fmt: skip

    def __init__(self, conn_id: int, svc: ServerConnection, url: str, checks: Checks):
        self.id = conn_id
        self.svc = svc
        self.up: ClientConnection | None = None
        self.remote = address_text(svc.remote_address)
        self.url = url
        self.service: str | None = None  # the identified service type
        self.lanes: dict[Sender, Lane] = {}
        self.closing = False  # a close is being passed on (or the proxy closes it)
        self.close_code: int | None = None
        self.close_reason = ""
        self.closed_by = ""  # "the service", "the gateway", "the proxy"
        self.task: asyncio.Task[Any] | None = None
        self.checks = checks
        self.told_identified = False
        self.fault_counts: dict[int, int] = {}  # rule id → payloads of this connection it selected
        self.since = time.time()

    def info(self) -> LinkInfo:
        lanes = self.lanes
        shards, max_shards = None, None
        kind = self.checks.proto.services.get(self.service or "")
        if (identified := self.checks.identified) is not None and kind is not None and kind.shards:
            shards, max_shards = list(identified.shards), identified.max_shards
        return LinkInfo(
            self.id, self.service, self.remote, self.url,
            {s: lane.payloads for s, lane in lanes.items()}, {s: lane.violations for s, lane in lanes.items()},
            self.since, shards, max_shards,
        )  # fmt: skip


class Proxy(WireServer):
    """``async with Proxy(upstream="ws://127.0.0.1:8765", port=0) as proxy: proxy.url …``"""

    def __init__(self, proto: Definition | None = None, settings: ProxySettings | None = None, **overrides: Any):
        """``settings``, or ``ProxySettings(**overrides)`` (``Proxy(upstream=url, port=0)``); both are
        checked at once (InvalidSetting names the setting)."""
        super().__init__()
        self.proto, self.settings = engine_setup(proto, ProxySettings, settings, overrides)
        proto, settings = self.proto, self.settings
        self.host, self.port = settings.host, settings.port  # port: the real one once started
        self.counts = Counts()
        self._links: dict[int, Link] = {}
        self._next_id = 1
        self._server: Any = None
        self._stopping = False
        self._sweeper: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writes = TurnWrites()
        self.faults = Faults(proto, settings.seed)
        check_rules(settings.faults, proto)
        for text in settings.faults:
            self.faults.add(text)
        self._start_rules = list(settings.faults)
        self.control: Control | None = None  # the HTTP control API, once started (settings.control_port)
        self._book = RuleBook(proto)
        self._identify_op = proto.op("IDENTIFY")
        self._token_field = proto.roles.identify_token

    # --- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> Proxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen on host:port (port 0 picks a free one); raises ListenFailed when it cannot."""
        settings = self.settings
        self._server = await listen(
            self._handle,
            settings.host,
            settings.port,
            self.warn,
            "gwtool.proxy.websockets",
            max_size=settings.max_size,
            max_queue=settings.max_queue,
            process_request=self._process_request,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._stopping = False
        if settings.control_port is not None:
            self.control = Control(self, settings.host, settings.control_port)
            try:
                await self.control.start()
            except ListenFailed:
                self._server.close()
                self._server = None
                raise
        self._sweeper = asyncio.create_task(self._sweep())

    async def stop(self) -> None:
        """Close every connection, both sides, with 1001 (going away); returns within about STOP_TIMEOUT s."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping = True
        if self.control is not None:
            await self.control.stop()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for link in list(self._links.values()):
            self._spawn_close(link, GOING_AWAY, "proxy shutting down", "the proxy")
        await close_server(server, "proxy shutting down", self._drop_all)

    def _drop_all(self) -> None:
        for link in list(self._links.values()):
            _abort(link.svc)
            if link.up is not None:
                _abort(link.up)
            if link.task is not None:
                link.task.cancel()

    # --- public API ------------------------------------------------------------------------------

    @property
    def upstream(self) -> str:
        return self.settings.upstream

    @property
    def connections(self) -> list[LinkInfo]:
        return [link.info() for link in self._links.values()]

    @property
    def connection_count(self) -> int:
        return len(self._links)

    @property
    def rules(self) -> list[Rule]:
        """The fault rules, enabled or not, in the order they apply."""
        return list(self.faults.rules)

    def add_rule(self, text: str) -> Rule:
        """A fault rule from now on (RuleError names what is wrong with it)."""
        rule = self.faults.add(text)
        self._notice("info", f"fault rule {rule.id} added: {rule.text}", None, rule=rule.text, id=rule.id)
        return rule

    def remove_rule(self, rule_id: int) -> Rule | None:
        """Take a rule away (what it stalled goes on); None when there is no such rule."""
        rule = self.faults.remove(rule_id)
        if rule is not None:
            self._released(rule)
            self._notice("info", f"fault rule {rule.id} removed: {rule.text}", None, rule=rule.text, id=rule.id)
        return rule

    def enable_rule(self, rule_id: int, enabled: bool = True) -> Rule | None:
        """Turn a rule on or off (off: what it stalled goes on; its count is kept); None when there
        is no such rule."""
        rule = self.faults.get(rule_id)
        if rule is None or rule.enabled == enabled:
            return rule
        self.faults.enable(rule_id, enabled)
        if not enabled:
            self._released(rule)
        state = "enabled" if enabled else "disabled"
        self._notice("info", f"fault rule {rule.id} {state}: {rule.text}", None, rule=rule.text, id=rule.id, enabled=enabled)
        return rule

    def clear_rules(self) -> list[Rule]:
        """Take every rule away."""
        return [rule for rule in self.rules if self.remove_rule(rule.id) is not None]

    def reset_rules(self) -> list[Rule]:
        """Back to the rules the proxy started with (new ids, counts from zero)."""
        self.clear_rules()
        for link in self._links.values():
            link.fault_counts.clear()
        return [self.add_rule(text) for text in self._start_rules]

    def _released(self, rule: Rule) -> None:
        for link in self._links.values():
            for lane in link.lanes.values():
                if lane.shaper is not None and lane.shaper.stalled_by == rule.id:
                    lane.shaper.resume()

    def verdict(self) -> str:
        """``services sent 1,204 payloads (0 violations), the gateway 1,310 (2 violations)…``"""
        c = self.counts
        text = (
            f"services sent {plural(c.payloads['service'], 'payload')} ({plural(c.violations['service'], 'violation')}), "
            f"the gateway {c.payloads['gateway']:,} ({plural(c.violations['gateway'], 'violation')})"
        )
        text += f" over {plural(c.connections, 'connection')}"
        if c.refused:
            text += f" ({c.refused:,} refused by the upstream)"
        if c.injected:
            text += f"; {plural(c.injected, 'fault')} injected"
        return text

    # --- one connection --------------------------------------------------------------------------

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Browser origins first (the mock gateway's policy), then websocket upgrades go on and any
        other GET is relayed to the upstream."""
        if (refused := origin_refusal(request, self.settings.allow_origins, "proxy")) is not None:
            shown, response = refused
            self._notice("warning", f"refused a request from origin {shown!r} ({request.path[:100]}): "
                         "browsers' pages may not use this proxy (--allow-origin adds one)", None, origin=shown)  # fmt: skip
            return response
        if is_websocket_upgrade(request):
            return None
        response, problem = await relay_get(self.upstream, request.path, request.headers, timeout=self.settings.open_timeout)
        if self._subscribers:
            path = request.path if len(request.path) <= 200 else request.path[:200] + "…"
            text = f"HTTP GET {path} → {response.status_code} " + (
                f"(the proxy's: {problem})" if problem else "(from the upstream)"
            )
            data = {"http": path, "status": response.status_code, "remote": address_text(connection.remote_address)}
            self._emit(Notice("info", text, 0, "http", data))
        return response

    async def _handle(self, svc: ServerConnection) -> None:
        request = svc.request
        url = upstream_url(self.upstream, request.path if request is not None else "/")
        link = Link(self._next_id, svc, url, Checks(self._book, self.settings, self._next_id, time.monotonic()))
        self._next_id += 1
        link.task = asyncio.current_task()
        self._links[link.id] = link
        self.counts.connections += 1
        if self._subscribers:
            self._notice("connected", f"connected from {link.remote}, proxied to {link.url}", link, remote=link.remote)
        try:
            up = await self._open_upstream(link)
            if up is None:
                return
            link.up = up
            link.lanes = {"service": Lane("service", svc, up), "gateway": Lane("gateway", up, svc)}
            pumps = [asyncio.create_task(self._pump(link, lane)) for lane in link.lanes.values()]
            try:
                await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
                # the other pump ends once the close passed on reaches it (bounded: a peer may not answer)
                async with asyncio.timeout(CLOSE_TIMEOUT * 3):
                    await asyncio.wait(pumps)
            except TimeoutError:
                pass
            finally:
                for pump in pumps:
                    pump.cancel()
                await self._drain_shapers(link)
                if not link.closing or link.close_code == ABNORMAL:
                    _abort(svc)
                    _abort(up)
        except Exception as exc:  # a proxy bug must cost one connection, never the proxy
            self._notice("error", f"proxy failed: {type(exc).__name__}: {exc}", link)
            await self._close_both(link, 1011, clip_reason(f"proxy error: {type(exc).__name__}: {exc}"), "the proxy")
        finally:
            self._forget(link)

    async def _drain_shapers(self, link: Link) -> None:
        """What a fault still holds back (delayed, throttled, the close after it) is written before the
        connection is let go; a stalled direction or one that takes too long is dropped."""
        shapers = [lane.shaper for lane in link.lanes.values() if lane.shaper is not None and lane.shaper.busy()]
        if not shapers:
            return
        try:
            async with asyncio.timeout(SHAPER_DRAIN):
                await asyncio.gather(*(s.drained() for s in shapers if s.stalled_by is None))
        except (TimeoutError, asyncio.CancelledError):
            pass
        for shaper in shapers:
            if shaper.busy():
                shaper.stop()
                _abort(link.svc)
                if link.up is not None:
                    _abort(link.up)

    async def _open_upstream(self, link: Link) -> ClientConnection | None:
        """The upstream connection for ``link``, or None once the service was closed with BAD_GATEWAY
        and a reason naming the upstream."""
        settings = self.settings
        try:
            return await connect(
                link.url,
                compression=None,
                proxy=None,  # a local gateway is never behind an HTTP proxy from the environment
                max_size=settings.max_size,
                max_queue=settings.max_queue,
                ping_interval=None,
                open_timeout=settings.open_timeout,
                close_timeout=CLOSE_TIMEOUT,
                user_agent_header=None,
            )
        except InvalidStatus as exc:
            why = f"refused the websocket handshake: HTTP {exc.response.status_code}"
        except TimeoutError:
            why = f"did not complete the websocket handshake within {settings.open_timeout:g} s"
        except (InvalidHandshake, InvalidURI) as exc:
            why = f"failed the websocket handshake: {exc}"
        except OSError as exc:
            why = f"unreachable: {_os_error_text(exc)}"
        self.counts.refused += 1
        reason = clip_reason(f"upstream {link.url} {why}")
        if self._subscribers:
            self._notice("error", f"upstream {link.url} {why}: closing the service with {BAD_GATEWAY} BAD_GATEWAY", link,
                         upstream=link.url, code=BAD_GATEWAY)  # fmt: skip
        link.closing, link.close_code, link.close_reason, link.closed_by = True, BAD_GATEWAY, reason, "the proxy"
        await _close(link.svc, BAD_GATEWAY, reason)
        return None

    async def _pump(self, link: Link, lane: Lane) -> None:
        """Forward what ``lane.sender`` sends, one message at a time, until its side closes."""
        dst = lane.dst
        recv, send = lane.src.recv, dst.send
        transport = dst.transport
        write = self._writes.add
        see = self._see
        faults = self.faults
        counts = self.counts.payloads
        sender = lane.sender
        while True:
            lane.reading = True
            try:
                frame = await recv()
            except ConnectionClosed:
                await self._pass_close(link, lane)
                return
            lane.reading = False
            if link.closing:
                return
            lane.payloads += 1
            counts[sender] += 1
            record = see(link, lane, frame)
            if link.closing:  # --strict closed it: the offending message goes nowhere
                return
            if faults.active or (lane.shaper is not None and lane.shaper.busy()):
                if not await self._shape(link, lane, frame, record):
                    return
                continue
            # While the other side keeps up, the frame is framed at once and written with the others of
            # this turn of the loop (writes.py): one system call for many. Once WRITE_HIGH bytes wait
            # unread, websockets' send waits for the peer to read (backpressure).
            if dst.state is OPEN and transport.get_write_buffer_size() < WRITE_HIGH:
                write(dst, frame)
                continue
            try:
                await send(frame)
            except ConnectionClosed:  # the other side is gone: its own pump passes its close on
                return
            del frame  # not kept alive while waiting for the next one (up to max_size each)

    def _see(self, link: Link, lane: Lane, frame: str | bytes) -> Record | None:
        """Decode one message once, check it in its direction, and record it (the Record: made for
        subscribers and for the fault rules to select by). A violation under --strict sets
        ``link.closing``: the message must not go on."""
        now = time.monotonic()
        checks = link.checks
        payload: dict[str, Any] | None = None
        compressed, error, latency = False, None, None
        violations: list[Violation]
        try:
            if lane.sender == "service":  # as a gateway reads it: text frames of JSON only
                payload = decode_text(frame, max_size=self.settings.max_size).payload
            else:
                decoded = decode(frame, max_size=self.settings.max_size)
                payload, compressed = decoded.payload, decoded.compressed
        except DecodeError as exc:
            error = exc.reason
        if payload is None:
            if lane.sender == "service":
                violations = [checks.undecodable_from_service(error or "")]
            elif error is not None and error.startswith("decompressed payload is over"):  # the cap, not the protocol
                violations = []
                self._notice("warning", f"a compressed payload from the gateway not checked: {error} (--max-size)", link)
            else:
                violations = [checks.undecodable_from_gateway(error or "")]
        elif lane.sender == "service":
            violations = checks.from_service(payload, now)
        else:
            violations, ack = checks.from_gateway(payload, compressed, now)
            latency = ack.latency_ms if ack is not None else None
        record = None
        if self._subscribers or self.faults.active:
            record = self._record(link, lane, frame, payload, compressed, error, latency)
        if link.service is None and checks.service_type is not None:
            link.service = checks.service_type
        if checks.identified is not None and not link.told_identified:
            link.told_identified = True
            self._identified(link)
        if violations:
            self._violations(link, violations)
        return record

    async def _shape(self, link: Link, lane: Lane, frame: str | bytes, record: Record | None) -> bool:
        """Forward one message through the fault rules; False once the connection is closing."""
        shaper = lane.shaper
        if shaper is None:
            shaper = lane.shaper = Shaper(
                lane.dst, self.settings.max_queue, lambda code, reason: self._fault_close(link, code, reason)
            )
        if record is None:  # no rule any more, but what waits goes first
            await shaper.put([Out(frame)])
            return True
        verdict = self.faults.apply(record, frame, link.service, link.fault_counts, time.monotonic())
        for rule, verb, detail in verdict.done:
            if rule.action == "stall" and shaper.stalled_by == rule.id:
                continue  # said when it stalled
            rule.applied += 1
            self.counts.injected += 1
            if self._subscribers:
                name = payload_name(self.proto, record.payload) or "an undecodable frame"
                who = f"#{link.id} {link.service or '?'}"
                where = f"→ {who}" if lane.sender == "gateway" else f"{who} → gateway"
                self._notice("injected", f"{verb} {name} {where}{detail}", link, rule=rule.text, id=rule.id)
        if verdict.close is not None:
            close = verdict.close
            if shaper.busy():  # after what waits to be written
                await shaper.put([Out(None, close=(close.code, close.reason))])
            else:
                await self._fault_close(link, close.code, close.reason)
            return False
        if verdict.stall is not None and shaper.stalled_by is None:
            shaper.stalled_by = verdict.stall.id
        if verdict.reorder is not None:
            self._hold_for_reorder(shaper, verdict.reorder, verdict.outs)
            return True
        if verdict.outs:
            await shaper.put(verdict.outs)
        return True

    def _hold_for_reorder(self, shaper: Shaper, rule: Rule, outs: list[Out]) -> None:
        held = shaper.held.setdefault(rule.id, [])
        held.extend(out.data for out in outs if out.data is not None)
        if len(held) >= rule.window:
            shaper.put_now([Out(data) for data in reversed(shaper.held.pop(rule.id))])
        elif len(held) == len(outs):  # the window's first: it goes as it is if the window does not fill
            asyncio.get_running_loop().call_later(REORDER_WAIT, self._flush_reorder, shaper, rule.id)

    @staticmethod
    def _flush_reorder(shaper: Shaper, rule_id: int) -> None:
        held = shaper.held.pop(rule_id, None)
        if held:
            shaper.put_now([Out(data) for data in reversed(held)])

    async def _fault_close(self, link: Link, code: int, reason: str) -> None:
        await self._close_both(link, code, reason, "the proxy, for a fault rule")

    def _violations(self, link: Link, violations: list[Violation]) -> None:
        """Count and tell each; under --strict, close the connection with the first one's close."""
        for violation in violations:
            self.counts.violations[violation.by] += 1
            link.lanes[violation.by].violations += 1
            if self._subscribers:
                self._notice("violation", violation.text, link, by=violation.by, path=violation.path)
        if not self.settings.strict or link.closing:
            return
        first = violations[0]
        close = first.close
        if first.by == "service":
            link.closing, link.close_code, link.close_reason = True, close.code, close.reason
            link.closed_by = "the proxy, --strict"
            self._spawn(self._strict_close(link, first))
        else:
            self._spawn_close(link, close.code, close.reason, "the proxy, --strict")

    async def _strict_close(self, link: Link, violation: Violation) -> None:
        """The service broke the protocol: it gets the definition's close; the gateway a plain one."""
        close = violation.close
        await asyncio.gather(
            _close(link.svc, close.code, close.reason),
            *([_close(link.up, 1000, "gwtool proxy --strict: the service broke the protocol")] if link.up is not None else []),
        )

    def _identified(self, link: Link) -> None:
        identified = link.checks.identified
        if identified is None or not self._subscribers:
            return
        text = f"identified as {link.service or '?'}"
        if link.service is not None and self.proto.services[link.service].shards:
            shown = f"{identified.shards}" + (f" of {identified.max_shards}" if identified.max_shards is not None else "")
            text += f" with shards {shown}" if identified.shards else " — no free shard: shards []"
        if link.checks.service.compress:
            text += ", compressed"
        self._notice("identified", text, link, shards=identified.shards)

    async def _sweep(self) -> None:
        """One task for every connection: the sessions' deadlines."""
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            now = time.monotonic()
            for link in list(self._links.values()):
                # an ACK is late only while the gateway's messages are being read: a service that does
                # not read holds them (and its ACKs) back itself
                if link.up is None or link.closing:
                    continue
                acks_due = link.lanes["gateway"].reading and link.up.state is State.OPEN  # (CLOSING: the gateway closed)
                if violations := link.checks.tick(now, acks_due=acks_due):
                    self._violations(link, violations)

    async def _pass_close(self, link: Link, lane: Lane) -> None:
        """``lane.sender``'s side closed: pass its close on to the other side (a dropped connection
        as a dropped connection), unless the proxy is closing it itself."""
        if link.closing:
            return
        if violations := link.checks.tick(time.monotonic(), acks_due=False):  # deadlines that passed up to the close
            self._violations(link, violations)
            if link.closing:  # --strict
                return
        src = lane.src
        code, reason, sent = _close_of(src)
        who = f"the {lane.sender}"
        link.closing, link.close_code, link.close_reason, link.closed_by = True, code, reason, who
        if not sent:  # the proxy's websockets closed it (a frame over max_size, bad UTF-8 …): the reason says so
            link.closed_by = f"the proxy, as the {lane.sender}'s side broke the websocket protocol"
        elif lane.sender == "gateway" and (violation := link.checks.gateway_closed(code)) is not None:
            self._violations(link, [violation])
        if code == ABNORMAL:
            _abort(lane.dst)
            return
        shaper = link.lanes[lane.sender].shaper
        if shaper is not None and shaper.busy() and shaper.stalled_by is None:  # after what waits to be written
            await shaper.put([Out(None, close=(code, reason))])
            return
        await _close(lane.dst, code, reason)

    async def _close_both(self, link: Link, code: int, reason: str, by: str) -> None:
        if not link.closing:
            link.closing, link.close_code, link.close_reason, link.closed_by = True, code, reason, by
        await asyncio.gather(*(_close(ws, code, reason) for ws in (link.svc, link.up) if ws is not None))

    def _spawn_close(self, link: Link, code: int, reason: str, by: str) -> None:
        """Close both sides of ``link`` (from now on nothing more is forwarded), in a task of its own."""
        if not link.closing:
            link.closing, link.close_code, link.close_reason, link.closed_by = True, code, reason, by
        self._spawn(self._close_both(link, code, reason, by))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _forget(self, link: Link) -> None:
        self._links.pop(link.id, None)
        link.checks.ended()
        for lane in link.lanes.values():
            if lane.shaper is not None:
                lane.shaper.stop()
        if not self._subscribers:
            return
        code = link.close_code if link.close_code is not None else ABNORMAL
        name = self.proto.close_name(code)
        shown = f"closed {code} {name}".rstrip() + (f": {link.close_reason}" if link.close_reason else "")
        by = link.closed_by or "the service"
        passed = {"the service": "passed on to the gateway", "the gateway": "passed on to the service"}.get(by)
        shown += f" (by {by}" + (f"; {passed})" if passed and link.up is not None else ")")
        self._notice(
            "closed",
            shown,
            link,
            code=code,
            name=name,
            reason=link.close_reason,
            by=by.removeprefix("the ").split()[0].rstrip(","),
        )

    # --- records and notices ----------------------------------------------------------------------

    def _record(self, link: Link, lane: Lane, frame: str | bytes, payload: dict[str, Any] | None, compressed: bool,
                error: str | None = None, latency_ms: float | None = None) -> Record:  # fmt: skip
        direction: Direction = "in" if lane.sender == "service" else "out"  # the gateway's view: in from services
        size = frame_size(frame)
        if payload is None:
            record = Record(direction, size, None, False, link.id, link.service, error=error, raw=preview(frame),
                            sender=lane.sender)  # fmt: skip
        elif payload.get("op") == self._identify_op and not self.settings.show_token:  # its frame has the token
            payload = masked_identify(payload, self._token_field)
            record = Record(direction, size, payload, compressed, link.id, link.service, sender=lane.sender)
        else:
            text = frame if type(frame) is str else None
            record = Record(direction, size, payload, compressed, link.id, link.service, text, error,
                            latency_ms=latency_ms, sender=lane.sender)  # fmt: skip
        if self._subscribers:
            self._emit(record)
        return record


def _close_of(ws: ServerConnection | ClientConnection) -> tuple[int, str, bool]:
    """(code, reason, whether the peer sent it) of a connection that closed."""
    protocol = ws.protocol
    return close_of(protocol.close_rcvd, protocol.close_sent, protocol.close_rcvd_then_sent) or (ABNORMAL, "", True)


async def _close(ws: ServerConnection | ClientConnection, code: int, reason: str) -> None:
    """Close ``ws`` with ``code`` (1005: a close frame without one), bounded: a peer that does not
    read is dropped."""
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT * 1.5):
            if code == NO_STATUS:
                await ws.close(cast(int, None))  # websockets sends an empty close frame for None
            else:
                await ws.close(code, clip_reason(reason))
    except TimeoutError:
        _abort(ws)
    except Exception:  # already gone, or a code websockets may not send: nothing more to tell it
        _abort(ws)


def _abort(ws: ServerConnection | ClientConnection) -> None:
    transport = ws.transport
    if transport is not None:
        transport.abort()


def _os_error_text(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return exc.strerror or str(exc) or type(exc).__name__
