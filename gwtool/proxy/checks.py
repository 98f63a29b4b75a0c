"""Both directions of one proxied connection checked by the protocol's own sessions.

What the service sends is fed to a ``GatewaySession`` (what a gateway accepts, and the close it
would answer with); what the gateway sends is fed to a ``ServiceSession`` (what a service must
expect: HELLO first, IDENTIFIED after IDENTIFY with shards for a type that holds them, an ACK for
each heartbeat, only events its type receives, compression only when asked). Neither session
sends anything here: their Closes, Problems and Stalls become ``Violation``s, and checking goes on
as if the connection had survived (``--strict`` closes it instead).

Two things a driver of those sessions would do itself are done here: an ACK that does not come
within the bound (the heartbeat interval from HELLO unless set) and a close code that is not the
definition's.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from gwtool.gateway.settings import GatewaySettings
from gwtool.gateway.shards import ShardPool
from gwtool.protocol.validate import error_path
from gwtool.session.actions import Ack, Close, Hello, Identified, Joined, Problem, Stalled
from gwtool.session.gateway import GatewayRules, GatewaySession
from gwtool.session.service import ServiceSession

if TYPE_CHECKING:
    from gwtool.protocol.definition import Definition
    from gwtool.proxy.settings import ProxySettings

Sender = Literal["service", "gateway"]
NEVER = 1e9  # seconds: a deadline of a real gateway's own that the protocol does not state (IDENTIFY's)
GIVE_UP = "UNKNOWN_ERROR"  # a strict proxy's close after a gateway's violation: "the gateway failed"


@dataclass(frozen=True, slots=True)
class Violation:
    """``by`` broke the protocol: ``text`` says how (naming the connection and the payload),
    ``path`` is the JSON path of the broken field ("" when none), ``close`` the close a strict proxy
    sends (the code a gateway would answer with; UNKNOWN_ERROR for the gateway's own faults)."""

    by: Sender
    text: str
    path: str
    close: Close


class RuleBook:
    """A GatewayRules per heartbeat interval (compiled once each): the gateway's HELLO says which."""

    def __init__(self, proto: Definition):
        self.proto = proto
        self._rules: dict[int, GatewayRules] = {}

    def rules(self, interval_ms: int) -> GatewayRules:
        rules = self._rules.get(interval_ms)
        if rules is None:
            settings = GatewaySettings(heartbeat_interval=interval_ms, identify_timeout=NEVER, max_shards=0)
            rules = self._rules[interval_ms] = GatewayRules(self.proto, settings)
        return rules


class Checks:
    """The two sessions of one connection (``conn``), fed what passes the proxy."""

    def __init__(self, book: RuleBook, settings: ProxySettings, conn: int, now: float):
        proto = self.proto = book.proto
        self.book, self.conn, self.settings = book, conn, settings
        self.gateway = GatewaySession(book.rules(proto.default_interval_ms), ShardPool(0, 1), conn, now)
        self.service = ServiceSession(
            proto, next(iter(proto.services)), heartbeat=False, handshake_timeout=settings.handshake_timeout
        )  # its type is the service's own once IDENTIFY passes (identifying)
        self.service.connected(now)
        self.identify_seen = False
        self.service_type: str | None = None
        self.interval_ms: int | None = None
        self.beats: deque[list[Any]] = deque()  # [time, reported] of each heartbeat awaiting its ACK
        self.requested = 0  # gateway heartbeat requests not yet answered by the service
        self.identified: Identified | None = None  # the gateway's IDENTIFIED, once it came
        self._op = {name: proto.op(name) for name in proto.opcodes}
        self._give_up = proto.close(GIVE_UP)

    # --- what the service sends ------------------------------------------------------------------

    def from_service(self, payload: dict[str, Any], now: float) -> list[Violation]:
        session = self.gateway
        phase = session.phase
        out: list[Violation] = []
        for action in session.receive(payload, now):
            if type(action) is Close:
                out.append(self._service_violation(payload, action))
                session.phase = phase  # checking goes on, as if the gateway had let it pass
            elif type(action) is Joined:
                self._joined(action, now)
        if payload.get("op") == self._op["HEARTBEAT"]:
            self._beat(now)
        return out

    def undecodable_from_service(self, why: str) -> Violation:
        phase = self.gateway.phase
        violation = self._service_violation(None, self.gateway.undecodable(why))
        self.gateway.phase = phase
        return violation

    def _joined(self, joined: Joined, now: float) -> None:
        self.identify_seen = True
        self.service_type = joined.service
        self.service.identifying(joined.service, joined.compress, now)

    def _beat(self, now: float) -> None:
        self.beats.append([now, False])
        if self.requested:  # the answer to a request: the session counted it when the request came
            self.requested -= 1
        else:
            self.service.heartbeat(now)

    # --- what the gateway sends --------------------------------------------------------------------

    def from_gateway(self, payload: dict[str, Any], compressed: bool, now: float) -> tuple[list[Violation], Ack | None]:
        """Its violations, and the ACK it is (with the round trip through the proxy), if one."""
        out: list[Violation] = []
        ack: Ack | None = None
        for action in self.service.receive(payload, now, compressed=compressed):
            kind = type(action)
            if kind is Problem:
                out.append(self._gateway_violation(payload, action.text, action.path))  # type: ignore[union-attr]
            elif kind is Ack:
                ack = action  # type: ignore[assignment]
                if self.beats:
                    self.beats.popleft()
            elif kind is Hello:
                self.interval_ms = action.interval_ms  # type: ignore[union-attr]
                self.gateway.rules = self.book.rules(self.interval_ms)
            elif kind is Identified:
                self.identified = action  # type: ignore[assignment]
        if payload.get("op") == self._op["HEARTBEAT"]:
            self.requested += 1
        return out, ack

    def undecodable_from_gateway(self, why: str) -> Violation:
        return self._gateway_violation(None, f"not a payload: {why}", "")

    def gateway_closed(self, code: int) -> Violation | None:
        """A close code of 3000 or more must be one of the definition's (below: RFC 6455's own)."""
        if code < 3000 or code in self.proto.close_by_code:
            return None
        return self._gateway_violation(None, f"close code {code} is not one of the definition's", "")

    # --- deadlines ---------------------------------------------------------------------------------

    def tick(self, now: float, *, acks_due: bool = True) -> list[Violation]:
        """Deadlines passed by ``now``; ``acks_due``: whether a late ACK counts (the gateway's messages
        are all read, none held back by a service that does not read)."""
        out: list[Violation] = []
        gateway = self.gateway
        if (close := gateway.tick(now)) is not None:  # the service stopped heartbeating
            out.append(self._service_violation(None, close))
            gateway.phase, gateway.last_heartbeat = "identified" if self.identify_seen else "awaiting_identify", now
        session = self.service
        if session.phase == "awaiting_hello" or (session.phase == "identifying" and self.identify_seen):
            for action in session.tick(now):
                if type(action) is Stalled:
                    out.append(self._stalled(action, now))
        bound = self._ack_bound()
        if bound is not None and acks_due:
            for beat in self.beats:
                if not beat[1] and now - beat[0] > bound:
                    beat[1] = True
                    out.append(self._gateway_violation(None, f"no HEARTBEAT_ACK within {bound * 1000:.0f} ms of a heartbeat", ""))
        return out

    def _ack_bound(self) -> float | None:
        if self.settings.ack_timeout is not None:
            return self.settings.ack_timeout
        return self.interval_ms / 1000 if self.interval_ms is not None else None

    def _stalled(self, stalled: Stalled, now: float) -> Violation:
        """A handshake step that did not come: said once, then checking goes on with a fresh session
        in the same step (HELLO may still come late)."""
        violation = self._gateway_violation(None, stalled.reason, "")
        fresh = ServiceSession(self.proto, self.service.service, compress=self.service.compress, heartbeat=False,
                               handshake_timeout=NEVER)  # fmt: skip
        fresh.connected(now)
        if stalled.step == "IDENTIFIED" and self.interval_ms is not None:
            fresh.receive({"op": self._op["HELLO"], "d": {self.proto.roles.hello_interval: self.interval_ms}}, now)
        self.service = fresh
        return violation

    # --- wording -------------------------------------------------------------------------------------

    def _service_violation(self, payload: dict[str, Any] | None, close: Close) -> Violation:
        text = f"#{self.conn} {self.service_type or '?'} → gateway: {_named(self.proto, payload, close.reason)} ({close.code} {close.name})"
        return Violation("service", text, error_path(close.reason), close)

    def _gateway_violation(self, payload: dict[str, Any] | None, problem: str, path: str) -> Violation:
        text = f"gateway → #{self.conn} {self.service_type or '?'}: {_named(self.proto, payload, problem)}"
        return Violation("gateway", text, path, Close(self._give_up.code, self._give_up.name, f"gateway: {problem}"))

    def ended(self) -> None:
        self.gateway.ended()


def payload_name(proto: Definition, payload: dict[str, Any] | None) -> str:
    """``EXECUTE_COMMAND``, ``CACHE guild``, ``HEARTBEAT_ACK`` … ("" for no payload)."""
    if payload is None:
        return ""
    t, cache_type = payload.get("t"), payload.get("type")
    if isinstance(t, str):
        return t
    name = proto.op_name(payload.get("op"))
    return f"{name} {cache_type}" if isinstance(cache_type, str) and payload.get("op") == proto.op("CACHE") else name


def _named(proto: Definition, payload: dict[str, Any] | None, problem: str) -> str:
    """``EXECUTE_COMMAND d.ids.shard: …``: the problem after its payload's name, unless it names it."""
    name = payload_name(proto, payload)
    if not name or problem.startswith((name.split()[0], "op:")) or name.startswith(("op ", "no op")):
        return problem
    return f"{name} {problem}"
