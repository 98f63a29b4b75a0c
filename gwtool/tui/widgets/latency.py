"""Heartbeat round trips: last, min, mean, p95, missed ACKs and a sparkline of recent samples."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.widgets import Sparkline, Static

if TYPE_CHECKING:
    from gwtool.client import LatencyStats


def ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


class Latency(Vertical):
    DEFAULT_CSS = """
        #latency-numbers {
            height: auto;
        }
        #latency-graph {
            height: 1fr;
            min-height: 3;
            max-height: 12;
        }
        #latency-help {
            height: 1;
            margin-bottom: 1;
        }
    """

    _latest: tuple[LatencyStats | None, bool, bool, bool, bool] | None = None  # what show() was last given

    def compose(self) -> ComposeResult:
        yield Static(Text("no heartbeat yet", "dim"), id="latency-numbers")
        yield Static(id="latency-help")
        yield Sparkline([], id="latency-graph")

    def on_mount(self) -> None:
        if self._latest is not None:
            stats, embedded, stale, recording, proxied = self._latest
            self.show(stats, embedded=embedded, stale=stale, recording=recording, proxied=proxied)

    def show(
        self, stats: LatencyStats | None, *, embedded: bool, stale: bool = False, recording: bool = False, proxied: bool = False
    ) -> None:
        """``stale``: not connected now, so the figures are from before the connection was lost.
        ``recording``: the figures were read from a recording (tui --open): nothing can be sent.
        ``proxied``: the services' heartbeats through a proxy (tui --proxy): ours sends none."""
        self._latest = (stats, embedded, stale, recording, proxied)
        try:
            numbers = self.query_one("#latency-numbers", Static)
            graph = self.query_one("#latency-graph", Sparkline)
            help_line = self.query_one("#latency-help", Static)
        except NoMatches:  # its pane is opening and has not composed it yet: on_mount shows this
            return
        help_line.update(self._help(embedded, recording, proxied))
        if stats is None or not stats.count:
            none = "no heartbeat answered in the recording" if recording else "no heartbeat answered yet"
            numbers.update(Text(none, "dim"))
            graph.data = []
            return
        table = Table.grid(padding=(0, 2))
        for _ in range(5):
            table.add_column(justify="right")
        table.add_row(*(Text(name, "dim") for name in ("last", "min", "mean", "p95", "missed")))
        missed = Text(str(stats.missed), "bold red" if stats.missed else "green")
        table.add_row(Text(ms(stats.last), "bold"), ms(stats.min), ms(stats.mean), ms(stats.p95), missed)
        samples = list(stats.samples)
        answered = f"{stats.count} heartbeat{'s' if stats.count != 1 else ''} answered"
        if len(samples) < 2:  # a graph of one sample would be a solid block: say what it is instead
            summary = Text(f"{answered} · graph: from the second sample (one so far: {ms(samples[0])})", "dim")
        else:
            summary = Text(f"{answered} · graph: the last {len(samples)}, {ms(min(samples))} to {ms(max(samples))}", "dim")
        if stale and not recording:
            summary.append("\nstale: not connected; these are from before the connection was lost", "bold yellow")
        from rich.console import Group

        numbers.update(Group(table, summary))
        graph.display = len(samples) >= 2
        graph.data = samples

    @staticmethod
    def _help(embedded: bool, recording: bool, proxied: bool = False) -> Text:
        """The keys that act here, or, for a recording or a proxy, what the figures are."""
        if recording:
            return Text("a recording: its round trips; no heartbeat can be sent", "dim")  # one line of 64
        if proxied:
            return Text("every service's heartbeat → ACK, through the proxy", "dim")
        keys = Text("h", "bold")
        keys.append(" heartbeat now", "dim")
        if embedded:
            keys.append("   H", "bold")
            keys.append(" gateway asks for one", "dim")
        return keys
