"""A browser tab's dashboard (``gwtool tui --web``): Textual's web driver, made to end with its server.

textual-serve runs ``gwtool tui`` once per tab with Textual's ``WebDriver``: the screen goes out on
stdout, keys come in on stdin, both pipes to the serving process. When that process goes (stopped,
killed, crashed), the stock driver's input thread ends at the EOF and tells nobody, and the first
frame written to the closed stdout raises BrokenPipeError inside Textual's error handling (its
bell writes to the same pipe), so the app never exits: a dashboard left running with PPID 1.

``TabDriver`` ends the dashboard instead, when any of these says the server is gone: EOF on stdin,
a write to stdout that fails, the parent process changing (it died), SIGTERM or SIGHUP. Each asks
the app to quit as the server's own "quit" does, and a daemon timer ends the process if quitting
has not within ``EXIT_GRACE`` seconds. None of them needs the event loop or even the main thread to turn (threads; the
signals are taken by sigwait in one), so a dashboard whose loop is stuck still ends. ``GwtoolApp.get_driver_class`` picks this driver wherever
Textual would pick its web driver.

It relies on four things of ``WebDriver`` (``WEB_DRIVER_HOOKS`` in gwtool/tui/textual_private.py,
checked by tests/tui/test_textual_private.py): ``run_input_thread`` returns at EOF, the app
stopping sets ``exit_event``, and ``write``/``write_meta``/``write_binary_encoded`` are its only
writes once the app runs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from textual import messages
from textual.drivers.web_driver import WebDriver

if TYPE_CHECKING:
    from textual.app import App

T = TypeVar("T")

EXIT_GRACE = 5.0  # seconds a dashboard whose server is gone may take to quit before it is ended
PARENT_CHECK = 1.0  # seconds between looks at the parent process
STOP_SIGNALS = {signal.SIGTERM, signal.SIGHUP}


class TabDriver(WebDriver):
    """Textual's web driver for a dashboard that ends when the process serving its tab does."""

    def __init__(self, app: App[Any], *, debug: bool = False, mouse: bool = True, size: tuple[int, int] | None = None):
        super().__init__(app, debug=debug, mouse=mouse, size=size)
        self.parent = os.getppid()  # the serving process (textual-serve runs us with exec)
        self.leaving = threading.Event()  # set once: the server is gone or we were told to stop
        self._once = threading.Lock()
        if threading.current_thread() is threading.main_thread():
            # SIGTERM and SIGHUP are taken by a thread of their own, from the start: a Python handler
            # runs only when the main thread runs bytecode, and one blocked in the selector (an idle
            # loop, the signal delivered to another thread) never would. Blocked here, they stay
            # blocked in every thread started later, so only sigwait below ever sees them.
            signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
            threading.Thread(target=self._wait_for_signal, name="gwtool-tab-signals", daemon=True).start()

    def _wait_for_signal(self) -> None:
        signal.sigwait(STOP_SIGNALS)
        self.leave()

    # --- output: a closed pipe means the server is gone, never an exception in the app ----------
    def write(self, data: str) -> None:
        if not self.leaving.is_set():
            self._guarded(super().write, data)

    def write_meta(self, data: dict[str, object]) -> None:
        self._guarded(super().write_meta, data)

    def write_binary_encoded(self, data: tuple[str | bytes, ...]) -> None:
        self._guarded(super().write_binary_encoded, data)

    def _guarded(self, write: Callable[[T], None], data: T) -> None:
        try:
            write(data)
        except OSError:  # BrokenPipeError: nobody reads our screen any more
            self.leave()

    # --- input and lifetime --------------------------------------------------------------------
    def start_application_mode(self) -> None:
        super().start_application_mode()
        # The stock SIGTERM handler runs on the event loop, so a dashboard whose loop is stuck never
        # hears it; a plain handler runs between any two bytecodes and leaves from a thread.
        asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)  # the signal thread has it
        threading.Thread(target=self._watch_parent, name="gwtool-tab-parent", daemon=True).start()

    def run_input_thread(self) -> None:
        super().run_input_thread()
        if not self.exit_event.is_set():  # it returned at EOF, not because the app stopped
            self.leave()

    def _watch_parent(self) -> None:
        """EOF may never come if another process holds our stdin's other end: the parent's death does."""
        while not self.exit_event.wait(PARENT_CHECK):
            if os.getppid() != self.parent:
                self.leave()
                return

    def leave(self) -> None:
        """Quit as the server's "quit" would, and end the process if that has not within EXIT_GRACE."""
        with self._once:
            if self.leaving.is_set():
                return
            self.leaving.set()
        self.send_message(messages.ExitApp())
        deadline = threading.Timer(EXIT_GRACE, os._exit, (1,))
        deadline.daemon = True  # a dashboard that quits in time exits without waiting for it
        deadline.start()
