"""Records and notices, bounded shutdown, and the ``gwtool mock-gateway`` command."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys

import orjson
import pytest
from gateway_testkit import PROTO, closed_with, event, heartbeat, hello, op, open_ws, recv, send, service, until

from gwtool.gateway import ListenFailed, MockGateway
from gwtool.records import Notice, Record


async def test_records_are_from_the_gateways_point_of_view():
    async with MockGateway(PROTO, port=0) as gw:
        items: list = []
        gw.subscribe(items.append)
        commands, _ = await service(gw, "commands")
        sharder, _ = await service(gw, "sharder")
        await send(sharder, event())
        await recv(commands)
        records = [i for i in items if isinstance(i, Record)]
        incoming = [(r.service, r.op) for r in records if r.direction == "in"]
        outgoing = [(r.service, r.op, r.t) for r in records if r.direction == "out"]
        assert (None, op("IDENTIFY")) in incoming and ("sharder", op("EVENT")) in incoming
        (relayed,) = [r for r in records if r.t == "EXECUTE_COMMAND"]  # one record: the read and where it went
        assert relayed.direction == "in" and [(f.service, f.conn > 0) for f in relayed.forwards] == [("commands", True)]
        assert ("sharder", op("EVENT"), "IDENTIFIED") in outgoing
        assert all(r.size > 0 and r.conn > 0 for r in records)
        await commands.close()
        await until(lambda: any(isinstance(i, Notice) and i.kind == "closed" for i in items))
        notices = {i.kind: i for i in items if isinstance(i, Notice)}
        assert notices["connected"].text.startswith("connected from 127.0.0.1:")
        assert notices["identified"].data["shards"] in ([], [0, 1, 2])
        assert notices["closed"].data["code"] == 1000 and notices["closed"].data["by"] == "service"


async def test_an_undecodable_frame_is_recorded_with_its_error_and_a_preview():
    async with MockGateway(PROTO, port=0) as gw:
        items: list = []
        gw.subscribe(items.append)
        ws = await hello(gw)
        await ws.send("{oops")
        await closed_with(ws)
        await until(lambda: any(isinstance(i, Notice) and i.kind == "closed" for i in items))
        bad = next(i for i in items if isinstance(i, Record) and i.direction == "in")
        assert bad.payload is None and bad.raw == "{oops" and bad.error.startswith("not JSON")
        closed = next(i for i in items if isinstance(i, Notice) and i.kind == "closed")
        assert closed.data["name"] == "DECODE_ERROR" and "DECODE_ERROR" in closed.text


async def test_unsubscribe_stops_the_records():
    async with MockGateway(PROTO, port=0) as gw:
        items: list = []
        unsubscribe = gw.subscribe(items.append)
        ws = await hello(gw)
        unsubscribe()
        seen = len(items)
        await send(ws, heartbeat())
        await recv(ws)
        assert len(items) == seen > 0


async def test_stop_closes_every_connection_with_1001():
    gw = MockGateway(PROTO, port=0)
    await gw.start()
    first, _ = await service(gw, "sharder")
    second = await open_ws(gw)
    await gw.stop()
    for ws in (first, second):
        with pytest.raises(Exception) as info:
            async with asyncio.timeout(3):
                while True:
                    await ws.recv()
        assert info.value.rcvd.code == 1001


async def test_stop_is_bounded_while_a_service_floods_and_does_not_read():
    gw = MockGateway(PROTO, port=0)
    await gw.start()
    ws, _ = await service(gw, "commands")
    beat = orjson.dumps(heartbeat()).decode() * 1  # acknowledged each time, never read back

    async def flood() -> None:
        try:
            while True:
                await ws.send(beat)
        except Exception:
            pass

    flooder = asyncio.create_task(flood())
    await asyncio.sleep(0.3)
    async with asyncio.timeout(5):  # a failure bound, not a speed check: stop() aims at ~2 s
        await gw.stop()
    flooder.cancel()
    assert gw.connections == []


async def test_a_port_in_use_is_a_clear_error():
    async with MockGateway(PROTO, port=0) as gw:
        with pytest.raises(ListenFailed, match="address already in use") as info:
            await MockGateway(PROTO, port=gw.port).start()
        assert info.value.exit_code == 2


# --- the command ---------------------------------------------------------------------------------


def start_cli(*args: str) -> subprocess.Popen:
    env = {**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
    env.pop("GWTOOL_TOKEN", None)
    return subprocess.Popen(
        [sys.executable, "-m", "gwtool", "mock-gateway", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip


def read_url(stream) -> str:  # noqa: ANN001
    for _ in range(20):
        line = stream.readline()
        if match := re.search(r"ws://127\.0\.0\.1:\d+", line):
            return match.group(0)
    raise AssertionError("no start-up line with the URL")


async def drive(url: str) -> None:
    """HELLO, identify, heartbeat, then a bad event: what a developer does by hand."""
    from websockets.asyncio.client import connect

    async with connect(url, compression=None, proxy=None) as ws:
        await recv(ws)
        await send(ws, {"op": op("IDENTIFY"), "d": {"type": "sharder", "token": "anything"}})
        await recv(ws)
        await send(ws, heartbeat(guilds=3))
        await recv(ws)
        await send(ws, event(d={"command": "ban"}))
        await closed_with(ws)


def stop_cli(proc: subprocess.Popen) -> tuple[str, str]:
    """Ctrl-C, then the rest of the output (read through the same buffered streams as read_url)."""
    proc.send_signal(signal.SIGINT)
    out, err = proc.stdout.read(), proc.stderr.read()
    assert proc.wait(timeout=10) == 0, err
    return out, err


def test_the_command_prints_a_readable_console_and_exits_0_on_ctrl_c():
    proc = start_cli()
    try:
        url = read_url(proc.stdout)
        asyncio.run(drive(url))
    finally:
        out, err = stop_cli(proc)
    assert "Traceback" not in out + err
    assert "any token is accepted" in out
    assert re.search(r"identified as sharder with shards \[0, 1, 2\] of 3", out)
    assert re.search(r"← #1 sharder\s+HEARTBEAT", out)
    assert re.search(r"→ #1 sharder\s+HEARTBEAT_ACK", out)
    assert "closed 4010 INVALID_PAYLOAD: d.raw: missing (required string)" in out


def test_the_command_prints_ndjson_with_json_and_appends_to_the_log(tmp_path):
    log = tmp_path / "gw.ndjson"
    proc = start_cli("--json", "--log", str(log))
    try:
        url = read_url(proc.stderr)  # --json keeps stdout pure NDJSON
        asyncio.run(drive(url))
    finally:
        out, _ = stop_cli(proc)
    lines = [orjson.loads(line) for line in out.splitlines()]
    payloads = [r for r in lines if r["kind"] == "payload"]
    assert {(r["dir"], r["op"]) for r in payloads} >= {("in", op("IDENTIFY")), ("out", op("HEARTBEAT_ACK"))}
    assert any(r["kind"] == "closed" and r["code"] == 4010 for r in lines)
    logged = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    assert logged[0]["kind"] == "header" and logged[0]["side"] == "gateway" and logged[0]["url"] == url
    assert logged[1:] == lines


def test_a_port_in_use_exits_2_without_a_traceback():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "gwtool", "mock-gateway", "--port", str(port)],
            capture_output=True, text=True, timeout=20,
        )  # fmt: skip
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}: address already in use" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_bad_rate_limit_is_invalid_input():
    result = subprocess.run(
        [sys.executable, "-m", "gwtool", "mock-gateway", "--rate-limit", "lots"], capture_output=True, text=True, timeout=20
    )
    assert result.returncode == 1
    assert "N/SECONDS" in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("argv", "first_line"),
    [
        (["mock-gateway", "--hold-bytes", "-1"], "error: --hold-bytes: must be ≥ 0, got -1"),
        (["mock-gateway", "--max-size", "-3000000"], "error: --max-size: must be ≥ 1, got -3000000"),
        (["mock-gateway", "--identify-timeout", "0"], "error: --identify-timeout: must be ≥ 0.001, got 0"),
        (["mock-gateway", "--rate-limit", "0/5"], "error: --rate-limit: expected at least 1 payload in more than 0 s, got 0/5"),
        (["mock-gateway", "--ack", "sometimes"], "error: --ack: expected always, without-d or never, got 'sometimes'"),
        (["tui", "--port", "70000"], "error: --port: expected a port 0…65535 (0 = any free one), got 70000"),
    ],
)
def test_the_gateway_settings_refuse_a_flag_by_its_name(capsys, argv, first_line):  # noqa: ANN001
    """The command hands its flags to GatewaySettings, which the embedded gateways use too: one
    check, and its error names the flag."""
    from gwtool.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and err.splitlines()[0] == first_line, err


def test_the_command_requests_heartbeats_when_asked():
    async def first_request(url: str) -> dict:
        from websockets.asyncio.client import connect

        async with connect(url, compression=None, proxy=None) as ws:
            await recv(ws)  # HELLO
            return await recv(ws)

    proc = start_cli("--json", "--request-heartbeats", "0.05")
    try:
        url = read_url(proc.stderr)
        assert asyncio.run(first_request(url)) == {"op": op("HEARTBEAT"), "d": {}}
    finally:
        stop_cli(proc)


async def test_a_final_close_tells_the_service_not_to_reconnect():
    async with MockGateway(PROTO, port=0, token="right") as gw:
        items: list = []
        gw.subscribe(items.append)
        ws = await hello(gw)
        await send(ws, {"op": op("IDENTIFY"), "d": {"type": "sharder", "token": "wrong"}})
        await closed_with(ws)
        await until(lambda: any(isinstance(i, Notice) and i.kind == "closed" for i in items))
        closed = next(i for i in items if isinstance(i, Notice) and i.kind == "closed")
        assert closed.data["reconnect"] is False
        assert closed.text.endswith("(by the gateway; the service should not reconnect)")
