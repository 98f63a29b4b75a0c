"""`gwtool bench` and the load generator core: counts, zero loss and output shape (no timings)."""

from __future__ import annotations

import asyncio
import os
import sys

import orjson
import pytest
from typer.testing import CliRunner

from gwtool.bench import MARK, Bench, BenchConfig, Roles
from gwtool.cli import app
from gwtool.errors import ClosedByGateway, ConnectFailed, GwtoolError
from gwtool.gateway import MockGateway
from gwtool.protocol.definition import load_protocol

PROTO = load_protocol()


def test_bench_command_against_the_embedded_gateway_loses_nothing() -> None:
    result = CliRunner().invoke(
        app, ["bench", "--duration", "0.5", "--rate", "400", "--sharders", "2", "--commands", "3", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = orjson.loads(result.output)
    assert out["senders"] == 2 and out["receivers"] == 3
    assert out["sent"] > 0
    assert out["received"] == out["sent"]
    assert out["lost"] == 0 and out["duplicates"] == 0
    assert out["latency_ms"]["count"] == out["sent"]
    assert out["closes"] == []


def test_bench_command_prints_a_final_table() -> None:
    result = CliRunner().invoke(app, ["bench", "--duration", "0.3", "--rate", "200"])
    assert result.exit_code == 0, result.output
    for row in ("sent", "received", "lost", "latency p50 / p99 / max"):
        assert row in result.output


async def test_saturation_run_delivers_every_event_once() -> None:
    async with MockGateway(PROTO) as gw:
        config = BenchConfig(url=gw.url, senders=2, receivers=2, rate=0, duration=0.3, window=16)
        result = await Bench(config, PROTO).run()
    assert result.sent > 0
    assert (result.received, result.lost, result.duplicates) == (result.sent, 0, 0)
    assert not result.closes


async def test_every_receiver_gets_its_turn() -> None:
    records: list = []
    async with MockGateway(PROTO) as gw:
        gw.subscribe(records.append)  # a relayed event's record names where it went (read after the run)
        result = await Bench(BenchConfig(url=gw.url, senders=1, receivers=3, rate=300, duration=0.3), PROTO).run()
    counts: dict[int, int] = {}
    for item in records:
        if getattr(item, "t", None) == Roles(PROTO).event.t:
            for forward in item.forwards or ():
                counts[forward.conn] = counts.get(forward.conn, 0) + 1
    assert len(counts) == 3
    assert sum(counts.values()) == result.sent


async def test_heartbeats_are_acked_at_the_gateway_interval() -> None:
    async with MockGateway(PROTO, heartbeat_interval=100) as gw:
        config = BenchConfig(url=gw.url, senders=0, receivers=0, idle=4, duration=0.5)
        result = await Bench(config, PROTO).run()
    assert result.ack_ms["count"] >= 4
    assert not result.closes


@pytest.mark.parametrize("mark", [[0, 0, "late"], [-1, 0, 1], [0, -1, 1], [True, 0, 1], [0, 0, 1.5]])
async def test_a_bench_field_not_written_by_a_sender_is_foreign(mark: list[object]) -> None:
    """Events come from the wire: a field of the right name but not [sender, seq, ns] as our
    senders write it is counted apart, never taken for one of ours nor allowed to stop a reader."""
    bench = Bench(BenchConfig(url="ws://127.0.0.1:9", senders=2, receivers=1), PROTO)
    for seen in bench._seen:  # both senders have sent seq 0..3 (as _send_loop makes room)
        seen.extend(bytes(4))
    bench._count({MARK: mark})
    assert (bench.stats.foreign, bench.stats.received, bench.stats.latencies_ms) == (1, 0, [])


def test_events_carry_the_bench_field_and_pass_validation() -> None:
    from gwtool.protocol.validate import validate_payload

    prefix, suffix = Roles(PROTO).frame_parts(PROTO)
    payload = orjson.loads(prefix + b"1,2,3" + suffix)
    assert payload["d"][MARK] == [1, 2, 3]
    assert validate_payload(PROTO, payload, service=Roles(PROTO).sender) == []


async def test_a_refused_token_is_a_close_by_the_gateway() -> None:
    async with MockGateway(PROTO, token="secret") as gw:
        with pytest.raises(ClosedByGateway) as info:
            await Bench(BenchConfig(url=gw.url, senders=1, receivers=1, duration=0.2), PROTO).run()
    assert info.value.code == PROTO.close("AUTHENTICATION_FAILED").code


def test_nothing_listening_exits_2() -> None:
    result = CliRunner().invoke(app, ["bench", "--url", "ws://127.0.0.1:9", "--duration", "0.2"])
    assert isinstance(result.exception, ConnectFailed)
    assert result.exception.exit_code == 2


async def test_a_peer_that_never_says_hello_is_named_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    from websockets.asyncio.server import serve

    import gwtool.bench

    monkeypatch.setattr(gwtool.bench, "IDENTIFY_SECONDS", 0.2)
    async with serve(lambda ws: ws.wait_closed(), "127.0.0.1", 0) as server:  # accepts, says nothing
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        with pytest.raises(GwtoolError) as info:
            await Bench(BenchConfig(url=url, senders=1, receivers=1, duration=0.2), PROTO).run()
    assert str(info.value) == f"{url}: no HELLO within 0.2 s — is it a gateway of this protocol?"


async def test_a_gateway_that_closes_the_receivers_does_not_hang_the_run() -> None:
    async with MockGateway(PROTO) as gw:
        config = BenchConfig(url=gw.url, senders=1, receivers=1, rate=0, duration=0.5, window=4, drain_timeout=0.3)
        bench = Bench(config, PROTO)
        run = asyncio.create_task(bench.run())
        while not bench.stats.sent:
            await asyncio.sleep(0.01)
        for conn in gw.connections:  # the gateway sends the receiver away mid-run
            if conn.service == Roles(PROTO).receiver:
                await gw._conns[conn.conn].ws.close(4000, "test")  # noqa: SLF001
        async with asyncio.timeout(10):
            result = await run
    assert result.closes and result.closes[0][1] == 4000
    assert result.lost == result.sent - result.received


def test_bench_over_two_processes_merges_their_counts_and_loses_nothing() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "gwtool", "bench", "--processes", "2", "--duration", "1", "--rate", "400",
         "--sharders", "3", "--commands", "2", "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = orjson.loads(done.stdout)
    assert out["processes"] == 2 and out["senders"] == 3 and out["receivers"] == 2
    assert out["sent"] > 0 and out["received"] == out["sent"] and out["lost"] == 0 and out["duplicates"] == 0
    assert out["latency_ms"]["count"] == out["sent"]  # every event was timed, in whichever process got it


def test_processes_split_the_senders_and_number_them_globally() -> None:
    from gwtool.bench import shares, split

    assert split(10, 3) == [4, 3, 3] and split(1, 2) == [1, 0]
    parts = shares(BenchConfig(url="ws://x", senders=5, receivers=3, rate=1000), 2)
    assert [(p.senders, p.receivers, p.sender_offset) for p in parts] == [(3, 2, 0), (2, 1, 3)]
    assert sum(p.rate for p in parts) == 1000 and all(p.shared and p.all_senders == 5 for p in parts)


def test_merge_counts_an_event_once_whichever_process_received_it() -> None:
    from gwtool.bench import merge

    def part(seen: list[bytes], sent: int, received: int) -> dict:
        return {"sent": sent, "received": received, "latencies_ms": [1.0] * received, "acks_ms": [], "beats": 0,
                "closes": [], "started": 1.0, "send_stopped": 2.0, "last_received": 2.5, "seen": seen}  # fmt: skip

    a = part([b"\x01\x01\x00", b""], sent=3, received=2)  # sender 0's events 0, 1
    b = part([b"\x00\x01\x01", b"\x01"], sent=1, received=3)  # sender 0's 1 again (a duplicate) and 2, sender 1's 0
    result = merge(BenchConfig(url="ws://x", senders=2), [a, b])
    assert (result.sent, result.received, result.lost, result.duplicates) == (4, 4, 0, 1)
    assert result.seconds == 1.5


def test_processes_need_an_open_loop_rate() -> None:
    result = CliRunner().invoke(app, ["bench", "--processes", "2", "--rate", "0", "--duration", "0.2"])
    assert result.exit_code != 0 and "--processes needs --rate" in str(result.exception or result.output)


# --- as a user runs it: the installed command's exit status and words -------------------------------

GWTOOL = [sys.executable, "-m", "gwtool"]


async def gwtool_bench(*args: str) -> tuple[int, str]:
    """(exit status, stderr) of ``gwtool bench ARGS`` in a process of its own."""
    env = {k: v for k, v in os.environ.items() if k not in ("GWTOOL_URL", "GWTOOL_TOKEN")}
    proc = await asyncio.create_subprocess_exec(
        *GWTOOL, "bench", *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, stderr.decode()


async def test_nothing_listening_is_said_in_the_client_s_words() -> None:
    from gwtool.client.core import connect_error_text

    status, stderr = await gwtool_bench("--url", "ws://127.0.0.1:9", "--duration", "0.2")
    assert status == 2
    assert stderr.strip() == f"error: could not connect to ws://127.0.0.1:9: {connect_error_text(ConnectionRefusedError(), 0)}"


async def test_a_url_without_ws_is_invalid_input_with_a_hint() -> None:
    status, stderr = await gwtool_bench("--url", "127.0.0.1:9", "--duration", "0.2")
    assert status == 1 and stderr.strip().endswith("— did you mean ws://127.0.0.1:9?")


@pytest.mark.parametrize("processes", [("--processes", "1"), ("--processes", "2", "--rate", "100")])
async def test_a_wrong_token_exits_3_with_the_token_hint(processes: tuple[str, ...]) -> None:
    from gwtool.cli.running import CLOSE_HINTS

    async with MockGateway(PROTO, token="secret") as gw:
        status, stderr = await gwtool_bench("--url", gw.url, "--duration", "0.2", "--token", "wrong", *processes)
    assert status == 3
    lines = stderr.strip().splitlines()
    assert "4004 AUTHENTICATION_FAILED" in lines[0] and lines[1:] == [f"({CLOSE_HINTS['AUTHENTICATION_FAILED']})"]


@pytest.mark.parametrize("option", ["--sharders", "--commands"])
async def test_no_senders_is_refused_as_no_receivers_is(option: str) -> None:
    status, stderr = await gwtool_bench(option, "0", "--duration", "0.2")
    assert status == 1
    assert stderr.splitlines()[0] == f"error: {option}: must be ≥ 1"


@pytest.mark.parametrize("example", ["[1, 2]", "5"])
async def test_an_event_example_that_is_not_an_object_is_named_not_a_traceback(tmp_path, example: str) -> None:
    t = Roles(PROTO).event.t
    definition = tmp_path / "mine.toml"
    definition.write_text(f"[events.{t}]\nexample = '{example}'\n")
    status, stderr = await gwtool_bench("--protocol", str(definition), "--duration", "0.2")
    assert status == 1, stderr
    assert stderr.strip() == f"error: {t}: its example is not a JSON object, and the bench adds a field to it"
