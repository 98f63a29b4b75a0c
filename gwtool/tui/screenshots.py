"""Write an SVG of each main view of the dashboard, from the deterministic demo session.

    python -m gwtool.tui.screenshots [OUT_DIR]     (default: screenshots/)

Times print in UTC, clocks are frozen and the data comes from the protocol's examples, so the files
only change when the dashboard's looks do.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual.pilot import Pilot
from textual.widgets import Input, Select, TextArea

if TYPE_CHECKING:
    from gwtool.tui.app import GwtoolApp

WIDE, SMALL, MIDDLE = (160, 48), (80, 24), (120, 40)
BROKEN_SHARD = '"shard": "1"'
Step = Callable[[Pilot[None]], Awaitable[None]]  # what a view does before its screenshot


def dashboard(pilot: Pilot[None]) -> GwtoolApp:
    """The dashboard a step drives (the pilot knows it as any App)."""
    from gwtool.tui.app import GwtoolApp

    if not isinstance(pilot.app, GwtoolApp):
        raise TypeError(f"the screenshots' steps drive gwtool's dashboard, not {type(pilot.app).__name__}")
    return pilot.app


async def settle(pilot: Pilot[None]) -> None:
    """Let the screen come to rest, with no blinking cursor to make two runs differ."""
    for widget in (*pilot.app.query(Input), *pilot.app.query(TextArea)):
        widget.cursor_blink = False
    await pilot.pause(0.1)
    await pilot.wait_for_scheduled_animations()


async def stream(pilot: Pilot[None]) -> None:
    await pilot.press("up", "up", "enter")


async def small(pilot: Pilot[None]) -> None:
    await pilot.press("up", "enter")


async def filtered(pilot: Pilot[None]) -> None:
    dashboard(pilot).filter_box.value = "t:exec side:you"
    await pilot.pause()  # the filter applies (Input.Changed) before the key moves the cursor
    await pilot.press("up")


async def latency(pilot: Pilot[None]) -> None:
    await pilot.press("2")


async def cache(pilot: Pilot[None]) -> None:
    from gwtool.tui.widgets.cache_tree import CacheTree

    await pilot.press("3")
    await settle(pilot)
    tree = pilot.app.query_one(CacheTree)
    tree.focus()
    tree.select_node(tree.type_nodes["guild"].children[0])


async def compose(pilot: Pilot[None]) -> None:
    """An event this service may not send, with a field of the wrong type: both problems show."""
    await pilot.press("4")
    await settle(pilot)
    app = dashboard(pilot)
    event = next(e for e in app.proto.events.values() if e.example and not e.may_be_sent_by(app.session.service))
    app.query_one("#compose-kind", Select).value = f"event:{event.t}"
    await settle(pilot)
    editor = pilot.app.query_one("#compose-editor", TextArea)
    editor.text = editor.text.replace('"shard": 1', BROKEN_SHARD)


async def confirm(pilot: Pilot[None]) -> None:
    """Sending what the service may not send asks first."""
    await compose(pilot)
    await settle(pilot)
    await pilot.press("ctrl+s")


async def services(pilot: Pilot[None]) -> None:
    await pilot.press("5")


async def help_screen(pilot: Pilot[None]) -> None:
    await pilot.press("question_mark")


async def stats(pilot: Pilot[None]) -> None:
    """The Stats pane; over a recording, once the pass over the file has counted it all."""
    recording = dashboard(pilot).session.recording
    for _ in range(500):  # the pass over the file, in a thread
        if recording is None or recording.scanned.is_set():
            break
        await pilot.pause(0.01)
    await pilot.press("6")


VIEWS: dict[str, tuple[tuple[int, int], Step]] = {
    "stream": (WIDE, stream),
    "small-terminal": (SMALL, small),
    "middle-terminal": (MIDDLE, stream),
    "filter": (WIDE, filtered),
    "latency": (WIDE, latency),
    "cache": (WIDE, cache),
    "compose": (WIDE, compose),
    "confirm": (WIDE, confirm),
    "services": (WIDE, services),
    "help": (WIDE, help_screen),
    "stats": (WIDE, stats),
}


async def recording(pilot: Pilot[None]) -> None:
    recording = dashboard(pilot).session.recording
    for _ in range(500):  # the pass over the file, in a thread
        if recording is None or recording.scanned.is_set():
            break
        await pilot.pause(0.01)
    await settle(pilot)
    await pilot.press("up", "up", "enter")


RECORDING = {
    "recording": (WIDE, recording),
    "stats-recording": (WIDE, stats),
}  # tui --open: the demo session as a gateway's recording


async def violation(pilot: Pilot[None]) -> None:
    """The proxy's violation selected, shown in Detail."""
    from gwtool.records import Notice

    stream = dashboard(pilot).stream
    index = next(i for i, e in enumerate(stream.view) if isinstance(e.item, Notice) and e.item.kind == "violation")
    stream.follow = False
    stream.cursor = index
    await pilot.press("enter")


async def one_connection(pilot: Pilot[None]) -> None:
    """conn:2 in the filter: the commands worker's connection, both ways, its violation selected."""
    dashboard(pilot).filter_box.value = "conn:2"
    await pilot.pause()
    await violation(pilot)


async def faults(pilot: Pilot[None]) -> None:
    """The Faults pane, a rule being typed with a mistake in it: the proxy's parser names it."""
    await pilot.press("7")
    await settle(pilot)
    await pilot.press(*"drop op:HEARTBEAT_ACK from:sharder")


PROXY = {  # tui --proxy: the demo proxy's connections
    "proxy": (WIDE, violation),
    "proxy-small": (SMALL, one_connection),
    "proxy-faults": (WIDE, faults),
    "proxy-faults-small": (SMALL, faults),
}


async def shoot(name: str, out: Path) -> Path:
    import tempfile

    from gwtool.tui.demo import demo_app, demo_proxy_app, demo_recording_app, write_demo_recording

    size, steps = VIEWS.get(name) or RECORDING.get(name) or PROXY[name]
    with tempfile.TemporaryDirectory() as tmp:
        if name in RECORDING:
            app = demo_recording_app(write_demo_recording(Path(tmp) / "session.ndjson", demo_app().proto))
        elif name in PROXY:
            app = demo_proxy_app()
        else:
            app = demo_app()
        return await _shoot(app, name, out, size, steps)


async def _shoot(app: GwtoolApp, name: str, out: Path, size: tuple[int, int], steps: Step) -> Path:
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await steps(pilot)
        await settle(pilot)
        svg = app.export_screenshot(title=f"gwtool tui — {name}")
    path = out / f"tui-{name}.svg"
    path.write_text(svg, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    os.environ["TZ"] = "UTC"
    time.tzset()
    for name in (*VIEWS, *RECORDING, *PROXY):
        print(asyncio.run(shoot(name, out)))


if __name__ == "__main__":
    main()
