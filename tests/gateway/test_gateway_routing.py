"""Routing (From/To, round-robin, hold, drops), shard blocks and isolation between connections."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from gateway_testkit import EVENT, PROTO, closed_with, code, event, heartbeat, op, recv, recv_frame, send, service, until

from gwtool.gateway import MockGateway
from gwtool.protocol.definition import load_protocol
from gwtool.records import Notice


def numbered(i: int) -> dict:
    return event(d={**EVENT, "raw": f"#{i}"})


async def test_events_go_to_commands_services_in_turn():
    async with MockGateway(PROTO, port=0) as gw:
        first, _ = await service(gw, "commands")
        second, _ = await service(gw, "commands")
        sharder, _ = await service(gw, "sharder")
        for i in range(4):
            await send(sharder, numbered(i))
        got_first = [(await recv(first))["d"]["raw"] for _ in range(2)]
        got_second = [(await recv(second))["d"]["raw"] for _ in range(2)]
        assert sorted([got_first, got_second]) == [["#0", "#2"], ["#1", "#3"]]


async def test_the_frame_is_forwarded_exactly_as_sent():
    async with MockGateway(PROTO, port=0) as gw:
        commands, _ = await service(gw, "commands")
        sharder, _ = await service(gw, "sharder")
        frame = '{"op": 2,  "t": "EXECUTE_COMMAND", "d": ' + orjson.dumps(EVENT).decode() + ', "extra": "kept"}'
        await sharder.send(frame)
        assert await recv_frame(commands) == frame


async def test_events_are_held_until_a_receiver_identifies_then_delivered_in_order():
    async with MockGateway(PROTO, port=0) as gw:
        items: list = []
        gw.subscribe(items.append)
        sharder, _ = await service(gw, "sharder")
        for i in range(5):
            await send(sharder, numbered(i))
        await until(lambda: gw.held_count == 5)
        assert [n.kind for n in items if isinstance(n, Notice)].count("held") == 5
        commands, _ = await service(gw, "commands")
        assert [(await recv(commands))["d"]["raw"] for _ in range(5)] == [f"#{i}" for i in range(5)]
        assert gw.held_count == 0 and gw.dropped_count == 0
        await send(sharder, numbered(5))  # and the receiver now gets new events directly
        assert (await recv(commands))["d"]["raw"] == "#5"


async def test_past_the_hold_the_oldest_events_are_dropped_counted_and_told():
    async with MockGateway(PROTO, port=0, hold=2) as gw:
        items: list = []
        gw.subscribe(items.append)
        sharder, _ = await service(gw, "sharder")
        for i in range(5):
            await send(sharder, numbered(i))
        await until(lambda: gw.dropped_count == 3)
        assert gw.held_count == 2
        drops = [n for n in items if isinstance(n, Notice) and n.kind == "dropped"]
        assert len(drops) == 3 and all("EXECUTE_COMMAND" in n.text for n in drops)
        commands, _ = await service(gw, "commands")
        assert [(await recv(commands))["d"]["raw"] for _ in range(2)] == ["#3", "#4"]


async def test_with_no_hold_every_event_without_a_receiver_is_dropped():
    async with MockGateway(PROTO, port=0, hold=0) as gw:
        sharder, _ = await service(gw, "sharder")
        await send(sharder, numbered(0))
        await until(lambda: gw.dropped_count == 1)
        assert gw.held_count == 0


async def test_a_receiver_that_left_gets_nothing_and_the_event_is_held():
    async with MockGateway(PROTO, port=0) as gw:
        commands, _ = await service(gw, "commands")
        sharder, _ = await service(gw, "sharder")
        await commands.close()
        await until(lambda: len(gw.connections) == 1)
        await send(sharder, numbered(0))
        await until(lambda: gw.held_count == 1)


async def test_sharders_get_the_lowest_free_block_back_after_a_disconnect():
    async with MockGateway(PROTO, port=0, max_shards=6, shards_per_sharder=3) as gw:
        a, a_data = await service(gw, "sharder")
        b, b_data = await service(gw, "sharder")
        c, c_data = await service(gw, "sharder")
        assert (a_data, b_data) == ({"shards": [0, 1, 2], "maxShards": 6}, {"shards": [3, 4, 5], "maxShards": 6})
        assert c_data == {"shards": [], "maxShards": 6}
        await a.close()
        await until(lambda: len(gw.connections) == 2)
        d, d_data = await service(gw, "sharder")
        assert d_data["shards"] == [0, 1, 2]


async def test_the_last_block_may_be_short():
    async with MockGateway(PROTO, port=0, max_shards=4, shards_per_sharder=3) as gw:
        _, first = await service(gw, "sharder")
        _, second = await service(gw, "sharder")
        assert (first["shards"], second["shards"]) == ([0, 1, 2], [3])


MUSIC = """
[services.music]
doc = "plays songs"

[events.PLAY_SONG]
from = ["commands"]
to = ["music"]
routing = "round_robin"

[events.PLAY_SONG.fields]
song = { type = "string" }
"""


async def test_a_user_protocol_adding_a_service_and_an_event_routes_without_code_changes(tmp_path):
    path = tmp_path / "music.toml"
    path.write_text(MUSIC)
    proto = load_protocol(path, use_env=False)
    async with MockGateway(proto, port=0) as gw:
        commands, _ = await service(gw, "commands")
        await send(commands, {"op": op("EVENT"), "t": "PLAY_SONG", "d": {"song": "x"}})
        await until(lambda: gw.held_count == 1)
        music, identified = await service(gw, "music")
        assert identified == {}
        assert await recv(music) == {"op": op("EVENT"), "t": "PLAY_SONG", "d": {"song": "x"}}
        await send(commands, {"op": op("EVENT"), "t": "PLAY_SONG", "d": {"song": 7}})
        assert await closed_with(commands) == (code("INVALID_PAYLOAD"), "d.song: expected string, got integer")
        await send(music, {"op": op("EVENT"), "t": "PLAY_SONG", "d": {"song": "x"}})
        assert await closed_with(music) == (code("EVENT_NOT_ALLOWED"), "PLAY_SONG may not be sent by music (from: commands)")


BROADCAST = """
[events.ANNOUNCE]
from = ["sharder"]
to = ["all"]
routing = "broadcast"

[events.ANNOUNCE.fields]
text = { type = "string" }
"""


async def test_a_broadcast_event_reaches_every_receiver_but_the_sender(tmp_path):
    path = tmp_path / "broadcast.toml"
    path.write_text(BROADCAST)
    async with MockGateway(load_protocol(path, use_env=False), port=0, max_shards=6) as gw:
        receivers = [(await service(gw, kind))[0] for kind in ("commands", "commands", "sharder")]
        sender, _ = await service(gw, "sharder")
        await send(sender, {"op": op("EVENT"), "t": "ANNOUNCE", "d": {"text": "hi"}})
        for ws in receivers:
            assert (await recv(ws))["d"] == {"text": "hi"}
        await send(sender, heartbeat(guilds=1))
        assert (await recv(sender))["op"] == op("HEARTBEAT_ACK")  # nothing of its own came back first


async def test_a_failing_handler_closes_only_its_connection_with_unknown_error():
    async with MockGateway(PROTO, port=0) as gw:
        items: list = []
        gw.subscribe(items.append)

        def broken(*args):
            raise RuntimeError("disk on fire")

        gw.cache.put = broken  # type: ignore[method-assign]
        sharder, _ = await service(gw, "sharder")
        commands, _ = await service(gw, "commands")
        await send(sharder, {"op": op("CACHE"), "type": "user", "d": PROTO.structures["user"].example})
        assert await closed_with(sharder) == (code("UNKNOWN_ERROR"), "gateway error: RuntimeError: disk on fire")
        await send(commands, heartbeat())
        assert (await recv(commands))["op"] == op("HEARTBEAT_ACK")
        assert any(isinstance(n, Notice) and n.kind == "error" and "disk on fire" in n.text for n in items)


async def test_a_broken_subscriber_does_not_break_the_gateway():
    async with MockGateway(PROTO, port=0) as gw:

        def broken(item):
            raise ValueError("subscriber bug")

        gw.subscribe(broken)
        ws, _ = await service(gw, "commands")
        await send(ws, heartbeat())
        assert (await recv(ws))["op"] == op("HEARTBEAT_ACK")


@pytest.mark.parametrize("count", [20])
async def test_many_services_at_once_each_get_their_answers(count):
    async with MockGateway(PROTO, port=0) as gw:
        conns = await asyncio.gather(*(service(gw, "commands") for _ in range(count)))
        for ws, _ in conns:
            await send(ws, heartbeat())
        for ws, _ in conns:
            assert (await recv(ws))["op"] == op("HEARTBEAT_ACK")
        assert len(gw.connections) == count


async def test_a_receiver_that_stops_reading_is_closed_but_its_sender_is_not():
    from websockets.asyncio.client import connect

    async with MockGateway(PROTO, port=0, heartbeat_interval=200, slow_receiver_seconds=0.5) as gw:
        items: list = []
        gw.subscribe(lambda item: items.append(item) if isinstance(item, Notice) else None)
        stuck = await connect(gw.url, compression=None, proxy=None, max_queue=1)
        await recv(stuck)
        await send(stuck, {"op": op("IDENTIFY"), "d": {"type": "commands", "token": "x"}})
        sharder, _ = await service(gw, "sharder")
        big = event(d={**EVENT, "raw": "x" * 60_000})

        async def keep_beating(ws, **fields) -> None:
            while True:
                await send(ws, heartbeat(**fields))
                await asyncio.sleep(0.05)

        async def flood() -> None:
            while True:
                await send(sharder, big)

        beats = [asyncio.create_task(keep_beating(stuck)), asyncio.create_task(keep_beating(sharder, guilds=1))]
        flooder = asyncio.create_task(flood())
        try:
            await until(lambda: any(n.kind == "closed" and n.service == "commands" for n in items), timeout=5)
            flooder.cancel()
            await until(lambda: gw.held_count > 0)
            await asyncio.sleep(0.4)  # past the timeout: the sharder must still be there
        finally:
            for task in (*beats, flooder):
                task.cancel()
        closed = next(n for n in items if n.kind == "closed" and n.service == "commands")
        assert closed.data["name"] == "UNKNOWN_ERROR" and closed.data["reason"].startswith("not reading: ")
        assert any(n.kind == "warning" and n.text.startswith("not reading: ") for n in items)  # said first
        assert [c.service for c in gw.connections] == ["sharder"]
        assert not any(n.kind == "closed" and n.service == "sharder" for n in items)
