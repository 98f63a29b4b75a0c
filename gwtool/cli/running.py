"""What the long-running commands share: the ``--log`` file, Ctrl-C / SIGTERM handling and close hints.

The event loop they run on is gwtool/loop.py's, shared with the load generator."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from gwtool.errors import ClosedByGateway, GwtoolError, Interrupted

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Coroutine

CLOSE_HINTS = {  # what a user can do about a close that ends the command
    "AUTHENTICATION_FAILED": "--token or GWTOOL_TOKEN sets the token gwtool sends",
    "INVALID_SERVICE": "the gateway does not know this service type: --as picks another, --protocol adds one",
}


def with_close_hint(exc: ClosedByGateway) -> ClosedByGateway:
    """``exc`` with what the user can do about it on a second line, when CLOSE_HINTS knows."""
    if (hint := CLOSE_HINTS.get(exc.name)) is None:
        return exc
    return ClosedByGateway(f"{exc}\n({hint})", exc.code, exc.name, exc.reason)


def run_async(coro: Coroutine[Any, Any, None], *, interrupted_status: int = 0) -> None:
    """Run a wire command's coroutine on the wire's loop. Ctrl-C that the command did not handle
    exits quietly with ``interrupted_status``; a run it stopped says how far it got (exit 130)."""
    from gwtool.loop import run_on_fast_loop

    try:
        run_on_fast_loop(coro)
    except KeyboardInterrupt:
        raise SystemExit(interrupted_status) from None
    except Interrupted as exc:  # what was done is said, plainly; the output was drained when the run ended
        from gwtool.text import printable

        sys.stderr.write(printable(str(exc)) + "\n")
        raise SystemExit(exc.exit_code) from None
    except ClosedByGateway as exc:
        if (hinted := with_close_hint(exc)) is exc:
            raise
        raise hinted from None


class open_log:
    """``--log FILE`` opened for appending, its header line written (gwtool/logfile.py), or None."""

    def __init__(self, path: Path | None, header: Callable[[], dict[str, Any]] | None = None) -> None:
        self.path, self.header = path, header
        self.file: IO[bytes] | None = None

    def __enter__(self) -> IO[bytes] | None:
        if self.path is not None:
            try:
                self.file = open(self.path, "ab")
                if self.header is not None:
                    from gwtool.logfile import write_header

                    write_header(self.file, self.header())
            except OSError as exc:
                raise GwtoolError(f"--log: cannot open {self.path}: {exc.strerror or exc}") from None
        return self.file

    def __exit__(self, *exc: object) -> None:
        if self.file is not None:
            self.file.close()


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
