"""``gwtool tui --web``: the dashboard in a browser, served by textual-serve.

Each browser tab gets a dashboard of its own: textual-serve runs ``gwtool tui`` once per tab with
Textual's web driver and relays its screen and input over a websocket (xterm.js on the page, so
keys, mouse, resize and OSC 52 copy work as in a terminal). Without ``--url`` this serving process
starts one mock gateway (and the simulated service) and every tab's dashboard connects to it, so
all tabs watch the same system.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual_serve.server import Server

from gwtool.gateway import ListenFailed, MockGateway
from gwtool.tui.session import EMBEDDED_HEARTBEAT_MS, SimulatedService

if TYPE_CHECKING:
    import asyncio

    from aiohttp import web

    from gwtool.protocol.definition import Definition

TAB_GRACE = 5.0  # seconds the tabs' dashboards get to quit when the server stops
CANCEL_ROUNDS = 5  # then each open tab's handler is cancelled again, half a second apart, at most this often
TEMPLATES = Path(__file__).with_name("web_templates")  # textual-serve's page, with no font from the internet
LOOPBACK_WARNING = (
    "warning: {host} is not a loopback address: anyone who can reach this port gets a dashboard, and"
    " through it a client of your gateway (it can send payloads as {service}). There is no login."
)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


class DashboardServer(Server):
    """textual-serve's Server, with the shared embedded gateway started and stopped with it."""

    def __init__(
        self,
        proto: Definition,
        tui_args: list[str],
        *,
        host: str,
        port: int,
        url: str | None,
        gateway_port: int,
        quiet: bool,
        embed: bool,
    ):
        super().__init__(self._command(tui_args, url), host=host, port=port, title="gwtool tui", templates_path=TEMPLATES)
        self.proto, self.tui_args, self.url, self.embed = proto, tui_args, url, embed
        self.gateway_port, self.quiet = gateway_port, quiet
        self.gateway: MockGateway | None = None
        self._tasks: list[asyncio.Task[None]] = []  # the simulated service
        self._tabs: set[asyncio.Task[Any]] = set()  # the handlers of the open tabs' websockets

    @staticmethod
    def _command(tui_args: list[str], url: str | None) -> str:
        """What textual-serve runs for each tab, through a shell (hence the quoting) that ``exec``
        replaces: the dashboard is this process's own child, so it sees this process go, and a tab
        whose start is cancelled is killed itself, not a shell in front of it."""
        args = [sys.executable, "-m", "gwtool", "tui", *tui_args]
        if url is not None:
            args += ["--url", url]
        return ("exec " if os.name == "posix" else "") + shlex.join(args)

    async def on_startup(self, app: web.Application) -> None:
        """Start the shared gateway (without --url), then say where to point a browser."""
        import asyncio

        if self.embed:
            self.gateway = await self._start_gateway()
            self.command = self._command(self.tui_args, self.gateway.url)
            if not self.quiet:
                self._tasks.append(asyncio.create_task(SimulatedService(self.proto, self.gateway.url).run()))
        where = self.gateway.url if self.gateway is not None else self.url
        self.console.print(f"gwtool tui --web: open [bold]{self.public_url}[/bold] in a browser", highlight=False)
        if where is not None:
            shared = " (embedded here: every tab watches it)" if self.gateway is not None else ""
            self.console.print(f"gateway {where}{shared}", highlight=False, markup=False)
        self.console.print("each tab gets a dashboard of its own  ·  Ctrl-C stops", highlight=False, markup=False)

    async def _start_gateway(self) -> MockGateway:
        def gateway(port: int) -> MockGateway:
            return MockGateway(self.proto, port=port, heartbeat_interval=EMBEDDED_HEARTBEAT_MS)

        gw = gateway(self.gateway_port)
        try:
            await gw.start()
        except ListenFailed as exc:
            gw = gateway(0)
            await gw.start()
            self.console.print(f"{exc}: the embedded gateway listens on {gw.url} instead", highlight=False, markup=False)
        return gw

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """textual-serve's tab handler, kept track of: aiohttp does not close websockets on shutdown
        (a handler would run on until its browser leaves), so ``on_shutdown`` cancels them."""
        import asyncio

        task = asyncio.current_task()
        if task is None:  # never under aiohttp, which runs each handler as a task of its own
            return await super().handle_websocket(request)
        self._tabs.add(task)
        try:
            return await super().handle_websocket(request)
        finally:
            self._tabs.discard(task)

    async def on_shutdown(self, app: web.Application) -> None:
        """Ctrl-C or SIGTERM: close every tab (textual-serve then tells its dashboard to quit and waits
        for it), then the gateway. Bounded: textual-serve's handler waits on the dashboard, then on
        the browser's close, and a cancel ends one wait at a time, so a tab still open after
        TAB_GRACE is cancelled again until its handler returns (aiohttp would wait 60 s more). A
        dashboard that has not quit by then ends by itself once this process is gone (tab.py)."""
        import asyncio

        for task in self._tasks:
            task.cancel()
        grace = TAB_GRACE
        for _ in range(CANCEL_ROUNDS):
            if not self._tabs:
                break
            for task in self._tabs:
                task.cancel()
            await asyncio.wait(self._tabs, timeout=grace)
            grace = 0.5
        if self.gateway is not None:
            await self.gateway.stop()
