"""Heartbeat latency: ACK arrival − heartbeat send, on the monotonic clock, over a window."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

WINDOW = 100  # recent samples the statistics are computed over


@dataclass
class LatencyStats:
    """``last``, ``min``, ``mean``, ``p50``, ``p95`` in ms over the last ``WINDOW`` samples (None
    before the first ACK); ``count`` ACKs ever measured; ``missed`` heartbeats never ACKed."""

    samples: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    count: int = 0
    missed: int = 0
    last: float | None = None

    def add(self, ms: float) -> None:
        self.samples.append(ms)
        self.count += 1
        self.last = ms

    @property
    def min(self) -> float | None:
        return min(self.samples) if self.samples else None

    @property
    def mean(self) -> float | None:
        return sum(self.samples) / len(self.samples) if self.samples else None

    @property
    def p50(self) -> float | None:
        return self.percentile(50)

    @property
    def p95(self) -> float | None:
        return self.percentile(95)

    def percentile(self, pct: float) -> float | None:
        """Nearest-rank percentile of the window."""
        if not self.samples:
            return None
        ordered = sorted(self.samples)
        rank = max(1, -(-len(ordered) * pct // 100))  # ceil(n × pct / 100), at least 1
        return ordered[int(rank) - 1]

    def summary(self) -> str:
        """``last 0.8 ms · p50 0.9 · p95 1.4 · missed 0`` (or ``no ACK yet``)."""
        if self.last is None:
            return f"no ACK yet · missed {self.missed}"
        return (
            f"last {self.last:.2f} ms · min {self.min:.2f} · mean {self.mean:.2f} · p50 {self.p50:.2f}"
            f" · p95 {self.p95:.2f} · {self.count} ACK{'' if self.count == 1 else 's'} · missed {self.missed}"
        )
