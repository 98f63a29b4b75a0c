"""The cache (nested guild storage, arrays) and the REST routes on the websocket's port."""

from __future__ import annotations

import time

import pytest
from gateway_testkit import GUILD_ID, PROTO, heartbeat, http, op, recv, send, service, until

from gwtool.gateway import MockGateway

USER = PROTO.structures["user"].example
MEMBER = PROTO.structures["member"].example
VOICE = PROTO.structures["voiceState"].example
GUILD = {**PROTO.structures["guild"].example, "members": [MEMBER], "voiceStates": [VOICE]}


@pytest.fixture
async def gw():
    async with MockGateway(PROTO, port=0) as gateway:
        yield gateway


async def cache(gw: MockGateway, kind: str, d) -> None:
    ws, _ = await service(gw, "sharder")
    await send(ws, {"op": op("CACHE"), "type": kind, "d": d})
    await send(ws, heartbeat(guilds=1))  # answered after the CACHE was handled
    assert (await recv(ws))["op"] == op("HEARTBEAT_ACK")
    await ws.close()


async def test_a_guild_caches_its_nested_roles_members_channels_and_voice_states(gw):
    await cache(gw, "guild", GUILD)
    counts = gw.cache.counts()
    assert counts == {**counts, "guild": 1, "role": 1, "member": 1, "channel": 1, "voiceState": 1}
    assert gw.cache.get("guild", GUILD_ID)["name"] == "Example Guild"
    assert gw.cache.get("member", GUILD_ID, MEMBER["id"]) == MEMBER
    assert gw.cache.get("voiceState", GUILD_ID, VOICE["userID"]) == VOICE
    assert gw.cache.get("role", GUILD["roles"][0]["id"])["name"] == "moderator"


async def test_an_array_caches_every_entity(gw):
    users = [{**USER, "id": str(n)} for n in range(3)]
    await cache(gw, "user", users)
    assert gw.cache.counts()["user"] == 3
    assert sorted(u["id"] for u in gw.cache.entities("user")) == ["0", "1", "2"]


async def test_rest_routes_answer_json(gw):
    await cache(gw, "guild", GUILD)
    status, headers, body = await http(gw, "/cache/")
    assert (status, headers["content-type"]) == (200, "application/json")
    assert body["guild"] == 1 and body["member"] == 1
    assert (await http(gw, f"/cache/guild/{GUILD_ID}"))[2]["id"] == GUILD_ID
    assert (await http(gw, f"/cache/member/{GUILD_ID}/{MEMBER['id']}"))[2] == MEMBER
    assert (await http(gw, f"/cache/voiceState/{GUILD_ID}/{VOICE['userID']}"))[2] == VOICE
    assert (await http(gw, f"/cache/channel/{GUILD['channels'][0]['id']}"))[2]["name"] == "general"


async def test_rest_errors_are_json_too(gw):
    status, headers, body = await http(gw, "/cache/user/404404")
    assert (status, headers["content-type"]) == (404, "application/json")
    assert body == {"error": "no user cached with id=404404"}
    status, _, body = await http(gw, "/cache/planet/1")
    assert status == 404 and "unknown cache type 'planet'" in body["error"]
    status, _, body = await http(gw, "/cache/member/1")
    assert status == 400 and "/cache/member/{guildID}/{id}" in body["error"]
    status, _, body = await http(gw, "/nowhere")
    assert status == 404 and "/services/" in body["error"]
    status, headers, body = await http(gw, "/cache/", method="DELETE")
    assert (status, headers["allow"]) == (405, "GET, HEAD")


async def test_services_lists_identified_connections_with_their_last_heartbeat(gw):
    sharder, _ = await service(gw, "sharder")
    commands, _ = await service(gw, "commands")
    await send(sharder, heartbeat(heapUsed=5, guilds=7))
    await recv(sharder)
    status, headers, body = await http(gw, "/services/")
    assert (status, headers["content-type"]) == (200, "application/json")
    by_type = {s["type"]: s for s in body}
    assert by_type["sharder"]["shards"] == [0, 1, 2] and by_type["sharder"]["maxShards"] == 3
    assert (by_type["sharder"]["heapUsed"], by_type["sharder"]["guilds"]) == (5, 7)
    assert by_type["commands"]["heapUsed"] is None and "shards" not in by_type["commands"]
    assert all(isinstance(s["startTime"], int) for s in body)
    await commands.close()
    await until(lambda: len(gw.services_json()) == 1)
    assert (await http(gw, "/services"))[2][0]["type"] == "sharder"


async def test_the_root_lists_the_routes(gw):
    status, _, body = await http(gw, "/")
    assert status == 200 and body["websocket"] == gw.url
    assert "/cache/member/{guildID}/{id}" in body["routes"]
    assert "/cache/{type}/?limit=N" in body["routes"]


async def test_a_type_lists_its_cached_entities(gw):
    await cache(gw, "guild", GUILD)
    status, headers, body = await http(gw, "/cache/member/")
    assert (status, headers["content-type"]) == (200, "application/json")
    assert body == {"type": "member", "count": 1, "limit": 100, "truncated": False, "entities": [MEMBER]}
    assert (await http(gw, "/cache/voiceState"))[2]["entities"] == [VOICE]  # the trailing slash is optional
    assert (await http(gw, "/cache/user/"))[2] == {"type": "user", "count": 0, "limit": 100, "truncated": False, "entities": []}


async def test_a_listing_is_bounded_and_says_when_it_is_cut(gw):
    await cache(gw, "user", [{**USER, "id": str(n)} for n in range(101)])
    body = (await http(gw, "/cache/user/"))[2]
    assert (body["count"], body["limit"], body["truncated"], len(body["entities"])) == (101, 100, True, 100)
    assert [u["id"] for u in body["entities"][:3]] == ["0", "1", "2"]  # in the order first cached
    body = (await http(gw, "/cache/user/?limit=2"))[2]
    assert (body["count"], body["truncated"], [u["id"] for u in body["entities"]]) == (101, True, ["0", "1"])
    body = (await http(gw, "/cache/user/?limit=1000"))[2]
    assert (body["truncated"], len(body["entities"])) == (False, 101)
    body = (await http(gw, "/cache/user/?limit=0"))[2]
    assert (body["count"], body["truncated"], body["entities"]) == (101, True, [])


async def test_a_listing_rejects_bad_queries_and_unknown_types_with_json(gw):
    for query, expected in [("limit=1001", "limit: expected an integer 0…1000, got '1001'"),
                            ("limit=ten", "limit: expected an integer 0…1000, got 'ten'"),
                            ("limit=-1", "got '-1'"), ("limt=5", "unknown query parameter 'limt'")]:  # fmt: skip
        status, headers, body = await http(gw, f"/cache/user/?{query}")
        assert (status, headers["content-type"]) == (400, "application/json"), query
        assert expected in body["error"], body
    status, _, body = await http(gw, "/cache/planet/")
    assert status == 404 and body["types"] == list(PROTO.cache_types)
    assert body["error"] == f"unknown cache type 'planet' (known: {', '.join(PROTO.cache_types)})"


async def test_services_say_when_the_last_heartbeat_came(gw):
    ws, _ = await service(gw, "commands")
    assert (await http(gw, "/services/"))[2][0]["lastHeartbeat"] is None
    before = int(time.time() * 1000)
    await send(ws, heartbeat())
    await recv(ws)
    after = int(time.time() * 1000)
    entry = (await http(gw, "/services/"))[2][0]
    assert before <= entry["lastHeartbeat"] <= after
    assert gw.connections[0].last_heartbeat_at == entry["lastHeartbeat"]
    assert list(entry)[:4] == ["conn", "type", "startTime", "lastHeartbeat"]


async def test_a_heartbeat_field_cannot_overwrite_the_gateways_own_fields(gw):
    ws, _ = await service(gw, "commands")
    await send(ws, heartbeat(type="sharder", conn=99, lastHeartbeat=1, extra="x" * 10_000))
    await recv(ws)
    entry = (await http(gw, "/services/"))[2][0]
    assert (entry["type"], entry["conn"]) == ("commands", gw.connections[0].conn)
    assert "extra" not in entry  # only the definition's heartbeat fields are kept (bounded memory)
    assert entry["lastHeartbeat"] > 1


async def test_a_connections_remote_is_its_clients_local_address(gw):
    """What lets a front end tell two connections of one service type apart."""
    from gwtool.client import GatewayClient
    from gwtool.gateway import address_text

    first = GatewayClient(gw.url, service="sharder", proto=PROTO)
    second = GatewayClient(gw.url, service="sharder", proto=PROTO)
    async with first, second:
        await first.wait_identified(timeout=3)
        await second.wait_identified(timeout=3)
        by_remote = {c.remote: c for c in gw.connections}
        assert len(by_remote) == 2
        mine = by_remote[address_text(second.local_address)]
        assert mine.shards == second.state.shards and mine.conn != by_remote[address_text(first.local_address)].conn
    assert first.local_address is None  # closed: no connection, no address


def test_address_text_brackets_ipv6_hosts():
    from gwtool.gateway import address_text

    assert address_text(("127.0.0.1", 5)) == "127.0.0.1:5"
    assert address_text(("::1", 5, 0, 0)) == "[::1]:5"
