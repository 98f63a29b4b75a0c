"""Untrusted text is never markup: payloads with markup-like strings show literally and drive nothing."""

from __future__ import annotations

from textual.widgets import DataTable
from tui_testkit import plain, wait_for

from gwtool.client import ClientState
from gwtool.records import Notice, Record
from gwtool.tui.app import GwtoolApp
from gwtool.tui.demo import MONOTONIC, DemoSession, demo_app
from gwtool.tui.session import Session
from gwtool.tui.widgets.cache_tree import CacheTree
from gwtool.tui.widgets.status_bar import StatusBar
from gwtool.tui.widgets.stream import Stream

NASTY = ["[bold]", "[/]", "[/", "[@click=app.quit]", "[@click=app.quit]click me[/]", "\x1b[31m"]


def strip_text(stream: Stream, y: int) -> str:
    return "".join(segment.text for segment in stream.render_line(y))


async def test_markup_in_payloads_shows_literally_and_clicks_do_nothing(proto):
    session = DemoSession(proto)
    session.items = []  # only the records below
    app = GwtoolApp(session)
    async with app.run_test(size=(240, 60)) as pilot:
        for nasty in NASTY:
            app.push(Record("in", 60, {"op": proto.op("EVENT"), "t": nasty, "d": {"command": nasty, nasty: 1}}))
            app.push(Record("in", 9, None, error=f"not JSON {nasty}", raw=nasty))
            app.push(Notice("closed", f"closed 4010 INVALID_PAYLOAD: t: unknown event {nasty}"))
            app.push(Record("in", 60, {"op": proto.op("CACHE"), "type": "user", "d": {"id": "1", "username": nasty}}), side="gw")
        app.flush()  # what the flush timer does, now rather than within 0.1 s
        await pilot.pause()
        stream = app.query_one(Stream)
        assert len(stream.view) == 4 * len(NASTY)
        for y in range(len(stream.view)):
            nasty = NASTY[y // 4]
            if y % 4 == 0:
                await pilot.click(Stream, offset=(30, y + 1))  # +1: the border
            else:
                stream.cursor = y
            await pilot.pause(0)
            assert app.is_running  # a [@click=app.quit] line did not quit
            assert stream.cursor == y
            line = strip_text(stream, y)
            shown = nasty.replace("\x1b", "\ufffd")
            assert shown in line or nasty.replace("\x1b", "\\u001b") in line  # JSON escapes control characters
            detail = plain(app.query_one("#detail-view .detail-heading")) + plain(app.query_one("#detail-view .detail-json"))
            assert shown in detail or nasty.replace("\x1b", "\\u001b") in detail
            assert "\x1b" not in line + detail  # no escape sequence reaches the terminal
        await pilot.press("c")
        assert "\\u001b" in app.clipboard  # copying a nasty payload works too
        await pilot.press("slash", *"[@")  # the filter box is plain text too
        app.filter_box.value += "click=app.quit]"
        await pilot.press("enter")
        assert app.is_running and len(stream.view) == 8


async def test_close_reason_with_markup_in_the_status_bar(proto):
    app = demo_app(proto)
    async with app.run_test(size=(160, 48)) as pilot:
        for nasty in NASTY:
            app.session.state = ClientState(phase="reconnecting", retry_at=MONOTONIC + 2, close_code=4010,
                                            close_name="INVALID_PAYLOAD", close_reason=f"t: unknown event {nasty}")  # fmt: skip
            app.refresh_status()
            await pilot.pause(0)
            text = plain(app.query_one(StatusBar))
            assert f"unknown event {nasty.replace(chr(27), chr(0xFFFD))}" in text and "in 2.0 s" in text
        assert app.is_running


async def test_markup_in_cache_entities_and_services(proto):
    session = DemoSession(proto)
    nasty = "[@click=app.quit]x[/]"
    session.cache.put("user", {"id": "42", "username": nasty, "discriminator": "0001", "avatar": None, "bot": False})

    async def services():
        return [{"conn": 7, "type": "[/", "startTime": 0, "heapUsed": "[bold]", "guilds": nasty}]

    session.services = services
    app = GwtoolApp(session)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("3")
        tree = app.query_one(CacheTree)
        await wait_for(pilot, lambda: tree.root.children, what="the cache tree")
        users = next(n for n in tree.root.children if n.label.plain.startswith("user"))
        assert any(nasty in leaf.label.plain for leaf in users.children)
        await pilot.press("5")
        table = app.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 1, what="the services row")
        row = [str(cell) for cell in table.get_row_at(0)]
        assert "[/" in row and nasty in row and "[bold]" in row
        await pilot.pause(0.1)  # DataTable renders later: it must not raise then either
        assert app.is_running


async def test_a_markup_event_name_sent_for_real_closes_with_a_literal_reason(proto):
    """Force-send t="[@click=app.quit]": the real gateway's close reason names it; nothing breaks."""
    app = GwtoolApp(Session(proto, quiet=True))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.session.state and app.session.state.phase == "identified", what="identified")
        await app.session.send({"op": proto.op("EVENT"), "t": "[@click=app.quit]", "d": {}}, force=True)
        await wait_for(pilot, lambda: app.session.state.close_code is not None, what="the gateway's close")
        await pilot.pause(0.1)
        assert app.is_running
        assert "[@click=app.quit]" in app.session.state.close_reason
        closed = [e for e in app.feed.entries if isinstance(e.item, Notice) and "[@click=app.quit]" in e.item.text]
        assert closed
        stream = app.query_one(Stream)
        stream.cursor = stream.index_of(closed[0].seq)
        await pilot.pause(0.1)
        assert "[@click=app.quit]" in plain(app.query_one("#detail-view .detail-heading"))


ESCAPES = [
    "\x1b]0;owned\x07",
    "\x1b]52;c;ZXZpbA==\x07",
    "\x1b]8;;http://evil\x1b\\x",
    "\x9b31m",
    "\u202eevil\u202c",
    "\u2066x\u2069",
    "a\x7fb",
]


async def test_terminal_escapes_and_bidi_overrides_show_as_visible_text(proto):
    import re

    session = DemoSession(proto)
    session.items = []
    app = GwtoolApp(session)
    async with app.run_test(size=(240, 40)) as pilot:
        for vector in ESCAPES:
            app.push(Record("in", 60, {"op": proto.op("EVENT"), "t": vector, "d": {"command": vector}}))
            app.push(Notice("closed", f"closed 4010 INVALID_PAYLOAD: {vector}"))
        app.flush()
        await pilot.pause()
        stream = app.query_one(Stream)
        lines = [strip_text(stream, y) for y in range(len(stream.view))]
    assert len(lines) == 2 * len(ESCAPES)
    for line in lines:
        assert not re.search("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", line), repr(line)
    assert any("<U+202E>evil" in line for line in lines)


async def test_a_deep_heartbeat_at_the_embedded_gateway_does_not_stop_the_dashboard(proto):
    """What any local process could send before identifying: it used to end the dashboard (exit 0)."""
    from websockets.asyncio.client import connect

    app = GwtoolApp(Session(proto, quiet=True))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(
            pilot, lambda: app.session.client is not None and app.session.state.phase == "identified", what="identified"
        )
        async with connect(app.session.gateway.url, proxy=None) as ws:
            await ws.recv()  # HELLO
            await ws.send('{"op":1,"d":{"x":' + "[" * 300 + "]" * 300 + "}}")
            await wait_for(pilot, lambda: ws.close_code is not None or ws.state.name == "CLOSED", what="the refusal")
        await wait_for(
            pilot,
            lambda: any(
                "nested deeper than 64 levels" in (getattr(e.item, "error", None) or getattr(e.item, "text", ""))
                for e in app.feed.entries
            ),
            what="the refusal in the stream",
        )
        assert app.is_running
        await app.session.client.round_trip(timeout=5)  # our own connection is fine
