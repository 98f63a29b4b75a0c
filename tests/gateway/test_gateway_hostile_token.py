"""The token is masked in every record (console, --log, dashboard) unless --show-token."""

from __future__ import annotations

import io

from gateway_testkit import service
from test_console_output import Captured

from gwtool.client import GatewayClient
from gwtool.gateway import MockGateway
from gwtool.output import WireOutput
from gwtool.records import mask_token

SECRET = "s3cret-token-value"


def test_the_mask_keeps_a_prefix_and_the_length_only():
    assert mask_token(SECRET) == f"s3c… ({len(SECRET)} chars)"
    assert mask_token("short") == "… (5 chars)" and mask_token("") == ""


async def test_the_gateway_and_the_client_mask_the_token_unless_asked():
    for show in (False, True):
        captured, log = Captured(), io.BytesIO()
        async with MockGateway(token=SECRET, show_token=show) as gw:
            output = WireOutput(gw.proto, stdout=captured, terminal=False, log=log, show_conn=True)
            gw.subscribe(output)
            seen = []
            async with GatewayClient(gw.url, service="commands", token=SECRET, proto=gw.proto, show_token=show) as client:
                client.subscribe(seen.append)
                await client.wait_identified(timeout=5)
            await output.aclose()
        shown = captured.text() + log.getvalue().decode() + repr([getattr(item, "payload", None) for item in seen])
        assert (SECRET in shown) is show
        if not show:
            assert mask_token(SECRET) in shown


async def test_a_masked_record_does_not_change_what_is_sent():
    async with MockGateway(token=SECRET) as gw:
        ws, d = await service(gw, "commands", token=SECRET)  # the real token went: identified
        assert d == {}
