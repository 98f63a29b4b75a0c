"""Record → replay → validate: --log files carry a header, replay sends their payloads again."""

from __future__ import annotations

import asyncio
import sys
import time

import orjson
import pytest
from websockets.asyncio.client import connect

from gwtool.gateway import MockGateway
from gwtool.logfile import FORMAT, RecordingError, protocol_digest, read_lines, replay_plan
from gwtool.protocol.definition import load_protocol
from tests.client.test_cli_client_commands import closed_port, gwtool
from tests.gateway.gateway_testkit import EVENT, event, send, service

PROTO = load_protocol(use_env=False)


async def received_events(ws, count: int, timeout: float = 10.0) -> list[tuple[float, dict]]:
    """(arrival time, payload) of the next ``count`` EXECUTE_COMMAND events."""
    out = []
    async with asyncio.timeout(timeout):
        while len(out) < count:
            payload = orjson.loads(await ws.recv())
            if payload.get("t") == "EXECUTE_COMMAND":
                out.append((time.monotonic(), payload))
    return out


async def test_send_log_starts_with_a_header_naming_side_service_url_and_protocol(capsys, tmp_path):
    log = tmp_path / "send.ndjson"
    async with MockGateway(PROTO) as gw:
        code, _, err = await gwtool(capsys, "send", "EXECUTE_COMMAND", "--url", gw.url, "--repeat", "3", "--log", str(log))
    assert code == 0, err
    first = orjson.loads(log.read_bytes().splitlines()[0])
    assert first["kind"] == "header" and first["format"] == FORMAT
    assert (first["side"], first["service"], first["url"], first["command"]) == ("client", "sharder", gw.url, "send")
    assert first["protocol"] == protocol_digest(PROTO)
    sent = [line for line in read_lines(log) if line.record.get("t") == "EXECUTE_COMMAND" and line.record["dir"] == "out"]
    assert len(sent) == 3 and all(line.header is not None for line in sent)


async def test_a_recorded_session_replays_every_event_in_order_with_its_spacing(capsys, tmp_path):
    log = tmp_path / "session.ndjson"
    async with MockGateway(PROTO) as gw:
        code, _, err = await gwtool(
            capsys, "send", "EXECUTE_COMMAND", "--url", gw.url, "--repeat", "10", "--rate", "20", "--log", str(log)
        )
        assert code == 0, err
    recorded = [offset for offset, _, _ in replay_plan(log, PROTO).items]
    async with MockGateway(PROTO) as fresh:
        consumer, _ = await service(fresh, "commands")
        replaying = asyncio.create_task(gwtool(capsys, "replay", str(log), "--url", fresh.url, "--speed", "1"))
        got = await received_events(consumer, 10)
        code, out, err = await replaying
    assert code == 0, err
    assert "replayed 10 payloads as sharder" in out
    assert [p["d"] for _, p in got] == [EVENT] * 10
    span, recorded_span = got[-1][0] - got[0][0], recorded[-1] - recorded[0]
    assert recorded_span == pytest.approx(0.45, abs=0.1)
    assert span == pytest.approx(recorded_span, abs=0.25)  # the recorded spacing, not as fast as possible


async def sharder_sending(url: str, tag: str) -> None:
    """A raw sharder that sends three events tagged ``tag0…tag2`` and waits until they were read."""
    async with connect(url, proxy=None, compression=None) as ws:
        await ws.recv()
        await send(ws, {"op": PROTO.op("IDENTIFY"), "d": {"type": "sharder", "token": "x"}})
        await ws.recv()
        for i in range(3):
            await send(ws, event(d={**EVENT, "raw": f"{tag}{i}"}))
        await send(ws, {"op": PROTO.op("HEARTBEAT"), "d": {"heapUsed": 1, "guilds": 1}})
        await ws.recv()  # its ACK: the gateway has read the three events


async def test_a_gateway_side_recording_replays_one_connection(capsys, tmp_path):
    log = tmp_path / "gateway.ndjson"
    gateway = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gwtool", "mock-gateway", "--port", "0", "--log", str(log), "-q",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert gateway.stdout is not None
        url = (await gateway.stdout.readline()).decode().split("listening on ", 1)[1].split()[0]
        await sharder_sending(url, "a")
        await sharder_sending(url, "b")
    finally:
        gateway.terminate()
        await gateway.wait()  # SIGTERM: the log is complete
    conns = sorted({line.record["conn"] for line in read_lines(log) if line.record.get("t") == "EXECUTE_COMMAND"})
    assert len(conns) == 2 and read_lines(log).__next__().header["side"] == "gateway"
    async with MockGateway(PROTO) as fresh:
        consumer, _ = await service(fresh, "commands")
        code, out, err = await gwtool(capsys, "replay", str(log), "--url", fresh.url, "--conn", str(conns[1]), "--asap")
        got = await received_events(consumer, 3)
    assert code == 0, err
    assert [p["d"]["raw"] for _, p in got] == ["b0", "b1", "b2"]
    assert "replayed 3 payloads as sharder" in out


async def test_dry_run_lists_the_payloads_and_connects_to_nothing(capsys, tmp_path):
    log = await recorded(capsys, tmp_path, repeat=4)
    code, out, err = await gwtool(capsys, "replay", str(log), "--dry-run", "--url", f"ws://127.0.0.1:{closed_port()}")
    assert code == 0, err
    assert out.count("EVENT EXECUTE_COMMAND") == 4 and "would send 4 payloads as sharder" in out and "nothing sent" in out


async def recorded(capsys, tmp_path, repeat: int = 3):
    log = tmp_path / "rec.ndjson"
    async with MockGateway(PROTO) as gw:
        code, _, err = await gwtool(
            capsys, "send", "EXECUTE_COMMAND", "--url", gw.url, "--repeat", str(repeat), "--log", str(log)
        )
    assert code == 0, err
    return log


def tamper(log, field_value) -> int:
    """Make the second sent event's ids.shard ``field_value``; its line number."""
    lines = log.read_bytes().splitlines(keepends=True)
    sent = [i for i, raw in enumerate(lines) if b'"dir":"out"' in raw and b"EXECUTE_COMMAND" in raw]
    record = orjson.loads(lines[sent[1]])
    record["d"]["ids"]["shard"] = field_value
    lines[sent[1]] = orjson.dumps(record) + b"\n"
    log.write_bytes(b"".join(lines))
    return sent[1] + 1


async def test_an_invalid_recorded_payload_is_refused_before_connecting_unless_no_validate(capsys, tmp_path):
    log = await recorded(capsys, tmp_path)
    line = tamper(log, "one")
    code, _, err = await gwtool(capsys, "replay", str(log), "--url", f"ws://127.0.0.1:{closed_port()}")
    assert code == 1
    assert f"rec.ndjson:{line}: d.ids.shard: expected integer" in err and "--no-validate" in err
    async with MockGateway(PROTO) as gw:
        code, _, err = await gwtool(capsys, "replay", str(log), "--url", gw.url, "--no-validate", "--asap")
    assert code == 3
    assert "4010" in err and "INVALID_PAYLOAD" in err and "d.ids.shard" in err and "of 3 payloads written" in err


async def test_validate_checks_a_recording_naming_the_line(capsys, tmp_path):
    log = await recorded(capsys, tmp_path)
    code, out, _ = await gwtool(capsys, "validate", str(log))
    assert code == 0 and "payloads valid" in out
    line = tamper(log, "one")
    code, out, _ = await gwtool(capsys, "validate", str(log))
    assert code == 1 and f"line {line}: d.ids.shard: expected integer" in out


def test_a_torn_last_line_is_skipped_and_a_broken_middle_line_is_named(tmp_path):
    log = tmp_path / "torn.ndjson"
    good = orjson.dumps({"ts": 1.0, "kind": "payload", "dir": "out", "op": 1, "d": {}}) + b"\n"
    log.write_bytes(good + b'{"ts": 2.0, "kind": "pay')  # cut off mid-write
    assert len(list(read_lines(log))) == 1
    log.write_bytes(good + b"not json\n" + good)
    with pytest.raises(RecordingError, match=r"torn.ndjson:2: not JSON"):
        list(read_lines(log))


async def test_bench_log_records_every_event_and_replay_takes_one_sender(capsys, tmp_path):
    log = tmp_path / "bench.ndjson"
    code, _, err = await gwtool(capsys, "bench", "--duration", "0.5", "--rate", "200", "--sharders", "2", "--commands", "1",
                                "--json", "--log", str(log))  # fmt: skip
    assert code == 0, err
    lines = list(read_lines(log))
    assert lines[0].header["command"] == "bench" and lines[0].header["service"] is None
    sent = [line.record for line in lines if line.record["dir"] == "out"]
    received = [line.record for line in lines if line.record["dir"] == "in"]
    assert len(sent) == len(received) > 0  # no loss through the embedded gateway: each event both ways
    senders = {r["conn"] for r in sent}
    plan = replay_plan(log, PROTO)
    assert len(senders) == 2 and plan.service == "sharder"
    assert len(plan.items) == sum(r["conn"] == min(senders) for r in sent)  # one connection's events


def gateway_recording(tmp_path, sent: list[tuple[int, str, str]]):
    """A gateway-side recording in which each (conn, service type, event or cache type) was sent."""
    from gwtool.logfile import header, header_line
    from gwtool.protocol.examples import cache_data, event_data

    lines = [header_line(header(PROTO, side="gateway", command="mock-gateway", url="ws://127.0.0.1:8765"))]
    for ts, (conn, sender, name) in enumerate(sent, 1):
        if name in PROTO.events:
            payload = {"op": PROTO.op("EVENT"), "t": name, "type": None, "d": event_data(PROTO, name)}
        else:
            payload = {"op": PROTO.op("CACHE"), "t": None, "type": name, "d": cache_data(PROTO, name)}
        record = {"ts": float(ts), "kind": "payload", "dir": "in", "conn": conn, "service": sender, "size": 1, **payload}
        lines.append(orjson.dumps(record) + b"\n")
    log = tmp_path / "gateway.ndjson"
    log.write_bytes(b"".join(lines))
    return log


async def test_only_replays_the_first_connection_that_sent_a_match(capsys, tmp_path):
    log = gateway_recording(tmp_path, [(1, "sharder", "EXECUTE_COMMAND"), (2, "sharder", "user"), (3, "sharder", "user")])
    code, out, err = await gwtool(capsys, "replay", str(log), "--only", "user", "--dry-run")
    assert code == 0, err
    assert out.count("CACHE user") == 1 and "line 3 " in out and "would send 1 payload as sharder" in out


async def test_a_connection_that_is_not_there_is_named_with_the_ones_that_are(capsys, tmp_path):
    log = gateway_recording(tmp_path, [(1, "sharder", "EXECUTE_COMMAND"), (2, "sharder", "user"), (2, "sharder", "user")])
    code, _, err = await gwtool(capsys, "replay", str(log), "--conn", "9", "--dry-run")
    err = " ".join(err.split())
    assert code == 1
    assert "nothing to replay: no connection 9 sent an EVENT or CACHE payload" in err
    assert "#1 sharder (EXECUTE_COMMAND), #2 sharder (user ×2)" in err
    code, _, err = await gwtool(capsys, "replay", str(log), "--as", "commands", "--dry-run")
    assert code == 1 and "no commands connection sent anything" in " ".join(err.split())


async def test_validate_as_checks_only_what_that_sender_sent_in_a_recording(capsys, tmp_path):
    log = gateway_recording(tmp_path, [(1, "sharder", "EXECUTE_COMMAND"), (2, "sharder", "user")])
    lines = log.read_bytes().splitlines(keepends=True)
    gateway_sent = {"ts": 9.0, "kind": "payload", "dir": "out", "conn": 1, "service": "sharder", "op": PROTO.op("HELLO"),
                    "t": None, "type": None, "size": 1, "d": {"heartbeatInterval": "soon"}}  # fmt: skip
    log.write_bytes(b"".join(lines) + orjson.dumps(gateway_sent) + b"\n")
    code, out, _ = await gwtool(capsys, "validate", str(log), "--as", "sharder")
    assert code == 0 and "ok: 2 payloads valid (those sharder sent)" in out
    code, out, _ = await gwtool(capsys, "validate", str(log), "--as", "gateway")
    assert code == 1 and "1 of 1 payload invalid (those the gateway sent)" in out and "heartbeatInterval" in out
    code, _, err = await gwtool(capsys, "validate", str(log), "--as", "commands")
    assert code == 1
    assert (
        "no payload in the recording was sent by commands (it holds 2 payloads from sharder, 1 payload from the gateway)"
        in " ".join(err.split())
    )


def test_a_relayed_event_is_one_recorded_line_and_reads_back_with_where_it_went():
    from gwtool.logfile import item_of
    from gwtool.records import Forward, Record

    read = Record("in", 40, {"op": 2, "t": "EXECUTE_COMMAND", "d": {}}, conn=1, service="sharder",
                  forwards=[Forward(2, "commands", 40), Forward(3, "commands", 31, True)])  # fmt: skip
    line = read.to_json()
    assert line["to"] == [
        {"conn": 2, "service": "commands", "size": 40, "compressed": False},
        {"conn": 3, "service": "commands", "size": 31, "compressed": True},
    ]
    again = item_of(line)
    assert again.forwards == read.forwards and again.direction == "in"
    assert item_of({**line, "to": [{"conn": "x"}, 5, {"conn": 4, "service": ["bad"]}]}).forwards == [Forward(4, None, 0)]
