"""What the long-running commands share: the ``--log`` file and Ctrl-C / SIGTERM handling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gwtool.errors import GwtoolError


class open_log:  # noqa: N801 - used as a context manager
    """``--log FILE`` opened for appending, or None; closed afterwards."""

    def __init__(self, path: Path | None):
        self.path, self.file = path, None

    def __enter__(self) -> Any:
        if self.path is not None:
            try:
                self.file = open(self.path, "ab")  # noqa: SIM115
            except OSError as exc:
                raise GwtoolError(f"--log: cannot open {self.path}: {exc.strerror or exc}") from None
        return self.file

    def __exit__(self, *exc: Any) -> None:
        if self.file is not None:
            self.file.close()


def install_stop_signals(stop: Any) -> None:
    """Ctrl-C and SIGTERM set ``stop`` (the client then closes with 1000) instead of raising."""
    import asyncio
    import signal

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or not on this platform
            pass
