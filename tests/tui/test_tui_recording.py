"""``gwtool tui --open FILE``: the dashboard as a viewer of a recording, with no network."""

from __future__ import annotations

import pytest

from gwtool.console import ndjson
from gwtool.logfile import header, header_line
from gwtool.records import Record
from gwtool.tui.app import GwtoolApp, make_app
from gwtool.tui.demo import demo_recording_app, write_demo_recording
from gwtool.tui.recording_source import RecordingSource
from gwtool.tui.screenshots import recording, settle


async def until(pilot, predicate, tries: int = 400) -> None:
    """Let the app run until ``predicate()`` holds (a file read in a thread, a timer's drain)."""
    for _ in range(tries):
        if predicate():
            return
        await pilot.pause(0.01)
    raise AssertionError("never happened")


def viewer(path, proto, *, keep: int = 10_000, follow: bool = False) -> GwtoolApp:
    return demo_recording_app(path, proto, keep=keep, follow=follow)


def event_line(proto, i: int, raw: str = "x") -> bytes:
    payload = {"op": proto.op("EVENT"), "t": "EXECUTE_COMMAND", "d": {"command": "ban", "raw": raw, "n": i}}
    return ndjson(Record("in", 100, payload, conn=2, service="sharder", ts=1_767_268_800.0 + i))


async def test_a_recording_shows_its_events_detail_latency_cache_and_services(proto, tmp_path):
    path = write_demo_recording(tmp_path / "session.ndjson", proto)
    app = viewer(path, proto)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.session.scanned.is_set() and app.stream.view)
        labels = [str(e.item.t) for e in app.stream.view if isinstance(e.item, Record)]
        assert "EXECUTE_COMMAND" in labels
        await pilot.press("up", "enter")
        await settle(pilot)
        assert app.detail.entry is not None
        assert app.session.cache.count("guild") == 1  # from the recorded CACHE payloads
        assert [s["type"] for s in await app.session.services()] == ["sharder"]  # identified, never closed
        assert app.session.recording is app.session and app.recording and app.session.state is None  # no client
        assert not app.applies("heartbeat") and not app.applies("send")  # the footer does not offer them
        assert "h" not in {key for key, b in app.screen.active_bindings.items() if b.binding.show and b.enabled}


async def test_keys_that_act_on_a_connection_say_a_recording_cannot_instead_of_doing_nothing(proto, tmp_path):
    path = write_demo_recording(tmp_path / "session.ndjson", proto)
    app = viewer(path, proto)
    said: list[str] = []
    notify = app.notify
    app.notify = lambda message, **options: (said.append(str(message)), notify(message, **options))[1]  # type: ignore[method-assign]
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.session.scanned.is_set())
        for key in ("h", "H", "R", "g", "ctrl+s"):
            await pilot.press(key)
            await settle(pilot)
        assert [m.split(":")[0].split(" (")[0] for m in said] == [
            "A recording cannot heartbeat",
            "A recording has no gateway to ask for a heartbeat.",
            "A recording has no connection to reconnect.",
            "A recording shows the side of the wire it recorded.",
            "A recording cannot send",
        ]
        assert app.is_running


def client_recording(path, proto, latencies: tuple[float, ...]):
    """A commands client's recording: a heartbeat and its ACK (with the round trip) per latency."""
    lines = [header_line(header(proto, side="client", command="connect", url="ws://x", service="commands"))]
    for i, ms in enumerate(latencies):
        beat = {"op": proto.op("HEARTBEAT"), "d": {"heapUsed": 1}}
        lines.append(ndjson(Record("out", 30, beat, conn=1, service="commands", ts=1_767_268_800.0 + i)))
        ack = Record("in", 15, {"op": proto.op("HEARTBEAT_ACK"), "d": {}}, conn=1, ts=1_767_268_800.001 + i, latency_ms=ms)
        lines.append(ndjson(ack))
    path.write_bytes(b"".join(lines))
    return path


async def test_the_latency_pane_of_a_recording_says_so_and_offers_no_heartbeat(proto, tmp_path):
    from tui_testkit import plain

    path = client_recording(tmp_path / "session.ndjson", proto, (0.9, 1.4, 0.8))
    app = viewer(path, proto)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.session.scanned.is_set())
        await pilot.press("2")
        await settle(pilot)
        numbers, help_line = plain(app.query_one("#latency-numbers")), plain(app.query_one("#latency-help"))
        assert "a recording" in help_line and "heartbeat now" not in help_line, help_line
        assert "heartbeats answered" in numbers and "connection was lost" not in numbers, numbers


async def test_enter_in_the_filter_searches_the_whole_file_not_just_the_kept_lines(proto, tmp_path):
    path = tmp_path / "big.ndjson"
    lines = [header_line(header(proto, side="gateway", command="mock-gateway", url="ws://x"))]
    lines += [event_line(proto, i, "needle" if i < 3 else "hay") for i in range(1000)]
    path.write_bytes(b"".join(lines))
    app = viewer(path, proto, keep=100)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: len(app.feed.entries) == 100)
        await pilot.press("slash", *"needle")
        await settle(pilot)
        assert not app.stream.view  # the kept 100 are the newest: none of them match
        await pilot.press("enter")
        await until(pilot, lambda: app.file_matches == 3)
        assert [e.item.payload["d"]["n"] for e in app.stream.view] == [0, 1, 2]
        assert "3 matching lines of the file" in str(app.stream.border_subtitle)


async def test_follow_picks_up_appended_lines_and_a_torn_line_once_it_is_whole(proto, tmp_path):
    path = tmp_path / "growing.ndjson"
    path.write_bytes(header_line(header(proto, side="gateway", command="mock-gateway", url="ws://x")) + event_line(proto, 0))
    app = viewer(path, proto, follow=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: len(app.feed.entries) == 1)
        whole = event_line(proto, 1)
        with path.open("ab") as f:
            f.write(event_line(proto, 2, "second") + whole[:20])
        await until(pilot, lambda: len(app.feed.entries) == 2)
        with path.open("ab") as f:
            f.write(whole[20:])
        await until(pilot, lambda: len(app.feed.entries) == 3)
        assert [e.item.payload["d"]["n"] for e in app.feed.entries] == [0, 2, 1]


async def test_a_broken_line_is_said_in_the_stream_not_a_crash(proto, tmp_path):
    path = tmp_path / "broken.ndjson"
    path.write_bytes(event_line(proto, 0) + b"{not json\n" + event_line(proto, 1))
    app = viewer(path, proto)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.session.error is not None)
        assert "broken.ndjson:2: not JSON" in app.session.error
        await until(pilot, lambda: any(getattr(e.item, "kind", "") == "error" for e in app.feed.entries))


def test_make_app_opens_a_recording_with_no_network(proto, tmp_path):
    app = make_app(proto, recording=write_demo_recording(tmp_path / "r.ndjson", proto))
    assert isinstance(app.session, RecordingSource) and app.session.embedded is False


def test_snapshot_of_a_recording(snap_compare, proto, tmp_path):
    path = write_demo_recording(tmp_path / "session.ndjson", proto)

    async def run_before(pilot) -> None:
        await recording(pilot)  # the screenshot's steps
        await settle(pilot)

    assert snap_compare(viewer(path, proto), terminal_size=(160, 48), run_before=run_before)


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--follow"], "--follow needs --open FILE"), (["--open", "/nonexistent.ndjson"], "no such file")],
)
def test_tui_open_flags_are_checked(args, message):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "gwtool", "tui", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and message in done.stderr
