"""Each fault action does what docs/proxy.md says, with real sockets, and says so in an injected record."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import orjson
import pytest
from proxy_testkit import (
    EVENT_DATA,
    OP,
    PROTO,
    Collected,
    RawUpstream,
    closed_with,
    event,
    heartbeat,
    open_ws,
    recv,
    send,
    service,
    until,
)

from gwtool.console import ndjson
from gwtool.errors import InvalidSetting
from gwtool.gateway import MockGateway
from gwtool.proxy import Proxy
from gwtool.proxy.faults import RuleError, parse_rule

SAMPLE = str(Path(__file__).resolve().parents[1] / "check" / "sample_service.py")


def numbered(n: int) -> dict:
    return event(d={**EVENT_DATA, "raw": f"n={n}"})


def injected(seen: Collected) -> list[str]:
    return [n.text for n in seen.notices("injected")]


async def test_drop_acks_to_sharders_only_as_the_issue_writes_it():
    async with MockGateway() as gw, Proxy(upstream=gw.url, faults=("drop op:HEARTBEAT_ACK service:sharder",)) as proxy:
        seen = Collected()
        proxy.subscribe(seen)
        worker, _ = await service(proxy.url, "commands")
        sharder, _ = await service(proxy.url, "sharder")
        await send(sharder, heartbeat(guilds=1))
        await send(worker, heartbeat())
        assert (await recv(worker))["op"] == OP["HEARTBEAT_ACK"]  # not a sharder: its ACK goes on
        await until(lambda: seen.notices("injected"))
        await send(sharder, event())
        assert (await recv(worker))["t"] == "EXECUTE_COMMAND"
        await sharder.close()
        await worker.close()
    (notice,) = seen.notices("injected")
    assert notice.text == "dropped HEARTBEAT_ACK → #2 sharder"
    line = orjson.loads(ndjson(notice))
    assert {k: line[k] for k in ("kind", "conn", "rule", "text")} == {
        "kind": "injected", "conn": 2, "rule": "drop op:HEARTBEAT_ACK service:sharder", "text": notice.text,
    }  # fmt: skip
    assert proxy.counts.injected == 1 and proxy.counts.violations["gateway"] == 0  # the gateway did ACK


async def test_a_sharder_whose_acks_are_dropped_sees_a_zombie_and_reconnects():
    async with (
        MockGateway(heartbeat_interval=200) as gw,
        Proxy(upstream=gw.url, faults=("drop op:HEARTBEAT_ACK service:sharder",)) as proxy,
    ):
        seen = Collected()
        proxy.subscribe(seen)
        env = {**os.environ, "GWTOOL_URL": proxy.url, "GWTOOL_TOKEN": "t"}
        process = await asyncio.create_subprocess_exec(sys.executable, SAMPLE, "--as", "sharder", env=env)
        try:
            await until(lambda: any(n.conn == 2 for n in seen.notices("identified")), timeout=20)
        finally:
            process.terminate()
            await process.wait()
    closed = next(n for n in seen.notices("closed") if n.conn == 1)
    assert (
        closed.data["code"] == 4000
        and closed.data["reason"] == "no ACK for the last heartbeat"
        and closed.data["by"] == "service"
    )


async def test_delay_with_jitter_delays_each_selected_payload_within_its_bounds():
    async with MockGateway() as gw, Proxy(upstream=gw.url, faults=("delay 200±50 t:EXECUTE_COMMAND",), seed=1) as proxy:
        seen = Collected()
        proxy.subscribe(seen)
        worker, _ = await service(proxy.url, "commands")
        sharder, _ = await service(proxy.url, "sharder")
        await send(sharder, event())
        assert (await recv(worker))["t"] == "EXECUTE_COMMAND"
        await sharder.close()
        await worker.close()
    texts = injected(seen)
    assert [t.split(" by ")[0] for t in texts] == [
        "delayed EXECUTE_COMMAND #2 sharder → gateway",
        "delayed EXECUTE_COMMAND → #1 commands",
    ]
    assert all(150 <= int(t.split(" by ")[1].removesuffix(" ms")) <= 250 for t in texts)


async def test_a_delay_keeps_the_order_of_its_direction():
    async with MockGateway() as gw, Proxy(upstream=gw.url, faults=("delay 300 op:HEARTBEAT_ACK",)) as proxy:
        worker, _ = await service(proxy.url, "commands")
        sharder, _ = await service(proxy.url, "sharder")
        await send(worker, heartbeat())
        await send(sharder, event())  # routed to the worker after its ACK: it waits behind the delayed ACK
        assert (await recv(worker))["op"] == OP["HEARTBEAT_ACK"]
        assert (await recv(worker))["t"] == "EXECUTE_COMMAND"
        await sharder.close()
        await worker.close()


async def test_close_after_n_closes_both_sides_with_the_code_in_place_of_the_next():
    upstream = RawUpstream(hello_then_echo)
    async with (
        upstream.running(),
        Proxy(upstream=upstream.url, faults=("close 4009 'heartbeat gone' after 2 from:gateway",)) as proxy,
    ):
        ws = await open_ws(proxy.url)
        for _ in range(3):
            await send(ws, heartbeat())
        got = [await recv(ws), await recv(ws)]  # HELLO and the first echo; the third never comes
        assert await closed_with(ws) == (4009, "heartbeat gone")
        await until(lambda: upstream.closes)
    assert [p["op"] for p in got] == [OP["HELLO"], OP["HEARTBEAT"]]
    assert upstream.closes == [(4009, "heartbeat gone")]


async def test_close_1011_every_time_closes_each_connection_at_once():
    async with MockGateway() as gw, Proxy(upstream=gw.url, faults=("close 1011",)) as proxy:
        for _ in range(2):
            ws = await open_ws(proxy.url)
            assert await closed_with(ws) == (1011, "gwtool proxy: close 1011")


async def test_duplicate_sends_a_selected_payload_twice():
    async with MockGateway() as gw, Proxy(upstream=gw.url, faults=("duplicate t:EXECUTE_COMMAND from:gateway",)) as proxy:
        worker, _ = await service(proxy.url, "commands")
        sharder, _ = await service(proxy.url, "sharder")
        await send(sharder, numbered(7))
        assert [(await recv(worker))["d"]["raw"] for _ in range(2)] == ["n=7", "n=7"]


async def test_reorder_sends_a_full_window_newest_first():
    async with MockGateway() as gw, Proxy(upstream=gw.url, faults=("reorder 3 t:EXECUTE_COMMAND from:service",)) as proxy:
        worker, _ = await service(proxy.url, "commands")
        sharder, _ = await service(proxy.url, "sharder")
        for n in range(3):
            await send(sharder, numbered(n))
        assert [(await recv(worker))["d"]["raw"] for _ in range(3)] == ["n=2", "n=1", "n=0"]


async def test_corrupt_cuts_the_last_byte_and_the_gateway_refuses_it():
    async with MockGateway() as gw, Proxy(upstream=gw.url, faults=("corrupt t:EXECUTE_COMMAND",)) as proxy:
        seen = Collected()
        proxy.subscribe(seen)
        sharder, _ = await service(proxy.url, "sharder")
        await send(sharder, event())
        code, reason = await closed_with(sharder)
    assert code == 4002 and reason.startswith("not JSON")
    assert injected(seen) == ["corrupted EXECUTE_COMMAND #1 sharder → gateway (its last byte cut)"]
    assert proxy.counts.violations["service"] == 0  # the service sent it whole: the proxy's doing


async def test_throttle_lets_everything_through_and_says_so():
    async with MockGateway() as gw, Proxy(upstream=gw.url, faults=("throttle 2000/s from:gateway",)) as proxy:
        seen = Collected()
        proxy.subscribe(seen)
        worker, _ = await service(proxy.url, "commands")
        sharder, _ = await service(proxy.url, "sharder")
        for n in range(3):
            await send(sharder, numbered(n))
        assert [(await recv(worker))["d"]["raw"] for _ in range(3)] == ["n=0", "n=1", "n=2"]
    assert "throttled EXECUTE_COMMAND → #1 commands to 2,000 B/s" in injected(seen)


async def test_stall_holds_a_direction_until_the_rule_is_removed():
    async with MockGateway() as gw, Proxy(upstream=gw.url) as proxy:
        seen = Collected()
        proxy.subscribe(seen)
        worker, _ = await service(proxy.url, "commands")
        rule = proxy.add_rule("stall from:gateway")
        await send(worker, heartbeat())
        await until(lambda: any(r.op == OP["HEARTBEAT_ACK"] for r in seen.records()))  # the proxy has it
        with pytest.raises(TimeoutError):
            await recv(worker, timeout=0.3)  # and holds it
        assert proxy.remove_rule(rule.id) is rule
        assert (await recv(worker))["op"] == OP["HEARTBEAT_ACK"]
    assert injected(seen) == ["stalled at HEARTBEAT_ACK → #1 commands: nothing more goes this way until the rule is removed"]


async def test_a_disabled_rule_acts_on_nothing_keeps_its_count_and_acts_again_once_enabled():
    async with MockGateway() as gw, Proxy(upstream=gw.url) as proxy:
        seen = Collected()
        proxy.subscribe(seen)
        worker, _ = await service(proxy.url, "commands")
        rule = proxy.add_rule("drop op:HEARTBEAT_ACK")
        await send(worker, heartbeat())
        await until(lambda: rule.applied == 1)
        assert proxy.enable_rule(rule.id, False) is rule and not rule.enabled
        other = proxy.add_rule("delay 1 t:EXECUTE_COMMAND")  # a rule in force: payloads go through the rules
        await send(worker, heartbeat())
        assert (await recv(worker))["op"] == OP["HEARTBEAT_ACK"]  # forwarded: the rule is off
        assert rule.applied == 1 and proxy.rules == [rule, other]  # still listed, its count kept
        proxy.remove_rule(other.id)
        assert proxy.enable_rule(rule.id, True) is rule
        await send(worker, heartbeat())
        await until(lambda: rule.applied == 2)
        with pytest.raises(TimeoutError):
            await recv(worker, timeout=0.3)
        assert proxy.enable_rule(99, False) is None
    said = [n.text for n in seen.notices("info") if n.text.startswith("fault rule")]
    assert said == ["fault rule 1 added: drop op:HEARTBEAT_ACK", "fault rule 1 disabled: drop op:HEARTBEAT_ACK",
                    "fault rule 2 added: delay 1 t:EXECUTE_COMMAND", "fault rule 2 removed: delay 1 t:EXECUTE_COMMAND",
                    "fault rule 1 enabled: drop op:HEARTBEAT_ACK"]  # fmt: skip


async def test_disabling_a_stall_lets_what_it_held_go_on():
    async with MockGateway() as gw, Proxy(upstream=gw.url) as proxy:
        seen = Collected()
        proxy.subscribe(seen)
        worker, _ = await service(proxy.url, "commands")
        rule = proxy.add_rule("stall from:gateway")
        await send(worker, heartbeat())
        await until(lambda: any(r.op == OP["HEARTBEAT_ACK"] for r in seen.records()))
        with pytest.raises(TimeoutError):
            await recv(worker, timeout=0.3)
        proxy.enable_rule(rule.id, False)
        assert (await recv(worker))["op"] == OP["HEARTBEAT_ACK"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("explode op:HELLO", "'explode' is not an action (one of delay, drop"),
        ("delay", "delay: needs a time in ms; expected delay MS[±JITTER]"),
        ("delay soon", "delay: 'soon' is not a number (MS)"),
        ("drop 150%", "drop: 150%: a percentage is over 0 and at most 100"),
        ("drop first x", "drop: 'x': N is a whole number ≥ 1"),
        ("reorder 1", "reorder: '1': WINDOW is a whole number ≥ 2"),
        ("throttle fast", "throttle: needs a rate in bytes a second"),
        ("close 1006", "close: 1006: a close frame carries 1000-1003, 1007-1014 or 3000-4999 (RFC 6455)"),
        ("drop from:client", "from:client: expected from:service or from:gateway"),
        ("drop service:music", "service:music: unknown service type 'music'"),
        ("drop op:NOPE", "op:NOPE matches no op of the protocol"),
        ("drop side:gw", "side:gw: side: is the dashboard's"),
    ],
)
def test_a_rule_that_cannot_work_is_refused_naming_why(text, message):
    with pytest.raises(RuleError) as caught:
        parse_rule(text, PROTO)
    assert message in str(caught.value)


def test_a_bad_rule_in_the_settings_is_an_invalid_setting():
    with pytest.raises(InvalidSetting) as caught:
        Proxy(PROTO, upstream="ws://127.0.0.1:1", faults=("drop 0%",))
    assert caught.value.name == "faults"


async def hello_then_echo(ws) -> None:
    await ws.send(orjson.dumps({"op": OP["HELLO"], "d": {"heartbeatInterval": 30000}}), text=True)
    async for frame in ws:
        await ws.send(frame)
