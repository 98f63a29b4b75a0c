"""The dashboard at every width, its cursor row in every theme, and where the focus goes.

Over the deterministic demo session (no network): widths from 80 to 200 columns, each built-in
theme, and each path of the focus model that docs/tui.md states in one sentence.
"""

from __future__ import annotations

import re

import pytest
from textual.widgets import DataTable, Input, Tabs, TextArea, Tree

from gwtool.tui.demo import demo_app
from gwtool.tui.screenshots import settle
from gwtool.tui.widgets.detail import Detail
from gwtool.tui.widgets.stream import DATA_SHARE, Stream

WIDTHS = (80, 100, 119, 120, 139, 140, 160, 200)


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """WCAG 2 contrast ratio of two colours."""

    def luminance(rgb: tuple[int, int, int]) -> float:
        def channel(value: int) -> float:
            v = value / 255
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

        r, g, b = (channel(c) for c in rgb)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def line_text(stream: Stream, y: int) -> str:
    return "".join(segment.text for segment in stream.render_line(y))


@pytest.mark.parametrize("width", WIDTHS)
async def test_the_data_column_gets_its_share_at_every_width(proto, width):
    app = demo_app(proto)
    async with app.run_test(size=(width, 40)) as pilot:
        await settle(pilot)
        stream = app.stream
        columns = stream.columns()
        assert stream.size.width - columns.fixed >= DATA_SHARE * stream.size.width, (width, columns)
        event_lines = [line_text(stream, y) for y in range(stream.size.height) if "EXECUTE_COMMAND" in line_text(stream, y)]
        # (a relayed event's line names where it went before its data: the data still begins there)
        assert event_lines and all('{"command":"ban","r' in line for line in event_lines), event_lines[:2]


@pytest.mark.parametrize("width", WIDTHS)
async def test_the_who_column_shows_whole_service_names_at_every_width(proto, width):
    """It once cut them into apparent typos (``#6 sharde``, ``gw #1 comma``)."""
    app = demo_app(proto)
    async with app.run_test(size=(width, 40)) as pilot:
        await settle(pilot)
        lines = [line_text(app.stream, y) for y in range(app.stream.size.height)]
        names = [match.group(1) for line in lines if (match := re.search(r" gw #\d+ (\S+) ", line))]
        assert names and set(names) <= {*proto.services, "?"}, names


def test_a_connection_number_too_long_for_the_who_column_shortens_the_name_with_an_ellipsis(proto):
    from gwtool.records import Notice
    from gwtool.tui.feed import Entry
    from gwtool.tui.widgets.stream import columns_for, entry_parts, service_width

    columns = columns_for(60, None, service_width(proto))  # the narrowest: room for #12 commands
    for conn, shown in ((12, "#12 commands "), (12345, "#12345 comm… ")):
        entry = Entry(0, "gw", Notice("identified", "identified as commands", conn=conn, service="commands"))
        assert [text for text, _ in entry_parts(entry, proto, columns)][2:4] == ["gw ", shown]


async def test_right_and_left_scroll_the_data_and_the_title_says_so(proto):
    app = demo_app(proto)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("up")  # the newest line: select it
        before = line_text(app.stream, app.stream.cursor - app.stream.scroll_offset.y)
        await pilot.press("right")
        await settle(pilot)
        after = line_text(app.stream, app.stream.cursor - app.stream.scroll_offset.y)
        assert app.stream.data_offset > 0 and after != before
        assert before[: app.stream.columns().fixed] == after[: app.stream.columns().fixed]  # the fixed columns stay
        assert "data from column" in app.stream.border_subtitle
        await pilot.press("left")
        await settle(pilot)
        assert app.stream.data_offset == 0 and "data from column" not in app.stream.border_subtitle


async def test_every_part_of_the_cursor_row_is_readable_in_every_built_in_theme(proto):
    app = demo_app(proto)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("up")
        failures = []
        for theme in sorted(app.available_themes):
            app.theme = theme
            for focus in (app.stream, app.filter_box):  # the cursor row focused, and not
                focus.focus()
                await pilot.pause()
                stream = app.stream
                strip = stream._render_strip(stream.selected, True, 150)
                for segment in strip:
                    if not segment.text.strip():
                        continue
                    fg, bg = segment.style.color, segment.style.bgcolor
                    ratio = contrast(fg.get_truecolor(), bg.get_truecolor())
                    if ratio < 4.5:
                        failures.append(f"{theme} focused={focus is stream} {segment.text!r}: {ratio:.2f}:1")
        assert not failures, failures


async def test_esc_from_the_editor_goes_back_to_the_stream_and_q_then_quits(proto):
    app = demo_app(proto)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        assert isinstance(app.focused, TextArea)
        await pilot.press("escape")
        assert app.focused is app.stream and app.filter_box.value == ""
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


@pytest.mark.parametrize(("key", "pane", "focused"), [("1", "detail", Detail), ("2", "latency", Tabs), ("3", "cache", Tree),
                                                      ("4", "compose", TextArea), ("5", "services", DataTable)])  # fmt: skip
async def test_digits_open_a_pane_and_focus_it_from_any_pane(proto, key, pane, focused):
    app = demo_app(proto)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("3")  # start in the cache tree: it used to swallow the digits
        await settle(pilot)
        assert isinstance(app.focused, Tree)
        await pilot.press(key)
        await settle(pilot)
        assert app.panes.active == pane and isinstance(app.focused, focused), app.focused


async def test_tab_leaves_the_editor_and_digits_there_are_text(proto):
    app = demo_app(proto)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        editor = app.focused
        assert isinstance(editor, TextArea)
        text = editor.text
        await pilot.press("1", "q")  # text in the editor, not a pane switch nor quit
        assert app.panes.active == "compose" and app.is_running and editor.text != text
        await pilot.press("tab")
        assert app.focused is not editor


async def test_in_the_filter_letters_are_text_and_esc_clears_it(proto):
    app = demo_app(proto)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"q1p")
        assert isinstance(app.focused, Input) and app.filter_box.value == "q1p" and not app.paused
        await pilot.press("escape")
        assert app.focused is app.stream and app.filter_box.value == ""


async def test_the_footer_lists_only_keys_that_apply(proto):
    app = demo_app(proto)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert app.check_action("focus_filter", ()) and app.check_action("cycle_side", ())
        await pilot.press("slash")
        assert not app.check_action("focus_filter", ()) and not app.check_action("pause", ())
        assert app.check_action("escape", ()) and app.check_action("send", ())  # Esc and Ctrl keys still apply


async def test_the_theme_is_remembered_between_runs_and_a_broken_file_is_the_default(proto, config_home):
    from gwtool.tui.app import GwtoolApp
    from gwtool.tui.demo import DemoSession
    from gwtool.tui.settings import settings_path

    async with GwtoolApp(DemoSession(proto)).run_test(size=(100, 30)) as pilot:
        pilot.app.theme = "nord"
        await pilot.pause()
    assert settings_path().is_relative_to(config_home)
    async with GwtoolApp(DemoSession(proto)).run_test(size=(100, 30)) as pilot:
        assert pilot.app.theme == "nord"
    settings_path().write_text('{"theme": ["[/]"]')  # hostile or torn: ignored
    async with GwtoolApp(DemoSession(proto)).run_test(size=(100, 30)) as pilot:
        assert pilot.app.theme == "textual-dark"


async def test_a_filter_that_matches_nothing_says_so(proto):
    app = demo_app(proto)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        app.filter_box.value = "op:NOPE"
        await settle(pilot)
        assert "op:NOPE matches no op of the protocol (HEARTBEAT" in app.stream.border_subtitle
        app.filter_box.value = "zzzz-not-there"
        await settle(pilot)
        assert "no line matches the filter" in app.stream.border_subtitle and "Esc clears it" in app.stream.border_subtitle


async def test_ctrl_r_puts_the_example_back_in_the_editor(proto):
    app = demo_app(proto)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        editor = app.focused
        example = editor.text
        editor.text = "{ broken"
        await pilot.press("ctrl+r")
        assert editor.text == example


async def test_latency_from_before_a_disconnect_is_marked_stale_and_the_graph_has_its_range(proto):
    from tui_testkit import plain

    from gwtool.client import ClientState
    from gwtool.tui.demo import MONOTONIC

    for state, stale in ((None, False), (ClientState(phase="reconnecting", retry_at=MONOTONIC + 3, conn=1), True)):
        app = demo_app(proto, state=state)
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot)
            await pilot.press("2")
            await settle(pilot)
            text = plain(app.query_one("#latency-numbers"))
            assert ("stale: not connected" in text) is stale, text
            assert " to " in text and "graph: the last" in text  # the graph's scale: min to max


async def test_the_footer_says_resume_while_paused_and_p_resumes(proto):
    from textual.widgets import Footer

    app = demo_app(proto)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)

        def footer() -> list[str]:
            return [b.binding.description for b in app.screen.active_bindings.values() if b.binding.show]

        assert "Pause" in footer() and "Resume" not in footer()
        await pilot.press("p")
        await settle(pilot)
        assert app.paused and "Resume" in footer() and "Pause" not in footer()
        assert app.query_one(Footer).is_mounted
        await pilot.press("p")
        assert not app.paused


async def test_clearing_a_filter_keeps_the_line_at_the_top_when_reading_back(proto):
    app = demo_app(proto)
    async with app.run_test(size=(160, 30)) as pilot:
        await settle(pilot)
        stream = app.stream
        stream.follow = False  # reading back (a mouse scroll up does this)
        stream.scroll_to(y=10, animate=False, immediate=True)
        await settle(pilot)
        top = stream.view[stream.scroll_offset.y].seq
        app.filter_box.value = "t:exec"
        await settle(pilot)
        app.action_clear_filter()
        await settle(pilot)
        assert stream.scroll_offset.y > 0 and stream.view[stream.scroll_offset.y].seq >= top


async def test_at_80x24_the_cache_tree_gets_more_than_one_row(proto):
    from gwtool.tui.screenshots import cache

    app = demo_app(proto)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await cache(pilot)
        await settle(pilot)
        assert app.cache_tree.size.height >= 4 and app.cache_detail.size.height >= 4


async def test_the_editor_highlights_json(proto):
    app = demo_app(proto)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        assert app.focused.language == "json"


async def test_latency_given_figures_before_its_pane_composed_shows_them_once_mounted():
    """Opening the latency pane refreshes it at once, sometimes before the pane has composed its
    widgets: that must not crash the dashboard (it once did, under load), and the figures must show."""
    from textual.app import App
    from textual.widgets import Static

    from gwtool.client.latency import LatencyStats
    from gwtool.tui.widgets.latency import Latency

    stats = LatencyStats()
    for ms in (0.9, 1.2, 0.8):
        stats.add(ms)
    latency = Latency()
    latency.show(stats, embedded=True)  # not mounted yet: no children to update
    app = App()
    async with app.run_test() as pilot:
        await app.mount(latency)
        await pilot.pause()
        table, summary = latency.query_one("#latency-numbers", Static).content.renderables  # type: ignore[union-attr]
        assert summary.plain.startswith("3 heartbeats answered")


async def test_a_latency_graph_of_one_sample_is_not_drawn_as_a_solid_block():
    """Sparkline stretches one value over its whole width and height: the pane says what it has."""
    from textual.app import App
    from textual.widgets import Sparkline
    from tui_testkit import plain

    from gwtool.client.latency import LatencyStats
    from gwtool.tui.widgets.latency import Latency

    stats = LatencyStats()
    stats.add(0.9)
    latency = Latency()
    app = App()
    async with app.run_test() as pilot:
        await app.mount(latency)
        latency.show(stats, embedded=True)
        await pilot.pause()
        graph = latency.query_one("#latency-graph", Sparkline)
        assert not graph.display and "one so far: 0.9 ms" in plain(latency.query_one("#latency-numbers"))
        stats.add(1.3)
        latency.show(stats, embedded=True)
        await pilot.pause()
        assert graph.display and list(graph.data or []) == [0.9, 1.3]
        assert "the last 2, 0.9 ms to 1.3 ms" in plain(latency.query_one("#latency-numbers"))
