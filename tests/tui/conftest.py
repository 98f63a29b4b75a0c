"""Shared helpers for the dashboard's tests: UTC times, a waiting helper, app factories."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator

import pytest

from gwtool.protocol.definition import load_protocol


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    """Stream lines print local times: pin the zone so snapshots do not depend on the machine."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.fixture(scope="session")
def proto():
    return load_protocol(use_env=False)


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
