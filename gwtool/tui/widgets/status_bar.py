"""The top line: where we are connected, as what, in which state, counts and uptime."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from gwtool.text import plural, printable

if TYPE_CHECKING:
    from gwtool.client import ClientPhase, ClientState
    from gwtool.tui.source import ProxyView, Source

REASON_WIDTH = 48  # the stream's notice has the whole close reason
LAST_CLOSE_SECONDS = 60.0  # how long the status bar keeps a close by the gateway after reconnecting
PHASE_STYLES: dict[ClientPhase, str] = {
    "connecting": "bold yellow",
    "identifying": "bold yellow",
    "identified": "bold green",
    "reconnecting": "bold yellow",
    "closed": "bold red",
}


def duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def shard_span(shards: list[int]) -> str:
    """``0-2`` for a contiguous block, else ``0,4,7``."""
    if len(shards) > 1 and shards == list(range(shards[0], shards[-1] + 1)):
        return f"{shards[0]}-{shards[-1]}"
    return ",".join(map(str, shards)) or "none"


def _retry_in(state: ClientState, monotonic: Callable[[], float]) -> str:
    if state.retry_at is None:
        return ""
    wait = max(0.0, state.retry_at - monotonic())
    return f" in {wait:.0f} s" if wait >= 10 else f" in {wait:.1f} s"


def nothing_listening(state: ClientState | None) -> bool:
    """Waiting to retry a connection that was refused: said in plain words (``_no_gateway``)."""
    return state is not None and state.phase == "reconnecting" and state.connect_failure == "refused"


def _no_gateway(state: ClientState, url: str, monotonic: Callable[[], float]) -> Text:
    """``no gateway at ws://… · retrying in 3.4 s · gwtool mock-gateway starts one``"""
    text = Text("no gateway at ", "bold red")
    text.append(printable(url), "bold red")
    text.append(f" · retrying{_retry_in(state, monotonic)}", "yellow")
    text.append(" · `gwtool mock-gateway` starts one", "dim")
    return text


def describe_state(
    state: ClientState | None, service: str, error: str | None, monotonic: Callable[[], float], url: str = ""
) -> Text:
    """``identified · shards 0-2 of 3`` / ``reconnecting in 3 s (4009 HEARTBEAT_TIMEOUT: reason)`` …"""
    if state is None:
        if error:
            return Text("failed · " + printable(error)[: REASON_WIDTH * 2], "bold red")
        return Text("starting", "bold yellow")
    phase = state.phase
    if nothing_listening(state):
        return _no_gateway(state, url, monotonic)  # plain words first, and what to do about it
    text = Text(phase, PHASE_STYLES[phase])
    if phase == "identified" and state.shards:
        text.append(f" · shards {shard_span(list(state.shards))} of {state.max_shards}", "green")
    if phase == "reconnecting":
        text.append(_retry_in(state, monotonic), "yellow")
    if phase in ("reconnecting", "closed") and state.close_code is not None:
        text.append(f" ({state.close_code} {state.close_name or ''}", "red")
        if state.close_reason:
            reason = printable(state.close_reason)  # untrusted: plain text only
            text.append(": " + (reason if len(reason) <= REASON_WIDTH else reason[: REASON_WIDTH - 1] + "…"), "red")
        text.append(")", "red")
    if phase == "closed" and error and state.close_code is None:
        reason = printable(error)
        text.append(" · " + (reason if len(reason) <= REASON_WIDTH else reason[: REASON_WIDTH - 1] + "…"), "red")
    return text


def proxy_status(view: ProxyView, error: str | None) -> Text:
    """``proxy ws://…:8766 → ws://…:8765  2 connections  ✗ 1 violation  9 faults injected  ←40 →44``;
    the upstream unreachable (a probe of its port) in red instead of the arrow."""
    text = Text(" ", no_wrap=True, overflow="ellipsis")
    if error:
        return text.append("failed · " + printable(error), "bold red")
    if not view.listen_url:
        return text.append("starting the proxy", "bold yellow")
    text.append("proxy ", "bold green" if view.upstream_problem is None else "bold")
    text.append(printable(view.listen_url), "bold")
    if view.upstream_problem is not None:
        text.append(f" → upstream {printable(view.upstream)} {printable(view.upstream_problem)}", "bold red")
        text.append(" · services get 1014", "red")
    else:
        text.append(" → ", "dim")
        text.append(printable(view.upstream), "bold")
    counts = view.proxy_counts
    text.append(f"  {plural(len(view.connections), 'connection')}")
    broken = sum(counts.violations.values())
    text.append(f"  ✗ {plural(broken, 'violation')}" if broken else "  no violation", "bold red" if broken else "green")
    if counts.injected:
        text.append(f"  {plural(counts.injected, 'fault')} injected", "magenta")
    text.append(f"  ←{counts.payloads['service']:,} →{counts.payloads['gateway']:,}", "dim")
    return text


class StatusBar(Static):
    """Refreshed by the app's timer from the session; never parses markup.

    One line of fixed height (see app.tcss): a new text only repaints this line; a layout of the
    whole screen 4 times a second would cost a large part of a frame budget under load.
    """

    shown: Text | None = None

    def show(
        self,
        session: Source,
        *,
        now: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        paused: bool = False,
        last_close: tuple[str, float] | None = None,
    ) -> None:
        state = session.state
        if session.proxy is not None:  # no client of ours: the proxy's own line
            text = proxy_status(session.proxy, session.error)
        else:
            text = self._client_status(session, state, now, monotonic, paused, last_close)
        if text != self.shown:
            self.shown = text
            self.update(text, layout=False)

    def _client_status(
        self,
        session: Source,
        state: ClientState | None,
        now: Callable[[], float],
        monotonic: Callable[[], float],
        paused: bool,
        last_close: tuple[str, float] | None,
    ) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" ")
        if session.recording is not None and session.error is None:
            text.append("recording", "bold")  # no connection: nothing to say of one
        else:
            text.append_text(describe_state(state, session.service, session.error, monotonic, session.url))
        if not nothing_listening(state):  # else the line says the URL already, and there is nothing to count
            self._append_session(text, session, state, now, monotonic, paused, last_close, self.size.width or 200)
        return text

    @staticmethod
    def _append_session(
        text: Text,
        session: Source,
        state: ClientState | None,
        now: Callable[[], float],
        monotonic: Callable[[], float],
        paused: bool,
        last_close: tuple[str, float] | None,
        width: int = 200,
    ) -> None:
        """Latency, counts, who we are and where, uptime, the last close. On a narrow line the
        'embedded gateway' note shortens or goes, so that the uptime after it still shows."""
        latency = session.latency
        if latency is not None and latency.last is not None:
            text.append(f"  ♥ {latency.last:.1f} ms", "bold green" if not latency.missed else "bold yellow")
        received, sent = session.counts
        text.append(f"  ↓{received:,} ↑{sent:,}")
        if paused:
            text.append("  PAUSED", "bold reverse yellow")
        if session.recording is not None:  # whose side of the wire it has
            text.append(f"  {session.recording.whose}: ", "dim")
        else:
            text.append("  as ", "dim")
            text.append(session.service, "bold cyan")
            text.append(" → ", "dim")
        text.append(printable(session.url or "starting…"), "bold")
        if session.embedded:
            room = width - text.cell_len - len("  up 0:00")
            note = next((n for n in (" (embedded gateway)", " (embedded)") if len(n) <= room), "")
            text.append(note, "dim")
        if state is not None and state.connected_at and state.phase == "identified":
            text.append(f"  up {duration(now() - state.connected_at)}", "dim")
            if last_close is not None and (ago := monotonic() - last_close[1]) < LAST_CLOSE_SECONDS:
                text.append(f"  last close {last_close[0][:REASON_WIDTH]} ({ago:.0f} s ago)", "bold red")
