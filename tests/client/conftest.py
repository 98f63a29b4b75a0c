"""Small scriptable gateways for the client tests, on 127.0.0.1 with an ephemeral port.

They speak just enough of the protocol to misbehave on purpose: never ACK, close with a chosen
code after IDENTIFY, request heartbeats, send unsolicited ACKs, compress, send garbage.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from gwtool.protocol.definition import Protocol, load_protocol

PROTO = load_protocol(use_env=False)
OP = {name: PROTO.op(name) for name in PROTO.opcodes}

AfterIdentify = Callable[["FakeGateway", "Link"], Awaitable[None]]


class Link:
    """One accepted connection: send payloads to it (compressed once the client asked)."""

    def __init__(self, ws: ServerConnection, number: int):
        self.ws, self.number, self.compress = ws, number, False

    async def send(self, payload: dict[str, Any]) -> None:
        data = orjson.dumps(payload)
        if self.compress:
            await self.ws.send(zlib.compress(data))  # bytes → a binary frame
        else:
            await self.ws.send(data, text=True)


class FakeGateway:
    def __init__(
        self,
        *,
        interval: int = 100,
        ack: bool = True,
        close_after_identify: list[int | None] | None = None,
        after_identify: AfterIdentify | None = None,
        send_hello: bool = True,
        echo_events: bool = False,
        close_after_hello: int | None = None,
        answer_identify: bool = True,
        proto: Protocol = PROTO,
    ):
        self.interval, self.ack, self.send_hello, self.echo_events = interval, ack, send_hello, echo_events
        self.close_after_identify = list(close_after_identify or [])
        self.after_identify = after_identify
        self.close_after_hello = close_after_hello
        self.answer_identify = answer_identify
        self.proto = proto
        self.received: list[tuple[int, dict[str, Any]]] = []  # (connection number, payload)
        self.identifies: list[dict[str, Any]] = []
        self.close_codes: list[int | None] = []  # how each connection ended, as the server saw it
        self.connections = 0
        self.changed = asyncio.Event()
        self._server: Any = None

    @property
    def url(self) -> str:
        port = self._server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}"

    def payloads(self, op: str) -> list[dict[str, Any]]:
        return [p for _, p in self.received if p.get("op") == OP[op]]

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self.changed.clear()
                await self.changed.wait()

    async def __aenter__(self) -> FakeGateway:
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    async def start(self, port: int = 0) -> None:
        self._server = await serve(self._handler, "127.0.0.1", port, compression=None)

    async def stop(self) -> None:
        """Go away: close every connection (1001) and stop listening."""
        self._server.close()
        await self._server.wait_closed()

    async def _handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        link = Link(ws, self.connections)
        try:
            if self.send_hello:
                await link.send({"op": OP["HELLO"], "d": {"heartbeatInterval": self.interval}})
            if self.close_after_hello is not None:
                await ws.close(self.close_after_hello, "scripted close after HELLO")
            async for message in ws:
                payload = orjson.loads(message)
                self.received.append((link.number, payload))
                self.changed.set()
                await self._answer(link, payload)
        except ConnectionClosed:
            pass
        finally:
            self.close_codes.append(ws.close_code)
            self.changed.set()

    async def _answer(self, link: Link, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        if op == OP["HEARTBEAT"] and self.ack:
            await link.send({"op": OP["HEARTBEAT_ACK"], "d": {}})
        elif op == OP["EVENT"] and self.echo_events:
            await link.send(payload)
        elif op == OP["IDENTIFY"]:
            self.identifies.append(payload["d"])
            if not self.answer_identify:
                return
            code = self.close_after_identify.pop(0) if self.close_after_identify else None
            if code is not None:
                await link.ws.close(code, f"scripted close {code}")
                return
            link.compress = bool(payload["d"].get("compress"))
            service = self.proto.services[payload["d"]["type"]]
            d = {"shards": [0, 1, 2], "maxShards": 3} if service.shards else {}
            await link.send({"op": OP["EVENT"], "t": "IDENTIFIED", "d": d})
            if self.after_identify is not None:
                await self.after_identify(self, link)


@pytest.fixture
def proto() -> Protocol:
    return PROTO


@pytest.fixture
def fake_gateway() -> Callable[..., FakeGateway]:
    return FakeGateway
