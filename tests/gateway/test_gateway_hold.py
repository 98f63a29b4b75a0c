"""The hold under load: held events flow to a late receiver paced by what it reads, and every
event is either delivered or reported dropped (real sockets, large and small events)."""

from __future__ import annotations

import asyncio

import pytest
from gateway_testkit import EVENT, PROTO, event, recv, send, service, until

from gwtool.gateway import MockGateway
from gwtool.records import Notice


def numbered(i: int, size: int) -> dict:
    return event(d={**EVENT, "raw": f"#{i} " + "x" * size})


async def _flood_then_read(gw: MockGateway, count: int, size: int) -> tuple[list[int], list[Notice]]:
    """A sharder sends ``count`` events with no receiver; then a commands service connects late
    and reads until the hold is empty; returns the numbers it got, in order, and the notices."""
    notices: list[Notice] = []
    gw.subscribe(lambda item: notices.append(item) if isinstance(item, Notice) else None)
    sharder, _ = await service(gw, "sharder")
    for i in range(count):
        await send(sharder, numbered(i, size))
    await until(lambda: gw.held_count + gw.dropped_count == count, timeout=30)
    commands, _ = await service(gw, "commands")
    got: list[int] = []
    while len(got) + gw.dropped_count < count:
        payload = await recv(commands, timeout=10)
        got.append(int(payload["d"]["raw"].split(" ", 1)[0][1:]))
        await asyncio.sleep(0)  # a reader that takes its time between events
    assert gw.held_count == 0
    return got, notices


@pytest.mark.parametrize(("count", "size"), [(150, 1_000_000), (300, 100_000), (2000, 200)])
async def test_every_held_event_reaches_a_late_reader_or_is_reported_dropped(count, size):
    async with MockGateway(PROTO, port=0, max_size=2 << 20, heartbeat_interval=60_000) as gw:
        got, notices = await _flood_then_read(gw, count, size)
        dropped = [n for n in notices if n.kind == "dropped"]
        assert len(dropped) == gw.dropped_count
        assert len(got) + gw.dropped_count == count
        assert got == sorted(got) and got[-1] == count - 1  # oldest first, the newest kept
        assert got == list(range(count - len(got), count))  # only the oldest are dropped
        assert not any(n.kind == "warning" and "not reading" in n.text for n in notices)


async def test_events_sent_while_the_hold_drains_wait_behind_it():
    async with MockGateway(PROTO, port=0, max_size=2 << 20) as gw:
        sharder, _ = await service(gw, "sharder")
        for i in range(40):
            await send(sharder, numbered(i, 500_000))
        await until(lambda: gw.held_count == 40, timeout=10)
        commands, _ = await service(gw, "commands")
        for i in range(40, 45):
            await send(sharder, numbered(i, 10))
        got = [int((await recv(commands, timeout=10))["d"]["raw"].split(" ", 1)[0][1:]) for _ in range(45)]
        assert got == list(range(45))
