"""Cross-site websocket hijacking: a page in the developer's browser must not drive a local gateway."""

from __future__ import annotations

import pytest
from gateway_testkit import recv, service
from test_gateway_hostile_http import raw_http
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from gwtool.gateway import MockGateway
from gwtool.records import Notice


async def test_a_handshake_with_a_foreign_origin_is_refused_403_and_said():
    notices: list[Notice] = []
    async with MockGateway() as gw:
        gw.subscribe(lambda item: notices.append(item) if isinstance(item, Notice) else None)
        with pytest.raises(InvalidStatus) as refused:
            await connect(gw.url, origin="http://evil.example", proxy=None)
        assert refused.value.response.status_code == 403
        status, headers, _ = await raw_http(gw, b"GET /services/ HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\n\r\n")
        assert status == 403 and headers["content-type"] == "application/json"
        ws, _ = await service(gw, "commands")  # no Origin: a service, unaffected
        await ws.close()
    assert sum("refused a request from origin 'http://evil.example'" in n.text for n in notices) == 2


async def test_allowed_origins_may_connect():
    async with MockGateway(allow_origins=("http://localhost:3000",)) as gw:
        async with connect(gw.url, origin="http://localhost:3000", proxy=None) as ws:
            assert (await recv(ws))["op"] == gw.proto.op("HELLO")
        with pytest.raises(InvalidStatus):
            await connect(gw.url, origin="http://localhost:3001", proxy=None)
