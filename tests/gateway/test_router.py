"""Router, hold, shard pool and cache store as plain objects: no sockets."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gwtool.gateway.cache import CacheStore
from gwtool.gateway.router import Held, Router
from gwtool.gateway.shards import ShardPool
from gwtool.protocol.definition import load_protocol

PROTO = load_protocol(use_env=False)
EXECUTE = PROTO.events["EXECUTE_COMMAND"]


@dataclass(eq=False)
class Conn:
    service: str | None


def held(size: int = 10) -> Held:
    return Held(EXECUTE, "x" * size, sender=1)


def test_round_robin_takes_turns_among_the_receiving_type_only():
    router = Router(PROTO, hold_limit=10)
    a, b, sharder = Conn("commands"), Conn("commands"), Conn("sharder")
    for conn in (a, b, sharder):
        router.add(conn)
    assert [router.next_receiver(EXECUTE) for _ in range(4)] == [a, b, a, b]
    router.remove(a)
    assert router.next_receiver(EXECUTE) is b


def test_no_receiver_means_none():
    assert Router(PROTO, hold_limit=10).next_receiver(EXECUTE) is None


def test_the_hold_drops_the_oldest_past_its_count():
    router = Router(PROTO, hold_limit=2)
    first, second, third = held(), held(), held()
    assert router.hold(first) == [] and router.hold(second) == []
    assert router.hold(third) == [first]
    assert list(router.held) == [second, third] and router.dropped == 1 and router.held_by_t == {"EXECUTE_COMMAND": 2}


def test_the_hold_drops_the_oldest_past_its_bytes_and_an_event_alone_over_them():
    router = Router(PROTO, hold_limit=100, hold_bytes=25)
    old, new = held(10), held(10)
    router.hold(old)
    router.hold(new)
    assert router.hold(held(10)) == [old] and router.held_size == 20
    huge = held(26)
    assert router.hold(huge) == [huge] and router.held_size == 20


def test_held_events_are_taken_oldest_first_by_a_type_that_receives_them():
    router = Router(PROTO, hold_limit=10)
    first, second = held(), held()
    router.hold(first)
    router.hold(second)
    assert router.services_with_held() == ["commands"]
    assert router.take_held("sharder") is None
    assert router.take_held("commands") is first and router.take_held("commands") is second
    assert router.take_held("commands") is None and router.held_size == 0 and router.held_by_t == {}
    assert router.services_with_held() == []


def test_with_no_hold_everything_is_dropped():
    router = Router(PROTO, hold_limit=0)
    item = held()
    assert router.hold(item) == [item] and router.dropped == 1 and not router.held


def test_shard_blocks_lowest_free_first_the_last_one_short():
    pool = ShardPool(max_shards=5, per_service=2)
    assert [pool.allocate(n) for n in (1, 2, 3, 4)] == [[0, 1], [2, 3], [4], []]
    pool.release(2)
    assert pool.allocate(5) == [2, 3]


def test_a_shard_pool_refuses_nonsense():
    with pytest.raises(ValueError):
        ShardPool(max_shards=3, per_service=0)


def test_the_cache_keys_entities_and_stores_a_guilds_nested_parts_under_their_own_types():
    store = CacheStore(PROTO)
    guild = {**PROTO.cache_types["guild"].example, "members": [PROTO.cache_types["member"].example]}
    stored = store.put("guild", guild)
    assert store.get("guild", guild["id"]) == guild
    role = guild["roles"][0]
    assert store.get("role", role["id"]) == role
    member = guild["members"][0]
    assert store.get("member", member["guildID"], member["id"]) == member
    assert stored == 1 + sum(len(guild.get(f, [])) for f in ("roles", "members", "voiceStates", "channels"))


def test_the_cache_takes_arrays_skips_entities_without_a_key_and_lists_the_first_n():
    store = CacheStore(PROTO)
    users = [{**PROTO.cache_types["user"].example, "id": str(n)} for n in range(5)]
    assert store.put("user", [*users, {"name": "no id"}]) == 5
    assert store.count("user") == 5 and store.first("user", 2) == users[:2]
    assert store.counts()["user"] == 5
    store.clear()
    assert store.count("user") == 0
