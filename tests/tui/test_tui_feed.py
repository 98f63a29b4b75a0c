"""The ring buffer, without a terminal (the filter language: tests/test_filters.py)."""

from __future__ import annotations

from gwtool.records import Notice, Record
from gwtool.text import printable
from gwtool.tui.feed import Feed


def event(proto, t="EXECUTE_COMMAND", text="ban") -> Record:
    return Record("in", 200, {"op": proto.op("EVENT"), "t": t, "d": {"command": text}})


def test_ring_buffer_keeps_the_newest_and_counts_the_dropped():
    feed = Feed(limit=100)
    for n in range(250):
        feed.push("you", Notice("info", str(n)))
    batch = feed.drain()
    assert len(feed.entries) == 100 and feed.dropped == 150
    assert [e.item.text for e in batch][-1] == "249" and feed.entries[0].item.text == "150"
    assert feed.pending == []


def test_the_ring_keeps_a_record_s_payload_not_its_frame(proto):
    """A frame is kept only for a pipe's line: in the ring it would double what a big payload holds."""
    feed = Feed()
    record = event(proto)
    record.frame = '{"op":0,"t":"EXECUTE_COMMAND","d":{"command":"ban"}}'
    feed.push("gw", record)
    (entry,) = feed.drain()
    assert entry.item.frame is None and entry.item.payload["d"] == {"command": "ban"}


def test_printable_removes_terminal_control_sequences():
    assert printable("a\x1b[31mred\x07\nnext\tx") == "a\ufffd[31mred\ufffd⏎next x"


async def test_a_flood_keeps_the_newest_entries_and_shows_the_dropped_count(proto):
    from gwtool.tui.app import GwtoolApp
    from gwtool.tui.demo import DemoSession
    from gwtool.tui.widgets.stream import Stream

    session = DemoSession(proto)
    session.items = []
    app = GwtoolApp(session, limit=10_000)
    async with app.run_test(size=(120, 30)) as pilot:
        for n in range(25_000):
            app.push(Record("in", 34, {"op": proto.op("HEARTBEAT_ACK"), "d": {"n": n}}))
        app.flush()  # what the flush timer does, now rather than within 0.1 s
        await pilot.pause()
        stream = app.query_one(Stream)
        assert len(stream.view) == 10_000 and app.feed.dropped == 15_000
        assert stream.view[-1].item.payload["d"]["n"] == 24_999
        assert "15,000 dropped" in stream.border_subtitle
        assert stream.scroll_offset.y == stream.max_scroll_y  # following the newest


async def test_the_selected_line_survives_the_oldest_lines_leaving(proto):
    from gwtool.tui.app import GwtoolApp
    from gwtool.tui.demo import DemoSession
    from gwtool.tui.widgets.stream import Stream

    session = DemoSession(proto)
    session.items = []
    app = GwtoolApp(session, limit=100)
    async with app.run_test(size=(120, 30)) as pilot:
        for n in range(100):
            app.push(Notice("info", f"line {n}"))
        app.flush()  # what the flush timer does, now rather than within 0.1 s
        await pilot.pause()
        stream = app.query_one(Stream)
        await pilot.press("up", *["up"] * 9)  # the 10th newest: line 90
        assert stream.selected.item.text == "line 90" and not stream.follow
        top = stream.scroll_offset.y
        for n in range(100, 130):
            app.push(Notice("info", f"line {n}"))
        app.flush()  # what the flush timer does, now rather than within 0.1 s
        await pilot.pause()
        assert stream.selected.item.text == "line 90" and stream.cursor == 60
        assert stream.scroll_offset.y == top - 30  # the same lines stay on screen
