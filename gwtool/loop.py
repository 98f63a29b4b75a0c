"""The event loop the wire runs on, for every front end and the load generator alike."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_on_fast_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that drives the wire on uvloop where it is installed (a dependency off Windows).

    The stock loop on Python 3.11 reads every frame into a fresh 256 KiB buffer, which glibc maps
    and unmaps per read (cpython#85451): a round trip costs about twice what it does on uvloop."""
    import asyncio

    try:
        import uvloop
    except ImportError:
        factory = None
    else:
        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)
