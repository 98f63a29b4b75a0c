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
    proc.send_signal(signal.SIGINT)  # Ctrl-C, with two dashboards open
    assert proc.wait(30) == 0
    tabs = subprocess.run(["pgrep", "-f", f"gwtool tui .*--url ws://127.0.0.1:{gateway_port}"], capture_output=True, text=True)
    assert tabs.stdout == "", "a tab's dashboard outlived the server"


# --- without a browser --------------------------------------------------------------------------------


def test_loopback_hosts_are_told_apart_from_exposed_ones():
    from gwtool.tui.web import is_loopback

    assert all(is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "127.0.0.2"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.5", "example.org"))


def test_each_tab_runs_gwtool_tui_with_the_options_quoted_for_a_shell():
    import shlex

    from gwtool.tui.web import DashboardServer

    command = DashboardServer._command(["--as", "sharder", "--log", "a b.ndjson"], "ws://127.0.0.1:9/x")
    assert shlex.split(command)[1:] == [
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
