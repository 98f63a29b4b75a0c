"""The gateway's cache: entities by cache type and key, the read side of the REST routes.

Keys and nesting come from the protocol: ``Structure.key`` names the fields that identify an
entity (in REST path order) and ``Structure.nested`` the array fields whose items are cached
under their own type too (a guild's roles, members, channels, voice states).
"""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gwtool.protocol.definition import Definition

Key = tuple[str, ...]


class CacheStore:
    def __init__(self, proto: Definition):
        self.proto = proto
        self.types = proto.cache_types
        self._store: dict[str, dict[Key, dict[str, Any]]] = {name: {} for name in self.types}
        self._nested: dict[str, list[tuple[str, str]]] = {name: self._nested_types(name) for name in self.types}

    def _nested_types(self, name: str) -> list[tuple[str, str]]:
        """(field, cache type of its items) for each nested array field of ``name``."""
        structure = self.types[name]
        by_path = {f.path: f for f in structure.fields}
        out = []
        for field_name in structure.nested:
            expr = by_path[field_name].type
            while expr.item is not None:  # unwrap role[] / role[]? to the item's type
                expr = expr.item
            if expr.name in self.types:
                out.append((field_name, expr.name))
        return out

    def key_of(self, cache_type: str, entity: dict[str, Any]) -> Key | None:
        """The entity's key as strings, or None when a key field is missing."""
        parts = []
        for field_name in self.types[cache_type].key:
            value = entity.get(field_name)
            if value is None:
                return None
            parts.append(str(value))
        return tuple(parts)

    def put(self, cache_type: str, data: dict[str, Any] | list[dict[str, Any]]) -> int:
        """Store an entity or an array of them (already validated); returns how many were stored."""
        items = data if isinstance(data, list) else [data]
        return sum(self._put_one(cache_type, item) for item in items)

    def _put_one(self, cache_type: str, entity: Any) -> int:
        if not isinstance(entity, dict):
            return 0
        key = self.key_of(cache_type, entity)
        if key is None:
            return 0
        self._store[cache_type][key] = entity
        stored = 1
        for field_name, item_type in self._nested[cache_type]:
            children = entity.get(field_name)
            if isinstance(children, list):
                stored += sum(self._put_one(item_type, child) for child in children)
        return stored

    def get(self, cache_type: str, *key: Any) -> dict[str, Any] | None:
        return self._store.get(cache_type, {}).get(tuple(str(k) for k in key))

    def count(self, cache_type: str) -> int:
        return len(self._store.get(cache_type, {}))

    def counts(self) -> dict[str, int]:
        return {name: len(entities) for name, entities in self._store.items()}

    def entities(self, cache_type: str) -> list[dict[str, Any]]:
        return list(self._store.get(cache_type, {}).values())

    def first(self, cache_type: str, limit: int) -> list[dict[str, Any]]:
        """At most ``limit`` entities of a type, oldest key first, without copying the whole type."""
        return list(islice(self._store.get(cache_type, {}).values(), limit))

    def clear(self) -> None:
        for entities in self._store.values():
            entities.clear()
