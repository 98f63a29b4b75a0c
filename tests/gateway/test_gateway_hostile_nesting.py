"""Deep nesting: refused by the gateway with a reason naming the limit, shown by every renderer."""

from __future__ import annotations

import io

import orjson
import pytest
from gateway_testkit import closed_with, code, event, hello, recv, send, service, still_relays
from test_console_output import Captured

from gwtool.gateway import MockGateway
from gwtool.output import WireOutput
from gwtool.protocol.codec import MAX_DEPTH


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize("levels", [MAX_DEPTH, 300, 1000])
@pytest.mark.parametrize("json", [False, True])
async def test_a_deep_heartbeat_before_identify_is_refused_and_shown(levels, json, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    captured, log = Captured(), io.BytesIO()
    async with MockGateway() as gw:
        output = WireOutput(gw.proto, stdout=captured, terminal=not json, json=json, log=log, show_conn=True, every=True)
        gw.subscribe(output)
        ws = await hello(gw)
        await ws.send('{"op":1,"d":{"x":' + nested(levels) + "}}")
        assert await closed_with(ws) == (code("DECODE_ERROR"), f"nested deeper than {MAX_DEPTH} levels")
        await still_relays(gw)
        await output.aclose()
    assert f"nested deeper than {MAX_DEPTH} levels" in captured.text()
    lines = [orjson.loads(line) for line in log.getvalue().splitlines()]  # every line of the log is JSON
    assert any(line.get("error") == f"nested deeper than {MAX_DEPTH} levels" for line in lines)


async def test_nesting_within_the_limit_passes():
    async with MockGateway() as gw:
        receiver, _ = await service(gw, "commands")
        sender, _ = await service(gw, "sharder")
        d = orjson.loads(orjson.dumps(event()))["d"]
        d["extra"] = orjson.loads(nested(MAX_DEPTH - 3))  # payload 1, d 2, extra 3 …
        await send(sender, event(d=d))
        assert (await recv(receiver))["t"] == "EXECUTE_COMMAND"
