"""Every strictness rule of the mock gateway, with real websockets clients: one close code each."""

from __future__ import annotations

import asyncio
import zlib

import orjson
import pytest
from gateway_testkit import (
    EVENT,
    PROTO,
    closed_with,
    code,
    event,
    heartbeat,
    hello,
    op,
    open_ws,
    recv,
    recv_frame,
    send,
    service,
    until,
)  # fmt: skip

from gwtool.gateway import MockGateway
from gwtool.records import Record


@pytest.fixture
async def gw():
    async with MockGateway(PROTO, port=0) as gateway:
        yield gateway


async def test_hello_comes_first_with_the_interval():
    async with MockGateway(PROTO, port=0, heartbeat_interval=1234) as gw:
        ws = await open_ws(gw)
        assert await recv(ws) == {"op": op("HELLO"), "d": {"heartbeatInterval": 1234}}
        await ws.close()


async def test_heartbeat_before_identify_is_acknowledged(gw):
    ws = await hello(gw)
    await send(ws, heartbeat())
    assert await recv(ws) == {"op": op("HEARTBEAT_ACK"), "d": {}}
    await ws.close()


async def test_identified_for_a_service_without_shards_is_empty(gw):
    ws, data = await service(gw, "commands")
    assert data == {}
    await ws.close()


@pytest.mark.parametrize(
    ("frame", "reason_part"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected a JSON object, got array"),
        ('{"op": 1, "d": "text"}', "d: expected object or array, got string"),
        (b'{"op": 1, "d": {}}', "binary frame"),
    ],
)
async def test_undecodable_frames_close_with_decode_error(gw, frame, reason_part):
    ws = await hello(gw)
    await ws.send(frame)
    got_code, reason = await closed_with(ws)
    assert got_code == code("DECODE_ERROR")
    assert reason_part in reason


@pytest.mark.parametrize(
    ("payload", "reason_part"),
    [
        ({"op": 99, "d": {}}, "unknown opcode 99"),
        ({"d": {}}, "op: missing"),
        ({"op": "1", "d": {}}, "unknown opcode '1'"),
        ({"op": PROTO.op("HELLO"), "d": {}}, "HELLO is sent by the gateway only"),
    ],
)
async def test_unknown_opcodes_close_with_unknown_opcode(gw, payload, reason_part):
    ws = await hello(gw)
    await send(ws, payload)
    got_code, reason = await closed_with(ws)
    assert got_code == code("UNKNOWN_OPCODE")
    assert reason_part in reason


async def test_an_event_before_identify_closes_with_not_identified(gw):
    ws = await hello(gw)
    await send(ws, event())
    got_code, reason = await closed_with(ws)
    assert got_code == code("NOT_IDENTIFIED")
    assert reason.startswith("EVENT before IDENTIFY")


async def test_a_wrong_token_closes_with_authentication_failed():
    async with MockGateway(PROTO, port=0, token="s3cret") as gw:
        ws = await hello(gw)
        await send(ws, {"op": op("IDENTIFY"), "d": {"type": "sharder", "token": "guess"}})
        assert (await closed_with(ws))[0] == code("AUTHENTICATION_FAILED")
        ok, data = await service(gw, "sharder", token="s3cret")
        assert data["shards"] == [0, 1, 2]
        await ok.close()


async def test_a_second_identify_closes_with_already_identified(gw):
    ws, _ = await service(gw, "commands")
    await send(ws, {"op": op("IDENTIFY"), "d": {"type": "commands", "token": "x"}})
    got_code, reason = await closed_with(ws)
    assert got_code == code("ALREADY_IDENTIFIED")
    assert "already identified as commands" in reason


async def test_an_unknown_service_type_closes_with_invalid_service(gw):
    ws = await hello(gw)
    await send(ws, {"op": op("IDENTIFY"), "d": {"type": "mailer", "token": "x"}})
    got_code, reason = await closed_with(ws)
    assert got_code == code("INVALID_SERVICE")
    assert "'mailer'" in reason and "sharder" in reason


async def test_identify_without_a_token_closes_with_invalid_payload(gw):
    ws = await hello(gw)
    await send(ws, {"op": op("IDENTIFY"), "d": {"type": "sharder"}})
    assert await closed_with(ws) == (code("INVALID_PAYLOAD"), "d.token: missing (required string)")


async def test_an_event_from_the_wrong_service_closes_with_event_not_allowed(gw):
    ws, _ = await service(gw, "commands")
    await send(ws, event())
    assert await closed_with(ws) == (code("EVENT_NOT_ALLOWED"), "EXECUTE_COMMAND may not be sent by commands (from: sharder)")


async def test_cache_from_a_service_that_may_not_cache_closes_with_event_not_allowed(gw):
    ws, _ = await service(gw, "commands")
    await send(ws, {"op": op("CACHE"), "type": "user", "d": PROTO.structures["user"].example})
    got_code, reason = await closed_with(ws)
    assert got_code == code("EVENT_NOT_ALLOWED")
    assert reason.startswith("CACHE may not be sent by commands")


async def test_sending_identified_closes_with_event_not_allowed(gw):
    ws, _ = await service(gw, "sharder")
    await send(ws, event("IDENTIFIED", {}))
    got_code, reason = await closed_with(ws)
    assert got_code == code("EVENT_NOT_ALLOWED")
    assert "IDENTIFIED may not be sent by sharder" in reason


async def test_bad_event_data_closes_with_invalid_payload_naming_the_path(gw):
    ws, _ = await service(gw, "sharder")
    bad = {**EVENT, "ids": {**EVENT["ids"], "shard": "1"}}
    await send(ws, event(d=bad))
    assert await closed_with(ws) == (code("INVALID_PAYLOAD"), "d.ids.shard: expected integer, got string")


async def test_an_unknown_event_closes_with_invalid_payload(gw):
    ws, _ = await service(gw, "sharder")
    await send(ws, event("NO_SUCH_EVENT", {}))
    got_code, reason = await closed_with(ws)
    assert got_code == code("INVALID_PAYLOAD")
    assert reason.startswith("t: unknown event 'NO_SUCH_EVENT'")


async def test_a_heartbeat_without_guilds_from_a_sharder_closes_with_invalid_payload(gw):
    ws, _ = await service(gw, "sharder")
    await send(ws, heartbeat())
    assert await closed_with(ws) == (code("INVALID_PAYLOAD"), "d.guilds: missing (required integer)")


async def test_bad_cache_data_closes_with_invalid_payload(gw):
    ws, _ = await service(gw, "sharder")
    user = {**PROTO.structures["user"].example, "discriminator": "1"}
    await send(ws, {"op": op("CACHE"), "type": "user", "d": [PROTO.structures["user"].example, user]})
    got_code, reason = await closed_with(ws)
    assert got_code == code("INVALID_PAYLOAD")
    assert reason.startswith("d[1].discriminator: expected 4 digits")


async def test_close_reasons_fit_in_123_bytes(gw):
    ws, _ = await service(gw, "sharder")
    await send(ws, event("X" * 300, {}))
    got_code, reason = await closed_with(ws)
    assert got_code == code("INVALID_PAYLOAD")
    assert len(reason.encode()) <= 123 and reason.endswith("…")


async def test_a_payload_over_max_size_closes_with_1009():
    async with MockGateway(PROTO, port=0, max_size=300) as gw:
        ws, _ = await service(gw, "sharder")
        await send(ws, event(d={**EVENT, "raw": "x" * 400}))
        got_code, reason = await closed_with(ws)
        assert got_code == 1009 == code("MESSAGE_TOO_BIG")
        assert "300" in reason


async def test_more_payloads_than_the_rate_limit_close_with_rate_limited():
    async with MockGateway(PROTO, port=0, rate_limit=(3, 60)) as gw:
        ws = await hello(gw)
        for _ in range(3):
            await send(ws, heartbeat())
            assert (await recv(ws))["op"] == op("HEARTBEAT_ACK")
        await send(ws, heartbeat())
        assert await closed_with(ws) == (code("RATE_LIMITED"), "more than 3 payloads in 60 s")


async def test_a_silent_connection_closes_with_heartbeat_timeout():
    async with MockGateway(PROTO, port=0, heartbeat_interval=100) as gw:
        ws = await hello(gw)
        got_code, reason = await closed_with(ws, timeout=2)
        assert got_code == code("HEARTBEAT_TIMEOUT")
        assert "no heartbeat for" in reason and "1.5 × 100 ms" in reason


async def test_heartbeats_keep_a_connection_open_past_the_timeout():
    async with MockGateway(PROTO, port=0, heartbeat_interval=100) as gw:
        ws, _ = await service(gw, "commands")
        for _ in range(6):  # 6 × 60 ms = well past 1.5 × 100 ms
            await send(ws, heartbeat())
            assert (await recv(ws))["op"] == op("HEARTBEAT_ACK")
            await asyncio.sleep(0.06)
        assert len(gw.connections) == 1
        await ws.close()


async def test_the_gateway_can_request_a_heartbeat(gw):
    ws, _ = await service(gw, "commands")
    await until(lambda: gw.connections and gw.connections[0].identified)
    await gw.request_heartbeat(gw.connections[0].conn)
    assert await recv(ws) == {"op": op("HEARTBEAT"), "d": {}}
    await gw.request_heartbeat()
    assert await recv(ws) == {"op": op("HEARTBEAT"), "d": {}}
    await ws.close()


async def test_compression_applies_from_identified_on(gw):
    ws = await hello(gw)  # HELLO came as text: before IDENTIFY nothing is compressed
    await send(ws, {"op": op("IDENTIFY"), "d": {"type": "commands", "token": "x", "compress": True}})
    identified = await recv_frame(ws)
    assert isinstance(identified, bytes) and identified[:1] == b"\x78"
    assert b"IDENTIFIED" in zlib.decompress(identified)
    await send(ws, heartbeat())
    ack = await recv_frame(ws)
    assert isinstance(ack, bytes) and zlib.decompress(ack) == b'{"op":4,"d":{}}'
    sharder, _ = await service(gw, "sharder")
    await send(sharder, event())
    forwarded = await recv_frame(ws)
    assert isinstance(forwarded, bytes)
    assert orjson.loads(zlib.decompress(forwarded)) == event()
    await ws.close()
    await sharder.close()


async def test_a_payload_over_the_rate_limit_is_recorded_as_read_then_refused():
    async with MockGateway(PROTO, port=0, rate_limit=(1, 60)) as gw:
        items: list = []
        gw.subscribe(items.append)
        ws, _ = await service(gw, "sharder")
        await send(ws, heartbeat(guilds=1))
        assert await closed_with(ws) == (code("RATE_LIMITED"), "more than 1 payload in 60 s")
        last_in = [r for r in items if isinstance(r, Record) and r.direction == "in"][-1]
        assert last_in.payload is not None and last_in.op == op("HEARTBEAT") and last_in.error is None


async def test_an_undecodable_frame_over_the_rate_limit_is_refused_for_the_rate():
    async with MockGateway(PROTO, port=0, rate_limit=(1, 60)) as gw:
        items: list = []
        gw.subscribe(items.append)
        ws = await hello(gw)
        await send(ws, heartbeat())
        assert (await recv(ws))["op"] == op("HEARTBEAT_ACK")
        await ws.send("not json")
        assert (await closed_with(ws))[0] == code("RATE_LIMITED")
        last_in = [r for r in items if isinstance(r, Record) and r.direction == "in"][-1]
        assert last_in.payload is None and last_in.error.startswith("not JSON")
