"""Helpers the dashboard's tests share (imported as ``tui_testkit``, like the gateway's testkit)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def wait_for(pilot, condition: Callable[[], object], timeout: float = 5.0, what: str = "condition") -> None:
    """Let the app run until ``condition()`` is true (bounded)."""
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await pilot.pause(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def plain(widget) -> str:
    """The text a Static shows (Text, Syntax, tables … rendered without styles)."""
    import io

    from rich.console import Console
    from rich.text import Text

    content = widget.content
    if isinstance(content, Text):
        return content.plain
    if isinstance(content, str):
        return content
    console = Console(width=200, file=io.StringIO(), color_system=None)
    with console.capture() as capture:
        console.print(content)
    return capture.get()
