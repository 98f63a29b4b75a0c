"""A receiver that stops reading (a worker paused in a debugger) must not stall anyone else."""

from __future__ import annotations

import asyncio

import orjson
from gateway_testkit import EVENT, event, heartbeat, recv, send, service, until

from gwtool.gateway import MockGateway
from gwtool.records import Notice

EVENTS = 6000  # × 4 KB: more than loopback TCP buffers hold, so the gateway's own buffer fills


async def test_a_stuck_receiver_is_skipped_then_closed_and_the_healthy_one_gets_the_rest():
    async with MockGateway(heartbeat_interval=30_000, slow_receiver_seconds=0.5) as gw:
        notices: list[Notice] = []
        gw.subscribe(lambda item: notices.append(item) if isinstance(item, Notice) else None)
        stuck, _ = await service(gw, "commands")
        stuck.transport.pause_reading()  # the kernel's buffers fill, then the gateway's
        healthy, _ = await service(gw, "commands")
        sharder, _ = await service(gw, "sharder")
        frame = orjson.dumps(event(d={**EVENT, "raw": "x" * 4000})).decode()
        received = 0

        async def read_healthy() -> None:
            nonlocal received
            while received < EVENTS:
                received += (await recv(healthy))["t"] == "EXECUTE_COMMAND"

        reading = asyncio.create_task(read_healthy())
        async with asyncio.timeout(30):
            for _ in range(EVENTS):
                await sharder.send(frame)  # never waits on the stuck receiver
            await send(sharder, heartbeat(guilds=1))
            assert (await recv(sharder))["op"] == gw.proto.op("HEARTBEAT_ACK")  # the sender's handler is free
            await until(lambda: any(n.kind == "closed" and n.data.get("name") == "UNKNOWN_ERROR" for n in notices), 30)
        reading.cancel()
        warned = [n for n in notices if n.kind == "warning" and n.text.startswith("not reading:")]
        closed = [n for n in notices if n.kind == "closed"]
        assert len(warned) == 1 and warned[0].service == "commands"
        assert len(closed) == 1 and closed[0].data["reason"].startswith("not reading: ")
        assert received > EVENTS // 2  # the healthy receiver took everything the stuck one could not
        assert gw.connection_count == 2  # the healthy receiver and the sharder are still there
