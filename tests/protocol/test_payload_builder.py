"""One builder for example data: a --protocol event with nested fields and no example gets valid
data everywhere (the composer's template, `gwtool send`'s default)."""

from __future__ import annotations

import asyncio

from gwtool.cli import main
from gwtool.client import GatewayClient
from gwtool.gateway import MockGateway
from gwtool.protocol.definition import load_protocol
from gwtool.protocol.validate import validate_payload
from gwtool.tui.widgets.compose import templates

NESTED = """
[events.NESTED]
name = "Nested"
from = ["sharder"]
to = ["commands"]
routing = "round_robin"
doc = "an event with nested fields and no example"

[events.NESTED.fields]
ids = { type = "object", doc = "ids" }
"ids.shard" = { type = "integer", doc = "a shard" }
who = { type = "user", doc = "a user" }
"""


def nested_protocol(tmp_path):
    path = tmp_path / "nested.toml"
    path.write_text(NESTED)
    return path, load_protocol(path, use_env=False)


def test_the_composers_template_for_a_nested_event_validates(tmp_path):
    _, proto = nested_protocol(tmp_path)
    (template,) = [t for t in templates(proto, "sharder") if t.key == "event:NESTED"]
    assert validate_payload(proto, template.payload, sender="service", service="sharder") == []
    assert isinstance(template.payload["d"]["ids"]["shard"], int) and template.payload["d"]["who"]["id"]


async def test_send_of_a_nested_event_sends_valid_data(tmp_path, capsys):
    path, proto = nested_protocol(tmp_path)
    async with MockGateway(proto) as gw:
        async with GatewayClient(gw.url, service="commands", proto=proto) as worker:
            await worker.wait_identified(timeout=5)
            waiting = asyncio.create_task(worker.wait_for_event("NESTED", timeout=10))

            def run() -> int:
                try:
                    main(["send", "NESTED", "--url", gw.url, "--protocol", str(path)])
                except SystemExit as exit:
                    return exit.code if isinstance(exit.code, int) else 1
                return 0

            code = await asyncio.to_thread(run)
            got = await waiting
    assert code == 0, capsys.readouterr().err
    assert validate_payload(proto, got.payload, sender="service", service="sharder") == []
