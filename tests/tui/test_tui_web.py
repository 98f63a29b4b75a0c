"""``gwtool tui --web`` in a real headless Chromium: the page loads, a dashboard identifies, keys work.

xterm.js draws the screen on a canvas, so the test reads what the dashboard sends instead: a
script added before the page loads keeps the terminal bytes its websocket receives."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

import orjson
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOTS = Path(__file__).parents[2] / "screenshots"
needs_browser = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="no browser: apt-get install -y chromium chromium-driver (.ci/run does it where apt-get can)",
)
KEEP_BYTES = """
window.__screen = "";
const Native = window.WebSocket;
window.WebSocket = function (...args) {
  const socket = new Native(...args);
  socket.addEventListener("message", (event) => {
    if (typeof event.data !== "string") {
      window.__screen = (window.__screen + new TextDecoder().decode(event.data)).slice(-400000);
    }
  });
  return socket;
};
window.WebSocket.prototype = Native.prototype;
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, seconds: float, what: str):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)  # polling a browser: it has no event to await from here
    raise AssertionError(f"no {what} within {seconds:g} s")


@pytest.fixture
def served(tmp_path):
    web_port, gateway_port = free_port(), free_port()
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gwtool", "tui", "--web", "--web-port", str(web_port), "--port", str(gateway_port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert f"open http://127.0.0.1:{web_port}" in first, first
    yield f"http://127.0.0.1:{web_port}", gateway_port, proc
    proc.terminate()
    proc.wait(15)


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # type: ignore[assignment]
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1600,1000", f"--user-data-dir={tmp_path / 'chromium'}"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": KEEP_BYTES})
    yield driver
    driver.quit()


def screen(driver) -> str:  # noqa: ANN001
    return driver.execute_script("return window.__screen || ''")


@needs_browser
def test_the_dashboard_in_chromium_identifies_takes_keys_and_two_tabs_share_one_gateway(served, browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    url, gateway_port, proc = served
    browser.get(url)
    wait_until(lambda: "identified" in screen(browser), 60, "dashboard that shows identified")
    wait_until(lambda: screen(browser).count("EXECUTE_COMMAND") >= 2, 20, "the simulated sharder's event")
    terminal = browser.find_element(By.CSS_SELECTOR, ".textual-terminal")
    ActionChains(browser).click(terminal).perform()  # a click selects a line: Detail shows it
    shot = tmp_path / "tui-web.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 20_000  # a drawn dashboard, not an empty page
    if os.environ.get("GWTOOL_UPDATE_SCREENSHOTS"):  # screenshots/tui-web.png is made this way
        shutil.copy(shot, SCREENSHOTS / "tui-web.png")
    before = len(screen(browser))
    ActionChains(browser).send_keys("?").perform()
    wait_until(lambda: "keys and actions" in screen(browser)[before:], 20, "help screen after ?")  # its title

    browser.switch_to.new_window("tab")  # a second tab: a dashboard of its own, on the same gateway
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": KEEP_BYTES})  # per tab
    browser.get(url)
    wait_until(lambda: "identified" in screen(browser), 60, "second tab's dashboard")
    services = orjson.loads(urlopen(f"http://127.0.0.1:{gateway_port}/services/").read())
    assert sum(s["type"] == "commands" for s in services) == 2  # both tabs, one embedded gateway
    assert proc.poll() is None
    assert len(descendants(f"--url ws://127.0.0.1:{gateway_port}")) == 2
    proc.send_signal(signal.SIGTERM)  # as `kill` or a service manager stops it, two dashboards open
    assert proc.wait(30) == 0
    assert descendants(f"--url ws://127.0.0.1:{gateway_port}") == [], "a tab's dashboard outlived the server"


# --- without a browser --------------------------------------------------------------------------------


def descendants(marker: str) -> list[str]:
    """The tabs' processes (and any shell in front of one): their command lines name the gateway."""
    found = subprocess.run(["pgrep", "-f", "--", marker], capture_output=True, text=True)
    assert found.returncode in (0, 1), found.stderr  # 1: none
    return [pid for pid in found.stdout.split() if not _zombie(pid)]


def _zombie(pid: str) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True  # gone meanwhile


def open_tab(url: str):  # noqa: ANN201
    """The websocket the page opens: textual-serve starts a dashboard for it."""
    from websockets.sync.client import connect

    deadline = time.monotonic() + 30
    while True:
        try:
            return connect(f"{url.replace('http', 'ws')}/ws?width=100&height=30", max_size=None, proxy=None)
        except OSError:  # the server says its URL a moment before it listens
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def started_server(tmp_path, web_port: int, gateway_port: int) -> subprocess.Popen[bytes]:  # noqa: ANN001
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gwtool", "tui", "--web", "--web-port", str(web_port), "--port", str(gateway_port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    proc.stdout.readline()  # "open http://…": starting
    return proc


def until_drawn(tab, text: bytes) -> None:  # noqa: ANN001
    screen = b""
    while text not in screen:
        message = tab.recv(timeout=60)
        screen += message if isinstance(message, bytes) else b""


@pytest.mark.skipif(sys.platform != "linux", reason="finds the tabs' processes by command line and /proc")
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
@pytest.mark.parametrize("when", ["tab-opened", "dashboard-starting", "dashboard-running"])
def test_no_dashboard_outlives_the_server_stopped_or_killed_at_any_point_of_a_tab(tmp_path, how, when):
    """Before gwtool/tui/tab.py a dashboard whose server was killed ran on for good (PPID 1)."""
    web_port, gateway_port = free_port(), free_port()
    marker = f"--url ws://127.0.0.1:{gateway_port}"
    proc = started_server(tmp_path, web_port, gateway_port)
    try:
        with open_tab(f"http://127.0.0.1:{web_port}") as tab:
            if when == "dashboard-starting":  # its process exists, Textual has not drawn yet
                wait_until(lambda: descendants(marker), 30, "dashboard process")
            elif when == "dashboard-running":
                until_drawn(tab, b"identified")
                assert descendants(marker), "the dashboard's process is not found by its command line"
            proc.send_signal(how)
            proc.wait(60)
        wait_until(lambda: not descendants(marker), 30, f"end of every dashboard after {how.name} ({when})")
    finally:
        proc.kill()
        proc.wait()
        for pid in descendants(marker):
            os.kill(int(pid), signal.SIGKILL)


@pytest.mark.skipif(sys.platform != "linux", reason="finds the tabs' processes by command line and /proc")
def test_a_dashboard_that_does_not_answer_delays_the_servers_stop_only_a_bounded_while(tmp_path):
    """A dashboard too busy to quit (stopped here) held SIGTERM's shutdown for 67 s; now the server
    gives it a few seconds and goes, and the dashboard ends by itself once it runs again."""
    web_port, gateway_port = free_port(), free_port()
    marker = f"--url ws://127.0.0.1:{gateway_port}"
    proc = started_server(tmp_path, web_port, gateway_port)
    stopped: list[str] = []
    try:
        with open_tab(f"http://127.0.0.1:{web_port}") as tab:
            until_drawn(tab, b"identified")
            stopped = descendants(marker)
            for pid in stopped:
                os.kill(int(pid), signal.SIGSTOP)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0  # liveness, not speed: it took 67 s before, and 6.6 s now
        assert stopped and descendants(marker) == stopped  # it is still there, stopped
    finally:
        for pid in stopped:
            os.kill(int(pid), signal.SIGCONT)
        proc.kill()
        proc.wait()
    wait_until(lambda: not descendants(marker), 30, "end of the dashboard once it ran again")


def test_loopback_hosts_are_told_apart_from_exposed_ones():
    from gwtool.tui.web import is_loopback

    assert all(is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "127.0.0.2"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.5", "example.org"))


@pytest.mark.skipif(os.name != "posix", reason="exec: a POSIX shell's")
def test_each_tab_runs_gwtool_tui_with_the_options_quoted_for_a_shell():
    import shlex

    from gwtool.tui.web import DashboardServer

    command = DashboardServer._command(["--as", "sharder", "--log", "a b.ndjson"], "ws://127.0.0.1:9/x")
    exec_, python, *args = shlex.split(command)
    assert exec_ == "exec" and python == sys.executable  # the shell is replaced: the dashboard is the server's child
    assert args == [
        "-m",
        "gwtool",
        "tui",
        "--as",
        "sharder",
        "--log",
        "a b.ndjson",
        "--url",
        "ws://127.0.0.1:9/x",
    ]


def test_web_on_a_busy_port_is_exit_2_and_an_exposed_host_warns():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "gwtool", "tui", "--web", "--web-port", str(port)],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and f"cannot serve on 127.0.0.1:{port}" in done.stderr
    proc = subprocess.Popen([sys.executable, "-m", "gwtool", "tui", "--web", "--web-host", "0.0.0.0", "--web-port", str(free_port()),
                             "--url", "ws://127.0.0.1:9"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stderr is not None
        assert "0.0.0.0 is not a loopback address" in proc.stderr.readline()
    finally:
        proc.terminate()
        proc.wait(15)
