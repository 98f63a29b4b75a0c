"""The proxy forwards everything unchanged, both ways, with real sockets: frames byte for byte
(text and compressed binary), REST, closes with their codes and reasons; an upstream that is down
gets a close naming it; a side that does not read holds the other back instead of queueing."""

from __future__ import annotations

import asyncio
import socket
import zlib

import orjson
import pytest
from proxy_testkit import (
    OP,
    Collected,
    RawUpstream,
    closed_with,
    event,
    http,
    identify,
    open_ws,
    recv,
    recv_frame,
    send,
    service,
    until,
)
from websockets.asyncio.server import ServerConnection

from gwtool.errors import InvalidSetting
from gwtool.gateway import MockGateway
from gwtool.proxy import BAD_GATEWAY, Proxy, ProxySettings

ODD_TEXT = '{ "op" : 2 ,\t"t":"EXECUTE_COMMAND", "d": {"command":"ban","raw":"é ✓ \\u202e", "x":1.50}}'


async def test_text_frames_pass_byte_for_byte_both_ways():
    async def script(ws: ServerConnection) -> None:
        await ws.send(ODD_TEXT)  # a str: a text frame, its spacing its own
        await ws.send(b'{"op":4}', text=True)

    upstream = RawUpstream(script)
    async with upstream.running(), Proxy(upstream=upstream.url) as proxy:
        ws = await open_ws(proxy.url)
        first, second = await recv_frame(ws), await recv_frame(ws)
        assert first == ODD_TEXT and type(first) is str
        assert second == '{"op":4}' and type(second) is str
        await ws.send(ODD_TEXT)
        await until(lambda: upstream.frames)
        assert upstream.frames == [ODD_TEXT]
        await ws.close()


async def test_compressed_binary_frames_pass_as_the_same_bytes():
    payload = orjson.dumps(event())
    compressed = zlib.compress(payload, 9)

    async def script(ws: ServerConnection) -> None:
        await ws.send(compressed)  # bytes: a binary frame

    upstream = RawUpstream(script)
    async with upstream.running(), Proxy(upstream=upstream.url) as proxy:
        seen = Collected()
        proxy.subscribe(seen)
        ws = await open_ws(proxy.url)
        frame = await recv_frame(ws)
        assert frame == compressed and type(frame) is bytes
        await ws.send(b"\x78\x9c binary from a service")  # passed as it is; the gateway judges it
        await until(lambda: upstream.frames)
        assert upstream.frames == [b"\x78\x9c binary from a service"]
        await ws.close()
    record = next(r for r in seen.records() if r.sender == "gateway")
    assert record.compressed and record.payload == orjson.loads(payload) and record.size == len(compressed)


async def test_path_and_query_are_those_the_service_asked_for():
    upstream = RawUpstream()
    async with upstream.running(), Proxy(upstream=upstream.url + "/base?region=eu") as proxy:
        ws = await open_ws(proxy.url + "/gateway?v=1&encoding=json")
        await until(lambda: upstream.paths)
        assert upstream.paths == ["/base/gateway?region=eu&v=1&encoding=json"]
        await ws.close()


async def test_a_whole_conversation_through_a_mock_gateway_with_a_token():
    async with MockGateway(token="s3cret-token") as gw, Proxy(upstream=gw.url) as proxy:
        seen = Collected()
        proxy.subscribe(seen)
        receiver, _ = await service(proxy.url, "commands", token="s3cret-token", compress=True)
        sender, shards = await service(proxy.url, "sharder", token="s3cret-token")
        assert shards["shards"] == [0, 1, 2]
        await send(sender, event())
        assert (await recv(receiver))["d"] == event()["d"]
        await sender.close()
        await receiver.close()
        await until(lambda: len(seen.notices("closed")) == 2)
    identifies = [r for r in seen.records() if r.op == OP["IDENTIFY"]]
    assert len(identifies) == 2
    for record in identifies:  # the gateway accepted the real token; records show it masked
        assert record.payload["d"]["token"] == "s3c… (12 chars)" and record.frame is None
    assert "s3cret-token" not in repr(seen.items)


async def test_rest_gets_are_relayed_from_the_upstream():
    async with MockGateway() as gw, Proxy(upstream=gw.url) as proxy:
        ws, _ = await service(proxy.url, "sharder")
        direct = await http(gw.host, gw.port, "/services/")
        proxied = await http(proxy.host, proxy.port, "/services/")
        assert proxied[0] == 200 and proxied[2] == direct[2] and proxied[2][0]["type"] == "sharder"
        missing = await http(proxy.host, proxy.port, "/cache/guild/404")
        assert missing[0] == 404 and missing[2] == (await http(gw.host, gw.port, "/cache/guild/404"))[2]
        await ws.close()


async def test_rest_with_the_upstream_down_answers_502_naming_it():
    port = free_port()
    async with Proxy(upstream=f"ws://127.0.0.1:{port}") as proxy:
        status, _, body = await http(proxy.host, proxy.port, "/services/")
    assert status == 502
    assert f"http://127.0.0.1:{port}/services/" in body["error"] and "unreachable" in body["error"]


async def test_a_close_by_the_service_reaches_the_gateway_with_its_code_and_reason():
    upstream = RawUpstream()
    async with upstream.running(), Proxy(upstream=upstream.url) as proxy:
        ws = await open_ws(proxy.url)
        await until(lambda: upstream.conns)
        await ws.close(4321, "service going for lunch")
        await until(lambda: upstream.closes)
    assert upstream.closes == [(4321, "service going for lunch")]


async def test_a_close_by_the_gateway_reaches_the_service_with_its_code_and_reason():
    async with MockGateway() as gw, Proxy(upstream=gw.url) as proxy:
        seen = Collected()
        proxy.subscribe(seen)
        ws = await open_ws(proxy.url)
        await recv(ws)  # HELLO
        await send(ws, event())  # before IDENTIFY: the gateway closes with 4003
        assert await closed_with(ws) == (4003, "EVENT before IDENTIFY: only HEARTBEAT may come first")
        await until(lambda: seen.notices("closed"))
    closed = seen.notices("closed")[0]
    assert closed.data["code"] == 4003 and closed.data["by"] == "gateway"
    assert "passed on to the service" in closed.text


async def test_an_upstream_that_is_down_closes_the_service_with_bad_gateway_naming_it():
    port = free_port()
    async with Proxy(upstream=f"ws://127.0.0.1:{port}") as proxy:
        seen = Collected()
        proxy.subscribe(seen)
        ws = await open_ws(proxy.url + "/gw")
        code, reason = await closed_with(ws)
        assert proxy.counts.refused == 1
    assert code == BAD_GATEWAY == 1014
    assert reason == f"upstream ws://127.0.0.1:{port}/gw unreachable: connection refused"
    error = seen.notices("error")[0]
    assert f"ws://127.0.0.1:{port}/gw" in error.text and "1014" in error.text


async def test_an_upstream_that_refuses_the_handshake_closes_the_service_with_bad_gateway():
    from websockets.http11 import Response

    def refuse(connection, request):
        return connection.respond(403, "no\n")

    upstream = RawUpstream(process_request=refuse)
    async with upstream.running(), Proxy(upstream=upstream.url) as proxy:
        ws = await open_ws(proxy.url)
        code, reason = await closed_with(ws)
    assert code == BAD_GATEWAY and "refused the websocket handshake: HTTP 403" in reason and upstream.url in reason
    assert Response  # (the type websockets answers with)


async def test_a_service_that_does_not_read_holds_the_gateway_back_and_loses_nothing():
    size, count = 256 << 10, 400  # 100 MiB if it were all queued
    sent = [0]

    async def flood(ws: ServerConnection) -> None:
        for i in range(count):
            await ws.send(orjson.dumps({"op": OP["EVENT"], "t": "EXECUTE_COMMAND", "d": {"n": i, "pad": "x" * size}}), text=True)
            sent[0] += 1

    upstream = RawUpstream(flood, max_size=None, write_limit=64 << 10)
    async with upstream.running(), Proxy(upstream=upstream.url, max_queue=4, max_size=1 << 20) as proxy:
        ws = await open_ws(proxy.url, max_size=1 << 20, max_queue=4)
        await until(lambda: sent[0] > 0)
        steady = await settled(lambda: sent[0])
        assert steady < count / 4, f"the upstream wrote {steady} of {count} with nobody reading"
        got = []
        async with asyncio.timeout(60):
            while len(got) < count:
                got.append(orjson.loads(await ws.recv())["d"]["n"])
        assert got == list(range(count))  # everything, in order, once the service reads
        await ws.close()


async def test_a_zlib_bomb_from_the_gateway_is_forwarded_but_never_inflated_past_the_cap():
    bomb = zlib.compress(b'{"op":0,"d":{"x":"' + b"0" * (200 << 20) + b'"}}', 9)  # 200 MiB inflated, ~200 KiB sent

    async def script(ws: ServerConnection) -> None:
        await ws.send(bomb)

    upstream = RawUpstream(script)
    async with upstream.running(), Proxy(upstream=upstream.url, max_size=1 << 20) as proxy:
        seen = Collected()
        proxy.subscribe(seen)
        ws = await open_ws(proxy.url, max_size=None)
        assert await recv_frame(ws) == bomb
        await ws.close()
    record = seen.records()[0]
    assert record.payload is None and record.error == f"decompressed payload is over {1 << 20} bytes"


@pytest.mark.parametrize(("allowed", "expect_open"), [((), False), (("http://localhost:3000",), True)])
async def test_browser_origins_follow_the_mock_gateways_policy(allowed, expect_open):
    async with MockGateway() as gw, Proxy(upstream=gw.url, allow_origins=allowed) as proxy:
        headers = {"Origin": "http://localhost:3000"}
        if expect_open:
            ws = await open_ws(proxy.url, origin="http://localhost:3000")
            assert (await recv(ws))["op"] == OP["HELLO"]
            await ws.close()
            assert (await http(proxy.host, proxy.port, "/services/", headers=headers))[0] == 200
        else:
            with pytest.raises(Exception, match="403"):
                await open_ws(proxy.url, origin="http://localhost:3000")
            status, _, body = await http(proxy.host, proxy.port, "/services/", headers=headers)
            assert status == 403 and "--allow-origin" in body["error"]
        assert (await http(proxy.host, proxy.port, "/services/"))[0] == 200  # no Origin: a service, a CLI


async def test_stopping_closes_both_sides_with_going_away():
    upstream = RawUpstream()
    async with upstream.running():
        proxy = Proxy(upstream=upstream.url)
        await proxy.start()
        ws = await open_ws(proxy.url)
        await until(lambda: upstream.conns)
        await proxy.stop()
        assert await closed_with(ws) == (1001, "proxy shutting down")
        await until(lambda: upstream.closes)
        assert upstream.closes == [(1001, "proxy shutting down")]


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"upstream": "http://127.0.0.1:8765"}, "upstream"),
        ({"upstream": "ws://"}, "upstream"),
        ({"upstream": "ws://127.0.0.1:8765", "port": 70000}, "port"),
        ({"upstream": "ws://127.0.0.1:8765", "max_queue": 0}, "max_queue"),
        ({"upstream": "ws://127.0.0.1:8765", "faults": "drop"}, "faults"),
    ],
)
def test_settings_are_checked_when_made(overrides, name):
    with pytest.raises(InvalidSetting) as caught:
        ProxySettings(**overrides)
    assert caught.value.name == name


async def test_identify_sent_before_hello_is_still_forwarded():
    upstream = RawUpstream()
    async with upstream.running(), Proxy(upstream=upstream.url) as proxy:
        ws = await open_ws(proxy.url)
        await send(ws, identify("commands"))
        await until(lambda: upstream.frames)
        assert orjson.loads(upstream.frames[0])["d"]["token"] == "any"  # the real token goes on
        await ws.close()


async def settled(read, quiet: float = 0.3, timeout: float = 20.0) -> int:
    """``read()`` once it stopped changing for ``quiet`` seconds: how far a sender got before
    backpressure held it (there is no event for "blocked")."""
    async with asyncio.timeout(timeout):
        last = read()
        while True:
            await asyncio.sleep(quiet)
            if (now := read()) == last:
                return now
            last = now


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
