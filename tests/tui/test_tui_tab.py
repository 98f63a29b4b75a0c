"""A browser tab's dashboard (``gwtool tui`` under Textual's web driver, as textual-serve runs it)
ends when the process serving it goes: EOF on stdin, stdout closed, its parent's death, SIGTERM.

Each test starts the dashboard the way textual-serve does (the driver in the environment, the
screen on a stdout pipe, keys on a stdin pipe), waits until it has drawn, then takes one of those
away. Before gwtool/tui/tab.py the first three left it running for good."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

WEB_ENV = {"TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver", "COLUMNS": "100", "ROWS": "30"}
DASHBOARD = [sys.executable, "-m", "gwtool", "tui", "--quiet", "--port", "0"]
EXIT_WAIT = 30  # seconds: generous on a loaded machine; the dashboard's own bound is 5 s


def drawn(stdout) -> None:  # noqa: ANN001
    """Read until the dashboard has said it is a Textual app and drawn a first frame."""
    assert stdout.readline() == b"__GANGLION__\n"
    assert stdout.read1(65536)  # a packet of its screen


def drain(stdout) -> threading.Thread:  # noqa: ANN001
    """Keep reading its screen (a full pipe would block it), until it closes."""
    thread = threading.Thread(target=lambda: [None for _ in iter(lambda: stdout.read1(65536), b"")], daemon=True)
    thread.start()
    return thread


def gone(pid: int) -> bool:
    """No such process, or only its zombie (its new parent reaps it when it gets to it)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_gone(pid: int, what: str) -> None:
    deadline = time.monotonic() + EXIT_WAIT
    while not gone(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"the dashboard was still running {EXIT_WAIT} s after {what}")
        time.sleep(0.1)  # not our child: there is no exit to wait on, only to look for


@pytest.fixture
def tab(tmp_path):
    env = {**os.environ, **WEB_ENV, "XDG_CONFIG_HOME": str(tmp_path)}
    proc = subprocess.Popen(DASHBOARD, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdout is not None and proc.stdin is not None
    drawn(proc.stdout)
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_eof_on_stdin_ends_the_dashboard(tab):
    drain(tab.stdout)
    tab.stdin.close()  # what the dashboard sees when the server goes
    assert tab.wait(EXIT_WAIT) is not None


def test_a_closed_stdout_ends_the_dashboard(tab):
    tab.stdout.close()  # the next frame it writes fails: nobody reads its screen
    assert tab.wait(EXIT_WAIT) is not None


def test_sigterm_ends_the_dashboard(tab):
    drain(tab.stdout)
    tab.send_signal(signal.SIGTERM)
    assert tab.wait(EXIT_WAIT) is not None


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc to see a process that is not ours end")
def test_the_death_of_its_parent_ends_the_dashboard_with_stdin_still_open(tmp_path):
    """Its stdin's other end is held here, so no EOF comes: only the parent's death says so."""
    env = {**os.environ, **WEB_ENV, "XDG_CONFIG_HOME": str(tmp_path)}
    parent_code = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen(sys.argv[1:], stderr=subprocess.DEVNULL)\n"
        "print(child.pid, file=sys.stderr, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code, *DASHBOARD], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)  # fmt: skip
    assert parent.stderr is not None and parent.stdout is not None
    pid = int(parent.stderr.readline())
    try:
        drawn(parent.stdout)
        drain(parent.stdout)
        parent.kill()
        parent.wait()
        wait_gone(pid, "its parent was killed")
    finally:
        if not gone(pid):
            os.kill(pid, signal.SIGKILL)


STUCK = """
import os, sys, time
from gwtool.cli import main
from gwtool.tui.app import GwtoolApp

mounted = GwtoolApp.on_mount

def on_mount(self):
    mounted(self)

    def stick():
        os.write(2, b"stuck\\n")  # (Textual captures sys.stderr)
        time.sleep(600)  # the event loop stops turning: nothing scheduled on it runs any more

    self.set_timer(0.2, stick)

GwtoolApp.on_mount = on_mount
main(sys.argv[1:])
"""


def test_sigterm_ends_a_dashboard_whose_event_loop_is_stuck(tmp_path):
    """The stock handler runs on the event loop: a stuck loop used to ignore SIGTERM for good."""
    env = {**os.environ, **WEB_ENV, "XDG_CONFIG_HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-c", STUCK, *DASHBOARD[3:]], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    try:
        drawn(proc.stdout)
        drain(proc.stdout)
        assert proc.stderr.readline() == b"stuck\n"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(EXIT_WAIT) is not None
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
