"""Both sides checked, nothing changed: each payload against the definition in its direction, each
violation a notice and an NDJSON record naming who broke what; --strict closes instead."""

from __future__ import annotations

import zlib

import orjson
import pytest
from proxy_testkit import (
    EVENT_DATA,
    OP,
    Collected,
    RawUpstream,
    closed_with,
    event,
    heartbeat,
    identify,
    open_ws,
    recv,
    send,
    service,
    until,
)
from websockets.asyncio.server import ServerConnection

from gwtool.console import ndjson
from gwtool.gateway import MockGateway
from gwtool.proxy import Proxy

BAD_EVENT = {**EVENT_DATA, "ids": {**EVENT_DATA["ids"], "shard": "one"}}
HELLO = {"op": OP["HELLO"], "d": {"heartbeatInterval": 30000}}


def identified(d: dict | None = None) -> dict:
    return {"op": OP["EVENT"], "t": "IDENTIFIED", "d": {} if d is None else d}


def gateway_script(*after_identify: dict | bytes, hello: dict | None = HELLO, compress: bool = False):
    """A gateway that says HELLO, answers IDENTIFY with ``after_identify``; ``script.frames`` keeps
    what it got."""

    async def script(ws: ServerConnection) -> None:
        if hello is not None:
            await ws.send(orjson.dumps(hello), text=True)
        async for frame in ws:
            script.frames.append(frame)
            if not isinstance(frame, bytes) and frame.startswith("{") and orjson.loads(frame).get("op") == OP["IDENTIFY"]:
                for payload in after_identify:
                    if isinstance(payload, bytes):
                        await ws.send(payload)
                    elif compress:
                        await ws.send(zlib.compress(orjson.dumps(payload)))
                    else:
                        await ws.send(orjson.dumps(payload), text=True)

    script.frames = []
    return script


async def run_gateway(script, kind: str = "commands", *, compress: bool = False, count: int = 1, **settings) -> Collected:
    """Connect a ``kind`` service through a proxy to a scripted gateway, identify, and collect until
    ``count`` violations were seen."""
    upstream = RawUpstream(script)
    seen = Collected()
    async with upstream.running(), Proxy(upstream=upstream.url, **settings) as proxy:
        proxy.subscribe(seen)
        ws = await open_ws(proxy.url)
        await recv(ws)
        await send(ws, identify(kind, compress=compress))
        await until(lambda: len(seen.notices("violation")) >= count)
        await ws.close()
    return seen


async def test_a_gateways_invalid_event_data_is_a_violation_named_as_the_issue_shows():
    seen = await run_gateway(gateway_script(identified(), event(d=BAD_EVENT)))
    (violation,) = seen.notices("violation")
    assert violation.text == "gateway → #1 commands: EXECUTE_COMMAND d.ids.shard: expected integer, got string"
    line = orjson.loads(ndjson(violation))
    assert {k: line[k] for k in ("kind", "by", "conn", "path", "text")} == {
        "kind": "violation", "by": "gateway", "conn": 1, "path": "d.ids.shard", "text": violation.text,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("script", "kind", "expected"),
    [
        pytest.param(gateway_script(identified(), event()), "sharder", "t: sharder does not receive EXECUTE_COMMAND", id="event-not-for-its-type"),
        pytest.param(gateway_script(identified()), "sharder", "IDENTIFIED has no shards for a sharder", id="identified-without-shards"),
        pytest.param(gateway_script(hello={"op": OP["HEARTBEAT_ACK"], "d": {}}), "commands", "expected HELLO first", id="hello-not-first"),
        pytest.param(gateway_script(hello={"op": OP["HELLO"], "d": {}}), "commands", "HELLO has no usable heartbeatInterval", id="hello-without-interval"),
        pytest.param(gateway_script(zlib.compress(orjson.dumps(identified()))), "commands", "compressed payload though IDENTIFY did not ask", id="compressed-unasked"),
        pytest.param(gateway_script(b"\x78\x9cnot zlib at all"), "commands", "not a payload: bad zlib data", id="undecodable"),
    ],
)  # fmt: skip
async def test_what_a_service_must_not_get_from_a_gateway_is_a_violation(script, kind, expected):
    seen = await run_gateway(script, kind)
    texts = [n.text for n in seen.notices("violation")]
    assert any(expected in text for text in texts), texts
    assert all(n.data["by"] == "gateway" for n in seen.notices("violation"))


async def test_a_gateway_that_never_sends_hello_is_a_violation_after_the_handshake_timeout():
    upstream = RawUpstream()
    seen = Collected()
    async with upstream.running(), Proxy(upstream=upstream.url, handshake_timeout=0.3) as proxy:
        proxy.subscribe(seen)
        ws = await open_ws(proxy.url)
        await until(lambda: seen.notices("violation"))
        await ws.close()
    assert seen.notices("violation")[0].text == "gateway → #1 ?: no HELLO within 0.3 s of connecting"


async def test_an_ack_that_never_comes_is_a_violation_within_the_interval():
    async with MockGateway(heartbeat_interval=200, ack="never") as gw, Proxy(upstream=gw.url) as proxy:
        seen = Collected()
        proxy.subscribe(seen)
        ws, _ = await service(proxy.url, "commands")
        await send(ws, heartbeat())
        await until(lambda: seen.notices("violation"))
        await ws.close()
    violation = seen.notices("violation")[0]
    assert violation.text == "gateway → #1 commands: no HEARTBEAT_ACK within 200 ms of a heartbeat"


async def test_a_close_code_outside_the_definition_is_a_violation():
    async def script(ws: ServerConnection) -> None:
        await ws.send(orjson.dumps(HELLO), text=True)
        await ws.close(4999, "made up")

    upstream = RawUpstream(script)
    async with upstream.running(), Proxy(upstream=upstream.url) as proxy:
        seen = Collected()
        proxy.subscribe(seen)
        ws = await open_ws(proxy.url)
        assert await closed_with(ws) == (4999, "made up")  # passed on all the same
        await until(lambda: seen.notices("violation"))
    assert seen.notices("violation")[0].text == "gateway → #1 ?: close code 4999 is not one of the definition's"


async def test_a_services_invalid_event_is_a_violation_with_the_close_a_gateway_answers():
    async with MockGateway() as gw, Proxy(upstream=gw.url) as proxy:
        seen = Collected()
        proxy.subscribe(seen)
        ws, _ = await service(proxy.url, "sharder")
        await send(ws, event(d=BAD_EVENT))
        assert (await closed_with(ws))[0] == 4010  # the real gateway's own answer, passed on
        await until(lambda: seen.notices("closed"))
    (violation,) = seen.notices("violation")
    assert (
        violation.text == "#1 sharder → gateway: EXECUTE_COMMAND d.ids.shard: expected integer, got string (4010 INVALID_PAYLOAD)"
    )
    assert violation.data == {"by": "service", "path": "d.ids.shard"}


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        pytest.param([event()], "EVENT before IDENTIFY: only HEARTBEAT may come first (4003 NOT_IDENTIFIED)", id="before-identify"),
        pytest.param([identify("music")], "unknown service type 'music'", id="unknown-service"),
        pytest.param([{"op": 99}], "op: unknown opcode 99", id="unknown-op"),
        pytest.param([b"binary"], "binary frame: services send plain JSON in text frames (4002 DECODE_ERROR)", id="binary"),
        pytest.param([identify("commands"), event()], "EXECUTE_COMMAND may not be sent by commands (from: sharder) (4007 EVENT_NOT_ALLOWED)", id="not-allowed"),
    ],
)  # fmt: skip
async def test_what_a_gateway_refuses_from_a_service_is_a_violation(frames, expected):
    upstream = RawUpstream(script := gateway_script())
    async with upstream.running(), Proxy(upstream=upstream.url) as proxy:
        seen = Collected()
        proxy.subscribe(seen)
        ws = await open_ws(proxy.url)
        await recv(ws)
        for frame in frames:
            await (ws.send(frame) if isinstance(frame, bytes) else send(ws, frame))
        await until(lambda: seen.notices("violation"))
        await until(lambda: len(script.frames) == len(frames))  # forwarded all the same
        await ws.close()
    violation = seen.notices("violation")[0]
    assert expected in violation.text and violation.data["by"] == "service", violation.text


async def test_a_service_that_stops_heartbeating_is_a_violation():
    async with MockGateway(heartbeat_interval=200) as gw, Proxy(upstream=gw.url) as proxy:
        seen = Collected()
        proxy.subscribe(seen)
        ws, _ = await service(proxy.url, "commands")
        await until(lambda: seen.notices("violation"))
        await closed_with(ws)
    violation = seen.notices("violation")[0]
    assert violation.text.startswith("#1 commands → gateway: no heartbeat for ") and "(4009 HEARTBEAT_TIMEOUT)" in violation.text


async def test_a_healthy_conversation_has_no_violation_and_records_say_who_sent_what():
    async with MockGateway() as gw, Proxy(upstream=gw.url) as proxy:
        seen = Collected()
        proxy.subscribe(seen)
        receiver, _ = await service(proxy.url, "commands", compress=True)
        sender, _ = await service(proxy.url, "sharder")
        for ws in (receiver, sender):
            await send(ws, heartbeat(guilds=1) if ws is sender else heartbeat())
        await send(sender, event())
        await send(
            sender,
            {
                "op": OP["CACHE"],
                "type": "user",
                "d": {"id": "1", "username": "a", "discriminator": "0001", "avatar": None, "bot": False},
            },
        )
        assert (await recv(receiver))["op"] == OP["HEARTBEAT_ACK"]
        assert (await recv(receiver))["t"] == "EXECUTE_COMMAND"
        await receiver.close()
        await sender.close()
        await until(lambda: len(seen.notices("closed")) == 2)
        assert proxy.counts.violations == {"service": 0, "gateway": 0}, seen.notices("violation")
        assert proxy.counts.payloads == {"service": 6, "gateway": 7}  # HELLO, IDENTIFIED, ACK ×2; the event
    records = seen.records()
    acks = [r for r in records if r.op == OP["HEARTBEAT_ACK"]]
    assert acks and all(r.latency_ms is not None for r in acks)
    routed = next(r for r in records if r.t == "EXECUTE_COMMAND" and r.sender == "gateway")
    assert routed.service == "commands" and routed.compressed and routed.direction == "out"
    sent = next(r for r in records if r.t == "EXECUTE_COMMAND" and r.sender == "service")
    assert sent.service == "sharder" and sent.direction == "in" and orjson.loads(ndjson(sent))["from"] == "service"
    assert [n.text for n in seen.notices("identified")] == [
        "identified as commands, compressed",
        "identified as sharder with shards [0, 1, 2] of 3",
    ]


async def test_strict_closes_a_service_that_breaks_the_protocol_with_the_definitions_code():
    upstream = RawUpstream(script := gateway_script(identified({"shards": [0], "maxShards": 1})))
    async with upstream.running(), Proxy(upstream=upstream.url, strict=True) as proxy:
        ws = await open_ws(proxy.url)
        await recv(ws)
        await send(ws, identify("sharder"))
        await recv(ws)
        await send(ws, event(d=BAD_EVENT))
        assert await closed_with(ws) == (4010, "d.ids.shard: expected integer, got string")
        await until(lambda: upstream.closes)
    assert upstream.closes == [(1000, "gwtool proxy --strict: the service broke the protocol")]
    assert len(script.frames) == 1  # IDENTIFY only: the refused event was not forwarded


async def test_strict_closes_both_sides_when_the_gateway_breaks_the_protocol():
    upstream = RawUpstream(gateway_script(identified(), event(d=BAD_EVENT)))
    async with upstream.running(), Proxy(upstream=upstream.url, strict=True) as proxy:
        ws = await open_ws(proxy.url)
        await recv(ws)
        await send(ws, identify("commands"))
        assert (await recv(ws))["t"] == "IDENTIFIED"
        code, reason = await closed_with(ws)  # the bad event never arrives
        await until(lambda: upstream.closes)
    assert (code, reason) == (4000, "gateway: d.ids.shard: expected integer, got string")
    assert upstream.closes == [(4000, reason)]
    assert proxy.counts.violations["gateway"] == 1
