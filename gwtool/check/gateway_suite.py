"""``gwtool check gateway``: does a running gateway speak the protocol?

Every case opens connections of its own (``Probe``), so cases are independent and any subset can
run. The cases are derived from the protocol definition: a case per service type, per event, per
cache type and per nested field, so a ``--protocol`` file's additions are checked with no code
change. Optional features (a token, a rate limit, a size limit, heartbeat requests) are skipped
with a reason when the gateway does not show them.
"""

from __future__ import annotations

import asyncio
import copy
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gwtool.check.cases import Case, Failed, Skipped, expect
from gwtool.check.probe import WAIT, Closed, Frame, Probe, connect_problem, identify
from gwtool.client.core import check_url
from gwtool.client.rest import http_get_json
from gwtool.errors import Unreachable
from gwtool.protocol.definition import NOBODY, Definition, Event, Field, Structure
from gwtool.protocol.examples import cache_data, event_data, heartbeat_payload
from gwtool.protocol.validate import validate_payload
from gwtool.session import Hello, Problem, ServiceSession
from gwtool.text import plural, printable

ANY_TOKEN = "gwtool-check"  # sent when no --token is given (a gateway without one accepts any)
WRONG_TOKEN_SUFFIX = "-not-the-token"
ACK_BOUND_MS = 250.0  # an ACK later than this under no load is not "at once"
QUICK_TIMEOUT_S = 10.0  # heartbeat timeouts up to this long are checked without --slow
RATE_PROBE = 300  # heartbeats sent back to back to find a rate limit


@dataclass
class GatewayContext:
    proto: Definition
    url: str
    token: str | None = None
    slow: bool = False
    max_size: int = 1 << 20  # the gateway's payload limit, as far as the user knows
    interval_ms: int = 0  # from the first HELLO (``prepare``)
    requests_seen: list[dict[str, Any]] = field(default_factory=list)  # heartbeat requests from the gateway

    @property
    def token_sent(self) -> str:
        return self.token if self.token is not None else ANY_TOKEN

    @property
    def http_url(self) -> str:
        return "http" + self.url[2:] if self.url.startswith("ws") else self.url

    @property
    def timeout_s(self) -> float:
        return self.interval_ms * self.proto.heartbeat_timeout_factor / 1000

    def probe(self) -> Probe:
        return _WatchedProbe(self)

    async def identified(self, service: str, *, compress: bool | None = None) -> tuple[Probe, Frame]:
        p = self.probe()
        await p.__aenter__()
        try:
            return p, await p.identify(service, self.token_sent, compress=compress)
        except BaseException:
            await p.close()
            raise

    async def get(self, path: str) -> tuple[int, Any]:
        try:
            return await http_get_json(self.http_url, path, timeout=WAIT)
        except (OSError, TimeoutError) as exc:
            raise Failed(f"GET {path}: {type(exc).__name__}: {exc}") from None


class _WatchedProbe(Probe):
    """A probe that tells the context about heartbeat requests it sees (for heartbeat.request)."""

    def __init__(self, ctx: GatewayContext):
        super().__init__(ctx.url, ctx.proto)
        self.ctx = ctx

    async def next(self, timeout: float = WAIT) -> Frame | Closed | None:
        frame = await super().next(timeout)
        if isinstance(frame, Frame) and frame.payload is not None and frame.payload.get("op") == self.proto.op("HEARTBEAT"):
            self.ctx.requests_seen.append(frame.payload)
        return frame


async def prepare(ctx: GatewayContext) -> None:
    """Connect once, for the heartbeat interval in HELLO. Exit 1 for a URL that is not a websocket URL,
    2 (``Unreachable``) when nothing answers or the gateway refuses the token; any other fault is left
    to the cases to name."""
    check_url(ctx.url)  # not a websocket URL: invalid input (exit 1), as for every command, with a "did you mean"
    service = next(iter(ctx.proto.services))
    try:
        async with ctx.probe() as p:
            first = await p.next()
            if isinstance(first, Frame) and first.payload is not None and first.payload.get("op") == ctx.proto.op("HELLO"):
                ctx.interval_ms = _interval(ctx, first)
            await p.send(identify(ctx.proto, service, ctx.token_sent))
            answer = first if isinstance(first, Closed) else await p.next()
    except Exception as exc:
        problem = connect_problem(exc)
        if problem is None:
            raise
        raise Unreachable(f"cannot reach {ctx.url}: {problem}") from None
    if isinstance(answer, Closed) and answer.code == ctx.proto.close("AUTHENTICATION_FAILED").code:
        hint = "the token given with --token is not its token" if ctx.token else "give its token with --token"
        raise Unreachable(f"{ctx.url} refused IDENTIFY: {answer.describe(ctx.proto)} ({hint})")


def _interval(ctx: GatewayContext, hello: Frame) -> int:
    """HELLO's heartbeat interval as a service reads it; 0 when it has no usable one (the cases
    that need one say so)."""
    session = ServiceSession(ctx.proto, next(iter(ctx.proto.services)), heartbeat=False)
    session.connected(hello.at)
    actions = session.receive(hello.payload or {}, hello.at)
    if any(isinstance(a, Problem) and a.path == f"d.{ctx.proto.roles.hello_interval}" for a in actions):
        return 0
    return next((a.interval_ms for a in actions if isinstance(a, Hello)), 0)


# --- building payloads from the definition ------------------------------------------------------


def _nonce() -> str:
    return str(random.randrange(10**17, 10**18))  # a snowflake nobody else uses


def _wrong_value(f: Field) -> Any:
    """A value of the wrong type for ``f`` (None when any value would do)."""
    expr = f.type.item if f.type.kind == "nullable" else f.type
    if expr is None or (expr.kind == "scalar" and expr.name == "any"):
        return None
    if expr.kind == "scalar" and expr.name in ("integer", "boolean", "object"):
        return "not a " + expr.name
    if expr.kind in ("array", "ref"):
        return "not an object or array"
    return 12345  # strings of every kind, choices, service names


def _broken(data: Any, fields: tuple[Field, ...]) -> tuple[Any, str] | None:
    """``data`` with one required field set to a value of the wrong type, and that field's path.

    The deepest last field is chosen (``ids.shard`` over ``command``): a path with a dot shows
    that the gateway names nested fields too."""
    candidates = [f for f in fields if not f.optional and _wrong_value(f) is not None]
    candidates.sort(key=lambda f: f.path.count("."))
    for f in reversed(candidates):
        out = copy.deepcopy(data)
        parent = out
        for part in f.path.split(".")[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and f.name in parent:
            parent[f.name] = _wrong_value(f)
            return out, f"d.{f.path}"
    return None


def _tag_field(event: Event) -> str | None:
    """A required top-level string field of an event: where a case writes its nonce."""
    return next((f.name for f in event.fields if "." not in f.path and not f.optional and str(f.type) == "string"), None)


def _tagged_events(proto: Definition, event: Event, nonce: str, count: int) -> list[dict[str, Any]]:
    tag = _tag_field(event)
    out = []
    for i in range(count):
        d = copy.deepcopy(event_data(proto, event.t))
        if tag is not None and isinstance(d, dict):
            d[tag] = f"gwtool-check {nonce} {i}"
        out.append({"op": proto.op("EVENT"), "t": event.t, "d": d})
    return out


def _tag_of(proto: Definition, event: Event, frame: Frame, nonce: str) -> int | None:
    """Which of a case's events ``frame`` is (its index), or None when it is not one of them."""
    tag = _tag_field(event)
    d = frame.payload.get("d") if frame.payload else None
    if tag is None:
        return 0
    text = d.get(tag) if isinstance(d, dict) else None
    prefix = f"gwtool-check {nonce} "
    if isinstance(text, str) and text.startswith(prefix) and text[len(prefix) :].isdigit():
        return int(text[len(prefix) :])
    return None


def _entity(proto: Definition, structure: Structure) -> dict[str, Any]:
    """The cache type's example with fresh values in its key fields (so it is this case's own)."""
    entity: dict[str, Any] = copy.deepcopy(cache_data(proto, structure.name))
    by_name = {f.path: f for f in structure.fields}
    for key in structure.key:
        kind = str(by_name[key].type) if key in by_name else "snowflake"
        entity[key] = random.randrange(1, 2**31) if kind == "integer" else _nonce()
    return entity


def _cache_path(structure: Structure, entity: dict[str, Any]) -> str:
    return f"/cache/{structure.name}/" + "/".join(str(entity[k]) for k in structure.key)


def _cacher(ctx: GatewayContext) -> str:
    service = ctx.proto.first_cacher()
    if service is None:
        raise Skipped("no service type of the definition may send CACHE")
    return service


# --- case builders -----------------------------------------------------------------------------

Frames = Callable[..., list[Any]]  # (ctx) → the frames a case sends


def refused(
    case_id: str,
    title: str,
    close: str,
    why: str,
    frames: Frames,
    *,
    identify_as: str | None = None,
    reason_has: str | None = None,
    proto: Definition,
) -> Case[GatewayContext]:
    """A case that sends ``frames`` (after IDENTIFY as ``identify_as`` when given) and expects the
    close code named ``close``, its reason naming ``reason_has`` when given."""
    code = proto.close(close).code
    expected = f"close {code} {close}" + (f", the reason naming {reason_has}" if reason_has else "")

    async def run(ctx: GatewayContext) -> str:
        async with ctx.probe() as p:
            if identify_as is not None:
                await p.identify(identify_as, ctx.token_sent)
            else:
                await p.hello()
            for item in frames(ctx):
                await p.send(item)
            closed = await p.expect_close()
        return _judge_close(ctx, closed, code, reason_has)

    return Case(case_id, title, expected, why, run)


def _judge_close(ctx: GatewayContext, closed: Closed, code: int, reason_has: str | None = None) -> str:
    got = closed.describe(ctx.proto)
    expect(closed.code == code, got)
    expect(len(closed.reason.encode()) <= 123, f"{got} (reason of {len(closed.reason.encode())} bytes, over 123)")
    if reason_has is not None:
        expect(reason_has in closed.reason, f"{got} (the reason does not name {reason_has})")
    return got


def gateway_cases(proto: Definition) -> list[Case[GatewayContext]]:
    """The whole gateway suite for ``proto``, in the order it runs."""
    return [
        *_handshake_cases(proto),
        *_heartbeat_cases(proto),
        *_identify_cases(proto),
        *_decode_cases(proto),
        *_permission_cases(proto),
        *_invalid_cases(proto),
        *_limit_cases(proto),
        *_identified_cases(proto),
        *_routing_cases(proto),
        *_compression_cases(proto),
        *_rest_cases(proto),
        *_timeout_cases(proto),
    ]


def _first_service(proto: Definition) -> str:
    return next(iter(proto.services))


def _handshake_cases(proto: Definition) -> list[Case[GatewayContext]]:
    async def hello_first(ctx: GatewayContext) -> str:
        async with ctx.probe() as p:
            frame = await p.recv(what="HELLO")
        expect(frame.payload is not None, f"first frame: {frame.describe(ctx.proto)}")
        assert frame.payload is not None
        expect(frame.payload.get("op") == ctx.proto.op("HELLO"), f"first payload: {frame.describe(ctx.proto)}")
        expect(not frame.binary, "HELLO came in a binary frame (compression starts at IDENTIFIED at the earliest)")
        errors = validate_payload(ctx.proto, frame.payload, sender="gateway")
        expect(not errors, "HELLO: " + "; ".join(errors))
        interval = frame.payload["d"][ctx.proto.roles.hello_interval]
        expect(interval > 0, f"{ctx.proto.roles.hello_interval} = {interval}")
        return f"HELLO in a text frame, {ctx.proto.roles.hello_interval} {interval} ms"

    return [
        Case(
            "hello.first", "HELLO is the first payload, in a text frame, with a positive interval",
            "op HELLO first; d valid; interval > 0",
            "a service waits for HELLO to learn how often to heartbeat; nothing works without it", hello_first,
        ),
    ]  # fmt: skip


def _heartbeat_cases(proto: Definition) -> list[Case[GatewayContext]]:
    service = _first_service(proto)

    async def ack_every(ctx: GatewayContext) -> str:
        p, _ = await ctx.identified(service)
        async with p:
            for _ in range(5):
                await p.send(heartbeat_payload(ctx.proto, service))
            acks = [await p.recv_op("HEARTBEAT_ACK") for _ in range(5)]
        for ack in acks:
            errors = validate_payload(ctx.proto, ack.payload, sender="gateway")
            expect(not errors, "ACK: " + "; ".join(errors))
        return "5 heartbeats, 5 ACKs"

    async def ack_at_once(ctx: GatewayContext) -> str:
        p, _ = await ctx.identified(service)
        async with p:
            trips = [await p.heartbeat(service) for _ in range(20)]
        worst, median = max(trips), statistics.median(trips)
        got = f"round trip p50 {median:.1f} ms, max {worst:.1f} ms over 20 heartbeats"
        expect(worst <= ACK_BOUND_MS, got)
        return got

    async def before_identify(ctx: GatewayContext) -> str:
        async with ctx.probe() as p:
            await p.hello()
            trip = await p.heartbeat(None)
            await p.identify(service, ctx.token_sent)
        return f"ACK in {trip:.1f} ms before IDENTIFY, then IDENTIFIED"

    async def request(ctx: GatewayContext) -> str:
        if not ctx.requests_seen:
            p, _ = await ctx.identified(service)
            async with p:  # heartbeat for up to two intervals (at most 5 s) and watch for a request
                deadline = time.monotonic() + min(2 * ctx.interval_ms / 1000, 5.0)
                while not ctx.requests_seen and time.monotonic() < deadline:
                    await p.send(heartbeat_payload(ctx.proto, service))
                    await p.next(min(ctx.interval_ms / 2000, 1.0))
        if not ctx.requests_seen:
            raise Skipped("the gateway sent no heartbeat request during the check (it may send them only on demand)")
        request = ctx.requests_seen[0]
        errors = validate_payload(ctx.proto, request, sender="gateway")
        expect(not errors, "heartbeat request: " + "; ".join(errors))
        return f"{plural(len(ctx.requests_seen), 'heartbeat request')}, valid"

    return [
        Case("heartbeat.ack", "every heartbeat gets an ACK", "5 valid ACKs for 5 heartbeats",
             "services treat a missing ACK as a dead connection and reconnect", ack_every),
        Case("heartbeat.ack-at-once", f"the ACK comes at once (≤ {ACK_BOUND_MS:g} ms, no load)",
             f"max round trip ≤ {ACK_BOUND_MS:g} ms over 20", "services report the round trip as their latency", ack_at_once),
        Case("heartbeat.before-identify", "heartbeats are allowed before IDENTIFY", "an ACK, then IDENTIFIED",
             "a service may start heartbeating as soon as HELLO arrives", before_identify),
        Case("heartbeat.request", "the gateway's heartbeat requests are valid", "op HEARTBEAT from the gateway, d {}",
             "a service answers a request at once; a malformed one breaks it", request, timeout=15.0),
    ]  # fmt: skip


def _identify_cases(proto: Definition) -> list[Case[GatewayContext]]:
    service = _first_service(proto)
    roles = proto.roles

    def event_frames(ctx: GatewayContext) -> list[dict[str, Any] | str | bytes]:
        t = next((e.t for e in ctx.proto.events.values() if e.sources != (NOBODY,)), None)
        if t is None:
            raise Skipped("no event of the definition is sent by a service")
        return [{"op": ctx.proto.op("EVENT"), "t": t, "d": event_data(ctx.proto, t)}]

    def cache_frames(ctx: GatewayContext) -> list[dict[str, Any] | str | bytes]:
        kind = next(iter(ctx.proto.cache_types), None)
        if kind is None:
            raise Skipped("the definition has no cache type")
        return [{"op": ctx.proto.op("CACHE"), "type": kind, "d": cache_data(ctx.proto, kind)}]

    async def bad_token(ctx: GatewayContext) -> str:
        token = ctx.token_sent + WRONG_TOKEN_SUFFIX
        async with ctx.probe() as p:
            await p.hello()
            await p.send(identify(ctx.proto, service, token))
            frame = await p.next()
            if isinstance(frame, Frame) and ctx.token is None:
                raise Skipped("the gateway accepted an arbitrary token: it has none set (give --token to check it)")
            closed = frame if isinstance(frame, Closed) else await p.expect_close()
        return _judge_close(ctx, closed, ctx.proto.close("AUTHENTICATION_FAILED").code)

    async def unknown_service_reason(ctx: GatewayContext) -> str:
        async with ctx.probe() as p:
            await p.hello()
            await p.send(identify(ctx.proto, "é" * 200, ctx.token_sent))
            closed = await p.expect_close()
        got = _judge_close(ctx, closed, ctx.proto.close("INVALID_SERVICE").code)
        return f"{got} ({len(closed.reason.encode())} bytes)"

    unknown = "gwtool-check-no-such-service"
    return [
        refused("identify.required-before-event", "an EVENT before IDENTIFY is refused", "NOT_IDENTIFIED",
                "only a heartbeat may come before IDENTIFY", event_frames, proto=proto),
        refused("identify.required-before-cache", "a CACHE before IDENTIFY is refused", "NOT_IDENTIFIED",
                "cache data from nobody in particular must not be accepted", cache_frames, proto=proto),
        Case("identify.bad-token", "a wrong token is refused", f"close {proto.close('AUTHENTICATION_FAILED').code} "
             "AUTHENTICATION_FAILED (skip when the gateway has no token)", "a gateway with a secret keeps strangers out",
             bad_token),
        refused("identify.twice", "a second IDENTIFY is refused", "ALREADY_IDENTIFIED",
                "a connection speaks for one service type for its whole life", lambda ctx: [identify(ctx.proto, service, ctx.token_sent)],
                identify_as=service, proto=proto),
        refused("identify.unknown-service", "an unknown service type is refused", "INVALID_SERVICE",
                "a service with a typo in its type must hear so, and not reconnect",
                lambda ctx: [identify(ctx.proto, unknown, ctx.token_sent)], reason_has=unknown, proto=proto),
        refused("identify.invalid", "an IDENTIFY with a field of the wrong type is refused", "INVALID_PAYLOAD",
                "the reason must name the field, or the service's developer has to guess",
                lambda ctx: [_identify_with(ctx, roles.identify_token, 12345)], reason_has=f"d.{roles.identify_token}",
                proto=proto),
        Case("close.reason-fits", "a long close reason is cut to 123 bytes of valid UTF-8",
             f"close {proto.close('INVALID_SERVICE').code}, reason ≤ 123 bytes",
             "RFC 6455 allows 123 bytes; a longer reason or a cut inside a character breaks the close itself",
             unknown_service_reason),
    ]  # fmt: skip


def _identify_with(ctx: GatewayContext, name: str, value: Any) -> dict[str, Any]:
    payload = identify(ctx.proto, _first_service(ctx.proto), ctx.token_sent)
    payload["d"][name] = value
    return payload


def _decode_cases(proto: Definition) -> list[Case[GatewayContext]]:
    hb = proto.op("HEARTBEAT")
    gateway_only = next((o for o in proto.opcodes.values() if "service" not in o.sent_by), None)
    cases = [
        refused("op.unknown", "an unknown opcode is refused", "UNKNOWN_OPCODE", "the service must hear that its op is wrong",
                lambda ctx: [{"op": 9999, "d": {}}], proto=proto),
        refused("op.missing", "a payload without op is refused", "UNKNOWN_OPCODE",
                "op is what every payload is dispatched on", lambda ctx: [{"d": {}}], proto=proto),
        refused("decode.not-json", "a frame that is not JSON is refused", "DECODE_ERROR",
                "a gateway must survive garbage and say what it was", lambda ctx: ["{not json"], proto=proto),
        refused("decode.not-object", "a JSON array as the payload is refused", "DECODE_ERROR",
                "a payload is a JSON object", lambda ctx: ["[1, 2, 3]"], proto=proto),
        refused("decode.binary", "a binary frame from a service is refused", "DECODE_ERROR",
                "services send plain JSON in text frames; only the gateway compresses",
                lambda ctx: [b'{"op": 1, "d": {}}'], proto=proto),
        refused("decode.d-not-object", "d that is neither object nor array is refused", "DECODE_ERROR",
                "d is always an object or an array", lambda ctx: [f'{{"op": {hb}, "d": 5}}'], proto=proto),
    ]  # fmt: skip
    if gateway_only is not None:
        cases.insert(2, refused(
            "op.gateway-only", f"{gateway_only.name} from a service is refused", "UNKNOWN_OPCODE",
            f"{gateway_only.name} is sent by the gateway only",
            lambda ctx: [{"op": gateway_only.code, "d": {}}], proto=proto,
        ))  # fmt: skip
    return cases


def _permission_cases(proto: Definition) -> list[Case[GatewayContext]]:
    cases = []
    for event in proto.events.values():
        stranger = next((s for s in proto.services if not event.may_be_sent_by(s)), None)
        if stranger is None:
            continue
        payload = {"op": proto.op("EVENT"), "t": event.t, "d": event_data(proto, event.t)}
        cases.append(refused(
            f"permission.event.{event.t}", f"{event.t} from {stranger} is refused", "EVENT_NOT_ALLOWED",
            f"{event.t} comes from {', '.join(event.sources)} only; anything else is a confused service",
            lambda ctx, payload=payload: [payload], identify_as=stranger, reason_has=event.t, proto=proto,
        ))  # fmt: skip
    kind = next(iter(proto.cache_types), None)
    stranger = next((s.name for s in proto.services.values() if not s.cache), None)
    if kind is not None and stranger is not None:
        payload = {"op": proto.op("CACHE"), "type": kind, "d": cache_data(proto, kind)}
        cases.append(refused(
            "permission.cache", f"CACHE from {stranger} is refused", "EVENT_NOT_ALLOWED",
            "only the service types marked cache feed the cache", lambda ctx, payload=payload: [payload], identify_as=stranger, proto=proto,
        ))  # fmt: skip
    return cases


def _invalid_cases(proto: Definition) -> list[Case[GatewayContext]]:
    cases = []
    for event in proto.events.values():
        sender = proto.first_sender(event.t)
        broken = _broken(event_data(proto, event.t), event.fields)
        if sender is None or broken is None:
            continue
        payload = {"op": proto.op("EVENT"), "t": event.t, "d": broken[0]}
        cases.append(refused(
            f"invalid.event.{event.t}", f"{event.t} with {broken[1]} of the wrong type is refused", "INVALID_PAYLOAD",
            "receivers must never get data that breaks the event's table; the reason names the field",
            lambda ctx, payload=payload: [payload], identify_as=sender, reason_has=broken[1], proto=proto,
        ))  # fmt: skip
    sender = next((s for s in proto.services if proto.events_sendable_by(s)), _first_service(proto))
    cases.append(refused(
        "invalid.event.unknown", "an event the definition does not have is refused", "INVALID_PAYLOAD",
        "a typo in t must be named, not routed nowhere", lambda ctx: [{"op": ctx.proto.op("EVENT"), "t": "GWTOOL_NO_SUCH_EVENT", "d": {}}],
        identify_as=sender, reason_has="t", proto=proto,
    ))  # fmt: skip
    plain = next((s.name for s in proto.services.values() if not s.heartbeat_fields), _first_service(proto))
    broken_beat = _broken(heartbeat_payload(proto, plain)["d"], proto.heartbeat_fields)
    if broken_beat is not None:
        beat = {"op": proto.op("HEARTBEAT"), "d": broken_beat[0]}
        cases.append(refused(
            "invalid.heartbeat", f"a heartbeat with {broken_beat[1]} of the wrong type is refused", "INVALID_PAYLOAD",
            "the gateway serves heartbeat data on GET /services/; it must be what the table says",
            lambda ctx, beat=beat: [beat], identify_as=plain, reason_has=broken_beat[1], proto=proto,
        ))  # fmt: skip
    for service in proto.services.values():
        required = next((f for f in service.heartbeat_fields if not f.optional and "." not in f.path), None)
        if required is None:
            continue
        d = heartbeat_payload(proto, service.name)["d"]
        d.pop(required.name, None)
        beat = {"op": proto.op("HEARTBEAT"), "d": d}
        cases.append(refused(
            f"invalid.heartbeat.{service.name}", f"a {service.name} heartbeat without {required.name} is refused",
            "INVALID_PAYLOAD", f"{service.name} heartbeats carry {required.name}: {required.doc}",
            lambda ctx, beat=beat: [beat], identify_as=service.name, reason_has=f"d.{required.name}", proto=proto,
        ))  # fmt: skip
    cacher = proto.first_cacher()
    for name, structure in proto.cache_types.items():
        broken = _broken(cache_data(proto, name), structure.fields)
        if cacher is None or broken is None:
            continue
        payload = {"op": proto.op("CACHE"), "type": name, "d": broken[0]}
        cases.append(refused(
            f"invalid.cache.{name}", f"a {name} with {broken[1]} of the wrong type is refused", "INVALID_PAYLOAD",
            "REST readers must never get an entity that breaks its table", lambda ctx, payload=payload: [payload],
            identify_as=cacher, reason_has=broken[1], proto=proto,
        ))  # fmt: skip
    return cases


def _limit_cases(proto: Definition) -> list[Case[GatewayContext]]:
    service = _first_service(proto)

    async def too_big(ctx: GatewayContext) -> str:
        beat = heartbeat_payload(ctx.proto, service)
        beat["d"]["gwtoolPadding"] = "x" * (ctx.max_size + 1024)
        p, _ = await ctx.identified(service)
        async with p:
            await p.send(beat)
            frame = await p.next(WAIT * 2)
        if isinstance(frame, Frame):
            raise Skipped(f"a payload of {ctx.max_size + 1024:,} bytes was accepted: the limit is higher (give --max-size)")
        if frame is None:
            raise Failed(f"no answer within {WAIT * 2:g} s to a payload of {ctx.max_size + 1024:,} bytes")
        return _judge_close(ctx, frame, 1009)

    async def rate(ctx: GatewayContext) -> str:
        p, _ = await ctx.identified(service)
        async with p:
            started = time.monotonic()
            beat = heartbeat_payload(ctx.proto, service)
            for _ in range(RATE_PROBE):
                await p.send(beat)
            acks = 0
            while acks < RATE_PROBE:
                frame = await p.next()
                if isinstance(frame, Closed):
                    return _judge_close(ctx, frame, ctx.proto.close("RATE_LIMITED").code)
                if frame is None:
                    raise Failed(f"{acks} ACKs for {RATE_PROBE} heartbeats, then nothing")
                acks += frame.payload is not None and frame.payload.get("op") == ctx.proto.op("HEARTBEAT_ACK")
        raise Skipped(f"no rate limit: {RATE_PROBE} heartbeats in {time.monotonic() - started:.2f} s all answered")

    return [
        Case("limits.size", "a payload over the size limit is closed with 1009", "close 1009 (skip when it is accepted)",
             "one huge payload must not take the gateway's memory", too_big),
        Case("limits.rate", "a flood over the rate limit is closed", f"close {proto.close('RATE_LIMITED').code} RATE_LIMITED "
             "(skip when there is no limit)", "a runaway service must not starve the others", rate, timeout=20.0),
    ]  # fmt: skip


def _identified_cases(proto: Definition) -> list[Case[GatewayContext]]:
    roles = proto.roles
    cases: list[Case[GatewayContext]] = []
    for service in proto.services.values():

        async def run(ctx: GatewayContext, service: Any = service) -> str:
            p, frame = await ctx.identified(service.name)
            await p.close()
            assert frame.payload is not None
            errors = validate_payload(ctx.proto, frame.payload, sender="gateway")
            expect(not errors, "IDENTIFIED: " + "; ".join(errors))
            d = frame.payload.get("d")
            if not service.shards:
                expect(d in ({}, None), f"IDENTIFIED d = {printable(str(d))[:100]} (expected {{}})")
                return "IDENTIFIED with d {}"
            shards, most = (d or {}).get(roles.identified_shards), (d or {}).get(roles.identified_max_shards)
            if type(most) is not int or most <= 0:
                raise Failed(f"{roles.identified_max_shards} = {most!r}")
            expect(isinstance(shards, list) and all(type(s) is int and 0 <= s < most for s in shards),
                   f"{roles.identified_shards} = {printable(str(shards))[:100]} (expected ids in 0…{most - 1})")  # fmt: skip
            return f"{roles.identified_shards} {shards} of {most}"

        expected = "shard ids in 0…maxShards-1 and maxShards" if service.shards else "d {}"
        why = "a sharder runs the shards it is handed" if service.shards else "only shard-running types get shards"
        cases.append(Case(f"identified.{service.name}", f"{service.name} gets IDENTIFIED", expected, why, run))
    shard_service = next((s.name for s in proto.services.values() if s.shards), None)
    if shard_service is None:
        return cases

    async def returned(ctx: GatewayContext) -> str:
        p, block = await _sharder_with_shards(ctx, shard_service)
        await p.close()
        p, again = await _sharder_with_shards(ctx, shard_service)
        await p.close()
        expect(again == block, f"{block} handed out; after a disconnect the next {shard_service} got {again}")
        return f"{block} handed out, returned and handed out again"

    async def exhausted(ctx: GatewayContext) -> str:
        first, block = await _sharder_with_shards(ctx, shard_service)
        probes: list[Probe] = [first]
        try:
            for _ in range(64):
                p, frame = await ctx.identified(shard_service)
                probes.append(p)
                if _shards(ctx, frame) == []:
                    return f"{block} to the first {shard_service}; shards [] to #{len(probes)} once every shard was taken"
            raise Failed(f"{len(probes)} {shard_service}s all got shards")
        finally:
            await asyncio.gather(*(p.close() for p in probes))

    return [
        *cases,
        Case("shards.returned", "a sharder's shards are handed out again when it disconnects", "the same block again",
             "a restarted sharder must get its shards back, not leave them orphaned", returned),
        Case("shards.exhausted", "a sharder that finds no free shard gets []", f"{roles.identified_shards} []",
             "the protocol's answer when every shard is taken; not a close, not a duplicate", exhausted, timeout=30.0),
    ]  # fmt: skip


async def _sharder_with_shards(ctx: GatewayContext, service: str) -> tuple[Probe, list[int]]:
    """A sharder that got a non-empty block. A gateway frees a block once it has handled the
    close of the sharder that had it, which may be a moment after that sharder saw the close."""
    for _ in range(20):
        p, frame = await ctx.identified(service)
        block = _shards(ctx, frame)
        if block:
            return p, block
        await p.close()
        await asyncio.sleep(0.05)
    raise Skipped(f"no free shard for a {service} for 1 s (another {service} holds them)")


def _shards(ctx: GatewayContext, frame: Frame) -> Any:
    d = frame.payload.get("d") if frame.payload else None
    return d.get(ctx.proto.roles.identified_shards) if isinstance(d, dict) else None


async def _others_connected(ctx: GatewayContext, service: str) -> int:
    """How many connections of ``service`` GET /services/ lists (0 when it cannot be read)."""
    try:
        status, body = await http_get_json(ctx.http_url, "/services/", timeout=WAIT)
    except (OSError, TimeoutError):
        return 0
    if status != 200 or not isinstance(body, list):
        return 0
    return sum(isinstance(e, dict) and e.get("type") == service for e in body)


def _routing_cases(proto: Definition) -> list[Case[GatewayContext]]:
    cases: list[Case[GatewayContext]] = []
    for event in proto.events.values():
        sender = proto.first_sender(event.t)
        receiver = next((s for s in proto.services if event.is_received_by(s)), None)
        if event.routing != "round_robin" or sender is None or receiver is None:
            continue

        async def round_robin(ctx: GatewayContext, event: Event = event, sender: str = sender, receiver: str = receiver) -> str:
            if others := await _others_connected(ctx, receiver):
                raise Skipped(f"{plural(others, receiver + ' service')} already connected: they would take turns too")
            nonce = _nonce()
            a, _ = await ctx.identified(receiver)
            b, _ = await ctx.identified(receiver)
            s, _ = await ctx.identified(sender)
            try:
                for payload in _tagged_events(ctx.proto, event, nonce, 4):
                    await s.send(payload)
                got_a = await _collect(ctx, a, event, nonce, 2)
                got_b = await _collect(ctx, b, event, nonce, 2)
            finally:
                await asyncio.gather(a.close(), b.close(), s.close())
            expect(len(got_a) == 2 and len(got_b) == 2, f"receivers got {len(got_a)} and {len(got_b)} of 4")
            return f"4 events: {got_a} to one, {got_b} to the other"

        async def held(ctx: GatewayContext, event: Event = event, sender: str = sender, receiver: str = receiver) -> str:
            if others := await _others_connected(ctx, receiver):
                raise Skipped(f"{plural(others, receiver + ' service')} already connected: nothing would be held")
            nonce = _nonce()
            s, _ = await ctx.identified(sender)
            try:
                for payload in _tagged_events(ctx.proto, event, nonce, 3):
                    await s.send(payload)
                await s.heartbeat(sender)  # an ACK: the gateway has read the three events
                r, _ = await ctx.identified(receiver)
                try:
                    got = await _collect(ctx, r, event, nonce, 3)
                finally:
                    await r.close()
            finally:
                await s.close()
            expect(got == [0, 1, 2], f"the receiver got {got} (expected [0, 1, 2])")
            return "3 events held, delivered in order on IDENTIFY"

        cases += [
            Case(f"routing.round-robin.{event.t}", f"{event.t} goes to its {receiver} services in turn",
                 "4 events: 2 to each of two receivers", "one receiver must not take all the work", round_robin),
            Case(f"routing.held.{event.t}", f"{event.t} is held while no {receiver} is connected",
                 "delivered in order once one identifies", "events sent during a receiver's restart must not be lost", held),
        ]  # fmt: skip
    return cases


async def _collect(ctx: GatewayContext, p: Probe, event: Event, nonce: str, count: int) -> list[int]:
    """The indexes of this case's events that ``p`` receives, up to ``count`` (bounded in time)."""
    got: list[int] = []
    deadline = time.monotonic() + WAIT
    while len(got) < count and time.monotonic() < deadline:
        frame = await p.next(max(deadline - time.monotonic(), 0.001))
        if not isinstance(frame, Frame):
            break
        if frame.payload is not None and frame.payload.get("t") == event.t:
            index = _tag_of(ctx.proto, event, frame, nonce)
            if index is not None:
                got.append(index)
    return got


def _compression_cases(proto: Definition) -> list[Case[GatewayContext]]:
    service = _first_service(proto)

    async def from_identified(ctx: GatewayContext) -> str:
        async with ctx.probe() as p:
            hello = await p.hello()
            await p.heartbeat(None)
            early_ack = p.frames[-1]
            identified = await p.identify(service, ctx.token_sent, compress=True)
            await p.heartbeat(service)
            late_ack = p.frames[-1]
        expect(not hello.binary and not early_ack.binary, "a frame before IDENTIFIED came compressed")
        expect(identified.binary and identified.compressed, f"IDENTIFIED came as {_kind(identified)}")
        expect(late_ack.binary and late_ack.compressed, f"the ACK after IDENTIFIED came as {_kind(late_ack)}")
        return "HELLO and an early ACK as text; IDENTIFIED and the next ACK as zlib in binary frames"

    async def not_asked(ctx: GatewayContext) -> str:
        for compress in (None, False):
            p, identified = await ctx.identified(service, compress=compress)
            async with p:
                await p.heartbeat(service)
            for frame in p.frames:
                expect(not frame.binary, f"compress {compress}: {frame.describe(ctx.proto)} came as {_kind(frame)}")
        return "every frame text, with compress absent and with compress false"

    cases = [
        Case("compress.from-identified", "compress: zlib in binary frames from IDENTIFIED on, nothing before",
             "text before IDENTIFIED; zlib binary from it", "a service switches its decoder at IDENTIFIED", from_identified),
        Case("compress.not-asked", "no compression unless asked", "text frames only",
             "a service that did not ask cannot decode zlib", not_asked),
    ]  # fmt: skip
    event = next((e for e in proto.events.values() if e.routing == "round_robin" and proto.first_sender(e.t)), None)
    receiver = next((s for s in proto.services if event and event.is_received_by(s)), None)
    if event is None or receiver is None:
        return cases

    async def forwarded(ctx: GatewayContext) -> str:
        if others := await _others_connected(ctx, receiver):
            raise Skipped(f"{plural(others, receiver + ' service')} already connected: the event may go to one of them")
        sender = ctx.proto.first_sender(event.t)
        nonce = _nonce()
        r, _ = await ctx.identified(receiver, compress=True)
        s, _ = await ctx.identified(sender)  # type: ignore[arg-type]
        try:
            await s.send(_tagged_events(ctx.proto, event, nonce, 1)[0])
            frame = await r.recv_event(event.t)
        finally:
            await asyncio.gather(r.close(), s.close())
        expect(frame.binary and frame.compressed, f"{event.t} came as {_kind(frame)}")
        return f"{event.t} forwarded as zlib in a binary frame"

    cases.append(Case("compress.forwarded", f"{event.t} reaches a compressing {receiver} compressed", "zlib binary",
                      "events are gateway payloads too", forwarded))  # fmt: skip
    return cases


def _kind(frame: Frame) -> str:
    if frame.compressed:
        return "zlib in a binary frame"
    return "a binary frame (not zlib)" if frame.binary else "a text frame"


def _rest_cases(proto: Definition) -> list[Case[GatewayContext]]:
    cases: list[Case[GatewayContext]] = []
    roles = proto.roles
    for service in proto.services.values():

        async def services(ctx: GatewayContext, service: Any = service) -> str:
            p, frame = await ctx.identified(service.name)
            async with p:
                beat = heartbeat_payload(ctx.proto, service.name)
                beat["d"][roles.heartbeat_memory] = memory = random.randrange(10**6, 10**9)
                await p.send(beat)
                await p.recv_op("HEARTBEAT_ACK")
                status, body = await ctx.get("/services/")
            expect(status == 200 and isinstance(body, list), f"GET /services/ → {status} {printable(str(body))[:100]}")
            entry = next((e for e in body if isinstance(e, dict) and e.get(roles.heartbeat_memory) == memory), None)
            expect(entry is not None, f"no entry with {roles.heartbeat_memory} {memory} among {len(body)}")
            assert entry is not None
            expect(entry.get("type") == service.name, f"type {entry.get('type')!r}")
            expect(type(entry.get("startTime")) is int, f"startTime {entry.get('startTime')!r}")
            if service.shards:
                expect(
                    entry.get(roles.identified_shards) == _shards(ctx, frame), f"shards {entry.get(roles.identified_shards)!r}"
                )
            return f"listed as {service.name} with its heartbeat's {roles.heartbeat_memory}"

        cases.append(Case(f"rest.services.{service.name}", f"GET /services/ lists a {service.name}",
                          "type, startTime and the last heartbeat's data", "how operators see who is connected", services))  # fmt: skip
    for name, structure in proto.cache_types.items():

        async def cached(ctx: GatewayContext, structure: Structure = structure) -> str:
            entity = _entity(ctx.proto, structure)
            await _put(ctx, structure.name, entity)
            return await _expect_cached(ctx, structure, entity)

        async def absent(ctx: GatewayContext, structure: Structure = structure) -> str:
            path = f"/cache/{structure.name}/" + "/".join(_nonce() for _ in structure.key)
            status, body = await ctx.get(path)
            expect(status == 404 and body is not None, f"GET {path} → {status} {'JSON' if body is not None else 'not JSON'}")
            return f"GET {path} → 404 with a JSON body"

        cases += [
            Case(f"rest.cache.{name}", f"a cached {name} is served at /cache/{name}/{'/'.join('{' + k + '}' for k in structure.key)}",
                 "200 with the entity", "the REST side is the cache's read side", cached),
            Case(f"rest.absent.{name}", f"a {name} never cached is a JSON 404", "404, JSON body",
                 "readers tell 'absent' from 'broken'", absent),
        ]  # fmt: skip
        for nested in structure.nested:
            item_type = _item_type(proto, structure, nested)
            if item_type is None:
                continue

            async def nested_part(
                ctx: GatewayContext, structure: Structure = structure, nested: str = nested, item: Structure = item_type
            ) -> str:
                parent = _entity(ctx.proto, structure)
                child = _entity(ctx.proto, item)
                parent[nested] = [child]
                await _put(ctx, structure.name, parent)
                return await _expect_cached(ctx, item, child)

            cases.append(Case(f"rest.nested.{name}.{nested}", f"a {name}'s {nested} are cached as {item_type.name}s too",
                              f"200 at /cache/{item_type.name}/…", "readers look nested parts up by their own key", nested_part))  # fmt: skip
    kind = next(iter(proto.cache_types.values()), None)
    if kind is not None:

        async def array(ctx: GatewayContext, structure: Structure = kind) -> str:
            entities = [_entity(ctx.proto, structure) for _ in range(2)]
            await _put(ctx, structure.name, entities)
            return "; ".join([await _expect_cached(ctx, structure, e) for e in entities])

        cases.append(Case("rest.cache-array", f"a CACHE of an array of {kind.name}s caches each", "both served",
                          "a sharder sends entities in batches", array))  # fmt: skip

    async def unknown_route(ctx: GatewayContext) -> str:
        status, body = await ctx.get("/gwtool-check-no-such-route")
        expect(status == 404 and body is not None, f"→ {status} {'JSON' if body is not None else 'not JSON'}")
        return "404 with a JSON body"

    cases.append(Case("rest.unknown-route", "an unknown REST route is a JSON 404", "404, JSON body",
                      "clients parse every answer as JSON", unknown_route))  # fmt: skip
    return cases


def _item_type(proto: Definition, structure: Structure, nested: str) -> Structure | None:
    f = next((f for f in structure.fields if f.path == nested), None)
    expr = f.type if f is not None else None
    while expr is not None and expr.item is not None:
        expr = expr.item
    return proto.cache_types.get(expr.name) if expr is not None else None


async def _put(ctx: GatewayContext, cache_type: str, data: Any) -> None:
    """Send a CACHE and wait until the gateway has read it (a heartbeat's ACK comes after)."""
    cacher = _cacher(ctx)
    p, _ = await ctx.identified(cacher)
    async with p:
        await p.send({"op": ctx.proto.op("CACHE"), "type": cache_type, "d": data})
        await p.heartbeat(cacher)


async def _expect_cached(ctx: GatewayContext, structure: Structure, entity: dict[str, Any]) -> str:
    path = _cache_path(structure, entity)
    status, body = await ctx.get(path)
    expect(status == 200 and isinstance(body, dict), f"GET {path} → {status}")
    keys = {k: entity[k] for k in structure.key}
    expect(all(str(body.get(k)) == str(v) for k, v in keys.items()), f"GET {path} → an entity with other keys")
    return f"GET {path} → 200"


def _timeout_cases(proto: Definition) -> list[Case[GatewayContext]]:
    service = _first_service(proto)

    def waits(ctx: GatewayContext) -> None:
        if not ctx.interval_ms:
            raise Skipped("HELLO gave no heartbeat interval")
        if ctx.timeout_s > QUICK_TIMEOUT_S and not ctx.slow:
            raise Skipped(f"the timeout is {ctx.timeout_s:g} s (interval {ctx.interval_ms} ms): run with --slow to wait for it")

    async def silent(ctx: GatewayContext) -> str:
        waits(ctx)
        p, _ = await ctx.identified(service)
        async with p:
            started = time.monotonic()
            closed = await p.expect_close(ctx.timeout_s * 2 + WAIT)
        after = time.monotonic() - started
        got = f"{closed.describe(ctx.proto)} after {after:.2f} s"
        expect(closed.code == ctx.proto.close("HEARTBEAT_TIMEOUT").code, got)
        low, high = ctx.timeout_s * 0.9, ctx.timeout_s * 1.5 + 0.25
        expect(low <= after <= high, f"{got}, outside {low:.2f}…{high:.2f} s")
        return got

    async def kept(ctx: GatewayContext) -> str:
        waits(ctx)
        p, _ = await ctx.identified(service)
        async with p:
            deadline = time.monotonic() + ctx.timeout_s * 2
            beats = 0
            while time.monotonic() < deadline:
                await p.heartbeat(service)
                beats += 1
                frame = await p.next(ctx.interval_ms / 2000)
                if isinstance(frame, Closed):
                    raise Failed(f"{frame.describe(ctx.proto)} after {beats} heartbeats at half the interval")
        return f"open after {beats} heartbeats over {ctx.timeout_s * 2:.1f} s"

    factor = proto.heartbeat_timeout_factor
    return [
        Case("heartbeat.timeout", f"a silent connection is closed after {factor:g} × the interval",
             f"close {proto.close('HEARTBEAT_TIMEOUT').code} HEARTBEAT_TIMEOUT at {factor:g} × interval (-10 %, +50 %)",
             "dead services must be noticed and their shards freed", silent, timeout=600.0),
        Case("heartbeat.kept-alive", "a connection heartbeating in time stays open", f"open through 2 × {factor:g} × interval",
             "a timeout that fires early breaks every healthy service", kept, timeout=600.0),
    ]  # fmt: skip
