"""``gwtool proxy`` as a user runs it: the console's lines, the verdict at exit and its status, a
``--log`` that replay, validate and the dashboard read, and the errors a user meets first."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from proxy_testkit import EVENT_DATA, PROTO, closed_with, event, recv, send, service

from gwtool.gateway import MockGateway

TIMEOUT = 20
STARTED: list[asyncio.subprocess.Process] = []


@pytest.fixture(autouse=True)
def no_proxy_left_behind():
    """A test that fails midway still ends the proxies it started."""
    yield
    while STARTED:
        proc = STARTED.pop()
        if proc.returncode is None:
            try:
                proc.kill()
            except ProcessLookupError:
                pass


async def start_proxy(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    """Start ``gwtool proxy ARGS``; its URL from its start-up line (on stderr with --json)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gwtool", "proxy", "--port", "0", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    STARTED.append(proc)
    stream = proc.stderr if "--json" in args else proc.stdout
    async with asyncio.timeout(TIMEOUT):
        while True:
            line = (await stream.readline()).decode()
            assert line, "no start-up line"
            if match := re.search(r"proxy listening on (ws://127\.0\.0\.1:\d+)", line):
                proc.early = line  # type: ignore[attr-defined]
                return proc, match.group(1)


async def stop_proxy(proc: asyncio.subprocess.Process) -> tuple[str, str, int]:
    proc.send_signal(signal.SIGINT)
    async with asyncio.timeout(TIMEOUT):
        out, err = await proc.communicate()
    return out.decode(), err.decode(), proc.returncode


async def test_a_session_prints_each_payload_each_violation_and_the_verdict(tmp_path: Path):
    log = tmp_path / "wire.ndjson"
    async with MockGateway(PROTO) as gw:
        proc, url = await start_proxy("--upstream", gw.url, "--log", str(log))
        receiver, _ = await service(url, "commands")
        sender, _ = await service(url, "sharder")
        await send(sender, event())
        assert (await recv(receiver))["t"] == "EXECUTE_COMMAND"
        await send(sender, event(d={**EVENT_DATA, "ids": {**EVENT_DATA["ids"], "shard": "one"}}))
        assert (await closed_with(sender))[0] == 4010
        await receiver.close()
        out, err, status = await stop_proxy(proc)
    assert status == 1, err  # a violation was seen
    assert re.search(r"← #2 sharder\s+EVENT EXECUTE_COMMAND\s+\d+ B  \{\"op\":2", out), out
    assert re.search(r"→ #1 commands\s+EVENT EXECUTE_COMMAND", out), out
    assert "#2 sharder → gateway: EXECUTE_COMMAND d.ids.shard: expected integer, got string (4010 INVALID_PAYLOAD)" in out
    assert (
        "closed 4010 INVALID_PAYLOAD: d.ids.shard: expected integer, got string (by the gateway; passed on to the service)" in out
    )
    verdict = out.strip().splitlines()[-1]
    assert verdict == "verdict: services sent 4 payloads (1 violation), the gateway 5 (0 violations) over 2 connections"

    lines = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    assert lines[0]["kind"] == "header" and lines[0]["command"] == "proxy" and lines[0]["upstream"] == gw.url
    payloads = [line for line in lines if line["kind"] == "payload"]
    assert {line["from"] for line in payloads} == {"service", "gateway"}
    assert all(line["dir"] == ("in" if line["from"] == "service" else "out") for line in payloads)
    (violation,) = [line for line in lines if line["kind"] == "violation"]
    assert violation["by"] == "service" and violation["conn"] == 2 and violation["path"] == "d.ids.shard"

    replay = run("replay", str(log), "--conn", "2", "--dry-run", "--no-validate")
    assert replay.returncode == 0 and "as sharder" in replay.stdout and replay.stdout.count("EXECUTE_COMMAND") >= 2, replay
    validate = run("validate", str(log))
    assert validate.returncode == 1 and "d.ids.shard: expected integer, got string" in validate.stdout + validate.stderr


async def test_a_proxy_recording_opens_in_the_dashboards_reader(tmp_path: Path):
    from gwtool.tui.recording_source import RecordingSource

    log = tmp_path / "wire.ndjson"
    async with MockGateway(PROTO) as gw:
        proc, url = await start_proxy("--upstream", gw.url, "--log", str(log), "-q")
        ws, _ = await service(url, "sharder")
        await send(ws, event())
        await ws.close()
        _, err, status = await stop_proxy(proc)
    assert status == 0, err
    source = RecordingSource(PROTO, log, keep=1000)
    shown = []
    await asyncio.wait_for(source.run(lambda side, item: shown.append(item)), TIMEOUT)
    assert any(getattr(item, "t", None) == "EXECUTE_COMMAND" for item in shown)
    assert source.counts == (2, 2)  # IDENTIFY and the event in (from the service); HELLO and IDENTIFIED out


def test_an_upstream_that_is_not_a_websocket_url_is_a_usage_error():
    result = run("proxy", "--upstream", "http://127.0.0.1:8765")
    assert result.returncode == 1
    assert result.stderr.startswith(
        "error: --upstream: expected a ws:// or wss:// URL, got 'http://127.0.0.1:8765' — did you mean ws://127.0.0.1:8765?"
    )


def test_a_port_in_use_exits_2():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        result = run("proxy", "--upstream", "ws://127.0.0.1:1", "--port", str(sock.getsockname()[1]))
    assert result.returncode == 2 and "address already in use" in result.stderr


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gwtool", *args], capture_output=True, text=True, timeout=TIMEOUT)


async def test_faults_and_the_control_api_from_the_command_line():
    import json

    async with MockGateway(PROTO) as gw:
        proc, url = await start_proxy(
            "--upstream", gw.url, "--fault", "drop op:HEARTBEAT_ACK service:sharder", "--control", "0", "--json"
        )
        ws, _ = await service(url, "sharder")
        await send(ws, {"op": PROTO.op("HEARTBEAT"), "d": {"heapUsed": 1, "guilds": 1}})
        seen = b""
        async with asyncio.timeout(TIMEOUT):
            while b'"injected"' not in seen:  # the ACK came and was dropped
                seen += await proc.stdout.readline()
        await ws.close()
        out, err, status = await stop_proxy(proc)
        out = seen.decode() + out
    assert status == 0, err
    err = proc.early + err
    assert "fault rule 1: drop op:HEARTBEAT_ACK service:sharder" in err  # --json: gwtool's own lines on stderr
    assert re.search(r"control API on http://127\.0\.0\.1:\d+/rules", err)
    injected = [json.loads(line) for line in out.splitlines() if '"injected"' in line]
    assert [(i["conn"], i["rule"], i["text"]) for i in injected] == [
        (1, "drop op:HEARTBEAT_ACK service:sharder", "dropped HEARTBEAT_ACK → #1 sharder")
    ]


def test_a_fault_rule_that_cannot_work_is_a_usage_error():
    result = run("proxy", "--upstream", "ws://127.0.0.1:1", "--fault", "delay soon")
    assert result.returncode == 1
    assert result.stderr.startswith("error: --fault: 'delay soon': delay: 'soon' is not a number (MS)")


def test_a_terminal_shows_at_most_twenty_injected_notices_a_second_and_everything_else():
    from gwtool.cli.proxy_cmd import INJECTED_LINES, _fewer_injected
    from gwtool.records import Notice

    hide = _fewer_injected(None)
    shown = [not hide(Notice("injected", "dropped HEARTBEAT_ACK → #1 sharder")) for _ in range(INJECTED_LINES + 5)]
    assert shown.count(True) == INJECTED_LINES == 20
    assert not hide(Notice("violation", "gateway → #1 sharder: …"))  # violations always print
