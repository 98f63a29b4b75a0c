"""Every close record carries the code and reason that went on the wire, whoever closed first."""

from __future__ import annotations

import asyncio
import json

import pytest
from test_cli_client_commands import gwtool

from gwtool.client import GatewayClient
from gwtool.errors import ConnectFailed
from gwtool.records import Notice


def closes(items: list) -> list[Notice]:
    return [i for i in items if isinstance(i, Notice) and i.kind == "closed"]


async def test_a_stop_during_a_stalled_handshake_is_recorded_as_the_close_that_went(mute_gateway, proto):
    # The gateway never says HELLO and never answers a close: the HELLO deadline passes while our
    # own close (1000) waits for its answer. The record must say 1000, not the 4000 a stall sends.
    client = GatewayClient(mute_gateway.url, service="commands", proto=proto, open_timeout=0.3, close_timeout=1.5)
    items: list = []
    client.subscribe(items.append)
    connected = asyncio.Event()
    client.subscribe(lambda item: connected.set() if isinstance(item, Notice) and item.kind == "connected" else None)
    runner = asyncio.create_task(client.run())
    async with asyncio.timeout(5):
        await connected.wait()
    await client.close()
    async with asyncio.timeout(5):
        await asyncio.wait({runner})
    assert await mute_gateway.wait_for_close() == (1000, "")
    [closed] = closes(items)
    assert (closed.data["code"], closed.data["reason"]) == (1000, "")
    assert not any("closing (4000" in i.text for i in items if isinstance(i, Notice))


async def test_a_stall_is_recorded_with_the_code_and_reason_it_sent(mute_gateway, proto):
    client = GatewayClient(mute_gateway.url, service="commands", proto=proto, open_timeout=0.3, close_timeout=0.5)
    items: list = []
    client.subscribe(items.append)
    with pytest.raises(ConnectFailed, match="sent no HELLO within 0.3 s"):
        async with asyncio.timeout(5):
            await client.run()
    code, reason = await mute_gateway.wait_for_close()
    assert (code, reason) == (proto.close("UNKNOWN_ERROR").code, "no HELLO within 0.3 s of connecting")
    [closed] = closes(items)
    assert (closed.data["code"], closed.data["reason"]) == (code, reason)


async def test_send_timing_out_on_hello_records_the_close_the_gateway_received(capsys, mute_gateway, proto):
    code, out, err = await gwtool(capsys, "send", "EXECUTE_COMMAND", "--url", mute_gateway.url, "--timeout", "1", "-v", "--json")
    assert code == 2, err
    assert "no HELLO within 1 s" in err
    sent = await mute_gateway.wait_for_close()
    records = [json.loads(line) for line in out.splitlines()]
    [closed] = [r for r in records if r["kind"] == "closed"]
    assert (closed["code"], closed["reason"]) == sent
    assert sent[0] == proto.close("UNKNOWN_ERROR").code  # not 1000: the gateway is told it stalled


async def test_a_dead_connection_and_a_user_stop_are_recorded_as_the_gateway_saw_them(fake_gateway, proto):
    async with fake_gateway(interval=50, ack=False) as gw:  # no ACK: the client closes it as dead
        client = GatewayClient(gw.url, service="commands", proto=proto, reconnect=False)
        items: list = []
        client.subscribe(items.append)
        with pytest.raises(ConnectFailed):
            async with asyncio.timeout(5):
                await client.run()
        await gw.wait_until(lambda: len(gw.close_codes) == 1)
    async with fake_gateway(interval=60_000) as gw:
        async with GatewayClient(gw.url, service="commands", proto=proto) as stopped:
            stopped.subscribe(items.append)
            await stopped.wait_identified(timeout=5)
        await gw.wait_until(lambda: len(gw.close_codes) == 1)
        assert [c.data["code"] for c in closes(items)] == [proto.close("UNKNOWN_ERROR").code, 1000]
