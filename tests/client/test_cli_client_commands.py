"""`gwtool connect | send | cache` run as a user would: exit codes, messages, NDJSON, --set typing.

The CLI runs in a worker thread (its own event loop) while the gateway runs in the test's loop.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys

from gwtool.cli import main
from gwtool.client import GatewayClient
from gwtool.gateway import MockGateway


async def gwtool(capsys, *args: str) -> tuple[int, str, str]:
    """Run ``gwtool ARGS`` in a thread; (exit status, stdout, stderr)."""

    def run() -> int:
        try:
            main(list(args))
        except SystemExit as exit:
            return exit.code if isinstance(exit.code, int) else 1
        return 0

    async with asyncio.timeout(20):
        code = await asyncio.to_thread(run)
    out, err = capsys.readouterr()
    return code, out, err


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_send_reaches_a_connected_commands_service(capsys, proto):
    async with MockGateway(proto, heartbeat_interval=200) as gw:
        async with GatewayClient(gw.url, service="commands", proto=proto) as worker:
            await worker.wait_identified(timeout=5)
            waiting = asyncio.create_task(worker.wait_for_event("EXECUTE_COMMAND", timeout=10))
            code, out, err = await gwtool(
                capsys, "send", "EXECUTE_COMMAND", "--url", gw.url, "--set", "ids.shard=2", "--set", "command=kick"
            )
            event = await waiting
    assert code == 0, err
    assert event.payload["d"]["command"] == "kick" and event.payload["d"]["ids"]["shard"] == 2
    assert "EVENT EXECUTE_COMMAND" in out and "sent EXECUTE_COMMAND as sharder" in out


async def test_nothing_listening_exits_2_with_a_hint(capsys):
    url = f"ws://127.0.0.1:{closed_port()}"
    code, out, err = await gwtool(capsys, "send", "EXECUTE_COMMAND", "--url", url)
    assert code == 2
    assert f"error: could not connect to {url}: connection refused — is a gateway running?" in " ".join(err.split())
    assert "Traceback" not in err


async def test_invalid_data_exits_1_naming_each_path(capsys):
    code, out, err = await gwtool(
        capsys, "send", "EXECUTE_COMMAND", "--set", "ids.shard=x", "--set", "ids.author=1a", "--url", "ws://127.0.0.1:9"
    )
    assert code == 1
    text = " ".join(err.split())
    assert (
        "d.ids.author: expected snowflake id (string of digits), got '1a'" in text
        and "d.ids.shard: expected integer, got string" in text
    )
    assert len(err.strip().splitlines()) <= 3  # wrapped at 80 columns in tests, two lines in a terminal


async def test_unknown_event_and_cache_type_list_the_valid_ones(capsys):
    code, _, err = await gwtool(capsys, "send", "NOPE")
    assert code == 1 and "unknown event 'NOPE' (known: EXECUTE_COMMAND, IDENTIFIED)" in " ".join(err.split())
    code, _, err = await gwtool(capsys, "cache", "usr")
    assert code == 1 and "(known: member, role, user, guild, channel, voiceState)" in " ".join(err.split())
    code, _, err = await gwtool(capsys, "connect", "--as", "nobody")
    assert code == 1 and "unknown service type 'nobody' (known: sharder, commands)" in " ".join(err.split())


async def test_bad_token_exits_3_with_code_name_and_reason(capsys):
    async with MockGateway(token="secret") as gw:
        code, out, err = await gwtool(capsys, "connect", "--url", gw.url, "--token", "wrong")
    assert code == 3
    assert "error: closed by the gateway: 4004 AUTHENTICATION_FAILED" in " ".join(err.split())


async def test_forced_send_reports_the_gateway_refusal(capsys):
    async with MockGateway() as gw:
        code, out, err = await gwtool(capsys, "send", "EXECUTE_COMMAND", "--as", "commands", "--force", "--url", gw.url)
    assert code == 3 and "4007 EVENT_NOT_ALLOWED" in " ".join(err.split())


async def test_refused_without_force_before_connecting(capsys):
    code, _, err = await gwtool(capsys, "send", "EXECUTE_COMMAND", "--as", "commands", "--url", f"ws://127.0.0.1:{closed_port()}")
    assert code == 1 and "EXECUTE_COMMAND may not be sent by commands (from: sharder)" in err


async def test_connect_json_is_ndjson_with_the_payload_fields(capsys, proto):
    async with MockGateway(proto, heartbeat_interval=50) as gw:
        code, out, err = await gwtool(capsys, "connect", "--json", "--as", "commands", "--url", gw.url, "--count", "4")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    payloads = [line for line in lines if line["kind"] == "payload"]
    assert {"ts", "dir", "op", "t", "type", "size", "compressed", "d"} <= set(payloads[0])
    handshake = [
        (p["dir"], p["op"]) for p in payloads if p["op"] != proto.op("HEARTBEAT") and p["op"] != proto.op("HEARTBEAT_ACK")
    ]
    assert handshake[:3] == [("in", 3), ("out", 5), ("in", 2)]  # (a first heartbeat may come before IDENTIFIED)
    acks = [p for p in payloads if p["op"] == proto.op("HEARTBEAT_ACK")]
    assert acks and acks[0]["latency_ms"] > 0
    assert [line["kind"] for line in lines if line["kind"] != "payload"][:3] == ["connecting", "connected", "identified"]
    assert "latency" in err  # the summary goes to stderr, keeping stdout NDJSON


async def test_connect_duration_and_hidden_heartbeats(capsys):
    async with MockGateway(heartbeat_interval=50) as gw:
        code, out, err = await gwtool(
            capsys, "connect", "--as", "commands", "--url", gw.url, "--duration", "0.4", "--no-heartbeat-lines"
        )
    assert code == 0, err
    assert "EVENT IDENTIFIED" in out and "HEARTBEAT" not in out and "closed by gwtool: 1000" in out


async def test_send_repeat_and_wait_for_a_reply(capsys, fake_gateway):
    async with fake_gateway(interval=10_000, echo_events=True) as gw:
        code, out, err = await gwtool(
            capsys,
            "send",
            "EXECUTE_COMMAND",
            "--url",
            gw.url,
            "--repeat",
            "3",
            "--rate",
            "200",
            "--wait-for",
            "EXECUTE_COMMAND",
            "--as",
            "commands",  # a type that receives what it waits for (the gateway echoes it)
            "--force",
            "--json",
        )
    assert code == 0, err
    assert len(gw.payloads("EVENT")) == 3
    lines = [json.loads(line) for line in out.splitlines()]
    # in wire order: the three sent, and the first echo (the reply) wherever it arrived
    assert sorted(line["dir"] for line in lines) == ["in", "out", "out", "out"] and lines[0]["dir"] == "out"
    assert "sent 3× EXECUTE_COMMAND as commands" in err


async def test_cache_sends_the_example_and_the_gateway_stores_it(capsys, proto):
    async with MockGateway(proto) as gw:
        code, out, err = await gwtool(capsys, "cache", "user", "--url", gw.url, "--set", "username=someone")
        stored = gw.cache.get("user", proto.cache_types["user"].example["id"])
    assert code == 0, err
    assert stored is not None and stored["username"] == "someone"


async def test_data_from_stdin_and_file(capsys, fake_gateway, tmp_path, monkeypatch, proto):
    import io

    example = proto.events["EXECUTE_COMMAND"].example
    path = tmp_path / "data.json"
    path.write_text(json.dumps({**example, "command": "from-file"}))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps({**example, "command": "from-stdin"}).encode())))
    async with fake_gateway(interval=10_000) as gw:
        assert (await gwtool(capsys, "send", "EXECUTE_COMMAND", "--url", gw.url, "--data", f"@{path}"))[0] == 0
        assert (await gwtool(capsys, "send", "EXECUTE_COMMAND", "--url", gw.url, "--data", "-"))[0] == 0
    assert [p["d"]["command"] for p in gw.payloads("EVENT")] == ["from-file", "from-stdin"]


def test_exit_status_of_the_real_command():
    """The installed entry point: a process exit status, not just a return value."""
    done = subprocess.run(
        [sys.executable, "-m", "gwtool", "send", "EXECUTE_COMMAND", "--url", f"ws://127.0.0.1:{closed_port()}"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2 and "connection refused" in done.stderr and "Traceback" not in done.stderr


async def test_connect_stops_quietly_when_stdout_goes_away(proto):
    """`gwtool connect --json | head -1`: no traceback, exit 0, and it stops (not after --duration)."""
    async with MockGateway(proto, heartbeat_interval=50) as gw:
        pipeline = f"set -o pipefail; {sys.executable} -m gwtool connect --json --url {gw.url} --duration 60 | head -1"
        process = await asyncio.create_subprocess_exec(
            "bash", "-c", pipeline, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        async with asyncio.timeout(20):
            out, err = await process.communicate()
    assert json.loads(out)["kind"] == "connecting"
    assert process.returncode == 0 and b"Traceback" not in err, err


async def test_close_in_the_middle_of_a_repeat_names_the_close(capsys):
    async with MockGateway(rate_limit=(5, 1.0)) as gw:
        code, out, err = await gwtool(capsys, "send", "EXECUTE_COMMAND", "--url", gw.url, "--repeat", "20")
    assert code == 3 and "4008 RATE_LIMITED" in " ".join(err.split())


async def test_connect_log_keeps_what_the_screen_hides(capsys, tmp_path, proto):
    log = tmp_path / "wire.ndjson"
    async with MockGateway(proto, heartbeat_interval=50) as gw:
        code, out, err = await gwtool(
            capsys, "connect", "--as", "commands", "--url", gw.url, "--duration", "0.3", "--no-heartbeat-lines", "--log", str(log)
        )
    assert code == 0, err
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(line.get("op") == proto.op("HEARTBEAT") for line in lines) and "HEARTBEAT" not in out
    assert lines[0]["kind"] == "header" and lines[1]["kind"] == "connecting" and lines[-1]["kind"] == "closed"
