"""The mock gateway's settings: one typed, frozen object, checked when it is made, so that the
command line, the dashboard and ``check`` embed a gateway with the same checks and the same errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gwtool.errors import InvalidSetting

Ack = Literal["always", "without_d", "never"]  # how the gateway answers heartbeats
ACK_MODES: tuple[Ack, ...] = ("always", "without_d", "never")
HOLD_BYTES = 64 << 20  # bytes of held frames at most (besides the count, hold)
SLOW_RECEIVER_SECONDS = 5.0
IDENTIFY_TIMEOUT = 30.0  # seconds a connection may stay without IDENTIFY (heartbeating or not)


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    heartbeat_interval: int = 30000  # ms, sent in HELLO
    token: str | None = None  # None: any token is accepted
    max_shards: int = 3
    shards_per_sharder: int = 3
    max_size: int = 1 << 20  # bytes of one payload
    rate_limit: tuple[int, float] | None = None  # (payloads, seconds) per connection
    hold: int = 1000  # events held while no receiver can take them
    hold_bytes: int = HOLD_BYTES
    slow_receiver_seconds: float = SLOW_RECEIVER_SECONDS
    identify_timeout: float = IDENTIFY_TIMEOUT
    allow_origins: tuple[str, ...] = ()  # browser origins allowed; clients without one always are
    show_token: bool = False  # records show IDENTIFY tokens masked unless this is set
    ack: Ack = "always"

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise InvalidSetting("port", f"expected a port 0…65535 (0 = any free one), got {self.port}")
        for name, low in (("max_shards", 0), ("shards_per_sharder", 1), ("heartbeat_interval", 1), ("max_size", 1),
                          ("hold", 0), ("hold_bytes", 0), ("identify_timeout", 0.001), ("slow_receiver_seconds", 0.001)):  # fmt: skip
            value = getattr(self, name)
            if value < low:
                raise InvalidSetting(name, f"must be ≥ {low:g}, got {_number(value)}")
        if self.rate_limit is not None and (self.rate_limit[0] < 1 or self.rate_limit[1] <= 0):
            count, seconds = self.rate_limit
            raise InvalidSetting("rate_limit", f"expected at least 1 payload in more than 0 s, got {count}/{seconds:g}")
        if self.ack not in ACK_MODES:
            raise InvalidSetting("ack", f"expected one of {', '.join(ACK_MODES)}, got {self.ack!r}")
        if self.token == "":
            object.__setattr__(self, "token", None)


def _number(value: float) -> str:
    """An int as typed (no exponent for a large one), a float shortest."""
    return str(value) if isinstance(value, int) else f"{value:g}"
