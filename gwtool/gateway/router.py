"""Who receives an event: the To table, round-robin turns, and the bounded hold.

Everything comes from the protocol: ``Event.targets`` ("all" = every service type) and
``Event.routing``. Connections join the router once identified and leave as soon as they start
closing, so an event is never handed to a connection that can no longer take it.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from gwtool.protocol.definition import EVERYONE

if TYPE_CHECKING:
    from gwtool.protocol.definition import Definition, Event


class Receiver(Protocol):
    @property
    def service(self) -> str | None: ...


@dataclass(slots=True, eq=False)
class Held:
    """An event waiting for a receiver: only the frame exactly as its sender sent it (the decoded
    payload would cost about as much memory again)."""

    event: Event
    frame: str
    sender: int
    ts: float = field(default_factory=time.time)


class Router:
    def __init__(self, proto: Definition, hold_limit: int, hold_bytes: int = 64 << 20):
        self.hold_limit, self.hold_bytes = hold_limit, hold_bytes
        self.held_size = 0  # bytes of the held frames
        self.by_service: dict[str, list[Any]] = {name: [] for name in proto.services}
        self._services: dict[str, tuple[str, ...]] = {
            t: tuple(proto.services) if EVERYONE in e.targets else tuple(s for s in e.targets if s in proto.services)
            for t, e in proto.events.items()
        }
        self._turn: dict[str, int] = {}
        self.held: deque[Held] = deque()
        self.held_by_t: dict[str, int] = {}  # event type → how many of it are held
        self.dropped = 0

    # membership
    def add(self, conn: Receiver) -> None:
        members = self.by_service.get(conn.service)  # type: ignore[arg-type]
        if members is not None and conn not in members:
            members.append(conn)

    def remove(self, conn: Receiver) -> None:
        members = self.by_service.get(conn.service)  # type: ignore[arg-type]
        if members is not None and conn in members:
            members.remove(conn)

    # routing
    def receivers(self, event: Event) -> list[Any]:
        """Every connected connection whose service type receives ``event``."""
        services = self._services[event.t]
        if len(services) == 1:
            return self.by_service[services[0]]
        return [c for s in services for c in self.by_service[s]]

    def next_receiver(self, event: Event) -> Any | None:
        """The connection whose turn it is for ``event`` (round-robin), or None."""
        candidates = self.receivers(event)
        if not candidates:
            return None
        turn = self._turn.get(event.t, 0) % len(candidates)
        self._turn[event.t] = turn + 1
        return candidates[turn]

    # the hold
    def hold(self, item: Held) -> list[Held]:
        """Keep ``item`` for the next receiver; returns the events dropped to stay within the count
        and the bytes (the oldest first, ``item`` itself when it alone is over the bytes)."""
        size = len(item.frame)
        if self.hold_limit <= 0 or size > self.hold_bytes:
            self.dropped += 1
            return [item]
        dropped = []
        while self.held and (len(self.held) >= self.hold_limit or self.held_size + size > self.hold_bytes):
            old = self.held.popleft()
            self._forget_held(old)
            dropped.append(old)
        self.dropped += len(dropped)
        self.held.append(item)
        self.held_size += size
        self.held_by_t[item.event.t] = self.held_by_t.get(item.event.t, 0) + 1
        return dropped

    def services_with_held(self) -> list[str]:
        """The service types some held event waits for."""
        return list(dict.fromkeys(s for t in self.held_by_t for s in self._services[t]))

    def take_held(self, service: str) -> Held | None:
        """The oldest held event that ``service`` receives, removed from the hold."""
        for item in self.held:
            if item.event.is_received_by(service):
                self.held.remove(item)
                self._forget_held(item)
                return item
        return None

    def put_back(self, item: Held) -> None:
        """A taken event that could not be forwarded after all: the oldest again."""
        self.held.appendleft(item)
        self.held_size += len(item.frame)
        self.held_by_t[item.event.t] = self.held_by_t.get(item.event.t, 0) + 1

    def _forget_held(self, item: Held) -> None:
        self.held_size -= len(item.frame)
        left = self.held_by_t[item.event.t] - 1
        if left:
            self.held_by_t[item.event.t] = left
        else:
            del self.held_by_t[item.event.t]
