"""`gwtool connect --count N` shows exactly N payloads and closes, however many wait on the socket."""

from __future__ import annotations

import json

from test_cli_client_commands import gwtool

from gwtool.client import GatewayClient
from gwtool.gateway import MockGateway

HELD = 10


async def test_count_shows_exactly_n_payloads_though_more_were_held(capsys, proto):
    async with MockGateway(proto, heartbeat_interval=60_000) as gw:
        async with GatewayClient(gw.url, service="sharder", proto=proto) as sharder:
            await sharder.wait_identified(timeout=5)
            for _ in range(HELD):  # no commands service: the gateway holds them
                await sharder.send_event("EXECUTE_COMMAND", _example(proto))
            await sharder.round_trip(timeout=5)
        assert gw.held_count == HELD
        # HELLO, IDENTIFIED, then the held events arrive in one burst right after IDENTIFIED
        code, out, err = await gwtool(capsys, "connect", "--as", "commands", "--count", "3", "--json", "--url", gw.url)
        held_after = gw.held_count
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    received = [r for r in records if r["kind"] == "payload" and r["dir"] == "in"]
    assert [r["t"] for r in received] == [None, "IDENTIFIED", "EXECUTE_COMMAND"]
    unread = next((r["unread"] for r in records if r["kind"] == "info" and "unread" in r), 0)
    assert 1 + unread + held_after == HELD  # every held event shown, counted as unread, or still held
    [closed] = [r for r in records if r["kind"] == "closed"]
    assert closed["code"] == 1000 and records[-1] is closed  # nothing shown after the close


def _example(proto):
    from gwtool.protocol.examples import event_data

    return event_data(proto, "EXECUTE_COMMAND")
