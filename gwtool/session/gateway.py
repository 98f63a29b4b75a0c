"""The gateway's side of the protocol: what it must accept, refuse and answer, per connection.

``GatewayRules`` is made once per gateway (the compiled checks, the payloads it sends often);
``GatewaySession`` lives as long as one connection. The driver calls ``hello()`` for the first
payload, ``admit(now)`` for every frame (the rate limit), ``receive(payload, now)`` for every
decoded payload, ``undecodable(reason)`` for a frame that is not a payload, and ``tick(now)`` now
and then for the deadlines (IDENTIFY, heartbeats). Each answers with actions: what to send, the
close (code, name and a reason naming the fault), the event to route, the entity to cache. Once a
session has answered with a Close it takes nothing more.
"""

from __future__ import annotations

import hmac
import time
import zlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from gwtool.protocol.codec import encode
from gwtool.protocol.validate import check_data, json_type, permission_error, validate_payload
from gwtool.session.actions import Action, Close, Joined, Route, Send, Store
from gwtool.session.reasons import INVALID, NOT_ALLOWED, reason
from gwtool.text import plural

if TYPE_CHECKING:
    from gwtool.gateway.settings import GatewaySettings
    from gwtool.gateway.shards import ShardPool
    from gwtool.protocol.definition import Definition

Phase = Literal["awaiting_identify", "identified", "closed"]
NOTHING: tuple[Action, ...] = ()


class GatewayRules:
    """What every connection of one gateway is held to, compiled once."""

    def __init__(self, proto: Definition, settings: GatewaySettings):
        self.proto, self.settings = proto, settings
        self.op = {name: proto.op(name) for name in proto.opcodes}
        self.roles = proto.roles
        self.checks = proto.checks
        self.heartbeat_names = {
            service: frozenset(f.name for f in proto.heartbeat_fields_for(service) if "." not in f.path)
            for service in (None, *proto.services)
        }
        self.timeout = settings.heartbeat_interval * proto.heartbeat_timeout_factor / 1000  # seconds of silence
        self.hello = self.own("HELLO", {self.roles.hello_interval: settings.heartbeat_interval})
        self.ack: Send | None = self.own("HEARTBEAT_ACK", {})
        if settings.ack == "without_d":
            self.ack = self.own("HEARTBEAT_ACK", None)
        elif settings.ack == "never":
            self.ack = None
        self.heartbeat_request = self.own("HEARTBEAT", {})
        self.identified_event = proto.event_with_routing("identified")
        self.routes = {t: (Route(event),) for t, event in proto.events.items()}
        sent_by_services = {op.code: op.name for op in proto.opcodes.values() if "service" in op.sent_by}
        self.service_ops = sent_by_services
        self.before_identify = (self.op["HEARTBEAT"], self.op["IDENTIFY"])

    def own(self, op_name: str, d: dict[str, Any] | None) -> Send:
        """A payload the gateway sends often, encoded once (and compressed once)."""
        payload: dict[str, Any] = {"op": self.op[op_name]} if d is None else {"op": self.op[op_name], "d": d}
        frame = encode(payload)
        return Send(payload, frame, zlib.compress(frame))

    def close(self, name: str, text: str) -> Close:
        return Close(self.proto.close(name).code, name, text)

    def refuse(self, why: str, **values: Any) -> Close:
        """A close with one of the gateway's own reasons (session/reasons.py)."""
        return self.close(*reason(why, **values))


class GatewaySession:
    def __init__(self, rules: GatewayRules, shards: ShardPool, conn: int, now: float):
        self.rules, self._shards, self.conn = rules, shards, conn
        self.phase: Phase = "awaiting_identify"
        self.service: str | None = None
        self.compress = False
        self.shards: list[int] = []
        self.heartbeat: dict[str, Any] = {}  # the last heartbeat's fields of the definition
        self.opened = now
        self.last_heartbeat: float | None = None  # the clock's time of the last heartbeat
        self.last_heartbeat_at: int | None = None  # ms since the epoch, for GET /services/
        self._window_start, self._window_count = now, 0
        self._now = now  # the clock of the payload being handled
        self._handlers: dict[int, Callable[[dict[str, Any]], Sequence[Action]]] = {
            code: {
                "HEARTBEAT": self._on_heartbeat, "IDENTIFY": self._on_identify, "EVENT": self._on_event, "CACHE": self._on_cache,
            }.get(name, self._on_other)
            for code, name in rules.service_ops.items()
        }  # fmt: skip

    def hello(self) -> Send:
        """The first payload of every connection."""
        return self.rules.hello

    def heartbeat_request(self) -> Send:
        """The gateway asking for a heartbeat now."""
        return self.rules.heartbeat_request

    def admit(self, now: float) -> Close | None:
        """Count one frame against the rate limit: the close when it is one too many."""
        limit = self.rules.settings.rate_limit
        if limit is None or self.phase == "closed":
            return None
        count, seconds = limit
        if now - self._window_start >= seconds:
            self._window_start, self._window_count = now, 0
        self._window_count += 1
        if self._window_count <= count:
            return None
        return self._closing(self.rules.refuse("rate_limited", payloads=plural(count, "payload"), seconds=seconds))

    def undecodable(self, why: str) -> Close:
        return self._closing(self.rules.close("DECODE_ERROR", why))

    def receive(self, payload: dict[str, Any], now: float) -> Sequence[Action]:
        """What a decoded payload from the service calls for."""
        if self.phase == "closed":
            return NOTHING
        op = payload.get("op")
        handler = self._handlers.get(op) if type(op) is int else None
        if handler is None:
            return (self._closing(self.rules.close("UNKNOWN_OPCODE", self._unknown_op(op))),)
        if self.phase != "identified" and op not in self.rules.before_identify:
            return (self._closing(self.rules.refuse("before_identify", op=self.rules.proto.op_name(op))),)
        self._now = now
        return handler(payload)

    def tick(self, now: float) -> Close | None:
        """The close a deadline calls for by ``now``: no IDENTIFY in time, or heartbeats stopped."""
        if self.phase == "closed":
            return None
        settings = self.rules.settings
        if self.phase == "awaiting_identify" and now - self.opened > settings.identify_timeout:
            return self._closing(self.rules.refuse("identify_deadline", seconds=settings.identify_timeout))
        since = self.last_heartbeat if self.last_heartbeat is not None else self.opened
        if now - since <= self.rules.timeout:
            return None
        what = "no heartbeat" if self.last_heartbeat is None else "no heartbeat since the last one"
        factor = self.rules.proto.heartbeat_timeout_factor
        return self._closing(
            self.rules.refuse(
                "heartbeat_timeout", what=what, ms=(now - since) * 1000, factor=factor, interval=settings.heartbeat_interval
            )
        )

    def ended(self) -> None:
        """The connection is gone: its shards go back to the pool."""
        self.phase = "closed"
        if self.shards:
            self._shards.release(self.conn)

    # --- opcodes ---------------------------------------------------------------------------------

    def _on_heartbeat(self, payload: dict[str, Any]) -> Sequence[Action]:
        if (refused := self._t_on_other_op(payload)) is not None:
            return refused
        checks = self.rules.checks.heartbeat
        d, errors = check_data(checks.get(self.service, checks[None]), payload)
        if errors:
            return (self._invalid(errors),)
        self.last_heartbeat = self._now
        self.last_heartbeat_at = int(time.time() * 1000)
        kept = self.rules.heartbeat_names.get(self.service, self.rules.heartbeat_names[None])
        self.heartbeat = {k: v for k, v in d.items() if k in kept}  # the definition's fields only
        return NOTHING if self.rules.ack is None else (self.rules.ack,)

    def _on_identify(self, payload: dict[str, Any]) -> Sequence[Action]:
        rules = self.rules
        if self.phase == "identified":
            return (self._closing(rules.refuse("already_identified", service=self.service)),)
        if (refused := self._t_on_other_op(payload)) is not None:
            return refused
        d, errors = check_data(rules.checks.identify, payload)
        roles = rules.roles
        service = d.get(roles.identify_service) if type(d) is dict else None
        unknown_service = type(service) is str and service not in rules.proto.services
        if unknown_service:  # its own close code, once the rest is well-formed and the token matches
            errors = [e for e in errors if not e.startswith(f"d.{roles.identify_service}:")]
        if errors:
            return (self._invalid(errors),)
        token = rules.settings.token
        if token is not None and not hmac.compare_digest(str(d[roles.identify_token]).encode(), token.encode()):
            return (self._closing(rules.refuse("bad_token")),)
        if unknown_service or type(service) is not str:
            known = ", ".join(rules.proto.services)
            return (self._closing(rules.refuse("unknown_service", service=service, known=known)),)
        return self._identify(service, d.get(roles.identify_compress) is True)

    def _identify(self, service: str, compress: bool) -> Sequence[Action]:
        rules = self.rules
        self.service, self.phase, self.compress = service, "identified", compress
        answer: dict[str, Any] = {}
        if rules.proto.services[service].shards:
            self.shards = self._shards.allocate(self.conn)
            answer = {rules.roles.identified_shards: self.shards, rules.roles.identified_max_shards: self._shards.max_shards}
        out: list[Action] = []
        if rules.identified_event is not None:
            out.append(Send({"op": rules.op["EVENT"], "t": rules.identified_event.t, "d": answer}))
        out.append(Joined(service, self.shards, compress))
        return out

    def _on_event(self, payload: dict[str, Any]) -> Sequence[Action]:
        rules = self.rules
        t = payload.get("t")
        event = rules.proto.events.get(t) if type(t) is str else None
        if event is None:
            known = ", ".join(rules.proto.events)
            what = (
                "missing" if t is None
                else f"unknown event {t!r}" if type(t) is str
                else f"expected string, got {json_type(t)}"
            )  # fmt: skip
            return (self._closing(rules.refuse("unknown_event", what=what, known=known)),)
        if not event.may_be_sent_by(self.service):  # type: ignore[arg-type]
            return (self._closing(rules.close(NOT_ALLOWED, permission_error(rules.proto, payload, self.service) or "")),)  # type: ignore[arg-type]
        _, errors = check_data(rules.checks.events[event.t], payload)
        if errors:
            return (self._invalid(errors),)
        return rules.routes[event.t]

    def _on_cache(self, payload: dict[str, Any]) -> Sequence[Action]:
        proto = self.rules.proto
        if denied := permission_error(proto, payload, self.service):  # type: ignore[arg-type]
            return (self._closing(self.rules.close(NOT_ALLOWED, denied)),)
        if errors := validate_payload(proto, payload, service=self.service):
            return (self._invalid(errors),)
        return (Store(payload["type"], payload["d"]),)

    def _on_other(self, payload: dict[str, Any]) -> Sequence[Action]:
        """An opcode a user's protocol adds for services: checked, otherwise accepted as is."""
        if errors := validate_payload(self.rules.proto, payload, service=self.service):
            return (self._invalid(errors),)
        return NOTHING

    # --- refusals --------------------------------------------------------------------------------

    def _t_on_other_op(self, payload: dict[str, Any]) -> Sequence[Action] | None:
        if payload.get("t") is None:
            return None
        return (self._closing(self.rules.refuse("t_on_other_op", op=self.rules.op["EVENT"])),)

    def _invalid(self, errors: list[str]) -> Close:
        return self._closing(self.rules.close(INVALID, "; ".join(errors)))

    def _closing(self, close: Close) -> Close:
        self.phase = "closed"
        return close

    def _unknown_op(self, op: Any) -> str:
        proto = self.rules.proto
        known = ", ".join(f"{code} {name}" for code, name in self.rules.service_ops.items())
        if op is None:
            return f"op: missing (one of {known})"
        opcode = proto.opcode_by_code.get(op) if type(op) is int else None
        if opcode is not None:
            return f"op: {opcode.code} {opcode.name} is sent by the gateway only (services send {known})"
        return f"op: unknown opcode {op!r} (services send {known})"
