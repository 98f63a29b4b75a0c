"""The Stats pane (key 6): the statistics core's tables live and over a recording, Enter filtering."""

from __future__ import annotations

from textual.widgets import TabbedContent
from tui_testkit import plain, wait_for

from gwtool.records import Notice, Record
from gwtool.tui.app import GwtoolApp
from gwtool.tui.demo import demo_app, demo_recording_app, write_demo_recording
from gwtool.tui.feed import Feed
from gwtool.tui.screenshots import settle
from gwtool.tui.session import Session
from gwtool.tui.widgets.stats_pane import StatsPane, StatsTable

SIZE = (160, 48)


def table(app: GwtoolApp, name: str) -> list[list[str]]:
    """A Stats table's rows, as the cells' text."""
    widget = app.query_one(f"#stats-{name}", StatsTable)
    return [[cell.plain for cell in widget.get_row_at(i)] for i in range(widget.row_count)]


def summary(app: GwtoolApp) -> str:
    return plain(app.query_one("#stats-summary"))


async def choose(pilot, app: GwtoolApp, name: str, row: int) -> None:
    """Enter on row ``row`` of a Stats table."""
    widget = app.query_one(f"#stats-{name}", StatsTable)
    widget.focus()
    widget.move_cursor(row=row)
    await pilot.press("enter")
    await settle(pilot)


async def test_key_6_opens_the_pane_with_the_gateways_conversations_and_kinds(proto):
    app = demo_app(proto)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        assert app.query_one(TabbedContent).active == "stats"
        assert app.focused is app.query_one("#stats-conversations")
        # the demo: the gateway's side holds our client (conn 1, commands) and the sharder (conn 2)
        gw = [item for side, item in app.session.items if side == "gw" and isinstance(item, Record)]
        rows = table(app, "conversations")
        assert [row[:2] for row in rows] == [["1", "commands"], ["2", "sharder"]]
        sharder_in = sum(1 for r in gw if r.conn == 2 and r.direction == "in")
        assert rows[1][2] == str(sharder_in)
        assert "the gateway's side" in summary(app) and f"{len(gw) + 8:,} payloads" in summary(app)  # + 8 forwards
        kinds = {row[0]: row[1] for row in table(app, "kinds")}
        assert kinds["← EVENT EXECUTE_COMMAND"] == "8" and kinds["→ EVENT EXECUTE_COMMAND"] == "8"
        assert "now" in plain(app.query_one("#stats-io")) and "/s ┤" in plain(app.query_one("#stats-io"))


async def test_enter_on_a_conversation_or_a_kind_filters_the_stream_to_it(proto):
    app = demo_app(proto)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        await choose(pilot, app, "conversations", 1)
        assert app.filter_box.value == "conn:2 side:gw"  # both sides shown: the gateway's numbering
        assert app.focused is app.stream
        shown = [e for e in app.stream.view]
        assert shown and all(e.side == "gw" and e.item.conn == 2 for e in shown if isinstance(e.item, Record))
        await pilot.press("6")
        kinds = table(app, "kinds")
        row = next(i for i, cells in enumerate(kinds) if cells[0] == "← EVENT EXECUTE_COMMAND")
        await choose(pilot, app, "kinds", row)
        assert app.filter_box.value == "dir:in op:EVENT t:EXECUTE_COMMAND side:gw"
        assert len(app.stream.view) == 8  # the sharder's eight events, read by the gateway
        await pilot.press("g")  # our client's side only: the pane follows it, and its terms need no side
        await pilot.press("6")
        assert "our client's side" in summary(app)  # at once, not at the next refresh
        await choose(pilot, app, "conversations", [row[0] for row in table(app, "conversations")].index("1"))
        assert app.filter_box.value == "conn:1"


async def test_the_pane_refreshes_once_a_second_only_while_it_is_open(proto):
    app = demo_app(proto)
    shown: list[int] = []
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = app.query_one(StatsPane)
        original = pane.show
        pane.show = lambda data, **options: (shown.append(data["payloads"] if data else 0), original(data, **options))[1]  # type: ignore[method-assign]
        await pilot.pause(1.3)
        assert shown == []  # closed: never laid out
        await pilot.press("6")
        await settle(pilot)
        before = shown[-1]
        app.push(Record("in", 40, {"op": proto.op("HEARTBEAT"), "d": {}}, conn=2, service="sharder", ts=app.clock()), "gw")
        await wait_for(pilot, lambda: shown[-1] == before + 1, what="the next refresh counting the new payload")
        await pilot.press("1")
        count = len(shown)
        await pilot.pause(1.3)
        assert len(shown) == count  # closed again: no more refreshes


async def test_live_both_sides_of_the_embedded_gateway_are_counted(proto):
    app = GwtoolApp(Session(proto, period=0.2))  # the simulated sharder sends every 0.2 s
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6")
        await wait_for(pilot, lambda: "sharder" in {row[1] for row in table(app, "conversations")}, what="the sharder")
        ours = app.live_stats.to_json("you")  # type: ignore[union-attr]
        gateways = app.live_stats.to_json("gw")  # type: ignore[union-attr]
        assert [talk["service"] for talk in ours["conversations"]] == ["commands"]
        assert {talk["service"] for talk in gateways["conversations"]} == {"commands", "sharder"}
        assert any(flow["t"] == "EXECUTE_COMMAND" and flow["forwarded"] for flow in gateways["delivery"])
        before = app.live_stats.to_json("gw")["payloads"]  # type: ignore[union-attr,index]
        await pilot.press("ctrl+l")  # clearing the stream starts the counts again
        again = app.live_stats.to_json("gw")  # type: ignore[union-attr]
        assert again is None or again["payloads"] < before
    assert app.live_stats._thread is not None and not app.live_stats._thread.is_alive()  # type: ignore[union-attr]  # ended with the app


async def test_a_recordings_pane_counts_the_whole_file_and_enter_searches_it(proto, tmp_path):
    path = write_demo_recording(tmp_path / "session.ndjson", proto)
    app = demo_recording_app(path, proto, keep=5)  # the stream keeps 5 lines; the pane counts them all
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.session.scanned.is_set(), what="the pass over the file")
        await pilot.press("6")
        await settle(pilot)
        lines = path.read_bytes().count(b"\n") - 1  # the header aside
        notices = path.read_bytes().count(b'"kind":"identified"')
        assert f"{lines - notices + 8:,} payloads" in summary(app)  # + the eight forwards
        assert "the gateway's side" in summary(app) and "reading" not in summary(app)
        assert [row[:2] for row in table(app, "conversations")] == [["1", "commands"], ["2", "sharder"]]
        assert table(app, "delivery")[0][:3] == ["EXECUTE_COMMAND", "8", "8"]
        assert "12:00:" in plain(app.query_one("#stats-io"))  # the axis ends at the recording's last record
        kinds = table(app, "kinds")
        row = next(i for i, cells in enumerate(kinds) if cells[0] == "← EVENT EXECUTE_COMMAND")
        await choose(pilot, app, "kinds", row)
        assert app.filter_box.value == "dir:in op:EVENT t:EXECUTE_COMMAND"  # one side: no side term
        await wait_for(pilot, lambda: app.file_matches == 8, what="the whole file's matches")


async def test_a_notice_and_hostile_names_show_as_text(proto):
    app = demo_app(proto)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        hostile = "[@click=app.quit]x[/]"
        payload = {"op": proto.op("EVENT"), "t": hostile, "d": {}}
        app.push(Record("in", 60, payload, conn=2, service="sharder", ts=app.clock()), "gw")
        app.push(Notice("closed", "closed", 2, "sharder", {"code": 4001, "name": "[b]X", "by": "gateway"}, ts=app.clock()), "gw")
        await pilot.press("6")
        await wait_for(pilot, lambda: any(hostile in row[0] for row in table(app, "kinds")), what="the next refresh")
        assert ["4001 [b]X", "gateway", "1"] in table(app, "closes")
        kinds = table(app, "kinds")
        await choose(pilot, app, "kinds", next(i for i, cells in enumerate(kinds) if hostile in cells[0]))
        assert app.is_running and "[@click" in app.filter_box.value  # one word: a term of its own


def test_the_feeds_tap_sees_every_drained_item_even_past_the_ring(proto):
    seen: list[int] = []
    feed = Feed(limit=10)
    feed.tap = lambda batch: seen.append(len(batch))
    for i in range(25):
        feed.push("you", Notice("info", str(i)))
    assert len(feed.drain()) == 10 and seen == [25]


async def test_a_recording_with_times_no_clock_shows_opens_and_its_pane_draws(proto, tmp_path):
    """A first record at 1e200 (past time_t) and one from a microsecond clock: the stream shows
    ``--:--:--``, the graph's columns are years long and its axis still a handful of labels."""
    import orjson

    from gwtool.console import NO_CLOCK
    from gwtool.logfile import header, header_line
    from gwtool.tui.widgets.stream import entry_parts

    beat = {"op": proto.op("HEARTBEAT"), "d": {}}
    lines = [Record("in", 34, beat, conn=1, service="sharder", ts=ts).to_json() for ts in (1e200, 1.7e9, 1.7e15)]
    path = tmp_path / "odd-clock.ndjson"
    path.write_bytes(
        header_line(header(proto, side="gateway", command="mock-gateway", url="ws://127.0.0.1:8765"))
        + b"".join(orjson.dumps(line) + b"\n" for line in lines)
    )
    app = demo_recording_app(path, proto)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.session.scanned.is_set(), what="the pass over the file")
        await pilot.press("6")
        await settle(pilot)
        assert app.is_running and "3 payloads" in summary(app)
        assert any(NO_CLOCK[:8] in line for line in plain(app.query_one("#stats-io")).splitlines()[-1:])
        shown = ["".join(text for text, _ in entry_parts(e, proto, app.stream.columns())) for e in app.stream.view]
        assert shown[0].startswith(NO_CLOCK[3:]) and len(shown) == 3  # (the stream shows minutes on: MM:SS.mmm)


def test_a_batch_that_cannot_be_counted_is_said_and_the_next_ones_are_counted(proto, monkeypatch):
    from gwtool.stats import Stats
    from gwtool.tui.feed import Entry
    from gwtool.tui.widgets.stats_pane import LiveStats

    real = Stats.add_many
    calls = []

    def add_many_once_broken(self: Stats, records: object) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug")
        real(self, records)  # type: ignore[arg-type]

    monkeypatch.setattr(Stats, "add_many", add_many_once_broken)
    live = LiveStats(proto)
    beat = {"op": proto.op("HEARTBEAT"), "d": {}}
    try:
        for n in range(2):
            live.add([Entry(n, "gw", Record("in", 34, beat, conn=1, service="sharder", ts=1.0 + n))])
            out = live.to_json("gw")
        assert live.failure == "a batch could not be counted: RuntimeError: a bug"
        assert out is not None and out["payloads"] == 1  # the second batch, counted
    finally:
        live.close()
