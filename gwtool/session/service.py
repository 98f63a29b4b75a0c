"""A service's side of the protocol: what it sends, what it must expect, what it must answer.

One ``ServiceSession`` lives as long as one connection. The driver calls ``connected(now)`` once
the websocket is open, ``receive(payload, now)`` for every decoded payload, and ``tick(now)`` at
``deadline()``; each returns the actions to carry out in order. ``heartbeat(now)`` builds a
heartbeat the driver sends on its own (a "heartbeat now"), ``sent_data()`` counts a payload that is
not a heartbeat so that ACKs can confirm it, and ``reconnects(code, by_gateway)`` says whether a
close is worth reconnecting after. Nothing here reads a socket, sleeps or prints.

The handshake: HELLO within ``handshake_timeout`` of connecting (its heartbeatInterval, or the
definition's default with a Problem), then IDENTIFY, then IDENTIFIED within ``handshake_timeout``
of IDENTIFY (at once for a definition without an IDENTIFIED event). Heartbeats: the first after a
random fraction of the interval, then every interval; a heartbeat request from the gateway is
answered at once. A scheduled beat that finds the previous scheduled one still un-ACKed closes the
connection as a zombie.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from gwtool.protocol.examples import identify_payload
from gwtool.protocol.validate import error_path, validate_payload
from gwtool.session.actions import Ack, Action, Close, Hello, Identified, Problem, Send, Stalled, Zombie

if TYPE_CHECKING:
    from gwtool.protocol.definition import Definition

Phase = Literal["awaiting_hello", "identifying", "identified", "closed"]
ZOMBIE_CLOSE = "UNKNOWN_ERROR"  # a dead connection's close, by name: not 1000, so the gateway can tell it from an exit


class ServiceSession:
    def __init__(
        self,
        proto: Definition,
        service: str,
        *,
        token: str = "",
        compress: bool | None = False,
        heartbeat: bool = True,
        handshake_timeout: float = 5.0,
        heartbeat_data: Callable[[], dict[str, Any]] | None = None,
        first_beat: Callable[[], float] = random.random,
    ):
        if service not in proto.services:
            raise ValueError(proto.unknown_service_text(service))
        self.proto, self.service, self.token, self.compress = proto, service, token, compress
        self.scheduled_beats = heartbeat  # False: only answer the gateway's requests
        self.handshake_timeout = handshake_timeout
        self._heartbeat_data = heartbeat_data or (lambda: {})
        self._first_beat = first_beat  # the fraction of an interval before the first beat
        identified = proto.event_with_routing("identified")
        self.identified_t = identified.t if identified is not None else None
        self._op = {name: proto.op(name) for name in proto.opcodes}
        self._event_op = proto.op("EVENT")
        self._expect_events_of(service)
        self.phase: Phase = "closed"
        self.interval_ms: int | None = None
        self.identified: Identified | None = None
        self.beats_sent = self.beats_settled = 0  # heartbeats sent / ACKed or given up on, in order
        self.data_sent = self.data_confirmed = 0  # payloads other than heartbeats: written / known taken
        self.unsolicited_acks = 0
        self._pending: deque[float] = deque()  # send times of un-ACKed heartbeats
        self._confirms: deque[int] = deque()  # data_sent when each un-ACKed heartbeat went
        self._handshake_by: float | None = None
        self._next_beat: float | None = None

    # --- inputs ---------------------------------------------------------------------------------

    def connected(self, now: float) -> None:
        """A new connection is open: wait for HELLO."""
        self.phase, self.interval_ms, self.identified = "awaiting_hello", None, None
        self._handshake_by, self._next_beat = now + self.handshake_timeout, None
        self._settle_pending()

    def receive(self, payload: dict[str, Any], now: float, *, compressed: bool = False) -> list[Action]:
        """React to one payload from the gateway (decoded; ``compressed`` if it came zlib'd)."""
        if self.phase == "closed":
            return []
        op = payload.get("op")
        if op == self._event_op and self.phase == "identified" and (not compressed or self.compress):
            if payload.get("t") in self._receives_routed:  # the flood's path: an event for us, checked
                errors = validate_payload(self.proto, payload, sender="gateway")
                return [Problem(text, error_path(text), True) for text in errors] if errors else []
        out: list[Action] = []
        if self.phase == "awaiting_hello" and op != self._op["HELLO"]:
            out.append(Problem(f"expected HELLO first, got {self._describe(payload)}"))
        if compressed and (not self.compress or self.phase == "awaiting_hello"):
            out.append(Problem("a compressed payload though IDENTIFY did not ask for compression"))
        out += (Problem(text, error_path(text), True) for text in validate_payload(self.proto, payload, sender="gateway"))
        if op == self._op["HEARTBEAT_ACK"]:
            out.append(self._on_ack(now))
        elif op == self._op["HELLO"]:
            out += self._on_hello(payload.get("d"), now)
        elif op == self._op["HEARTBEAT"]:
            out.append(self.heartbeat(now))  # the gateway asks for one: answer at once
        elif op == self._op["EVENT"]:
            t = payload.get("t")
            if t == self.identified_t and self.identified_t is not None:
                out += self._on_identified(payload.get("d"))
            elif isinstance(t, str) and t in self.proto.events and t not in self._receives:
                out.append(Problem(f"t: {self.service} does not receive {t}", "t"))
        return out

    def tick(self, now: float) -> list[Action]:
        """What is due by ``now``: a handshake deadline passed, a heartbeat (or a zombie)."""
        if self.phase in ("awaiting_hello", "identifying") and self._handshake_by is not None and now >= self._handshake_by:
            stalled = Stalled("HELLO" if self.phase == "awaiting_hello" else "IDENTIFIED", self.handshake_timeout)
            self.phase = "closed"
            close = self.proto.close(ZOMBIE_CLOSE)
            return [stalled, Close(close.code, close.name, stalled.reason)]
        if self._next_beat is None or now < self._next_beat or self.interval_ms is None:
            return []
        interval = self.interval_ms / 1000
        # The previous scheduled beat, sent an interval ago, is still un-ACKed. (Half an interval of
        # age tells it from a beat the gateway requested a moment ago.)
        if self._pending and now - self._pending[0] >= interval / 2:
            missed = len(self._pending)
            self.lost()
            close = self.proto.close(ZOMBIE_CLOSE)
            return [Zombie(missed, self.interval_ms), Close(close.code, close.name, "no heartbeat ACK")]
        self._next_beat = max(self._next_beat + interval, now)  # after a suspend: resume, don't burst
        return [self.heartbeat(now)]

    def deadline(self) -> float | None:
        """When ``tick`` is next due (None: nothing is scheduled)."""
        if self.phase in ("awaiting_hello", "identifying"):
            return min(t for t in (self._handshake_by, self._next_beat) if t is not None)
        return self._next_beat if self.phase == "identified" else None

    def heartbeat(self, now: float) -> Send:
        """A heartbeat to send now; its ACK is measured like any other."""
        self._pending.append(now)
        self._confirms.append(self.data_sent)
        self.beats_sent += 1
        return Send({"op": self._op["HEARTBEAT"], "d": self._heartbeat_data()})

    def identify_payload(self) -> dict[str, Any]:
        """This session's IDENTIFY (``compress=None`` leaves the field out: the gateway's default)."""
        payload = identify_payload(self.proto, self.service, token=self.token, compress=self.compress)
        if self.compress is None:
            payload["d"].pop(self.proto.roles.identify_compress, None)
        return payload

    def identifying(self, service: str, compress: bool, now: float) -> None:
        """Watched rather than driven (a proxy's view): the service sent IDENTIFY as ``service`` at
        ``now``. Expect what that type receives, compressed payloads if it asked, and IDENTIFIED
        within ``handshake_timeout`` of now (not of HELLO: the service chose when to identify)."""
        if service not in self.proto.services:
            raise ValueError(self.proto.unknown_service_text(service))
        self.service, self.compress = service, compress
        self._expect_events_of(service)
        if self.phase == "identifying":
            self._handshake_by = now + self.handshake_timeout

    def _expect_events_of(self, service: str) -> None:
        """The events ``service`` may be sent (IDENTIFIED besides), and those routed to it."""
        self._receives = _received_by(self.proto, service)
        self._receives_routed = self._receives - {self.identified_t}

    def unsent(self) -> None:
        """The last heartbeat could not be sent after all: forget it."""
        if self._pending:
            self._pending.pop()
            self._confirms.pop()
            self.beats_sent -= 1

    def sent_data(self) -> None:
        """A payload other than a heartbeat was written."""
        self.data_sent += 1

    def lost(self) -> None:
        """The connection ended: what was waiting for an ACK never gets one."""
        self._settle_pending()
        self.phase, self._next_beat = "closed", None

    def _settle_pending(self) -> None:
        self.beats_settled += len(self._pending)
        self._pending.clear()
        self._confirms.clear()

    def reconnects(self, code: int, by_gateway: bool) -> bool:
        """Whether a connection that ended with ``code`` is worth reconnecting after: every close
        but the gateway's own with a code the definition marks final."""
        known = self.proto.close_by_code.get(code)
        return not (by_gateway and known is not None and not known.reconnect)

    # --- the handshake and ACKs -------------------------------------------------------------------

    def _on_hello(self, d: Any, now: float) -> list[Action]:
        if self.phase != "awaiting_hello":
            return [Problem("a second HELLO on one connection: ignored")]
        out: list[Action] = []
        field = self.proto.roles.hello_interval
        interval = d.get(field) if isinstance(d, dict) else None
        if type(interval) is not int or interval <= 0:
            interval = self.proto.default_interval_ms
            out.append(Problem(f"HELLO has no usable {field}: using {interval} ms", f"d.{field}"))
        self.interval_ms = interval
        self.phase = "identifying"
        self._handshake_by = now + self.handshake_timeout
        if self.scheduled_beats:
            self._next_beat = now + interval / 1000 * self._first_beat()
        out += [Hello(interval), Send(self.identify_payload())]
        if self.identified_t is None:  # a definition without an IDENTIFIED event: IDENTIFY is all
            out += self._on_identified({})
        return out

    def _on_identified(self, d: Any) -> list[Action]:
        if self.phase != "identifying":
            return [Problem(f"{self.identified_t} {'twice' if self.phase == 'identified' else 'before HELLO'}: ignored")]
        d = d if isinstance(d, dict) else {}
        roles = self.proto.roles
        shards = d.get(roles.identified_shards)
        max_shards = d.get(roles.identified_max_shards)
        self.identified = Identified(
            d,
            [s for s in shards if type(s) is int] if isinstance(shards, list) else [],
            max_shards if type(max_shards) is int else None,
        )
        self.phase, self._handshake_by = "identified", None
        out: list[Action] = [self.identified]
        if self.proto.services[self.service].shards and roles.identified_shards not in d:
            out.insert(0, Problem(f"{self.identified_t} has no {roles.identified_shards} for a {self.service}", "d.shards"))
        return out

    def _on_ack(self, now: float) -> Ack:
        if not self._pending:  # nobody asked: accounted, not measured
            self.unsolicited_acks += 1
            return Ack(None, self.data_confirmed)
        latency = (now - self._pending.popleft()) * 1000
        self.data_confirmed = self._confirms.popleft()
        self.beats_settled += 1
        return Ack(latency, self.data_confirmed)

    def _describe(self, payload: dict[str, Any]) -> str:
        op = payload.get("op")
        opcode = self.proto.opcode_by_code.get(op) if type(op) is int else None
        return f"{op} {opcode.name}" if opcode else f"op {op!r}"


def _received_by(proto: Definition, service: str) -> set[str]:
    """The events a connection identified as ``service`` may be sent: its own, and those routed to
    whoever identified (IDENTIFIED), whatever its type."""
    return {t for t, e in proto.events.items() if e.is_received_by(service) or e.routing == "identified"}
