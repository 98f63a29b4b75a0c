"""``gwtool stats``: tables, the JSON object's schema, bad files, broken lines, --conn and --filter."""

from __future__ import annotations

import orjson
import pytest

from gwtool.logfile import header, header_line
from gwtool.protocol.definition import load_protocol
from gwtool.records import Forward, Notice, Record
from tests.client.test_cli_client_commands import gwtool
from tests.gateway.gateway_testkit import event

PROTO = load_protocol(use_env=False)
HEARTBEAT, ACK = PROTO.op("HEARTBEAT"), PROTO.op("HEARTBEAT_ACK")


def line(item: Record | Notice) -> bytes:
    return orjson.dumps(item.to_json(), option=orjson.OPT_APPEND_NEWLINE)


def gateway_recording(path, *, events: int = 5):
    """A gateway's recording: conn 1 a sharder relaying to conn 2, conn 3's events held, one
    delivered later, a violation and a close."""
    items: list[Record | Notice] = []
    for i in range(events):
        read = Record("in", 200, event(), conn=1, service="sharder", ts=10.0 + i)
        read.forwards = [Forward(2, "commands", 200)]
        items.append(read)
        items.append(Record("in", 34, {"op": HEARTBEAT, "d": {}}, conn=1, service="sharder", ts=10.0 + i))
        items.append(Record("out", 15, {"op": ACK}, conn=1, service="sharder", ts=10.0 + i + 0.002))
    items += [
        Record("in", 210, event(), conn=3, service="sharder", ts=20.0),
        Notice("held", "held EXECUTE_COMMAND", 3, "sharder", {"t": "EXECUTE_COMMAND", "held": 1}, ts=20.0),
        Record("in", 210, event(), conn=3, service="sharder", ts=20.5),
        Notice("held", "held EXECUTE_COMMAND", 3, "sharder", {"t": "EXECUTE_COMMAND", "held": 2}, ts=20.5),
        Record("out", 210, event(), conn=2, service="commands", ts=21.0),
        Notice("violation", "d.ids: expected object", 3, "sharder", {"by": "service", "path": "d.ids"}, ts=21.5),
        Notice("closed", "closed 4007", 3, "sharder", {"code": 4007, "name": "INVALID_PAYLOAD", "reason": "d.ids", "by": "gateway"}, ts=22.0),
    ]  # fmt: skip
    start = header_line(header(PROTO, side="gateway", command="mock-gateway", url="ws://127.0.0.1:1"))
    path.write_bytes(start + b"".join(line(item) for item in items))
    return path


async def stats(capsys, *args: str) -> tuple[int, str, str]:
    return await gwtool(capsys, "stats", *args)


async def test_json_is_one_object_with_exact_counts_and_the_documented_schema(capsys, tmp_path):
    code, out, err = await stats(capsys, str(gateway_recording(tmp_path / "gw.ndjson")), "--json")
    assert code == 0, err
    data = orjson.loads(out)
    assert {"payloads", "duration_s", "conversations", "kinds", "delivery", "closes", "io"} <= data.keys()
    assert data["payloads"] == 5 * 4 + 3 and data["duration_s"] == 12.0
    for talk in data["conversations"]:
        assert {"conn", "service", "payloads_in", "payloads_out", "bytes_in", "bytes_out", "latency_ms", "close"} <= talk.keys()
    talks = {talk["conn"]: talk for talk in data["conversations"]}
    assert (talks[1]["payloads_in"], talks[1]["payloads_out"], talks[1]["bytes_in"]) == (10, 5, 5 * 234)
    assert talks[1]["latency_ms"]["p50"] == pytest.approx(2.0, abs=1e-3) and talks[1]["latency_ms"]["count"] == 5
    assert talks[2]["payloads_out"] == 6 and talks[3]["close"]["name"] == "INVALID_PAYLOAD"
    for kind in data["kinds"]:
        assert {"dir", "op", "name", "count", "bytes", "size_p50", "size_p99", "size_max"} <= kind.keys()
    (flow,) = data["delivery"]
    assert (flow["read"], flow["forwarded"], flow["held"], flow["delivered_later"], flow["still_held"]) == (7, 5, 2, 1, 1)
    assert flow["wait_ms"]["max"] == 1000.0
    assert data["closes"] == [{"code": 4007, "name": "INVALID_PAYLOAD", "by": "gateway", "count": 1}]
    assert data["violations"] == [{"path": "d.ids", "by": "service", "count": 1}]
    assert sum(row["payloads_in"] + row["payloads_out"] for row in data["io"]["series"]) == data["payloads"]


async def test_tables_name_each_part_within_80_columns(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, err = await stats(capsys, str(gateway_recording(tmp_path / "gw.ndjson")))
    assert code == 0, err
    for title in ("Conversations", "Kinds", "Delivery", "Closes", "Violations", "I/O: payloads/s", "I/O: bytes/s"):
        assert title in out
    assert "4007 INVALID_PAYLOAD" in out and "d.ids" in out and "EXECUTE_COMMAND" in out
    assert max(len(row) for row in out.splitlines()) <= 80


async def test_conn_keeps_one_connection(capsys, tmp_path):
    code, out, err = await stats(capsys, str(gateway_recording(tmp_path / "gw.ndjson")), "--conn", "3", "--json")
    assert code == 0, err
    data = orjson.loads(out)
    assert [talk["conn"] for talk in data["conversations"]] == [3]
    assert data["payloads"] == 2 and data["closes"][0]["code"] == 4007


async def test_conn_counts_a_relayed_events_read_on_its_sender_and_each_forward_on_its_receiver_only(capsys, tmp_path):
    path = tmp_path / "relay.ndjson"
    read = Record("in", 200, event(), conn=1, service="sharder", ts=10.0)
    read.forwards = [Forward(2, "commands", 200), Forward(3, "commands", 180, compressed=True)]
    start = header_line(header(PROTO, side="gateway", command="mock-gateway", url="ws://127.0.0.1:1"))
    path.write_bytes(start + line(read) + line(Record("in", 34, {"op": HEARTBEAT, "d": {}}, conn=3, service="commands", ts=11.0)))
    counted = {}
    for conn in (1, 2, 3):
        code, out, err = await stats(capsys, str(path), "--conn", str(conn), "--json")
        assert code == 0, err
        counted[conn] = orjson.loads(out)
    one, two, three = counted[1], counted[2], counted[3]
    assert one["payloads"] == 1 and [(k["dir"], k["count"]) for k in one["kinds"]] == [("in", 1)]
    assert (one["delivery"][0]["read"], one["delivery"][0]["forwarded"]) == (1, 0)  # its forwards are not conn 1's
    assert two["payloads"] == 1 and [(k["dir"], k["bytes"]) for k in two["kinds"]] == [("out", 200)]
    assert (two["delivery"][0]["read"], two["delivery"][0]["forwarded"]) == (0, 1)
    assert three["payloads"] == 2 and {(k["dir"], k["bytes"]) for k in three["kinds"]} == {("out", 180), ("in", 34)}
    assert [talk["conn"] for talk in three["conversations"]] == [3] and three["first_ts"] == 10.0
    assert sum(row["payloads_in"] + row["payloads_out"] for row in three["io"]["series"]) == 2


async def test_filter_counts_only_what_its_terms_match_and_a_bad_term_is_a_usage_error(capsys, tmp_path):
    path = str(gateway_recording(tmp_path / "gw.ndjson"))
    code, out, err = await stats(capsys, path, "--filter", "op:heartbeat_ack", "--json")
    assert code == 0, err
    kinds = orjson.loads(out)["kinds"]
    assert [(k["op"], k["count"]) for k in kinds] == [("HEARTBEAT_ACK", 5)]
    code, _, err = await stats(capsys, path, "--filter", "t:NO_SUCH_EVENT")
    assert code == 1 and "--filter" in err and "t:NO_SUCH_EVENT" in err


async def test_a_missing_file_and_a_broken_line_are_named(capsys, tmp_path):
    code, _, err = await stats(capsys, str(tmp_path / "nope.ndjson"))
    assert code == 1 and "nope.ndjson: cannot read" in err and "Traceback" not in err
    broken = tmp_path / "broken.ndjson"
    broken.write_bytes(gateway_recording(tmp_path / "gw.ndjson").read_bytes() + b"not json\n" + b'{"ts": 1, "kind": "pay')
    code, _, err = await stats(capsys, str(broken))
    lines = len(broken.read_bytes().splitlines())
    assert code == 1 and f"broken.ndjson:{lines - 1}: not JSON" in err


async def test_a_torn_last_line_is_skipped_and_an_empty_file_says_so(capsys, tmp_path):
    torn = tmp_path / "torn.ndjson"
    torn.write_bytes(gateway_recording(tmp_path / "gw.ndjson").read_bytes() + b'{"ts": 1, "kind": "pay')
    code, out, err = await stats(capsys, str(torn), "--json")
    assert code == 0, err
    assert orjson.loads(out)["payloads"] == 23
    empty = tmp_path / "empty.ndjson"
    empty.write_bytes(b"")
    code, out, err = await stats(capsys, str(empty))
    assert code == 0 and "no records" in out


async def test_help_states_the_exit_statuses(capsys):
    code, out, _ = await stats(capsys, "--help")
    assert code == 0 and "Exit status: 0 printed; 1 invalid input" in " ".join(out.split())
