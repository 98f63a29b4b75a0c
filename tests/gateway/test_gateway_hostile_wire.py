"""Frames the websocket layer refuses, and numbers past 64 bits: documented closes, clear reasons."""

from __future__ import annotations

from gateway_testkit import closed_with, code, hello, still_relays

from gwtool.gateway import MockGateway


async def test_invalid_utf8_in_a_text_frame_closes_1007():
    async with MockGateway() as gw:
        ws = await hello(gw)
        await ws.send(b'{"op":1,"d":{"x":"\xff\xfe"}}', text=True)
        assert (await closed_with(ws))[0] == 1007
        await still_relays(gw)


async def test_too_many_fragments_close_1009():
    async with MockGateway(max_size=20_000) as gw:
        ws = await hello(gw)
        await ws.send(iter(["x"] * 20_002))
        got, reason = await closed_with(ws)
        assert (got, reason) == (1009, "too many fragments")
        await still_relays(gw)


async def test_an_integer_past_64_bits_is_refused_naming_the_range():
    async with MockGateway() as gw:
        ws = await hello(gw)
        await ws.send('{"op":1,"d":{"heapUsed":18446744073709551616}}')
        got, reason = await closed_with(ws)
        assert got == code("INVALID_PAYLOAD") and "outside the 64-bit integer range" in reason
        ws = await hello(gw)
        await ws.send('{"op":1,"d":{"heapUsed":1' + "0" * 400 + "}}")
        got, reason = await closed_with(ws)
        assert got == code("DECODE_ERROR") and "number too large" in reason
        ws = await hello(gw)
        await ws.send('{"op":1,"d":{"heapUsed":3.0}}')  # a float, not a huge one: the usual words
        got, reason = await closed_with(ws)
        assert reason == "d.heapUsed: expected integer, got number"
        await still_relays(gw)
