"""``--filter TERMS`` on the console of ``gwtool mock-gateway`` and ``gwtool connect``: the dashboard's
filter language (gwtool/filters.py) for what is printed; notices always print; ``--log`` keeps all."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys

import orjson
import pytest

from gwtool.cli import main
from gwtool.client import GatewayClient
from gwtool.gateway import MockGateway
from gwtool.protocol.definition import load_protocol

PROTO = load_protocol(use_env=False)
HEARTBEATS = {PROTO.op("HEARTBEAT"), PROTO.op("HEARTBEAT_ACK")}


async def gwtool(capsys, *args: str) -> tuple[int, str, str]:  # noqa: ANN001
    """Run ``gwtool ARGS`` in a thread (its own event loop); (exit status, stdout, stderr)."""

    def run() -> int:
        try:
            main(list(args))
        except SystemExit as exit:
            return exit.code if isinstance(exit.code, int) else 1
        return 0

    async with asyncio.timeout(30):
        code = await asyncio.to_thread(run)
    out, err = capsys.readouterr()
    return code, out, err


def records(text: str | bytes) -> list[dict]:
    return [orjson.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("command", [["mock-gateway", "--port", "0"], ["connect", "--url", "ws://127.0.0.1:9"]])
@pytest.mark.parametrize(
    ("terms", "said"),
    [
        ("conn:3 t:EXECUTE_COMMAND conn:first", "conn:first is not a connection number (e.g. conn:3)"),
        ("op:HEARTBAET", "op:HEARTBAET matches no op of the protocol"),
        ("-t:EXECUTE_COMAND", "-t:EXECUTE_COMAND matches no event or cache type of the protocol"),
        ("dir:", "dir: needs a value (e.g. dir:in)"),
    ],
)
async def test_a_term_that_cannot_match_is_a_usage_error_naming_it(capsys, command, terms, said):
    code, _, err = await gwtool(capsys, *command, "--filter", terms)
    assert code == 1 and f"--filter: {said}" in " ".join(err.split()), err
    assert "Traceback" not in err


async def test_a_side_term_for_the_side_a_command_does_not_print_says_so(capsys):
    code, _, err = await gwtool(capsys, "connect", "--url", "ws://127.0.0.1:9", "--filter", "side:gw")
    assert code == 1 and "side:gw matches nothing here: only our client's side is shown" in " ".join(err.split())


async def test_connect_prints_what_the_filter_matches_and_every_notice_and_logs_everything(capsys, tmp_path):
    log = tmp_path / "connect.ndjson"
    async with MockGateway(PROTO, heartbeat_interval=100) as gw:
        connect = asyncio.create_task(
            gwtool(capsys, "connect", "--url", gw.url, "--as", "commands", "--json", "--log", str(log),
                   "--filter", "t:EXECUTE_COMMAND", "--count", "1")
        )  # fmt: skip
        async with GatewayClient(gw.url, service="sharder", proto=PROTO) as sharder:
            await sharder.wait_identified(timeout=10)
            while not connect.done():  # until the commands worker is there to receive one
                await sharder.send_event("EXECUTE_COMMAND", PROTO.events["EXECUTE_COMMAND"].example)
                await asyncio.wait({connect}, timeout=0.2)
        code, out, err = await connect
    assert code == 0, err
    printed = records(out)
    payloads = [r for r in printed if r["kind"] == "payload"]
    assert payloads and {r["t"] for r in payloads} == {"EXECUTE_COMMAND"}
    assert {"connecting", "connected", "identified"} <= {r["kind"] for r in printed}  # notices are never filtered
    logged = records(log.read_bytes())
    assert {r.get("op") for r in logged} >= {PROTO.op("HELLO"), PROTO.op("IDENTIFY")}  # --log keeps everything


def test_mock_gateway_prints_one_connection_without_heartbeats_and_logs_everything(tmp_path):
    log = tmp_path / "gw.ndjson"
    env = {k: v for k, v in os.environ.items() if k != "GWTOOL_TOKEN"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gwtool", "mock-gateway", "--port", "0", "--heartbeat-interval", "100", "--json",
         "--log", str(log), "--filter", "conn:2 -op:heartbeat"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    assert proc.stderr is not None and proc.stdout is not None
    try:
        url = next(m.group(0).decode() for line in proc.stderr if (m := re.search(rb"ws://127\.0\.0\.1:\d+", line)))

        async def services() -> None:
            async with GatewayClient(url, service="commands", proto=PROTO) as commands:  # connection 1
                await commands.wait_identified(timeout=10)
                async with GatewayClient(url, service="sharder", proto=PROTO) as sharder:  # connection 2
                    await sharder.wait_identified(timeout=10)
                    await sharder.send_event("EXECUTE_COMMAND", PROTO.events["EXECUTE_COMMAND"].example)
                    await commands.wait_for_event("EXECUTE_COMMAND", timeout=10)
                    while commands.latency.count < 2 or sharder.latency.count < 2:  # heartbeats both ways
                        await asyncio.sleep(0.05)

        asyncio.run(services())
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.stdout.read()
        assert proc.wait(timeout=30) == 0
    printed = records(out)
    payloads = [r for r in printed if r["kind"] == "payload"]
    assert payloads and {r["conn"] for r in payloads} == {2}
    assert not HEARTBEATS & {r["op"] for r in payloads}
    assert "EXECUTE_COMMAND" in {r["t"] for r in payloads}
    assert any(r["kind"] == "identified" and r["conn"] == 1 for r in printed)  # notices of every connection
    logged = [r for r in records(log.read_bytes()) if r["kind"] == "payload"]
    assert {r["conn"] for r in logged} == {1, 2} and HEARTBEATS <= {r["op"] for r in logged}
