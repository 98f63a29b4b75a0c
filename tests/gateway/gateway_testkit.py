"""Helpers for the gateway tests: real websockets clients against a MockGateway on 127.0.0.1:0."""

from __future__ import annotations

import asyncio
import zlib
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from gwtool.gateway import MockGateway
from gwtool.protocol.definition import load_protocol

PROTO = load_protocol(use_env=False)
TIMEOUT = 3.0

GUILD_ID = "254768930223161344"
EVENT = {
    "command": "ban",
    "raw": "minemidnight#0001 spamming -t 5h",
    "ids": {"message": "479455578708639755", "author": "155112606661607425", "channel": "254770965018443776",
            "guild": GUILD_ID, "shard": 1},
}  # fmt: skip


def op(name: str) -> int:
    return PROTO.op(name)


def code(name: str) -> int:
    return PROTO.close(name).code


def event(t: str = "EXECUTE_COMMAND", d: Any = None, **extra: Any) -> dict[str, Any]:
    return {"op": op("EVENT"), "t": t, "d": EVENT if d is None else d, **extra}


def heartbeat(**d: Any) -> dict[str, Any]:
    return {"op": op("HEARTBEAT"), "d": {"heapUsed": 1000, **d}}


async def open_ws(gw: MockGateway) -> ClientConnection:
    return await connect(gw.url, compression=None, proxy=None, open_timeout=TIMEOUT)


async def send(ws: ClientConnection, payload: Any) -> None:
    await ws.send(orjson.dumps(payload).decode())


async def recv(ws: ClientConnection, timeout: float = TIMEOUT) -> dict[str, Any]:
    """The next payload, decompressed when it came in a binary frame."""
    async with asyncio.timeout(timeout):
        frame = await ws.recv()
    if isinstance(frame, bytes):
        frame = zlib.decompress(frame)
    return orjson.loads(frame)


async def recv_frame(ws: ClientConnection, timeout: float = TIMEOUT) -> str | bytes:
    async with asyncio.timeout(timeout):
        return await ws.recv()


async def hello(gw: MockGateway) -> ClientConnection:
    """A connection that has read HELLO."""
    ws = await open_ws(gw)
    payload = await recv(ws)
    assert payload["op"] == op("HELLO"), payload
    return ws


async def service(gw: MockGateway, kind: str, *, token: str = "any", compress: bool = False) -> tuple[ClientConnection, dict]:
    """An identified connection and its IDENTIFIED data."""
    ws = await hello(gw)
    await send(ws, {"op": op("IDENTIFY"), "d": {"type": kind, "token": token, "compress": compress}})
    answer = await recv(ws)
    assert answer["t"] == "IDENTIFIED", answer
    return ws, answer["d"]


async def closed_with(ws: ClientConnection, timeout: float = TIMEOUT) -> tuple[int, str]:
    """Read until the gateway closes; (code, reason) of its close frame."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    except ConnectionClosed as exc:
        assert exc.rcvd is not None, f"no close frame from the gateway ({exc})"
        return exc.rcvd.code, exc.rcvd.reason
    raise AssertionError("unreachable")


async def until(predicate, timeout: float = TIMEOUT) -> None:
    """Wait until ``predicate()`` is true (state that changes on the gateway's side)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


async def http(gw: MockGateway, path: str, method: str = "GET") -> tuple[int, dict[str, str], Any]:
    """(status, headers with lower-case names, JSON body) of one plain HTTP request."""
    reader, writer = await asyncio.open_connection(gw.host, gw.port)
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: {gw.host}:{gw.port}\r\n\r\n".encode())
    async with asyncio.timeout(TIMEOUT):
        data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, orjson.loads(body) if body else None


async def still_relays(gw: MockGateway) -> None:
    """The health check after a hostile case: a fresh sharder → commands pair still works."""
    receiver, _ = await service(gw, "commands")
    sender, _ = await service(gw, "sharder")
    await send(sender, event())
    assert (await recv(receiver))["t"] == "EXECUTE_COMMAND"
    await sender.close()
    await receiver.close()
