"""`gwtool bench` and the load generator core: counts, zero loss and output shape (no timings)."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from typer.testing import CliRunner

from gwtool.bench import MARK, Bench, BenchConfig, Roles
from gwtool.cli import app
from gwtool.errors import ClosedByGateway, ConnectFailed
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
    counts: dict[int, int] = {}
    async with MockGateway(PROTO) as gw:

        def on_item(item) -> None:  # noqa: ANN001
            if getattr(item, "direction", None) == "out" and item.t == Roles(PROTO).event.t:
                counts[item.conn] = counts.get(item.conn, 0) + 1

        gw.subscribe(on_item)
        result = await Bench(BenchConfig(url=gw.url, senders=1, receivers=3, rate=300, duration=0.3), PROTO).run()
    assert len(counts) == 3
    assert sum(counts.values()) == result.sent


async def test_heartbeats_are_acked_at_the_gateway_interval() -> None:
    async with MockGateway(PROTO, heartbeat_interval=100) as gw:
        config = BenchConfig(url=gw.url, senders=0, receivers=0, idle=4, duration=0.5)
        result = await Bench(config, PROTO).run()
    assert result.ack_ms["count"] >= 4
    assert not result.closes


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
