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

from gwtool.protocol.definition import Definition, load_protocol

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
        proto: Definition = PROTO,
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
def proto() -> Definition:
    return PROTO


@pytest.fixture
def fake_gateway() -> Callable[..., FakeGateway]:
    return FakeGateway


class MuteGateway:
    """Completes the websocket handshake, then says nothing: no HELLO, no answer to a close frame.

    It notes every close frame a client sends (code, reason), as they arrive on the socket: what
    went on the wire, to hold the client's own account against. Built on websockets' sans-I/O
    protocol, whose replies (the close frame's echo) are simply never written.
    """

    def __init__(self) -> None:
        self.closes: list[tuple[int, str]] = []
        self.changed = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"ws://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> MuteGateway:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()

    async def wait_for_close(self, timeout: float = 10.0) -> tuple[int, str]:
        async with asyncio.timeout(timeout):
            while not self.closes:
                self.changed.clear()
                await self.changed.wait()
        return self.closes[0]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from websockets.frames import Close, Opcode
        from websockets.http11 import Request
        from websockets.server import ServerProtocol

        protocol = ServerProtocol()
        self._writers.add(writer)
        try:
            while not (data := await reader.read(65536)) == b"":
                protocol.receive_data(data)
                for event in protocol.events_received():
                    if isinstance(event, Request):
                        protocol.send_response(protocol.accept(event))
                        for chunk in protocol.data_to_send():
                            writer.write(chunk)
                    elif getattr(event, "opcode", None) is Opcode.CLOSE:
                        close = Close.parse(event.data)
                        self.closes.append((close.code, close.reason))
                        self.changed.set()
                protocol.data_to_send()  # anything it would answer (the close's echo) is dropped
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


@pytest.fixture
async def mute_gateway() -> Any:
    async with MuteGateway() as gateway:
        yield gateway
