"""What the dashboard reads and drives, as a typed boundary: ``Session`` (the live system) and
``DemoSession`` (fixed data for snapshots) both implement ``Source``; mypy checks them against it.

Actions raise ``NotConnected`` (a GwtoolError) when there is no connection to act on, never
AttributeError; reads raise OSError when the gateway's REST side does not answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from gwtool.client import ClientState
    from gwtool.client.latency import LatencyStats
    from gwtool.filters import Side
    from gwtool.protocol.definition import Definition
    from gwtool.records import Notice, Record

Sink = Callable[["Side", "Record | Notice"], None]
# (where the entities come from, type → entities, type → count at the gateway or None,
#  the types whose entities are the gateway's own)
CacheIndex = tuple[str, dict[str, list[dict[str, Any]]], dict[str, int] | None, frozenset[str]]


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

    async def run(self, sink: Sink) -> None: ...
    async def heartbeat_now(self) -> None: ...
    def retry_now(self) -> None: ...
    async def request_heartbeat(self) -> None: ...
    async def send(self, payload: dict[str, Any], *, force: bool = False) -> Record: ...
    async def services(self) -> list[dict[str, Any]]: ...
    async def cache_index(self) -> CacheIndex: ...
    async def fetch_entity(self, kind: str, key: tuple[str, ...]) -> tuple[int, Any]: ...


if TYPE_CHECKING:  # mypy checks that both sources implement Source

    def _both_implement(live: Session, demo: DemoSession) -> tuple[Source, Source]:
        return live, demo

    from gwtool.tui.demo import DemoSession
    from gwtool.tui.session import Session
