"""Steering the mock gateway from code: how it ACKs, closing or dropping one connection."""

from __future__ import annotations

import pytest
from websockets.exceptions import ConnectionClosed

from gwtool.errors import InvalidSetting
from gwtool.gateway import MockGateway
from tests.gateway.gateway_testkit import PROTO, closed_with, heartbeat, op, recv, send, service, until


@pytest.mark.parametrize(
    ("ack", "expected"), [("always", {"op": op("HEARTBEAT_ACK"), "d": {}}), ("without_d", {"op": op("HEARTBEAT_ACK")})]
)
async def test_ack_mode_shapes_the_answer_to_a_heartbeat(ack, expected):
    async with MockGateway(PROTO, ack=ack) as gw:
        ws, _ = await service(gw, "commands")
        await send(ws, heartbeat())
        assert await recv(ws) == expected


async def test_ack_never_answers_no_heartbeat_but_keeps_the_connection():
    async with MockGateway(PROTO, ack="never") as gw:
        ws, _ = await service(gw, "commands")
        await send(ws, heartbeat())
        await gw.request_heartbeat()  # whatever comes next is the request, not an ACK
        assert (await recv(ws))["op"] == op("HEARTBEAT")


def test_an_unknown_ack_mode_is_refused():
    with pytest.raises(InvalidSetting, match="ack: expected one of always, without_d, never"):
        MockGateway(PROTO, ack="sometimes")  # type: ignore[arg-type]


async def test_close_connection_closes_one_connection_with_any_code_and_says_so():
    async with MockGateway(PROTO) as gw:
        notices = []
        gw.subscribe(lambda item: notices.append(item) if getattr(item, "kind", "") == "closed" else None)
        a, _ = await service(gw, "commands")
        b, _ = await service(gw, "commands")
        first = gw.connections[0].conn
        assert gw.close_connection(first, 4009, "on purpose") is True
        assert await closed_with(a) == (4009, "on purpose")
        await until(lambda: notices)
        assert notices[0].data["code"] == 4009 and notices[0].data["by"] == "gateway"
        assert gw.close_connection(first, 4000) is False  # gone already
        await send(b, heartbeat())
        assert (await recv(b))["op"] == op("HEARTBEAT_ACK")  # the other one is untouched


async def test_drop_connection_ends_it_without_a_close_frame():
    async with MockGateway(PROTO) as gw:
        ws, _ = await service(gw, "commands")
        assert gw.drop_connection(gw.connections[0].conn) is True
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
        assert closed.value.rcvd is None  # no close frame came
        await until(lambda: gw.connection_count == 0)
