"""What a hostile gateway sends reaches `gwtool connect`/`send` output and the final error: line as
visible text, never as a terminal escape."""

from __future__ import annotations

import re

import pytest
from test_cli_client_commands import gwtool

HOSTILE = "\x1b]0;owned\x07\x1b]52;c;ZXZpbA==\x07\x9b31m\u202eevil\x7f"


def assert_safe(text: str) -> None:
    rest = re.sub(r"\x1b\[[0-9;]*m", "", text)
    assert "\x1b" not in rest and "\x07" not in rest, repr(rest)
    assert not re.search("[\x80-\x9f\u202a-\u202e\u2066-\u2069\x7f]", rest), repr(rest)


@pytest.mark.parametrize("json", [False, True])
async def test_a_hostile_close_reason_is_shown_as_text_on_stderr(capsys, fake_gateway, json):
    async def close_hostile(gw, link) -> None:
        await link.ws.close(4010, HOSTILE)

    async with fake_gateway(interval=10_000, after_identify=close_hostile) as gw:
        args = ["send", "EXECUTE_COMMAND", "--url", gw.url, "--verbose"] + (["--json"] if json else [])
        code, out, err = await gwtool(capsys, *args)
    assert code == 3
    assert "<U+202E>evil" in err
    assert_safe(err)
    if not json:
        assert_safe(out)


async def test_hostile_event_names_and_data_from_the_gateway_are_shown_as_text(capsys, fake_gateway):
    async def send_hostile(gw, link) -> None:
        await link.send({"op": 0, "t": HOSTILE, "d": {"x": HOSTILE}})

    async with fake_gateway(interval=10_000, after_identify=send_hostile) as gw:
        code, out, err = await gwtool(capsys, "connect", "--as", "commands", "--url", gw.url, "--count", "3", "--every")
    assert code == 0, err
    assert "<U+202E>evil" in out
    assert_safe(out)
    assert_safe(err)


@pytest.mark.parametrize("json", [False, True])
async def test_a_deeply_nested_payload_from_the_gateway_is_shown_not_fatal(capsys, fake_gateway, json):
    async def send_deep(gw, link) -> None:
        await link.ws.send('{"op":0,"t":"EXECUTE_COMMAND","d":{"x":' + "[" * 300 + "]" * 300 + "}}")

    async with fake_gateway(interval=10_000, after_identify=send_deep) as gw:
        args = ["connect", "--as", "commands", "--url", gw.url, "--count", "3"] + (["--json"] if json else [])
        code, out, err = await gwtool(capsys, *args)
    assert code == 0, err
    assert "nested deeper than 64 levels" in out and "Traceback" not in out + err


async def test_a_listener_that_raises_leaves_one_line_and_the_client_carries_on(fake_gateway, proto):
    from gwtool.client import GatewayClient

    seen = []

    def broken(item) -> None:
        raise RuntimeError("boom")

    async with fake_gateway(interval=50) as gw:
        async with GatewayClient(gw.url, service="commands", proto=proto) as client:
            client.subscribe(broken)
            client.subscribe(seen.append)
            await client.wait_identified(timeout=5)
            await client.round_trip(timeout=5)
            await client.round_trip(timeout=5)
    errors = [item for item in seen if getattr(item, "kind", None) == "error"]
    assert len(errors) == 1 and "RuntimeError: boom" in errors[0].text
    assert client.latency.count >= 2  # heartbeats went on


@pytest.mark.parametrize(
    "code, name", [(1007, "INVALID_DATA"), (1008, "POLICY_VIOLATION"), (1002, "PROTOCOL_ERROR"), (1013, "TRY_AGAIN_LATER")]
)
async def test_every_rfc_6455_close_code_is_named(capsys, fake_gateway, code, name):
    async with fake_gateway(interval=10_000, close_after_identify=[code]) as gw:
        _, out, err = await gwtool(capsys, "send", "EXECUTE_COMMAND", "--url", gw.url, "--verbose")
    assert f"{code} {name}" in " ".join((out + err).split())


@pytest.mark.parametrize(
    ("options", "step"),
    [
        ({"send_hello": False}, "no HELLO within 0.5 s of connecting"),
        ({"answer_identify": False}, "no IDENTIFIED within 0.5 s of IDENTIFY"),
    ],
)
async def test_connect_exits_2_naming_the_step_the_gateway_never_answered(capsys, fake_gateway, options, step):
    async with fake_gateway(interval=10_000, **options) as gw:
        code, out, err = await gwtool(capsys, "connect", "--url", gw.url, "--timeout", "0.5", "--duration", "20")
    assert code == 2, out + err
    assert step in " ".join(err.split()) and "Traceback" not in err


@pytest.mark.parametrize(
    ("options", "step"), [({"send_hello": False}, "sent no HELLO"), ({"answer_identify": False}, "sent no IDENTIFIED")]
)
async def test_send_names_the_step_the_gateway_never_answered(capsys, fake_gateway, options, step):
    async with fake_gateway(interval=10_000, **options) as gw:
        code, out, err = await gwtool(capsys, "send", "EXECUTE_COMMAND", "--url", gw.url, "--timeout", "0.5")
    assert code == 2
    assert step in " ".join(err.split()) and "did not answer IDENTIFY" not in err


async def test_zlib_data_in_a_text_frame_is_named_as_the_websocket_layers_close(capsys, fake_gateway):
    async def send_zlib_as_text(gw, link) -> None:
        import zlib

        await link.ws.send(zlib.compress(b'{"op":0,"t":"EXECUTE_COMMAND","d":{}}'), text=True)

    async with fake_gateway(interval=10_000, after_identify=send_zlib_as_text) as gw:
        code, out, err = await gwtool(capsys, "connect", "--as", "commands", "--url", gw.url, "--duration", "1")
    text = " ".join((out + err).split())
    assert "1007 INVALID_DATA" in text and "a text frame that is not valid UTF-8" in text
