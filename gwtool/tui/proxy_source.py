"""The dashboard over a proxy (``gwtool tui --proxy UPSTREAM``): the proxy runs in this process.

Services connect to the proxy as they would to the gateway; every payload both ways, every
violation and every injected fault reaches the stream (the gateway's view of each connection:
``← #3 commands`` a service sent it, ``→`` the gateway did). The Services pane lists the proxied
connections, the Cache pane reads the upstream's REST side (``Session``'s reader, pointed at the
upstream), the Faults pane drives the proxy's rules. There is no client of our own: actions that
need one say why they cannot run (app.py's ``CANNOT_THROUGH_A_PROXY``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

from gwtool.client import LatencyStats, NotConnected
from gwtool.errors import GwtoolError
from gwtool.records import Notice, Record
from gwtool.tui.session import Session

if TYPE_CHECKING:
    from gwtool.client import ClientState
    from gwtool.protocol.definition import Definition
    from gwtool.proxy import Counts, LinkInfo, Proxy, ProxySettings
    from gwtool.proxy.faults import Rule
    from gwtool.tui.app import GwtoolApp
    from gwtool.tui.source import CacheIndex, Sink

PROBE_SECONDS = 5.0  # how often the upstream's port is tried (a TCP connect, closed at once: no handshake)
PROBE_TIMEOUT = 2.0
EARLY_ITEMS = 10_000  # records kept from the proxy's start until the stream takes them (bounded: a flood may come first)
NO_CLIENT = "the dashboard has no client of its own behind a proxy: your services are the clients"


class ProxySource:
    """A ``Source`` and its own ``ProxyView`` (gwtool/tui/source.py) around an in-process ``Proxy``."""

    embedded = False  # no gateway of ours: the upstream is somebody's
    recording = None
    state: ClientState | None = None  # no client of ours

    def __init__(self, proto: Definition, settings: ProxySettings, *, log: IO[bytes] | None = None):
        """``settings`` are checked when made (InvalidSetting); a bad fault rule raises InvalidSetting too."""
        from gwtool.proxy import Proxy

        self.proto = proto
        self.engine: Proxy = Proxy(proto, settings)
        self.log = log
        self.service = proto.first_receiver()  # the composer's point of view: it checks, nothing is sent
        self.url = settings.upstream
        self.error: str | None = None
        self.upstream_problem: str | None = None
        self.latency = LatencyStats()  # the services' heartbeats, ACKed through the proxy
        self.rest = Session(proto, url=settings.upstream)  # its REST reader (never run): the upstream's cache
        self._started = False
        self._early: deque[Record | Notice] = deque(maxlen=EARLY_ITEMS)  # what the proxy said before the stream
        self._hooks: list[Callable[[], None]] = []  # start()'s subscriptions, undone when run() ends

    # --- what the panes read -------------------------------------------------------------------
    @property
    def proxy(self) -> ProxySource:
        return self

    @property
    def listen_url(self) -> str:
        return self.engine.url if self._started else ""

    @property
    def upstream(self) -> str:
        return self.engine.upstream

    @property
    def proxy_counts(self) -> Counts:
        return self.engine.counts

    @property
    def counts(self) -> tuple[int, int]:
        """(what the gateway sent, what services sent) through the proxy."""
        payloads = self.engine.counts.payloads
        return payloads["gateway"], payloads["service"]

    @property
    def connections(self) -> list[LinkInfo]:
        return self.engine.connections

    @property
    def rules(self) -> list[Rule]:
        return self.engine.rules

    def add_rule(self, text: str) -> Rule:
        return self.engine.add_rule(text)

    def remove_rule(self, rule_id: int) -> Rule | None:
        return self.engine.remove_rule(rule_id)

    def enable_rule(self, rule_id: int, enabled: bool = True) -> Rule | None:
        return self.engine.enable_rule(rule_id, enabled)

    async def services(self) -> list[dict[str, Any]]:
        return [link.to_json() for link in self.engine.connections]

    async def cache_index(self) -> CacheIndex:
        return await self.rest.cache_index()

    async def fetch_entity(self, kind: str, key: tuple[str, ...]) -> tuple[int, Any]:
        return await self.rest.fetch_entity(kind, key)

    # --- running -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen (ListenFailed when the port cannot be used); the --log header once it does."""
        if self._started:
            return
        await self.engine.start()
        self._started = True
        proxy = self.engine
        # from the moment it listens: a service waiting to reconnect may come before the stream is there
        self._hooks.append(proxy.subscribe(self._early.append))
        if self.log is not None:
            from gwtool.logfile import header, write_header
            from gwtool.output import LogOutput

            write_header(
                self.log, {**header(self.proto, side="gateway", command="proxy", url=proxy.url), "upstream": proxy.upstream}
            )
            log = LogOutput(self.log)
            self._hooks += [log.close, proxy.subscribe(log)]  # undone in reverse: unsubscribed, then closed

    async def run(self, sink: Sink) -> None:
        """Until cancelled: the proxy's records and notices into the stream; the proxy stops after."""
        try:
            await self.start()
        except (GwtoolError, OSError) as exc:
            self.error = str(exc) or type(exc).__name__
            sink("gw", Notice("error", f"the proxy could not start: {self.error}"))
            return
        proxy = self.engine
        async with contextlib.AsyncExitStack() as stack:
            # the stop last: the app may end its loop while the stop awaits, and the log must be closed
            stack.push_async_callback(proxy.stop)
            for undo in self._hooks[1:]:
                stack.callback(undo)
            stack.callback(proxy.subscribe(lambda item: self._seen(sink, item)))
            self._hooks[0]()  # what came before the stream, into it (no await between: nothing in between)
            for item in self._early:
                self._seen(sink, item)
            self._early.clear()
            sink("gw", Notice("info", f"proxy listening on {proxy.url} → upstream {proxy.upstream}: "
                              f"connect services to {proxy.url} instead of the gateway"))  # fmt: skip
            for rule in proxy.rules:
                sink("gw", Notice("info", f"fault rule {rule.id}: {rule.text}", data={"rule": rule.text, "id": rule.id}))
            await self._watch_upstream()

    def _seen(self, sink: Sink, item: Record | Notice) -> None:
        sink("gw", item)
        if isinstance(item, Record) and item.payload is not None:
            if item.latency_ms is not None:
                self.latency.add(item.latency_ms)
            elif item.sender == "service" and item.op == self.proto.op("CACHE"):
                self.rest.remember_cache(item.payload)  # the Cache pane's fallback for a gateway without listings

    async def _watch_upstream(self) -> None:
        """Whether the upstream's port answers, said in the status bar (services that connect
        meanwhile get 1014 with the reason, in the stream)."""
        parts = urlsplit(self.upstream)
        host = parts.hostname or "127.0.0.1"
        port = parts.port or (443 if parts.scheme == "wss" else 80)
        while True:
            try:
                async with asyncio.timeout(PROBE_TIMEOUT):
                    _, writer = await asyncio.open_connection(host, port)
                writer.close()
                self.upstream_problem = None
            except TimeoutError:
                self.upstream_problem = f"unreachable: no answer within {PROBE_TIMEOUT:g} s"
            except OSError as exc:
                refused = isinstance(exc, ConnectionRefusedError)
                why = "connection refused" if refused else (exc.strerror or str(exc) or type(exc).__name__)
                self.upstream_problem = f"unreachable: {why}"
            await asyncio.sleep(PROBE_SECONDS)

    # --- actions: no client of ours --------------------------------------------------------------
    async def heartbeat_now(self) -> None:
        raise NotConnected(NO_CLIENT)

    def retry_now(self) -> None:
        pass

    async def request_heartbeat(self) -> None:
        raise NotConnected(NO_CLIENT)

    async def send(self, payload: dict[str, Any], *, force: bool = False) -> Record:
        raise NotConnected(NO_CLIENT)


async def run_dashboard(app: GwtoolApp, source: ProxySource) -> None:
    """Listen first (a port in use is ListenFailed, exit 2, before the screen opens), then run the
    dashboard on the same loop; the proxy stops with it."""
    await source.start()
    try:
        await app.run_async()
    finally:
        await source.engine.stop()
