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
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, TextArea

WIDE, SMALL, MIDDLE = (160, 48), (80, 24), (120, 40)
BROKEN_SHARD = '"shard": "1"'


async def settle(pilot: Pilot) -> None:
    """Let the screen come to rest, with no blinking cursor to make two runs differ."""
    for widget in (*pilot.app.query(Input), *pilot.app.query(TextArea)):
        widget.cursor_blink = False
    await pilot.pause(0.1)
    await pilot.wait_for_scheduled_animations()


async def stream(pilot: Pilot) -> None:
    await pilot.press("up", "up", "enter")


async def small(pilot: Pilot) -> None:
    await pilot.press("up", "enter")


async def filtered(pilot: Pilot) -> None:
    pilot.app.filter_box.value = "t:exec side:you"
    await pilot.pause()  # the filter applies (Input.Changed) before the key moves the cursor
    await pilot.press("up")


async def latency(pilot: Pilot) -> None:
    await pilot.press("2")


async def cache(pilot: Pilot) -> None:
    from gwtool.tui.widgets.cache_tree import CacheTree

    await pilot.press("3")
    await settle(pilot)
    tree = pilot.app.query_one(CacheTree)
    tree.focus()
    guild = next(node for node in tree.root.children if node.label.plain.startswith("guild"))
    tree.select_node(guild.children[0])


async def compose(pilot: Pilot) -> None:
    """An event this service may not send, with a field of the wrong type: both problems show."""
    await pilot.press("4")
    await settle(pilot)
    proto = pilot.app.proto
    event = next(e for e in proto.events.values() if e.example and not e.may_be_sent_by(pilot.app.session.service))
    pilot.app.query_one("#compose-kind").value = f"event:{event.t}"
    await settle(pilot)
    editor = pilot.app.query_one("#compose-editor", TextArea)
    editor.text = editor.text.replace('"shard": 1', BROKEN_SHARD)


async def confirm(pilot: Pilot) -> None:
    """Sending what the service may not send asks first."""
    await compose(pilot)
    await settle(pilot)
    await pilot.press("ctrl+s")


async def services(pilot: Pilot) -> None:
    await pilot.press("5")


async def help_screen(pilot: Pilot) -> None:
    await pilot.press("question_mark")


VIEWS: dict[str, tuple[tuple[int, int], Callable[[Pilot], Awaitable[None]]]] = {
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
}


async def recording(pilot: Pilot) -> None:
    for _ in range(500):  # the pass over the file, in a thread
        if pilot.app.session.scanned.is_set():  # type: ignore[attr-defined]
            break
        await pilot.pause(0.01)
    await settle(pilot)
    await pilot.press("up", "up", "enter")


RECORDING = {"recording": (WIDE, recording)}  # tui --open: the demo session as a gateway's recording


async def shoot(name: str, out: Path) -> Path:
    import tempfile

    from gwtool.tui.demo import demo_app, demo_recording_app, write_demo_recording

    size, steps = VIEWS.get(name) or RECORDING[name]
    with tempfile.TemporaryDirectory() as tmp:
        if name in RECORDING:
            app = demo_recording_app(write_demo_recording(Path(tmp) / "session.ndjson", demo_app().proto))
        else:
            app = demo_app()
        return await _shoot(app, name, out, size, steps)


async def _shoot(app: Any, name: str, out: Path, size: tuple[int, int], steps: Callable[[Pilot], Awaitable[None]]) -> Path:
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
    for name in (*VIEWS, *RECORDING):
        print(asyncio.run(shoot(name, out)))


if __name__ == "__main__":
    main()
