"""Shard ids for services whose type gets shards: fixed blocks, the lowest free one first."""

from __future__ import annotations


class ShardPool:
    """Shard ids ``0 … max_shards-1`` cut into blocks of ``per_service`` ids (the last may be short).

    A service gets the lowest free block and gives it back when it disconnects, so a sharder that
    reconnects gets the same shards as before when nobody took them in between.
    """

    def __init__(self, max_shards: int, per_service: int):
        if max_shards < 0 or per_service < 1:
            raise ValueError("max_shards must be ≥ 0 and shards per service ≥ 1")
        self.max_shards = max_shards
        self.blocks = [list(range(i, min(i + per_service, max_shards))) for i in range(0, max_shards, per_service)]
        self.owners: list[int | None] = [None] * len(self.blocks)

    def allocate(self, owner: int) -> list[int]:
        """The lowest free block for ``owner`` (a connection id), or [] when none is free."""
        for i, current in enumerate(self.owners):
            if current is None:
                self.owners[i] = owner
                return list(self.blocks[i])
        return []

    def release(self, owner: int) -> None:
        for i, current in enumerate(self.owners):
            if current == owner:
                self.owners[i] = None
