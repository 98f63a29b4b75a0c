"""Bounded memory: an IDENTIFY deadline, only the definition's heartbeat fields kept, a hold
bounded in bytes as well as in count."""

from __future__ import annotations

import asyncio

import orjson
from gateway_testkit import EVENT, closed_with, code, event, heartbeat, hello, recv, send, service, until

from gwtool.gateway import MockGateway
from gwtool.records import Notice


async def test_a_connection_that_never_identifies_is_closed_even_while_heartbeating():
    async with MockGateway(identify_timeout=0.3) as gw:
        ws = await hello(gw)

        async def beat() -> None:
            while True:
                await send(ws, heartbeat())
                await recv(ws)
                await asyncio.sleep(0.02)

        beating = asyncio.create_task(beat())
        assert await closed_with(ws, timeout=10) == (code("NOT_IDENTIFIED"), "no IDENTIFY within 0.3 s of connecting")
        beating.cancel()
        identified, _ = await service(gw, "commands")  # an identified one is not affected
        await send(identified, heartbeat())
        assert (await recv(identified))["op"] == gw.proto.op("HEARTBEAT_ACK")


async def test_only_the_definitions_heartbeat_fields_are_kept():
    async with MockGateway() as gw:
        ws, _ = await service(gw, "sharder")
        await send(ws, heartbeat(guilds=3, junk="x" * 500_000))
        await recv(ws)
        (info,) = gw.connections
        assert info.heartbeat == {"heapUsed": 1000, "guilds": 3}


async def test_the_hold_is_bounded_in_bytes_and_keeps_only_frames():
    async with MockGateway(hold=1000, hold_bytes=20_000) as gw:
        notices: list[Notice] = []
        gw.subscribe(lambda item: notices.append(item) if isinstance(item, Notice) else None)
        sharder, _ = await service(gw, "sharder")
        frame = orjson.dumps(event(d={**EVENT, "raw": "x" * 3000})).decode()
        for _ in range(20):
            await sharder.send(frame)
        await sharder.send(orjson.dumps(event(d={**EVENT, "raw": "y" * 30_000})).decode())  # alone over the bound
        await send(sharder, heartbeat(guilds=1))
        await recv(sharder)  # the ACK: everything before it was handled
        assert gw.router.held_size <= 20_000 and gw.held_count == 20_000 // len(frame)
        assert gw.dropped_count == 20 - gw.held_count + 1
        assert any("it alone is over --hold-bytes" in n.text for n in notices if n.kind == "dropped")
        held = gw.held_count
        receiver, _ = await service(gw, "commands")
        got = [await recv(receiver) for _ in range(held)]
        assert all(p["d"]["raw"] == "x" * 3000 for p in got)  # the newest held, delivered as sent
        await until(lambda: gw.held_count == 0)


async def test_held_events_discarded_at_shutdown_are_said():
    notices: list[Notice] = []
    async with MockGateway() as gw:
        gw.subscribe(lambda item: notices.append(item) if isinstance(item, Notice) else None)
        sharder, _ = await service(gw, "sharder")
        for _ in range(3):
            await send(sharder, event())
        await send(sharder, heartbeat(guilds=1))
        await recv(sharder)
    assert any(n.text == "shutting down: 3 held events discarded (no receiver took them)" for n in notices)


def test_running_out_of_file_descriptors_is_one_line_not_a_traceback_each():
    import re
    import resource
    import signal
    import subprocess
    import sys
    import time

    def low_fd_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))

    proc = subprocess.Popen(
        [sys.executable, "-m", "gwtool", "mock-gateway", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=low_fd_limit,
    )  # fmt: skip
    try:
        url = None
        for _ in range(20):
            if match := re.search(r"ws://127\.0\.0\.1:\d+", proc.stdout.readline()):
                url = match.group(0)
                break
        assert url

        async def open_many() -> None:
            from websockets.asyncio.client import connect

            held = []
            for _ in range(50):  # past the limit: the later accepts fail
                try:
                    held.append(await asyncio.wait_for(connect(url, open_timeout=0.2, proxy=None), 0.3))
                except Exception:  # refused or timed out: expected past the limit
                    pass
            await asyncio.sleep(1.5)  # the loop retries accepting about once a second meanwhile
            for ws in held:
                await ws.close()

        started = time.monotonic()
        asyncio.run(open_many())
        elapsed = time.monotonic() - started
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert "Traceback" not in out + err
    said = (out + err).count("too many open files")
    assert 1 <= said <= 1 + elapsed / 5, out[-2000:] + err[-2000:]  # one line at most every 5 s
