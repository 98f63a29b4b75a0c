"""What the long-running commands share: the event loop, the ``--log`` file and Ctrl-C / SIGTERM handling."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

from gwtool.errors import ClosedByGateway, GwtoolError

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Coroutine

T = TypeVar("T")

CLOSE_HINTS = {  # what a user can do about a close that ends the command
    "AUTHENTICATION_FAILED": "--token or GWTOOL_TOKEN sets the token gwtool sends",
    "INVALID_SERVICE": "the gateway does not know this service type: --as picks another, --protocol adds one",
}


def with_close_hint(exc: ClosedByGateway) -> ClosedByGateway:
    """``exc`` with what the user can do about it on a second line, when CLOSE_HINTS knows."""
    if (hint := CLOSE_HINTS.get(exc.name)) is None:
        return exc
    return ClosedByGateway(f"{exc}\n({hint})", exc.code, exc.name, exc.reason)


class open_log:  # noqa: N801 - used as a context manager
    """``--log FILE`` opened for appending, its header line written (gwtool/recording.py), or None."""

    def __init__(self, path: Path | None, header: Callable[[], dict[str, Any]] | None = None) -> None:
        self.path, self.header = path, header
        self.file: IO[bytes] | None = None

    def __enter__(self) -> IO[bytes] | None:
        if self.path is not None:
            try:
                self.file = open(self.path, "ab")  # noqa: SIM115
                if self.header is not None:
                    from gwtool.recording import write_header

                    write_header(self.file, self.header())
            except OSError as exc:
                raise GwtoolError(f"--log: cannot open {self.path}: {exc.strerror or exc}") from None
        return self.file

    def __exit__(self, *exc: object) -> None:
        if self.file is not None:
            self.file.close()


def run_on_fast_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run a wire command's coroutine on uvloop where it is installed (a dependency off Windows).

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


def install_stop_signals(stop: asyncio.Event) -> None:
    """Ctrl-C and SIGTERM set ``stop`` (the client then closes with 1000) instead of raising."""
    import asyncio
    import signal

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or not on this platform
            pass


@contextlib.contextmanager
def stop_signals(stop: Any) -> Iterator[None]:
    """For the block, Ctrl-C and SIGTERM set ``stop`` (the command winds down and says how far it
    got); a second one, or one after the block, interrupts as it did before."""
    import asyncio
    import signal

    loop = asyncio.get_running_loop()
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    installed: list[signal.Signals] = []

    def restore() -> None:
        while installed:
            sig = installed.pop()
            loop.remove_signal_handler(sig)
            signal.signal(sig, saved[sig] if saved[sig] is not None else signal.SIG_DFL)

    def on_signal() -> None:
        stop.set()
        restore()

    for sig in saved:
        try:
            loop.add_signal_handler(sig, on_signal)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or not on this platform
            pass
    try:
        yield
    finally:
        restore()
