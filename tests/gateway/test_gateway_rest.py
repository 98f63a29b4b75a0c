"""The cache (nested guild storage, arrays) and the REST routes on the websocket's port."""

from __future__ import annotations

import pytest
from gateway_testkit import PROTO, GUILD_ID, heartbeat, http, op, recv, send, service, until

from gwtool.gateway import MockGateway

USER = PROTO.structures["user"].example
MEMBER = PROTO.structures["member"].example
VOICE = PROTO.structures["voiceState"].example
GUILD = {**PROTO.structures["guild"].example, "members": [MEMBER], "voiceStates": [VOICE]}


@pytest.fixture
async def gw():
    async with MockGateway(PROTO, port=0) as gateway:
        yield gateway


async def cache(gw: MockGateway, kind: str, d) -> None:  # noqa: ANN001
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
    assert (status, headers["allow"]) == (405, "GET")


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
