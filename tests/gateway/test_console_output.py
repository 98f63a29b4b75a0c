"""The console off the wire's path (gwtool.output), with a real gateway and real sockets.

A blocked stdout must not stall relaying; --json and --log keep every record of a flood; a terminal
summarizes a flood but still shows a refusal in full, and goes back to lines when the rate falls.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import signal
import subprocess
import sys
import threading
from types import SimpleNamespace

import orjson
from gateway_testkit import EVENT, closed_with, event, recv, send, service, until
from websockets.exceptions import ConnectionClosed

from gwtool.gateway import MockGateway
from gwtool.output import WireOutput

TIMEOUT = 30


class BlockedStream(io.RawIOBase):
    """A stdout whose reader stopped reading (a terminal scrolled back): writes wait for ``release``."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.written = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # noqa: ANN001
        self.release.wait()
        self.written += len(data)
        return len(data)


class Captured(io.RawIOBase):
    def __init__(self) -> None:
        self.data = bytearray()
        self.lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # noqa: ANN001
        with self.lock:
            self.data += data
        return len(data)

    def text(self) -> str:
        with self.lock:
            return self.data.decode()


async def flood(gw: MockGateway, count: int) -> int:
    """``count`` events from a sharder; how many a commands service received."""
    receiver, _ = await service(gw, "commands")
    sender, _ = await service(gw, "sharder")
    frame = orjson.dumps(event()).decode()

    async def receive() -> int:
        got = 0
        while got < count:
            payload = await recv(receiver)
            got += payload.get("t") == "EXECUTE_COMMAND"
        return got

    async with asyncio.timeout(TIMEOUT):
        receiving = asyncio.create_task(receive())  # read while sending, as a real service does
        for _ in range(count):
            await sender.send(frame)
        got = await receiving
    await sender.close()
    await receiver.close()
    return got


async def test_a_blocked_stdout_does_not_stall_relaying():
    stream = BlockedStream()
    async with MockGateway(heartbeat_interval=30_000) as gw:
        output = WireOutput(gw.proto, stdout=stream, terminal=False, show_conn=True, backlog=64 << 10)
        gw.subscribe(output)
        assert await flood(gw, 3000) == 3000  # every event through while stdout took nothing
        stream.release.set()
        await output.aclose()
    assert output.dropped > 0  # what did not fit the backlog was counted, not waited for
    assert stream.written > 0


async def test_a_subscriber_that_raises_does_not_stop_the_gateway():
    def broken(item) -> None:  # noqa: ANN001
        raise RuntimeError("boom")

    async with MockGateway() as gw:
        gw.subscribe(broken)
        assert await flood(gw, 100) == 100


def start_gateway(*args: str, stdout=subprocess.PIPE) -> subprocess.Popen:  # noqa: ANN001
    env = {k: v for k, v in os.environ.items() if k != "GWTOOL_TOKEN"}
    return subprocess.Popen(
        [sys.executable, "-m", "gwtool", "mock-gateway", "--port", "0", *args],
        stdout=stdout, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip


def url_from(stream) -> str:  # noqa: ANN001
    for _ in range(20):
        if match := re.search(rb"ws://127\.0\.0\.1:\d+", stream.readline()):
            return match.group(0).decode()
    raise AssertionError("no start-up line with the URL")


def test_json_and_log_keep_every_record_of_a_50000_event_flood(tmp_path):
    log, copied = tmp_path / "gw.ndjson", tmp_path / "stdout.ndjson"
    # stdout is a pipe read by a process of its own (``| cat``), as a program reading it would be: a
    # reader thread here would share this process's GIL with the flood, and fall behind with it
    with copied.open("wb") as sink:
        cat = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=sink)
    proc = start_gateway("--json", "--log", str(log), stdout=cat.stdin)
    cat.stdin.close()  # type: ignore[union-attr]
    try:
        url = url_from(proc.stderr)  # --json keeps stdout NDJSON only
        assert asyncio.run(flood(SimpleNamespace(url=url), 50_000)) == 50_000  # type: ignore[arg-type]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=TIMEOUT) == 0
        assert cat.wait(timeout=TIMEOUT) == 0
    said = proc.stderr.read().decode()  # type: ignore[union-attr]
    assert "not written" not in said, said  # stdout kept up: nothing was dropped
    for name, data in (("stdout", copied.read_bytes()), ("--log", log.read_bytes())):
        records = [orjson.loads(line) for line in data.splitlines()]
        events = [r for r in records if r.get("t") == "EXECUTE_COMMAND"]
        assert sum(r["dir"] == "in" for r in events) == 50_000, name
        assert sum(len(r.get("to", ())) for r in events) == 50_000, name  # each read names where it went
        assert records[-1]["kind"] == "closed", name  # the shutdown's closes made it out too


async def test_a_terminal_summarizes_a_flood_but_shows_a_refusal_in_full_and_lines_come_back(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    captured = Captured()
    async with MockGateway() as gw:
        output = WireOutput(gw.proto, stdout=captured, terminal=True, show_conn=True, lines_per_second=50, window=0.5)
        gw.subscribe(output)
        receiver, _ = await service(gw, "commands")
        reading = asyncio.create_task(read_all(receiver))
        sender, _ = await service(gw, "sharder")
        frame = orjson.dumps(event()).decode()
        for _ in range(500):
            await sender.send(frame)
        await asyncio.wait_for(output.mode_changed.wait(), TIMEOUT)  # summarizing now
        output.mode_changed.clear()
        bad, _ = await service(gw, "sharder")
        await send(bad, event(d={**EVENT, "command": "refused-one", "ids": {**EVENT["ids"], "shard": "x"}}))
        code, _ = await closed_with(bad)
        for _ in range(500):
            await sender.send(frame)
        await asyncio.wait_for(output.mode_changed.wait(), TIMEOUT)  # the rate fell: lines again
        assert not output.summarizing
        await send(sender, event(d={**EVENT, "command": "after-the-flood"}))
        await until(lambda: "after-the-flood" in captured.text(), TIMEOUT)  # written by the output's thread
        reading.cancel()
        await output.aclose()
    text = re.sub(r"\x1b\[[0-9;]*m", "", captured.text())
    assert code == 4010
    assert "not printed (--every prints each)" in " ".join(text.split())  # the summary line (it may wrap)
    assert text.count("EVENT EXECUTE_COMMAND") < 300  # the flood itself was summarized, not printed
    assert re.search(r"← #\d+ sharder\s+EVENT EXECUTE_COMMAND .*refused-one", text)  # the refused payload in full
    assert "closed 4010 INVALID_PAYLOAD: d.ids.shard: expected integer, got string" in text
    assert re.search(r"← #\d+ sharder\s+EVENT EXECUTE_COMMAND .*after-the-flood", text)


async def test_a_terminal_summarizing_a_flood_still_logs_every_record(tmp_path):
    """Summary mode counts a flood's payloads as they arrive, without queueing them, unless a
    ``--log`` needs them: then every record still reaches the file."""
    log = tmp_path / "gw.ndjson"
    with log.open("wb") as file:
        async with MockGateway() as gw:
            output = WireOutput(gw.proto, stdout=Captured(), terminal=True, log=file, lines_per_second=50, window=0.5)
            gw.subscribe(output)
            assert await flood(gw, 5_000) == 5_000
            assert output.summarizing
            await output.aclose()
    events = [r for r in map(orjson.loads, log.read_bytes().splitlines()) if r.get("t") == "EXECUTE_COMMAND"]
    assert sum(r["dir"] == "in" for r in events) == 5_000 and sum(len(r.get("to", ())) for r in events) == 5_000


async def read_all(ws) -> None:  # noqa: ANN001
    """Keep a receiver reading, as a real service does."""
    with contextlib.suppress(ConnectionClosed):
        while True:
            await ws.recv()


async def test_a_pipe_gets_every_payload_as_a_plain_line():
    captured = Captured()
    async with MockGateway() as gw:
        output = WireOutput(gw.proto, stdout=captured, terminal=False, show_conn=True)
        gw.subscribe(output)
        assert await flood(gw, 1000) == 1000
        await output.aclose()
    lines = captured.text().splitlines()
    reads = [line for line in lines if re.search(r"← #\d+ sharder\s+EVENT EXECUTE_COMMAND", line)]
    routed = sum(bool(re.search(r" B  → #\d+ commands  \{", line)) for line in reads)  # read and forward: one line
    alone = sum(bool(re.search(r"→ #\d+ commands\s+EVENT EXECUTE_COMMAND", line)) for line in lines)
    assert len(reads) == 1000 and routed + alone == 1000, (len(reads), routed, alone)
    assert routed > 500  # a forward is on its own line only when something came between it and its read
    assert "\x1b" not in captured.text() and "not printed" not in captured.text()


def test_a_relayed_event_is_one_line_that_says_where_it_went():
    """A relayed event's forwards are on its read's line; one that is compressed says its own
    size; a forward of its own (a held event, delivered later) keeps its own line."""
    from gwtool.protocol.definition import load_protocol
    from gwtool.records import Forward, Record

    proto = load_protocol()
    payload = {"op": proto.op("EVENT"), "t": "EXECUTE_COMMAND", "d": {"n": 1}}
    sink = io.BytesIO()
    output = WireOutput(proto, stdout=sink, terminal=False, show_conn=True)
    output._pending.extend([  # noqa: SLF001
        Record("in", 40, payload, conn=1, service="sharder",
               forwards=[Forward(2, "commands", 40), Forward(3, "commands", 31, compressed=True)]),
        Record("out", 40, dict(payload), conn=4, service="commands"),
    ])  # fmt: skip
    output.close()
    first, second = sink.getvalue().decode().splitlines()
    whole = re.escape(orjson.dumps(payload).decode())  # a pipe's line ends with the whole payload
    assert re.search(r"← #1 sharder\s+EVENT EXECUTE_COMMAND\s+40 B  → #2 commands, #3 commands 31 B z  " + whole + "$", first)
    assert re.search(r"→ #4 commands\s+EVENT EXECUTE_COMMAND\s+40 B  " + whole + "$", second)


async def test_a_pipe_shows_the_frame_as_it_came_on_one_line_made_printable():
    """A pipe's line ends with the sender's own frame (its spacing kept, not encoded again); the
    whitespace JSON allows between tokens and a DEL in a string show as visible stand-ins."""
    captured = Captured()
    async with MockGateway() as gw:
        output = WireOutput(gw.proto, stdout=captured, terminal=False, show_conn=True)
        gw.subscribe(output)
        receiver, _ = await service(gw, "commands")
        sender, _ = await service(gw, "sharder")
        spaced = orjson.dumps(event(d={**EVENT, "command": "a\x7fb"})).decode().replace(",", ", ").replace(":", ": ", 1)
        await sender.send(spaced)
        await sender.send(spaced.replace(", ", ",\n\t", 1))
        for _ in range(2):
            await recv(receiver)
        await output.aclose()
    lines = [line for line in captured.text().splitlines() if "EVENT EXECUTE_COMMAND" in line and "← #2" in line]
    assert len(lines) == 2
    shown = spaced.replace("\x7f", "�")
    assert lines[0].endswith("  " + shown), lines[0][-120:]
    assert lines[1].endswith("  " + shown.replace(", ", ",⏎ ", 1)), lines[1][-120:]  # \n → ⏎, \t → a space


def test_payload_json_is_the_frame_when_there_is_one_else_the_payload_encoded_again():
    from gwtool.console import payload_json
    from gwtool.records import Record

    payload = {"op": 0, "d": {"x": "\u202eevil"}}
    assert payload_json(Record("out", 10, payload)) == '{"op":0,"d":{"x":"<U+202E>evil"}}'  # made printable
    frame = '{ "op": 0, "d": {"x": "\u202eevil"} }'
    assert payload_json(Record("in", 10, payload, frame=frame)) == '{ "op": 0, "d": {"x": "<U+202E>evil"} }'
    assert payload_json(Record("in", 10, payload, frame="{" + " " * 50 + "}"), width=20) == "{" + " " * 18 + "…"
    undecodable = Record("in", 3, None, error="not JSON", raw="\x1b[2J")
    assert payload_json(undecodable) == "not JSON: �[2J"


def test_a_pipe_s_ack_lines_say_each_round_trip_and_keep_one_set_of_columns():
    """The columns a pipe keeps per connection and kind do not include an ACK's latency."""
    from gwtool.protocol.definition import load_protocol
    from gwtool.records import Record

    proto = load_protocol()
    sink = io.BytesIO()
    output = WireOutput(proto, stdout=sink, terminal=False)
    ack = {"op": proto.op("HEARTBEAT_ACK"), "d": {}}
    output._pending.extend(Record("in", 20, ack, latency_ms=ms) for ms in (0.5, 1.25, None))  # noqa: SLF001
    output.close()
    lines = sink.getvalue().decode().splitlines()
    assert [line.split("  ")[-2].strip() for line in lines] == ["0.50 ms", "1.25 ms", "unsolicited"]
    assert len(output._plain._kept) == 1  # noqa: SLF001


def test_a_burst_read_in_one_turn_is_drained_in_a_few_turns_not_all_at_once():
    """Half of what waits goes per turn: a burst of 10,000 items (one turn of a flooded loop can read
    hundreds of frames) is written within a few turns, never by the subscriber inside a frame handler."""
    from gwtool.protocol.definition import load_protocol
    from gwtool.records import Record

    sink = io.BytesIO()
    turns = []

    async def main() -> None:
        output = WireOutput(load_protocol(), stdout=sink, terminal=False)
        for n in range(10_000):
            output(Record("in", 10, {"op": 1, "d": {"n": n}}, conn=1))
        for _ in range(1_000_000):  # turn by turn, what the drains left (a drain runs on the next turn)
            left = len(output._pending)  # noqa: SLF001
            if left < (turns[-1] if turns else 10_000):
                turns.append(left)
            if not left:
                break
            await asyncio.sleep(0)
        await output.aclose()

    asyncio.run(main())
    assert sink.getvalue().count(b"\n") == 10_000
    assert 3 < len(turns) < 10_000 // 64, turns  # sliced, and faster than a fixed 64 a turn


def test_a_terminal_line_is_what_rich_prints_cut_at_the_terminal_s_edge(monkeypatch):
    """A terminal's record line is rendered without Console.print when every character is one cell
    wide (gwtool.output.ansi): it must be byte for byte what print() writes, cut with an ellipsis at
    every width, with colours and with NO_COLOR, and wide characters still go through Rich."""
    from rich.console import Console

    from gwtool.console import format_notice, format_record
    from gwtool.protocol.definition import load_protocol
    from gwtool.records import Notice, Record

    proto = load_protocol()
    datas = ({"n": 1}, {"command": "ban", "raw": "x" * 300}, {"name": "名前😀 wide", "raw": "y" * 200})
    for no_color in (False, True):
        if no_color:
            monkeypatch.setenv("NO_COLOR", "1")
        for columns in (40, 80, 160, 400):
            monkeypatch.setenv("COLUMNS", str(columns))
            records = [
                Record("in", 99, {"op": proto.op("EVENT"), "t": "EXECUTE_COMMAND", "d": d}, conn=1, service="sharder")
                for d in datas
            ]
            sink = io.BytesIO()
            output = WireOutput(proto, stdout=sink, terminal=True, show_conn=True)
            output._pending.extend(records)  # noqa: SLF001 - drained by close(), no loop needed
            output.close()
            shown = sink.getvalue().decode().splitlines()
            screen = Console(file=io.StringIO(), force_terminal=True, highlight=False, width=columns)
            for record, line in zip(records, shown, strict=True):
                with screen.capture() as capture:
                    text = format_record(record, proto, who="#1 sharder", columns=columns)
                    screen.print(text, end="", no_wrap=True, overflow="ellipsis", crop=True)
                assert line == capture.get(), (no_color, columns, record.payload)
            assert ("\x1b[1;34m" in shown[0]) is not no_color  # EVENT's colour (bold stays under NO_COLOR)
            notices = [Notice("closed", "code 4002 DECODE_ERROR: " + "z" * n, 1, "commands", {"by": "gateway"}) for n in (5, 500)]
            sink = io.BytesIO()
            output = WireOutput(proto, stdout=sink, terminal=True, show_conn=True)
            output._pending.extend(notices)  # noqa: SLF001
            output.close()
            with screen.capture() as capture:
                for notice in notices:
                    screen.print(format_notice(notice, who="#1 commands"))
            assert sink.getvalue().decode() == capture.get(), (no_color, columns)  # the long one wrapped


def test_a_summary_wraps_between_its_phrases_at_the_terminal_s_width():
    from gwtool.output import Summary
    from gwtool.protocol.definition import load_protocol
    from gwtool.records import Record

    proto = load_protocol()
    second = Summary()
    for t in ("EXECUTE_COMMAND", "GUILD_CREATE", "MESSAGE_CREATE", "SHARD_READY", "GUILD_DELETE", "TYPING"):
        for direction in ("in", "out"):
            second.add(Record(direction, 250, {"op": proto.op("EVENT"), "t": t, "d": {}}))
    for width in (60, 80, 160, 1000):
        lines = [line.plain for line in second.lines(proto, 1.0, "8 connections · 0 held", 3, width)]
        assert all(len(line) <= width for line in lines), (width, lines)
        assert (len(lines) == 1) is (width == 1000)
        whole = " ".join(line.strip() for line in lines)
        for phrase in ("payloads/s", "EVENT EXECUTE_COMMAND 1", "+2 more", "8 connections · 0 held", "12 not printed", "3 lost"):
            assert phrase in whole, (width, phrase, lines)
