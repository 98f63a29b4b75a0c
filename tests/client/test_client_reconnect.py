"""Misbehaving gateways: zombie connections, reconnectable and final close codes, heartbeat
requests, unsolicited ACKs and compression."""

from __future__ import annotations

import asyncio

import pytest

from gwtool.client import Backoff, GatewayClient
from gwtool.errors import ClosedByGateway
from gwtool.records import Notice, Record

FAST = Backoff(initial=0.01, maximum=0.05)


def collect(client: GatewayClient) -> list[Record | Notice]:
    items: list[Record | Notice] = []
    client.subscribe(items.append)
    return items


async def test_never_acked_heartbeat_closes_the_zombie_and_reconnects(fake_gateway, proto):
    async with fake_gateway(interval=50, ack=False) as gw:
        client = GatewayClient(gw.url, service="commands", proto=proto, backoff=FAST)
        items = collect(client)
        async with client:
            await gw.wait_until(lambda: len(gw.identifies) >= 2)
            await client.wait_identified(timeout=5)
        zombie = proto.close("UNKNOWN_ERROR").code
        assert gw.close_codes[0] == zombie  # not 1000: the gateway can tell it from a clean exit
        assert client.latency.missed >= 1 and client.latency.count == 0
        warnings = [i.text for i in items if isinstance(i, Notice) and i.kind == "warning"]
        assert warnings[0].startswith("no HEARTBEAT_ACK within 50 ms")
        assert any(isinstance(i, Notice) and i.kind == "reconnecting" for i in items)


@pytest.mark.parametrize("codes", [[4009, 4000], [4007, 1009]])
async def test_reconnectable_closes_reconnect_and_reidentify(fake_gateway, proto, codes):
    async with fake_gateway(interval=10_000, close_after_identify=codes) as gw:
        client = GatewayClient(gw.url, service="sharder", proto=proto, backoff=FAST)
        items = collect(client)
        async with client:
            await client.wait_identified(timeout=5)
            assert client.state.conn == 3 and client.state.phase == "identified"
        assert len(gw.identifies) == 3 and all(i["type"] == "sharder" for i in gw.identifies)
        closed = [i.data for i in items if isinstance(i, Notice) and i.kind == "closed"]
        assert [(c["code"], c["by_gateway"], c["final"]) for c in closed[:2]] == [
            (codes[0], True, False),
            (codes[1], True, False),
        ]
        assert closed[0]["reason"] == f"scripted close {codes[0]}"
        assert [i.data["attempt"] for i in items if isinstance(i, Notice) and i.kind == "reconnecting"] == [1, 2]
        assert client.backoff.attempt == 0  # reset by IDENTIFIED


@pytest.mark.parametrize("code", [4004, 4006])
async def test_final_close_code_gives_up(fake_gateway, proto, code):
    async with fake_gateway(interval=10_000, close_after_identify=[code]) as gw:
        client = GatewayClient(gw.url, service="commands", proto=proto, backoff=FAST)
        with pytest.raises(ClosedByGateway) as closed:
            async with asyncio.timeout(5):
                await client.run()
        name = proto.close_by_code[code].name
        assert (closed.value.code, closed.value.name, closed.value.exit_code) == (code, name, 3)
        assert str(closed.value) == f"closed by the gateway: {code} {name} — scripted close {code}"
        assert gw.connections == 1 and client.state.phase == "closed"
        with pytest.raises(ClosedByGateway):  # waiters learn why, too
            await client.wait_identified(timeout=1)


async def test_reconnect_false_gives_up_on_any_gateway_close(fake_gateway, proto):
    async with fake_gateway(interval=10_000, close_after_identify=[4009]) as gw:
        client = GatewayClient(gw.url, service="commands", proto=proto, reconnect=False)
        with pytest.raises(ClosedByGateway, match="4009 HEARTBEAT_TIMEOUT"):
            async with asyncio.timeout(5):
                await client.run()
        assert gw.connections == 1


async def test_heartbeat_request_is_answered_at_once(fake_gateway, proto):
    async def request_twice(gw, link):
        for _ in range(2):
            await link.send({"op": proto.op("HEARTBEAT"), "d": {}})
            await asyncio.sleep(0.02)

    async with fake_gateway(interval=60_000, after_identify=request_twice) as gw:
        client = GatewayClient(gw.url, service="sharder", proto=proto, heartbeat=False)
        async with client:
            await client.wait_identified(timeout=5)
            await gw.wait_until(lambda: len(gw.payloads("HEARTBEAT")) == 2)
            await client.wait_for_record(lambda r: r.op == proto.op("HEARTBEAT_ACK") and client.latency.count == 2, timeout=5)
        assert [sorted(p["d"]) for p in gw.payloads("HEARTBEAT")] == [["guilds", "heapUsed"]] * 2
        assert client.latency.count == 2 and client.latency.missed == 0


async def test_unsolicited_ack_is_ignored(fake_gateway, proto):
    async def stray_ack(gw, link):
        await link.send({"op": proto.op("HEARTBEAT_ACK")})  # no d: also accepted

    async with fake_gateway(interval=60_000, after_identify=stray_ack) as gw:
        client = GatewayClient(gw.url, service="commands", proto=proto, heartbeat=False)
        items = collect(client)
        async with client:  # waiting from the start: the stray ACK follows IDENTIFIED at once
            await client.wait_for_record(lambda r: r.op == proto.op("HEARTBEAT_ACK"), timeout=5)
        assert client.unsolicited_acks == 1 and client.latency.count == 0 and client.latency.last is None
        assert not [i for i in items if isinstance(i, Notice) and i.kind == "warning"]


async def test_compressed_frames_are_decoded_and_flagged(fake_gateway, proto):
    example = proto.events["EXECUTE_COMMAND"].example

    async def send_event(gw, link):
        await link.send({"op": proto.op("EVENT"), "t": "EXECUTE_COMMAND", "d": example})

    async with fake_gateway(interval=50, after_identify=send_event) as gw:
        client = GatewayClient(gw.url, service="commands", proto=proto, compress=True)
        async with client:
            event = await client.wait_for_event("EXECUTE_COMMAND", timeout=5)
            ack = await client.wait_for_record(lambda r: r.op == proto.op("HEARTBEAT_ACK"), timeout=5)
        assert gw.identifies[0]["compress"] is True
        assert event.payload["d"] == example and event.compressed
        assert event.size < len(str(example))  # the size on the wire: compressed bytes
        assert ack.compressed and client.latency.count >= 1


async def test_gateway_gone_then_back_keeps_retrying_then_reidentifies(fake_gateway, proto):
    gw = fake_gateway(interval=10_000)
    await gw.start()
    port = int(gw.url.rsplit(":", 1)[1])
    client = GatewayClient(gw.url, service="sharder", proto=proto, backoff=FAST)
    items = collect(client)
    try:
        async with client:
            await client.wait_identified(timeout=5)
            await gw.stop()
            async with asyncio.timeout(5):  # at least two refused attempts, and still trying
                while sum(1 for i in items if isinstance(i, Notice) and i.kind == "error") < 2:
                    await asyncio.sleep(0.01)
            assert client.state.phase in ("reconnecting", "connecting")
            assert client.state.connect_failure == "refused"  # why the last attempt failed, not only in words
            await gw.start(port)
            await client.wait_identified(timeout=5)
        assert len(gw.identifies) == 2
        assert client.state.connect_failure is None and client.state.close_code == 1000  # the last one opened
        errors = [i.text for i in items if isinstance(i, Notice) and i.kind == "error"]
        assert "connection refused" in errors[0]
    finally:
        await gw.stop()


async def test_close_during_backoff_returns_at_once(fake_gateway, proto):
    async with fake_gateway(interval=10_000, close_after_identify=[4000]) as gw:
        client = GatewayClient(gw.url, service="commands", proto=proto, backoff=Backoff(initial=20, jitter=0))
        items = collect(client)
        runner = asyncio.create_task(client.run())
        async with asyncio.timeout(5):
            while client.state.phase != "reconnecting":
                await asyncio.sleep(0.01)
            assert client.state.retry_at is not None
            await client.close()
            await runner  # no error: the user closed it
        assert client.state.phase == "closed" and gw.connections == 1
        assert [(i.kind, i.text) for i in items if isinstance(i, Notice)][-2:] == [
            ("reconnecting", "reconnecting in 20.00 s (attempt 1)"),
            ("closed", "closed while waiting to reconnect"),
        ]


async def test_retry_now_cuts_the_backoff_wait_short(proto):
    import socket

    from gwtool.client import GatewayClient
    from gwtool.client.backoff import Backoff

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    notices = []
    client = GatewayClient(f"ws://127.0.0.1:{port}", service="commands", proto=proto, retry_first=True,
                           backoff=Backoff(initial=600, maximum=600, jitter=0))  # fmt: skip
    client.subscribe(lambda item: notices.append(item.kind) if hasattr(item, "kind") else None)
    runner = asyncio.create_task(client.run())
    async with asyncio.timeout(10):
        while client.state.phase != "reconnecting":
            await client._changed()
        client.retry_now()  # instead of 600 s
        while notices.count("connecting") < 2:
            await asyncio.sleep(0.01)
    await client.close()
    await runner
