"""The hold under load: held events flow to a late receiver paced by what it reads, and every
event is either delivered or reported dropped (real sockets, large and small events)."""

from __future__ import annotations

import asyncio

import pytest
from gateway_testkit import EVENT, PROTO, event, heartbeat, recv, send, service, until

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


async def test_a_relayed_events_record_names_where_it_went_when_a_subscriber_first_sees_it():
    async with MockGateway(PROTO, port=0) as gw:
        seen: list = []
        gw.subscribe(lambda item: seen.append((getattr(item, "t", None), list(getattr(item, "forwards", None) or []))))
        commands, _ = await service(gw, "commands")
        sharder, _ = await service(gw, "sharder")
        await send(sharder, numbered(0, 10))
        await recv(commands)
        (forwards,) = [f for t, f in seen if t == "EXECUTE_COMMAND"]
        assert [f.service for f in forwards] == ["commands"]


async def test_an_event_held_while_every_receiver_was_backed_up_reaches_it_once_it_reads():
    from websockets.asyncio.client import connect

    async with MockGateway(PROTO, port=0, max_size=2 << 20, heartbeat_interval=60_000, slow_receiver_seconds=30) as gw:
        paused = await connect(gw.url, compression=None, proxy=None, max_queue=1, max_size=None)
        await recv(paused)
        await send(paused, {"op": PROTO.op("IDENTIFY"), "d": {"type": "commands", "token": "x"}})
        sharder, _ = await service(gw, "sharder")
        sent = 0
        while gw.held_count == 0 and sent < 200:  # until one is held, and not one more (nothing else comes)
            await send(sharder, numbered(sent, 500_000))
            await send(sharder, heartbeat(guilds=0))
            assert (await recv(sharder))["op"] == PROTO.op("HEARTBEAT_ACK")  # the gateway has routed it
            sent += 1
        assert gw.held_count == 1
        got = []
        while len(got) < sent:
            payload = await recv(paused, timeout=10)
            if payload.get("t") == "EXECUTE_COMMAND":
                got.append(int(payload["d"]["raw"].split(" ", 1)[0][1:]))
        assert got == list(range(sent)) and gw.held_count == 0


async def test_a_late_receiver_that_stops_reading_the_hold_is_closed_for_it():
    from websockets.asyncio.client import connect

    async with MockGateway(PROTO, port=0, max_size=2 << 20, heartbeat_interval=60_000, slow_receiver_seconds=0.5) as gw:
        notices: list[Notice] = []
        gw.subscribe(lambda item: notices.append(item) if isinstance(item, Notice) else None)
        sharder, _ = await service(gw, "sharder")
        for i in range(40):
            await send(sharder, numbered(i, 500_000))
        await until(lambda: gw.held_count == 40, timeout=10)
        stuck = await connect(gw.url, compression=None, proxy=None, max_queue=1, max_size=None)
        await recv(stuck)
        await send(stuck, {"op": PROTO.op("IDENTIFY"), "d": {"type": "commands", "token": "x"}})
        await until(lambda: any(n.kind == "closed" and n.service == "commands" for n in notices), timeout=10)
        closed = next(n for n in notices if n.kind == "closed" and n.service == "commands")
        assert closed.data["name"] == "UNKNOWN_ERROR" and closed.data["reason"].startswith("not reading: ")
        assert gw.held_count + gw.dropped_count > 0  # what it never took stays held for the next receiver
