"""What the dashboard reads and drives, as a typed boundary: ``Session`` (the live system),
``DemoSession`` (fixed data for snapshots), ``RecordingSource`` (``tui --open FILE``) and
``ProxySource`` (``tui --proxy UPSTREAM``) implement ``Source``; mypy checks them against it.

A recording adds what ``RecordingView`` declares (the side of the wire it holds, a search of the
whole file); ``Source.recording`` is that view, or None for a live or demo session. A recording has
no client, so its ``state`` is None. A proxy adds ``ProxyView`` (``Source.proxy``): it has no client
of its own either.

Actions raise ``NotConnected`` (a GwtoolError) when there is no connection to act on, never
AttributeError; reads raise OSError when the gateway's REST side does not answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import asyncio

    from gwtool.client import ClientState
    from gwtool.client.latency import LatencyStats
    from gwtool.filters import Filter, Side
    from gwtool.protocol.definition import Definition
    from gwtool.proxy.faults import Rule
    from gwtool.proxy.server import Counts, LinkInfo
    from gwtool.records import Notice, Record

Sink = Callable[["Side", "Record | Notice"], None]
# (where the entities come from, type → entities, type → count at the gateway or None,
#  the types whose entities are the gateway's own)
CacheIndex = tuple[str, dict[str, list[dict[str, Any]]], dict[str, int] | None, frozenset[str]]
# (line number in the file, what the line holds)
FileMatch = tuple[int, "Record | Notice"]


class RecordingView(Protocol):
    """What a recording adds to a Source: one side of the wire, read from a file there is no
    connection behind."""

    @property
    def side_shown(self) -> Side:
        """The side of the wire its lines are: a gateway's recording is the gateway's side."""

    @property
    def whose(self) -> str:
        """Whose side of the wire it holds, in words (``the gateway's side``)."""

    @property
    def scanned(self) -> asyncio.Event:
        """Set once the pass over the whole file (which fills the panes) is done."""

    def search(self, filter: Filter, cancelled: Callable[[], bool]) -> list[FileMatch]:
        """Every line of the whole file that ``filter`` matches (in a thread: it reads the file)."""

    def statistics(self) -> dict[str, Any] | None:
        """``Stats.to_json()`` of the lines read so far by the pass over the whole file (None before any)."""


class ProxyView(Protocol):
    """What the proxy adds to a Source (``tui --proxy UPSTREAM``): the proxy between services and
    their gateway, its connections and its fault rules, which the Faults pane adds, toggles and
    removes."""

    @property
    def listen_url(self) -> str:
        """Where services connect ("" until it listens)."""

    @property
    def upstream(self) -> str: ...
    @property
    def upstream_problem(self) -> str | None:
        """Why the upstream cannot be reached right now (``unreachable: connection refused``), or None."""

    @property
    def proxy_counts(self) -> Counts: ...
    @property
    def connections(self) -> list[LinkInfo]: ...
    @property
    def rules(self) -> list[Rule]: ...

    def add_rule(self, text: str) -> Rule:
        """RuleError names what is wrong with ``text``."""

    def remove_rule(self, rule_id: int) -> Rule | None: ...
    def enable_rule(self, rule_id: int, enabled: bool = True) -> Rule | None: ...


class Source(Protocol):
    proto: Definition
    service: str
    url: str
    embedded: bool
    error: str | None

    @property
    def state(self) -> ClientState | None: ...
    @property
    def latency(self) -> LatencyStats | None: ...
    @property
    def counts(self) -> tuple[int, int]: ...
    @property
    def recording(self) -> RecordingView | None: ...
    @property
    def proxy(self) -> ProxyView | None: ...

    async def run(self, sink: Sink) -> None: ...
    async def heartbeat_now(self) -> None: ...
    def retry_now(self) -> None: ...
    async def request_heartbeat(self) -> None: ...
    async def send(self, payload: dict[str, Any], *, force: bool = False) -> Record: ...
    async def services(self) -> list[dict[str, Any]]: ...
    async def cache_index(self) -> CacheIndex: ...
    async def fetch_entity(self, kind: str, key: tuple[str, ...]) -> tuple[int, Any]: ...


if TYPE_CHECKING:  # mypy checks that every source implements Source, and a recording RecordingView

    def _all_implement(live: Session, demo: DemoSession, recorded: RecordingSource) -> tuple[Source, Source, Source]:
        return live, demo, recorded

    def _recording_view(recorded: RecordingSource) -> RecordingView:
        return recorded

    def _proxies_implement(proxied: ProxySource, demo: DemoProxySession) -> tuple[Source, Source, ProxyView, ProxyView]:
        return proxied, demo, proxied, demo

    from gwtool.tui.demo import DemoProxySession, DemoSession
    from gwtool.tui.proxy_source import ProxySource
    from gwtool.tui.recording_source import RecordingSource
    from gwtool.tui.session import Session
