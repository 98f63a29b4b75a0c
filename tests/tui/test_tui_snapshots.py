"""Snapshots of each main view over the deterministic demo session (fixed records, clocks, sizes)."""

from __future__ import annotations

from textual.pilot import Pilot

from gwtool.client import ClientState
from gwtool.tui.demo import MONOTONIC, demo_app, demo_proxy_app, demo_recording_app, write_demo_recording
from gwtool.tui.screenshots import cache, confirm, faults, one_connection, settle, stats, violation

WIDE = (160, 48)
SMALL = (80, 24)
MIDDLE = (120, 40)  # stacked: the panes go below the stream
WIDEST = (200, 50)


def selected(*keys: str):
    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press(*keys)
        await settle(pilot)

    return run_before


def test_stream_with_detail_wide(snap_compare, proto):
    assert snap_compare(demo_app(proto), terminal_size=WIDE, run_before=selected("up", "up", "enter"))


def test_stream_small_terminal(snap_compare, proto):
    assert snap_compare(demo_app(proto), terminal_size=SMALL, run_before=selected("up", "enter"))


def test_stream_middle_width_stacks_with_the_data_readable(snap_compare, proto):
    assert snap_compare(demo_app(proto), terminal_size=MIDDLE, run_before=selected("up", "up", "enter"))


def test_stream_widest(snap_compare, proto):
    assert snap_compare(demo_app(proto), terminal_size=WIDEST, run_before=selected("up", "up", "enter"))


def test_stream_filtered(snap_compare, proto):
    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("slash", *"t:exec side:you", "enter")
        await settle(pilot)

    assert snap_compare(demo_app(proto), terminal_size=WIDE, run_before=run_before)


def test_latency(snap_compare, proto):
    assert snap_compare(demo_app(proto), terminal_size=WIDE, run_before=selected("2"))


def test_cache_tree(snap_compare, proto):
    """The screenshot script's steps: the first guild's first entity selected."""

    async def run_before(pilot: Pilot) -> None:
        await cache(pilot)
        await settle(pilot)

    assert snap_compare(demo_app(proto), terminal_size=WIDE, run_before=run_before)


def test_compose_with_problems_and_confirmation(snap_compare, proto):
    """The screenshot script's steps: an event commands may not send, with a mistyped field."""

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await confirm(pilot)
        await settle(pilot)

    assert snap_compare(demo_app(proto), terminal_size=WIDE, run_before=run_before)


def test_services(snap_compare, proto):
    assert snap_compare(demo_app(proto), terminal_size=WIDE, run_before=selected("5"))


def test_help_screen(snap_compare, proto):
    assert snap_compare(demo_app(proto), terminal_size=WIDE, run_before=selected("question_mark"))


def test_reconnecting_status(snap_compare, proto):
    """The status bar names the close code and reason and counts down to the next attempt."""
    state = ClientState(phase="reconnecting", retry_at=MONOTONIC + 4.2, close_code=4009,
                        close_name="HEARTBEAT_TIMEOUT", close_reason="no heartbeat for 7.5 s [/]", conn=1)  # fmt: skip
    assert snap_compare(demo_app(proto, state=state), terminal_size=SMALL, run_before=selected())


def steps(*actions):
    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        for action in actions:
            await action(pilot)
            await settle(pilot)

    return run_before


def test_proxy_stream_with_a_violation_selected_wide(snap_compare, proto):
    """tui --proxy: every connection both ways (#N type), injected faults, the violation in Detail."""
    assert snap_compare(demo_proxy_app(proto), terminal_size=WIDE, run_before=steps(violation))


def test_proxy_stream_one_connection_small_terminal(snap_compare, proto):
    assert snap_compare(demo_proxy_app(proto), terminal_size=SMALL, run_before=steps(one_connection))


def test_proxy_faults_pane_wide(snap_compare, proto):
    """The rules with their counts (one off), a rule being typed with a mistake the parser names."""
    assert snap_compare(demo_proxy_app(proto), terminal_size=WIDE, run_before=steps(faults))


def test_proxy_faults_pane_small_terminal(snap_compare, proto):
    assert snap_compare(demo_proxy_app(proto), terminal_size=SMALL, run_before=steps(faults))


def test_stats_live_wide(snap_compare, proto):
    assert snap_compare(demo_app(proto), terminal_size=WIDE, run_before=steps(stats))


def test_stats_live_small_terminal(snap_compare, proto):
    assert snap_compare(demo_app(proto), terminal_size=SMALL, run_before=steps(stats))


def test_stats_recording_wide(snap_compare, proto, tmp_path):
    app = demo_recording_app(write_demo_recording(tmp_path / "session.ndjson", proto), proto)
    assert snap_compare(app, terminal_size=WIDE, run_before=steps(stats))


def test_stats_recording_small_terminal(snap_compare, proto, tmp_path):
    app = demo_recording_app(write_demo_recording(tmp_path / "session.ndjson", proto), proto)
    assert snap_compare(app, terminal_size=SMALL, run_before=steps(stats))
