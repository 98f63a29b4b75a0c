"""What a session answers with: plain, frozen values a driver acts on in order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gwtool.protocol.definition import Event


@dataclass(frozen=True, slots=True)
class Send:
    """Send this payload now (``frame`` and ``zframe``: its JSON and zlib bytes when made once)."""

    payload: dict[str, Any]
    frame: bytes | None = None
    zframe: bytes | None = None


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection with this code and reason (the session takes nothing more)."""

    code: int
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class Hello:
    """HELLO arrived: heartbeat every ``interval_ms``."""

    interval_ms: int


@dataclass(frozen=True, slots=True)
class Identified:
    """The gateway accepted IDENTIFY (its IDENTIFIED data, and shards for a type that holds them)."""

    d: dict[str, Any]
    shards: list[int] = field(default_factory=list)
    max_shards: int | None = None


@dataclass(frozen=True, slots=True)
class Ack:
    """A HEARTBEAT_ACK: the round trip of the oldest un-ACKed heartbeat (None when nobody asked),
    and how many non-heartbeat payloads it confirms were taken (the gateway handles them in order)."""

    latency_ms: float | None
    confirmed: int


@dataclass(frozen=True, slots=True)
class Zombie:
    """A scheduled heartbeat found the previous one never ACKed: the connection looks dead."""

    missed: int
    interval_ms: int


@dataclass(frozen=True, slots=True)
class Stalled:
    """The peer never took the next step of the handshake (``step``: "HELLO" or "IDENTIFIED")."""

    step: str
    seconds: float

    @property
    def reason(self) -> str:
        """``no HELLO within 10 s of connecting``: the zombie close's reason, and how gwtool words it."""
        after = "of connecting" if self.step == "HELLO" else "of IDENTIFY"
        return f"no {self.step} within {self.seconds:g} s {after}"


@dataclass(frozen=True, slots=True)
class Problem:
    """The peer sent something the protocol does not allow; the session carried on (or closes,
    when a Close follows). ``path`` is the JSON path of the broken field, "" when none; ``invalid``:
    the payload fails its field tables (rather than coming out of turn)."""

    text: str
    path: str = ""
    invalid: bool = False


@dataclass(frozen=True, slots=True)
class Joined:
    """The gateway accepted a service's IDENTIFY: it receives events of its type from now on."""

    service: str
    shards: list[int]
    compress: bool


@dataclass(frozen=True, slots=True)
class Route:
    """Forward this event (the very frame it came in) to its receivers."""

    event: Event


@dataclass(frozen=True, slots=True)
class Store:
    """Cache this entity (or array of entities) of ``cache_type``."""

    cache_type: str
    d: Any


Action = Send | Close | Hello | Identified | Ack | Zombie | Stalled | Problem | Joined | Route | Store
