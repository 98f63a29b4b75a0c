"""The statistics core: exact counts, percentiles exact or within their stated bound, delivery."""

from __future__ import annotations

import asyncio

import pytest

from gwtool.gateway import MockGateway
from gwtool.protocol.definition import load_protocol
from gwtool.records import Forward, Notice, Record
from gwtool.stats import EXACT_VALUES, MAX_INTERVALS, RELATIVE_ERROR, Quantiles, Stats
from tests.gateway.gateway_testkit import event, heartbeat, recv, send, service

PROTO = load_protocol(use_env=False)
HEARTBEAT, ACK, EVENT = PROTO.op("HEARTBEAT"), PROTO.op("HEARTBEAT_ACK"), PROTO.op("EVENT")
GATEWAY = {"kind": "header", "side": "gateway", "service": None}
CLIENT = {"kind": "header", "side": "client", "service": "sharder"}


def gateway_stats() -> Stats:
    stats = Stats(PROTO)
    stats.start_session(GATEWAY)
    return stats


def test_percentiles_are_exact_nearest_rank_up_to_the_exact_samples():
    q = Quantiles()
    for value in range(100, 0, -1):
        q.add(value)
    assert (q.percentile(50), q.percentile(95), q.percentile(99), q.max, q.count) == (50, 95, 99, 100, 100)
    assert Quantiles().percentile(50) is None


def test_percentiles_past_the_exact_samples_are_within_the_stated_bound():
    q = Quantiles()
    n = EXACT_VALUES * 20
    for value in range(1, n + 1):
        q.add(float(value))
    assert q.count == n and q.max == n
    for pct in (50, 95, 99):
        exact = pct * n / 100
        got = q.percentile(pct)
        assert got is not None and abs(got - exact) <= exact * RELATIVE_ERROR * 1.000001, (pct, got, exact)


def test_conversations_and_kinds_count_exactly_with_forwards_on_their_receivers():
    stats = gateway_stats()
    sizes = [100, 200, 300, 400]
    for i, size in enumerate(sizes):
        read = Record("in", size, event(), conn=1, service="sharder", ts=10.0 + i)
        read.forwards = [Forward(2, "commands", size + 1)]
        stats.add(read)
    stats.add(Record("in", 34, {"op": HEARTBEAT, "d": {}}, conn=1, service="sharder", ts=10.0))
    out = stats.to_json()
    assert out["payloads"] == 9 and out["duration_s"] == 3.0
    talks = {talk["conn"]: talk for talk in out["conversations"]}
    assert (talks[1]["payloads_in"], talks[1]["bytes_in"], talks[1]["payloads_out"]) == (5, 1000 + 34, 0)
    assert (talks[2]["service"], talks[2]["payloads_out"], talks[2]["bytes_out"]) == ("commands", 4, 1004)
    kinds = {(k["dir"], k["op"], k["name"]): k for k in out["kinds"]}
    read = kinds[("in", "EVENT", "EXECUTE_COMMAND")]
    assert (read["count"], read["bytes"], read["size_p50"], read["size_p99"], read["size_max"]) == (4, 1000, 200, 400, 400)
    assert read["share"] == round(4 / 9, 6) and read["rate"] == round(4 / 3, 3)
    assert kinds[("out", "EVENT", "EXECUTE_COMMAND")]["bytes"] == 1004
    assert out["delivery"] == [
        {"t": "EXECUTE_COMMAND", "read": 4, "forwarded": 4, "held": 0, "delivered_later": 0, "dropped": 0, "still_held": 0,
         "wait_ms": {"count": 0, "p50": None, "p99": None, "max": None}, "through_proxy": False}
    ]  # fmt: skip


def test_heartbeat_latency_and_missed_acks_on_the_gateways_side_and_the_clients():
    stats = gateway_stats()
    for i, wait_ms in enumerate([1, 2, 3, 4, 10]):
        stats.add(Record("in", 30, {"op": HEARTBEAT}, conn=3, ts=100.0 + i))
        stats.add(Record("out", 10, {"op": ACK}, conn=3, ts=100.0 + i + wait_ms / 1000))
    stats.add(Record("in", 30, {"op": HEARTBEAT}, conn=3, ts=200.0))
    stats.add(Record("in", 30, {"op": HEARTBEAT}, conn=3, ts=201.0))  # the one before was never ACKed
    stats.start_session(CLIENT)
    stats.add(Record("in", 10, {"op": ACK}, conn=1, latency_ms=7.5, ts=300.0))
    talks = {(t["session"], t["conn"]): t for t in stats.to_json()["conversations"]}
    latency = talks[(1, 3)]["latency_ms"]
    assert latency["count"] == 5 and latency["max"] == 10.0
    assert latency["p50"] == pytest.approx(3.0, abs=1e-3) and latency["p99"] == pytest.approx(10.0, abs=1e-3)
    assert talks[(1, 3)]["missed_acks"] == 1
    assert talks[(2, 1)]["latency_ms"]["p50"] == 7.5


def test_held_dropped_delivered_later_closes_and_violations_each_show():
    stats = gateway_stats()
    t = "EXECUTE_COMMAND"
    for i in range(3):
        stats.add(Record("in", 200, event(), conn=1, service="sharder", ts=1.0 + i))
        stats.add(Notice("held", "held", 1, "sharder", {"t": t, "held": i + 1}, ts=1.0 + i))
    stats.add(Notice("dropped", "dropped", 1, "sharder", {"t": t, "dropped": 1}, ts=4.0))  # the oldest
    stats.add(Record("out", 200, event(), conn=2, service="commands", ts=5.0))  # held at 2.0
    stats.add(Notice("violation", "bad", 2, "commands", {"by": "service", "path": "d.ids"}, ts=5.5))
    stats.add(
        Notice("closed", "closed", 2, "commands", {"code": 4002, "name": "DECODE_ERROR", "reason": "x", "by": "gateway"}, ts=6.0)
    )
    out = stats.to_json()
    (flow,) = out["delivery"]
    assert (flow["read"], flow["forwarded"], flow["held"], flow["dropped"], flow["delivered_later"], flow["still_held"]) == (
        3,
        0,
        3,
        1,
        1,
        1,
    )
    assert flow["wait_ms"]["p50"] == 3000.0
    assert out["closes"] == [{"code": 4002, "name": "DECODE_ERROR", "by": "gateway", "count": 1}]
    assert out["violations"] == [{"path": "d.ids", "by": "service", "count": 1}]
    talk = {talk["conn"]: talk for talk in out["conversations"]}[2]
    assert talk["close"] == {"code": 4002, "name": "DECODE_ERROR", "reason": "x", "by": "gateway"} and talk["violations"] == 1


def test_the_io_series_counts_each_interval_and_stays_bounded():
    stats = Stats(PROTO, interval=1.0)
    stats.start_session(CLIENT)
    for second in range(10):
        for _ in range(second):
            stats.add(Record("out", 10, {"op": HEARTBEAT}, ts=1000.0 + second + 0.5))
    series = stats.io_json()["series"]
    assert [row["payloads_out"] for row in series] == list(range(1, 10))  # from the first record, at 1001.5
    assert series[3]["bytes_out"] == 40
    stats.add(Record("in", 1, {"op": ACK}, ts=1000.0 + 3 * MAX_INTERVALS))
    io = stats.io_json()
    assert len(io["series"]) <= MAX_INTERVALS and io["interval_s"] == 4.0
    assert sum(row["payloads_out"] for row in io["series"]) == 45 and sum(row["payloads_in"] for row in io["series"]) == 1


def test_a_batchs_io_lands_in_its_rows_when_a_record_in_it_moves_the_series():
    """``add_many`` keeps a row's counts aside until the row changes: a record it hands on (one
    with an int time, here) that coarsens the series must not lose them, nor add them to a row gone."""
    stats = Stats(PROTO, interval=1.0)
    stats.start_session(CLIENT)
    beat = Record("out", 10, {"op": HEARTBEAT}, ts=0.0).to_json()
    late = {**beat, "ts": 2 * MAX_INTERVALS}  # an int: not the loop's own, and past the series' end
    stats.add_many([{**beat, "ts": 1000.5}, {**beat, "ts": 1000.6}, late, {**beat, "ts": 2.0 * MAX_INTERVALS + 0.5}])
    io = stats.io_json()
    assert io["interval_s"] == 2.0
    assert sum(row["payloads_out"] for row in io["series"]) == 4 and sum(row["bytes_out"] for row in io["series"]) == 40
    assert io["series"][0]["payloads_out"] == 2


def test_hostile_values_are_counted_as_nameless_never_raised():
    stats = gateway_stats()
    for record in (
        {"kind": "payload", "ts": "x", "conn": [1], "op": {"a": 1}, "t": [2], "size": -5, "to": [1, {"conn": "2"}, {"conn": 4}]},
        {"kind": "closed", "code": [4000], "by": {}}, {"kind": "violation", "path": ["d"]}, {"kind": "held", "t": 5},
        {"kind": "payload", "dir": "out", "op": EVENT, "t": "EXECUTE_COMMAND", "ts": float("nan")},
    ):  # fmt: skip
        stats.add_json(record)
    out = stats.to_json()
    assert out["payloads"] == 3 and out["closes"][0]["code"] == "[4000]" and out["violations"][0]["path"] == "['d']"


async def test_a_live_gateways_records_held_then_delivered_and_a_close():
    stats = Stats(PROTO)
    stats.start_session(GATEWAY)
    async with MockGateway(PROTO) as gw:
        gw.subscribe(stats.add)
        sharder, _ = await service(gw, "sharder")
        for _ in range(2):
            await send(sharder, event())
        await send(sharder, heartbeat(guilds=0))
        await recv(sharder)  # its ACK: both events were read before it
        commands, _ = await service(gw, "commands")
        for _ in range(2):
            assert (await recv(commands))["t"] == "EXECUTE_COMMAND"
        await send(sharder, "not json")
        async with asyncio.timeout(5):
            await sharder.wait_closed()
        await asyncio.sleep(0)  # the close's notice is emitted on the gateway's next turn
        while not stats.closes:
            await asyncio.sleep(0.01)
    out = stats.to_json()
    (flow,) = out["delivery"]
    assert (flow["read"], flow["held"], flow["delivered_later"], flow["forwarded"]) == (2, 2, 2, 0)
    assert flow["wait_ms"]["count"] == 2
    assert ("DECODE_ERROR", "gateway", 1) in [(c["name"], c["by"], c["count"]) for c in out["closes"]]


def test_a_notice_about_no_connection_is_counted_in_no_conversation():
    """A server's start-up line or a client still connecting (conn 0) is a notice, not a connection."""
    stats = gateway_stats()
    stats.add(Notice("info", "listening on ws://127.0.0.1:8765", 0, ts=1.0))
    stats.add(Notice("error", "a line about nothing in particular", ts=1.5))
    stats.add(Record("in", 60, heartbeat(), conn=1, service="sharder", ts=2.0))
    out = stats.to_json()
    assert out["notices"] == 2
    assert [talk["conn"] for talk in out["conversations"]] == [1]


def test_through_a_proxy_forwarded_is_what_the_gateway_wrote_to_services_and_its_hold_unknown():
    """A proxy's recording has no forwards: the gateway's events to services are records of their own."""
    stats = Stats(PROTO)
    stats.start_session({"kind": "header", "side": "gateway", "command": "proxy"})
    for i in range(3):
        stats.add(Record("in", 232, event(), conn=1, service="sharder", ts=1.0 + i, sender="service"))
        stats.add(Record("out", 232, event(), conn=2, service="commands", ts=1.1 + i, sender="gateway"))
    identified = {"op": EVENT, "t": "IDENTIFIED", "d": {}}  # the gateway's own event: not a delivery
    stats.add(Record("out", 62, identified, conn=2, service="commands", ts=0.5, sender="gateway"))
    (flow,) = stats.to_json()["delivery"]
    assert (flow["t"], flow["read"], flow["forwarded"], flow["through_proxy"]) == ("EXECUTE_COMMAND", 3, 3, True)
    assert flow["held"] is flow["delivered_later"] is flow["dropped"] is flow["still_held"] is None
