"""HTTP a browser, curl or an attacker may send to the gateway's port: every answer is JSON with
the documented status, HEAD has no body, and the websocket side keeps working after each."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from gateway_testkit import recv, send, service, still_relays

from gwtool.gateway import MockGateway


async def raw_http(gw: MockGateway, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send exact bytes; (status, headers, body) of the answer, read until the gateway closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
    writer.write(request)
    await writer.drain()
    async with asyncio.timeout(10):
        data = await reader.read()  # to EOF: every answer says Connection: close
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


CASES = [
    (b'POST /cache/ HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\n{"a":1}', 405, "POST is not allowed"),
    (b"PUT /cache/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n", 405, "PUT is not allowed"),
    (b"DELETE /services/ HTTP/1.1\r\nHost: x\r\n\r\n", 405, "DELETE is not allowed"),
    (b"GET /cache/ HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", 400, "has no body"),
    (b"GET /cache/ HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431, "header lines"),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "request line"),
    (b"GET /cache/user/?limit=" + b"9" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 400, "limit: expected an integer"),
    (b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", 404, "no route"),
    (b"GET //[ HTTP/1.1\r\nHost: x\r\n\r\n", 404, "no route"),
]


@pytest.mark.parametrize(("request_bytes", "status", "error"), CASES, ids=[c[2] for c in CASES])
async def test_every_refusal_is_json_with_its_status(request_bytes, status, error):
    async with MockGateway() as gw:
        got, headers, body = await raw_http(gw, request_bytes)
        assert got == status, body
        assert headers["content-type"] == "application/json"
        assert error in orjson.loads(body)["error"]
        if status == 405:
            assert headers["allow"] == "GET, HEAD"
        await still_relays(gw)


async def test_head_answers_without_a_body():
    async with MockGateway() as gw:
        status, headers, body = await raw_http(gw, b"HEAD /services/ HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0


async def test_pipelined_requests_get_the_first_answer():
    async with MockGateway() as gw:
        status, _, body = await raw_http(gw, b"GET /services/ HTTP/1.1\r\nHost: x\r\n\r\nGET /cache/ HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == 200 and orjson.loads(body) == []
        await still_relays(gw)


async def test_the_target_is_a_path_never_a_host():
    async with MockGateway() as gw:
        status, _, body = await raw_http(gw, b"GET //services/ HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == 200 and orjson.loads(body) == []  # the services list, not the root document
        status, _, body = await raw_http(gw, b"GET //cache//user// HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == 200 and orjson.loads(body)["type"] == "user"


async def test_an_entity_with_deep_extra_data_is_served_as_json():
    async with MockGateway() as gw:
        sharder, _ = await service(gw, "sharder")
        deep = orjson.loads("[" * 60 + "]" * 60)
        user = {"id": "155112606661607425", "username": "x", "discriminator": "0001", "avatar": None, "bot": False, "extra": deep}
        await send(sharder, {"op": gw.proto.op("CACHE"), "type": "user", "d": user})
        await send(sharder, {"op": gw.proto.op("HEARTBEAT"), "d": {"heapUsed": 1, "guilds": 1}})
        await recv(sharder)  # the ACK: the cache payload was taken
        for path in (b"/cache/user/155112606661607425", b"/cache/user/", b"/services/"):
            status, headers, body = await raw_http(gw, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            assert status == 200 and headers["content-type"] == "application/json", (path, body[:200])
            orjson.loads(body)
