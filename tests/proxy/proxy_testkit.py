"""Helpers for the proxy's tests: real sockets on 127.0.0.1, a MockGateway or a scripted raw
websockets server upstream, raw websockets clients as services."""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from gwtool.protocol.definition import load_protocol
from gwtool.records import Notice, Record

PROTO = load_protocol(use_env=False)
TIMEOUT = 5.0
OP = {name: PROTO.op(name) for name in PROTO.opcodes}
EVENT_DATA = {
    "command": "ban",
    "raw": "minemidnight#0001 spamming -t 5h",
    "ids": {"message": "479455578708639755", "author": "155112606661607425", "channel": "254770965018443776",
            "guild": "254768930223161344", "shard": 1},
}  # fmt: skip


def event(t: str = "EXECUTE_COMMAND", d: Any = None) -> dict[str, Any]:
    return {"op": OP["EVENT"], "t": t, "d": EVENT_DATA if d is None else d}


def heartbeat(**d: Any) -> dict[str, Any]:
    return {"op": OP["HEARTBEAT"], "d": {"heapUsed": 1000, **d}}


def identify(kind: str, token: str = "any", compress: bool = False) -> dict[str, Any]:
    return {"op": OP["IDENTIFY"], "d": {"type": kind, "token": token, "compress": compress}}


async def open_ws(url: str, **kwargs: Any) -> ClientConnection:
    return await connect(url, compression=None, proxy=None, open_timeout=TIMEOUT, **kwargs)


async def send(ws: ClientConnection | ServerConnection, payload: Any) -> None:
    await ws.send(orjson.dumps(payload).decode())


async def recv(ws: ClientConnection | ServerConnection, timeout: float = TIMEOUT) -> dict[str, Any]:
    """The next payload, decompressed when it came in a binary frame."""
    async with asyncio.timeout(timeout):
        frame = await ws.recv()
    if isinstance(frame, bytes):
        frame = zlib.decompress(frame)
    return orjson.loads(frame)


async def recv_frame(ws: ClientConnection | ServerConnection, timeout: float = TIMEOUT) -> str | bytes:
    async with asyncio.timeout(timeout):
        return await ws.recv()


async def service(url: str, kind: str, *, token: str = "any", compress: bool = False) -> tuple[ClientConnection, dict]:
    """An identified connection (through whatever ``url`` is) and its IDENTIFIED data."""
    ws = await open_ws(url)
    hello = await recv(ws)
    assert hello["op"] == OP["HELLO"], hello
    await send(ws, identify(kind, token, compress))
    answer = await recv(ws)
    assert answer.get("t") == "IDENTIFIED", answer
    return ws, answer["d"]


async def closed_with(ws: ClientConnection | ServerConnection, timeout: float = TIMEOUT) -> tuple[int, str]:
    """Read until the peer closes; (code, reason) of its close frame."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    except ConnectionClosed as exc:
        assert exc.rcvd is not None, f"no close frame ({exc})"
        return exc.rcvd.code, exc.rcvd.reason
    raise AssertionError("unreachable")


async def until(predicate: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
    async with asyncio.timeout(timeout):
        while not (value := predicate()):
            await asyncio.sleep(0.005)
    return value


async def http(host: str, port: int, path: str, method: str = "GET", body: bytes | None = None,
               headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:  # fmt: skip
    """(status, headers with lower-case names, JSON body) of one plain HTTP request."""
    reader, writer = await asyncio.open_connection(host, port)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))
    async with asyncio.timeout(TIMEOUT):
        data = await reader.read()
    writer.close()
    head, _, payload = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    found = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), found, orjson.loads(payload) if payload else None


class Collected:
    """A subscriber keeping every record and notice."""

    def __init__(self) -> None:
        self.items: list[Record | Notice] = []

    def __call__(self, item: Record | Notice) -> None:
        self.items.append(item)

    def notices(self, kind: str | None = None) -> list[Notice]:
        return [i for i in self.items if isinstance(i, Notice) and (kind is None or i.kind == kind)]

    def records(self) -> list[Record]:
        return [i for i in self.items if isinstance(i, Record)]


class RawUpstream:
    """A scripted websockets server: keeps every frame and path it got; ``script(ws)`` plays each
    connection (by default: keep reading)."""

    def __init__(self, script: Callable[[ServerConnection], Awaitable[None]] | None = None, **serve_kwargs: Any):
        self.script = script
        self.frames: list[str | bytes] = []
        self.paths: list[str] = []
        self.conns: list[ServerConnection] = []
        self.closes: list[tuple[int, str]] = []  # close frames received from the proxy
        self.connected = asyncio.Event()
        self.serve_kwargs = serve_kwargs
        self.url = ""

    async def _handler(self, ws: ServerConnection) -> None:
        self.paths.append(ws.request.path if ws.request else "")
        self.conns.append(ws)
        self.connected.set()
        try:
            if self.script is not None:
                await self.script(ws)
            async for frame in ws:
                self.frames.append(frame)
        except ConnectionClosed:
            pass
        finally:
            if ws.close_code is not None and ws.protocol.close_rcvd is not None:
                self.closes.append((ws.protocol.close_rcvd.code, ws.protocol.close_rcvd.reason))

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[RawUpstream]:
        kwargs = {"compression": None, "ping_interval": None, **self.serve_kwargs}
        async with serve(self._handler, "127.0.0.1", 0, **kwargs) as server:
            self.url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            yield self
