"""Bounded property tests: random frames at a live gateway (then a health check), and random
payloads through every renderer (terminal line, plain line, NDJSON, the summary, REST JSON)."""

from __future__ import annotations

import asyncio
import io

import orjson
from gateway_testkit import hello, recv, send, service, still_relays
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_console_output import Captured
from websockets.exceptions import ConnectionClosed

from gwtool.console import format_notice, format_record, ndjson, plain_record, summary
from gwtool.gateway import MockGateway
from gwtool.gateway.rest import json_response
from gwtool.output import WireOutput
from gwtool.protocol.definition import load_protocol
from gwtool.records import Notice, Record
from gwtool.text import printable

PROTO = load_protocol(use_env=False)
hostile_text = st.lists(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=6)
    | st.sampled_from(["\x1b", "\x9b", "\u202e", "\x07", "[/]", "[@click=app.quit]"]),
    max_size=5,
).map("".join)
scalars = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False, allow_infinity=False) | hostile_text
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4), max_leaves=12
)
ops = st.sampled_from([o.code for o in PROTO.opcodes.values()]) | st.integers(-5, 20)
payloads = st.fixed_dictionaries({"op": ops}, optional={"d": json_values, "t": hostile_text | json_values, "type": hostile_text})
frames = (
    payloads.map(lambda p: orjson.dumps(p).decode())
    | st.binary(max_size=200)
    | hostile_text
    | st.integers(1, 300).map(lambda n: '{"op":1,"d":' + "[" * n + "]" * n + "}")
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(frames, min_size=1, max_size=4))
def test_random_frames_never_hurt_the_gateway(frames_sent):
    async def run() -> None:
        captured, log = Captured(), io.BytesIO()
        async with MockGateway(identify_timeout=5) as gw:
            output = WireOutput(gw.proto, stdout=captured, terminal=True, log=log, show_conn=True, every=True)
            gw.subscribe(output)
            bystander, _ = await service(gw, "sharder")  # another connection, open all along
            ws = await hello(gw)
            try:
                for frame in frames_sent:
                    await ws.send(frame)
                await send(ws, {"op": gw.proto.op("HEARTBEAT"), "d": {"heapUsed": 1}})
                await recv(ws)
            except (ConnectionClosed, AssertionError, orjson.JSONDecodeError):
                pass  # closed by the gateway (a refusal), or an answer we do not parse: both fine
            await ws.close()
            await still_relays(gw)
            assert bystander.close_code is None  # the bystander stayed open
            await output.aclose()
        assert output.failures == 0
        for line in log.getvalue().splitlines():  # the log stays NDJSON, whatever came
            orjson.loads(line)

    asyncio.run(run())


@settings(max_examples=200, deadline=None)
@given(payloads | st.none(), hostile_text, st.booleans())
def test_random_payloads_through_every_renderer(payload, text, compressed):
    record = Record("in", 100, payload, compressed, 1, "sharder", error=None if payload else text, raw=None if payload else text)
    for line in (format_record(record, PROTO).plain, plain_record(record, PROTO), summary(record), printable(text)):
        assert "\x1b" not in line and "\x9b" not in line and "\u202e" not in line
    orjson.loads(ndjson(record))
    orjson.loads(ndjson(Notice("closed", text, data={"reason": text})))
    assert "\x1b" not in format_notice(Notice("warning", text)).plain
    orjson.loads(json_response(200, payload).body)

    async def through_the_output() -> WireOutput:  # the summary path too (a limit of 0 lines a second)
        output = WireOutput(PROTO, stdout=Captured(), terminal=True, lines_per_second=0)
        output(record)
        output(Notice("closed", text, conn=1, data={"by": "gateway"}))
        await output.aclose()
        return output

    assert asyncio.run(through_the_output()).failures == 0
