"""TurnWrites: forwarded frames written once a turn, in order with websockets' own writes.

It relies on ``ServerConnection.protocol`` and ``.transport``, which websockets does not document:
if the first test fails after a websockets upgrade, adapt gwtool/gateway/writes.py."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosedOK
from websockets.protocol import Protocol

from gwtool.gateway.writes import FLUSH_BYTES, TurnWrites


@contextlib.asynccontextmanager
async def server(handler: Callable[[ServerConnection], Awaitable[None]]) -> AsyncIterator[str]:
    async with serve(handler, "127.0.0.1", 0) as srv:
        yield f"ws://127.0.0.1:{srv.sockets[0].getsockname()[1]}"


async def test_the_undocumented_connection_attributes_it_uses_are_still_there():
    seen: dict[str, object] = {}

    async def handler(ws: ServerConnection) -> None:
        seen["protocol"], seen["transport"] = ws.protocol, ws.transport

    async with server(handler) as url, connect(url) as client:
        with contextlib.suppress(ConnectionClosedOK):
            await client.recv()
    assert isinstance(seen["protocol"], Protocol), "ServerConnection.protocol is no longer the Sans-I/O Protocol"
    for name in ("write", "is_closing", "can_write_eof", "write_eof", "get_write_buffer_size"):
        assert callable(getattr(seen["transport"], name, None)), f"ServerConnection.transport has no {name}()"


async def test_frames_of_one_turn_arrive_in_order_before_what_websockets_sends_next():
    async def handler(ws: ServerConnection) -> None:
        writes = TurnWrites()
        for i in range(3):
            writes.add(ws, f"event {i}")
        writes.add(ws, b"\x00binary")
        await ws.send("sent by websockets")  # flushes the protocol's buffer: the frames above first
        writes.add(ws, "then one more")
        await ws.close(1000, "done")  # before the turn ends: the frame still goes first

    async with server(handler) as url, connect(url) as client:
        got = [await client.recv() for _ in range(6)]
        with contextlib.suppress(ConnectionClosedOK):
            await client.recv()
    assert got == ["event 0", "event 1", "event 2", b"\x00binary", "sent by websockets", "then one more"]
    assert (client.close_code, client.close_reason) == (1000, "done")


async def test_a_receiver_past_flush_bytes_in_one_turn_is_written_at_once():
    framed_after: list[int] = []

    async def handler(ws: ServerConnection) -> None:
        writes = TurnWrites()
        chunk = "x" * 1024
        for _ in range(FLUSH_BYTES // 1024 + 8):
            writes.add(ws, chunk)
        framed_after.append(sum(map(len, ws.protocol.data_to_send())))  # what still waits this turn
        await asyncio.sleep(0)
        await ws.close()

    async with server(handler) as url, connect(url, max_size=None) as client:
        with contextlib.suppress(ConnectionClosedOK):
            while True:
                await client.recv()
    assert framed_after and framed_after[0] <= 8 * (1024 + 4), "frames past FLUSH_BYTES were kept for the turn's end"
