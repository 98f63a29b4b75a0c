"""Reconnect delays: exponential backoff with jitter, reset after a successful IDENTIFIED."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class Backoff:
    """Delay before reconnect attempt n: ``min(maximum, initial × factor**n)``, less up to ``jitter`` of it.

    Jitter spreads the reconnects of many services that lost one gateway at the same moment.
    """

    initial: float = 0.5  # seconds
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5  # fraction of the delay that is random (0 = none, 1 = anywhere in 0…delay)
    attempt: int = 0

    def next_delay(self) -> float:
        base = min(self.maximum, self.initial * self.factor ** min(self.attempt, 64))
        self.attempt += 1
        return base * (1.0 - self.jitter * random.random())

    def reset(self) -> None:
        self.attempt = 0
