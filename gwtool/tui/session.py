"""What the dashboard watches and drives: one GatewayClient, plus the MockGateway when embedded.

The app runs ``Session.run()`` in a Textual worker and only reads this object's state; all network
work (websocket, HTTP reads of /services/ and /cache/) happens in coroutines awaited by workers.
``gwtool.tui.demo.DemoSession`` has the same surface with fixed data, for snapshots and screenshots.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from gwtool.client import NotConnected
from gwtool.client.rest import http_get_json
from gwtool.gateway.cache import CacheStore
from gwtool.records import Notice, Record
from gwtool.tui.source import CacheIndex, Sink

if TYPE_CHECKING:
    from gwtool.client import ClientState, GatewayClient, LatencyStats
    from gwtool.gateway import MockGateway
    from gwtool.protocol.definition import Definition, Event, Structure

EMBEDDED_HEARTBEAT_MS = 5000  # a lively latency graph on the embedded gateway
SIMULATION_PERIOD = 3.0  # seconds between the simulated service's payloads
REMOTE_LISTING_LIMIT = 500  # entities per type read from a remote gateway's GET /cache/{type}/


class Session:
    """The live system: a GatewayClient as ``service`` and, without a URL, an embedded MockGateway."""

    recording = None  # a live system, not a recording
    proxy = None  # no proxy in between

    def __init__(
        self,
        proto: Definition,
        *,
        url: str | None = None,
        service: str | None = None,  # None: proto.first_receiver()
        token: str = "",
        compress: bool = False,
        quiet: bool = False,
        heartbeat_interval: int = EMBEDDED_HEARTBEAT_MS,
        period: float = SIMULATION_PERIOD,
        show_token: bool = False,
        port: int = 0,  # the embedded gateway's (gwtool tui passes 8765); 0 = any free one
        log: IO[bytes] | None = None,  # --log FILE, opened: our client's records, as connect --log writes them
    ):
        self.proto = proto
        self.port = port
        self.log = log
        self.embedded = url is None
        self.show_token = show_token
        self.url = url or ""
        self.service = service or proto.first_receiver()
        self.token = token
        self.compress = compress
        self.quiet = quiet
        self.heartbeat_interval = heartbeat_interval
        self.period = period
        self.gateway: MockGateway | None = None  # when embedded
        self.client: GatewayClient | None = None  # ours, once run() has made it
        self.simulated: GatewayClient | None = None  # the simulated service's
        self.started = time.time()
        self.error: str | None = None  # why the client gave up, for the status bar
        self.seen_cache = CacheStore(proto)  # the cache payloads our client sent, indexed like the gateway's
        self._listed: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}  # last GET /cache/{type}/, by key

    # --- what widgets read -------------------------------------------------------------------
    @property
    def state(self) -> ClientState | None:
        return self.client.state if self.client else None

    @property
    def latency(self) -> LatencyStats | None:
        return self.client.latency if self.client else None

    @property
    def counts(self) -> tuple[int, int]:
        """(received, sent) by our client."""
        return (self.client.received_count, self.client.sent_count) if self.client else (0, 0)

    @property
    def http_url(self) -> str | None:
        if self.gateway is not None:
            return self.gateway.http_url
        parts = urlsplit(self.url)
        return f"http://{parts.netloc}" if parts.scheme == "ws" else None

    # --- running -----------------------------------------------------------------------------
    async def run(self, sink: Sink) -> None:
        """Start the embedded gateway (if any), then run the client until it gives up or is cancelled."""
        from gwtool.errors import GwtoolError

        try:
            await self._run(sink)
        except (GwtoolError, OSError) as exc:  # the gateway could not start, the client gave up
            self.error = str(exc) or type(exc).__name__
            sink("you", Notice("error", f"gave up: {self.error}", service=self.service))

    async def _run(self, sink: Sink) -> None:
        from gwtool.client import GatewayClient

        async with contextlib.AsyncExitStack() as stack:
            if self.embedded:
                self.gateway = await self._start_gateway(sink)
                stack.push_async_callback(self.gateway.stop)
                stack.callback(self.gateway.subscribe(lambda item: sink("gw", item)))
                self.url = self.gateway.url
            self.client = client = GatewayClient(  # retry_first: a dashboard may be opened before its gateway
                self.url,
                service=self.service,
                token=self.token,
                compress=self.compress,
                proto=self.proto,
                retry_first=True,
                show_token=self.show_token,
            )
            stack.callback(client.subscribe(lambda item: self._seen(sink, item)))
            if self.log is not None:
                from gwtool.output import LogOutput

                log = LogOutput(self.log)
                stack.callback(log.close)
                stack.callback(client.subscribe(log))
            tasks = [asyncio.create_task(self._first_heartbeat(client))]
            if self.embedded and not self.quiet:
                tasks.append(asyncio.create_task(self.simulate()))
            try:
                await client.run()
            finally:
                for task in tasks:
                    task.cancel()
                with contextlib.suppress(Exception):
                    await client.close()

    async def _start_gateway(self, sink: Sink) -> MockGateway:
        """The embedded gateway on ``port`` (a stable URL to point a service at), or on a free
        port when that one is taken, saying so."""
        from gwtool.gateway import ListenFailed, MockGateway

        def gateway(port: int) -> MockGateway:
            return MockGateway(self.proto, port=port, heartbeat_interval=self.heartbeat_interval, show_token=self.show_token)

        self.gateway = gw = gateway(self.port)  # set at once: front ends may look before it listens
        try:
            await gw.start()
        except ListenFailed as exc:
            if self.port == 0:
                raise
            self.gateway = gw = gateway(0)
            await gw.start()
            sink("gw", Notice("warning", f"{exc}: the embedded gateway listens on {gw.url} instead"))
        return gw

    def _seen(self, sink: Sink, item: Record | Notice) -> None:
        sink("you", item)
        if isinstance(item, Record) and item.payload is not None and item.op == self.proto.op("CACHE"):
            self.remember_cache(item.payload)

    @staticmethod
    async def _first_heartbeat(client: GatewayClient) -> None:
        """Show a latency at once instead of after a random part of the interval."""
        with contextlib.suppress(Exception):
            await client.wait_identified(timeout=10)
            await client.heartbeat_now()

    # --- the simulated service ---------------------------------------------------------------
    def simulated_service(self) -> str | None:
        return SimulatedService(self.proto, self.url, self.period).service

    async def simulate(self) -> None:
        simulation = SimulatedService(self.proto, self.url, self.period)
        self.simulated = simulation.client
        await simulation.run()

    # --- actions -----------------------------------------------------------------------------
    async def heartbeat_now(self) -> None:
        await self._client().heartbeat_now()

    def retry_now(self) -> None:
        self._client().retry_now()

    def _client(self) -> GatewayClient:
        if self.client is None:
            raise NotConnected("not connected yet")
        return self.client

    async def request_heartbeat(self) -> None:
        """Make the embedded gateway ask our connection for a heartbeat (op HEARTBEAT from the gateway)."""
        conn = self.our_connection()
        if conn is None or self.gateway is None:
            raise NotConnected("our client has no connection to the gateway right now")
        await self.gateway.request_heartbeat(conn)

    def our_connection(self) -> int | None:
        """The embedded gateway's id for our client's connection, or None.

        Matched by address, not by service type: the simulated service may be of our type too.
        """
        from gwtool.gateway import address_text

        address = self.client.local_address if self.client is not None else None
        if address is None or self.gateway is None:
            return None
        ours = address_text(address)
        return next((c.conn for c in self.gateway.connections if c.remote == ours), None)

    async def send(self, payload: dict[str, Any], *, force: bool = False) -> Record:
        return await self._client().send_payload(payload, validate=not force, force=force)

    # --- reads for the Services and Cache panes ------------------------------------------------
    async def services(self) -> list[dict[str, Any]]:
        if self.gateway is not None:  # the same answer GET /services/ gives, without the HTTP
            return self.gateway.services_json()
        status, data = await http_get_json(self.http_url, "/services/")
        if status != 200 or not isinstance(data, list):
            raise OSError(f"GET /services/ answered {status}")
        return data

    def remember_cache(self, payload: dict[str, Any]) -> None:
        """Index a CACHE payload's entities (nested ones too) the way the gateway does."""
        kind, data = payload.get("type"), payload.get("d")
        if isinstance(kind, str) and kind in self.proto.cache_types and isinstance(data, (dict, list)):
            self.seen_cache.put(kind, data)

    async def cache_index(self) -> CacheIndex:
        """(where entities come from, type → entities, type → count at the gateway or None,
        the types whose entities are the gateway's own).

        The embedded gateway's store is read directly. A remote gateway is asked for its counts
        (GET /cache/), then for the entities of each non-empty type (GET /cache/{type}/, bounded);
        a type it cannot list shows the cache payloads seen this session instead.
        """
        if self.gateway is not None:
            store = self.gateway.cache
            index = {kind: list(store.entities(kind)) for kind in self.proto.cache_types}
            return "the gateway's cache", index, None, frozenset(index)
        seen = {kind: self.seen_cache.entities(kind) for kind in self.proto.cache_types}
        try:
            status, body = await http_get_json(self.http_url, "/cache/")
        except (OSError, TimeoutError):
            status, body = 0, None
        if status != 200 or not isinstance(body, dict):
            return "cache payloads seen (the gateway's GET /cache/ did not answer)", seen, None, frozenset()
        counts = {kind: n for kind, n in body.items() if isinstance(n, int) and not isinstance(n, bool)}  # JSON: any value
        wanted = [kind for kind in self.proto.cache_types if counts.get(kind) != 0]
        listings = await asyncio.gather(*(self._list_remote(kind) for kind in wanted))
        listed = {}
        for kind, listing in zip(wanted, listings):
            if listing is not None:
                listed[kind], counts[kind] = listing  # the listing's own count goes with its entities
        listed |= {kind: [] for kind in self.proto.cache_types if counts.get(kind) == 0}
        index = {kind: listed.get(kind, seen[kind]) for kind in self.proto.cache_types}
        if len(listed) == len(index):
            source = "GET /cache/{type}/"
        elif listed:
            source = "GET /cache/{type}/; the other types: cache payloads seen"
        else:
            source = "cache payloads seen (select: GET /cache/…)"
        return source, index, counts, frozenset(listed)

    async def _list_remote(self, kind: str) -> tuple[list[dict[str, Any]], int] | None:
        """(the entities GET /cache/{kind}/ lists, how many the gateway holds), or None when it
        has no such listing.

        An entity equal to the one listed last time is kept as the same object, so the tree
        rebuilds only when something changed.
        """
        try:
            status, body = await http_get_json(self.http_url, f"/cache/{quote(kind, safe='')}/?limit={REMOTE_LISTING_LIMIT}")
        except (OSError, TimeoutError):
            return None
        if status != 200 or not isinstance(body, dict):
            return None
        entities, count = body.get("entities"), body.get("count")
        if not isinstance(entities, list) or not isinstance(count, int):
            return None
        before = self._listed.get(kind, {})
        now: dict[tuple[Any, ...], dict[str, Any]] = {}
        for entity in entities:
            if not isinstance(entity, dict):
                continue
            key = self.seen_cache.key_of(kind, entity) or (None, len(now))  # keyless: by position
            old = before.get(key)
            now[key] = old if old == entity else entity
        self._listed[kind] = now
        return list(now.values()), count

    async def fetch_entity(self, kind: str, key: tuple[str, ...]) -> tuple[int, Any]:
        """GET /cache/{type}/{key…} from the gateway: (status, JSON or None)."""
        if self.http_url is None:
            return 0, None
        return await http_get_json(self.http_url, "/cache/" + "/".join(quote(part, safe="") for part in (kind, *key)))


def other_half(proto: Definition) -> str | None:
    """The service type a live system's other half is: the first with shards, else the first that
    may send CACHE; None when the definition has neither."""
    return next((s.name for s in proto.services.values() if s.shards), None) or proto.first_cacher()


class SimulatedService:
    """A live system's other half on an embedded gateway: the first service type with shards (else
    the first that may send CACHE) sends every event it may send and one cache type's example every
    ``period`` seconds, from the definition's examples. ``gwtool tui`` and ``tui --web`` run one."""

    def __init__(self, proto: Definition, url: str, period: float = SIMULATION_PERIOD):
        from gwtool.client import GatewayClient

        self.proto, self.url, self.period = proto, url, period
        self.service = other_half(proto)
        self.client = GatewayClient(url, service=self.service, proto=proto, guilds=3) if self.service else None

    def payloads(self) -> tuple[list[Event], list[Structure]]:
        service = self.service or ""
        events = [
            e for e in self.proto.events_sendable_by(service)
            if e.routing != "identified" and e.example is not None
        ]  # fmt: skip
        caches = [s for s in self.proto.cache_types.values() if s.example is not None]
        return events, caches if self.service and self.proto.services[self.service].cache else []

    async def run(self) -> None:
        """Until cancelled; a client that gives up ends it quietly (the dashboard goes on without it)."""
        from gwtool.errors import GwtoolError

        if self.client is None:
            return
        events, caches = self.payloads()
        with contextlib.suppress(GwtoolError, TimeoutError):
            async with self.client:
                await self.client.wait_identified(timeout=10)
                for tick in itertools.count():
                    with contextlib.suppress(GwtoolError):  # not connected right now: try next time
                        if events:
                            event = events[tick % len(events)]
                            await self.client.send_event(event.t, event.example)
                        if caches:
                            cache = caches[tick % len(caches)]
                            await self.client.send_cache(cache.name, cache.example)
                    await asyncio.sleep(self.period)
