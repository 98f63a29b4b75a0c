"""The Stats pane: what the wire did, in tables and an I/O graph, from ``gwtool.stats.Stats``.

The numbers are the statistics core's (``Stats.to_json()``, the object ``gwtool stats --json``
prints); this module only lays them out. ``LiveStats`` feeds a Stats per side of the wire from the
batches the app drains (off the wire's path); a recording's Stats is filled by its pass over the
whole file (``RecordingSource.statistics``). The app calls ``StatsPane.show`` once a second while
the pane is open; Enter on a conversation or a kind asks the app to filter the stream to it.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from gwtool.charts import NICE_STEPS, bar_rows, bytes_text, duration_text, rate_text, recent_axis
from gwtool.console import clock
from gwtool.stats import Stats
from gwtool.text import plural, printable

if TYPE_CHECKING:
    from gwtool.filters import Side
    from gwtool.protocol.definition import Definition
    from gwtool.tui.feed import Entry

MAX_ROWS = 40  # per table: the busiest (a gateway may see thousands of connections)
GRAPH_HEIGHT = 4
LIVE_WINDOW = 120  # seconds the live graph shows at least
SCALE_WIDTH = 9  # the graph's scale labels, right-aligned before its axis
BY = {"gateway": "gw", "service": "svc"}  # who closed
Row = tuple[str | None, tuple[Text, ...]]  # the stream filter Enter sets (None: none), the cells


class LiveStats:
    """A live dashboard's statistics: a ``Stats`` per side of the wire (our client's, and the
    embedded gateway's, which sees every connection), fed every batch the app drains.

    The counting (each record's NDJSON form, then ``Stats.add_many``) runs in a thread of its own:
    the drain only queues the batch, so neither the wire nor a key press waits for it (at 10,000
    payloads/s it is about a tenth of a core). The pane reads under ``lock``. A thread that falls
    ``BACKLOG`` batches behind is caught up by the drain itself: memory stays bounded, order kept."""

    BACKLOG = 100  # batches (10 s of drains)

    def __init__(self, proto: Definition, *, through_proxy: bool = False) -> None:
        self.proto = proto
        self.through_proxy = through_proxy  # the gateway's side is what a proxy saw: no hold in sight
        self.sides: dict[Side, Stats] = {}
        self.lock = threading.Lock()
        self._pending: deque[list[Entry]] = deque()
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self.failure: str | None = None  # why a batch went uncounted, for the pane to say

    def add(self, batch: list[Entry]) -> None:
        """A drained batch (the Feed's tap: on the event loop, so it only queues it)."""
        self._pending.append(batch)
        if len(self._pending) > self.BACKLOG:
            while self._count_one():
                pass
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="gwtool-stats", daemon=True)
            self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait()
            self._wake.clear()
            while self._count_one():
                pass

    def _count_one(self) -> bool:
        """The oldest queued batch, counted: each side's records in one ``add_many``."""
        with self.lock:
            if not self._pending:
                return False
            batch = self._pending.popleft()
            for side in {entry.side for entry in batch}:
                stats = self.sides.get(side)
                if stats is None:
                    stats = self.sides[side] = Stats(self.proto)
                    command = "proxy" if self.through_proxy else None
                    stats.start_session({"side": "gateway", "command": command} if side == "gw" else {"side": "client"})
                try:
                    stats.add_many(entry.item.to_json() for entry in batch if entry.side == side)
                except Exception as exc:  # a bug, not the wire's doing (Stats takes any record): said, not fatal
                    self.failure = printable(f"a batch could not be counted: {type(exc).__name__}: {exc}")
        return True

    def to_json(self, side: Side) -> dict[str, Any] | None:
        """``Stats.to_json()`` of ``side`` with every batch drained so far (what the thread has not
        counted yet, normally nothing, is counted here first)."""
        while self._count_one():
            pass
        with self.lock:
            stats = self.sides.get(side)
            return stats.to_json() if stats is not None else None

    def clear(self) -> None:
        with self.lock:
            self._pending.clear()
            self.sides.clear()

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=2)


def _cell(value: object, style: str = "") -> Text:
    """Every cell is Text (DataTable parses plain strings as markup), printable, right-aligned if a number."""
    if value is None:
        return Text("–", "dim", justify="right")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Text(f"{value:,}", style, justify="right")
    return Text(printable(str(value)), style)


def _ms(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else "–"


def _pair(a: object, b: object) -> Text:
    return Text(f"{_ms(a)}/{_ms(b)}" if a is not None else "–", justify="right")


def _word(value: object) -> str | None:
    """A name usable as a filter term: printable, with no space (a hostile name would split it)."""
    return value if isinstance(value, str) and value and value == printable(value) and " " not in value else None


class StatsTable(DataTable[Text]):
    """One of the pane's tables: rows replaced as a whole (the cursor kept), each with the stream
    filter Enter sets (or None: nothing to filter to)."""

    def __init__(self, *columns: str, id: str) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.filters: dict[str, str | None] = {}
        self._columns = columns
        self._shown: list[tuple[Text, ...]] = []

    def on_mount(self) -> None:
        self.add_columns(*self._columns)

    def show(self, rows: list[Row]) -> None:
        cells = [row for _, row in rows]
        if [tuple(c.plain for c in row) for row in cells] == [tuple(c.plain for c in row) for row in self._shown]:
            return  # nothing changed: no repaint
        self._shown = cells
        cursor = self.cursor_row
        self.clear()
        self.filters = {}
        for i, (terms, row) in enumerate(rows):
            self.filters[str(i)] = terms
            self.add_row(*row, key=str(i))
        if rows:
            self.move_cursor(row=min(cursor, len(rows) - 1), animate=False, scroll=False)


class StatsPane(VerticalScroll):
    """Conversations, kinds, delivery, closes and violations, and an I/O graph of the last minutes."""

    DEFAULT_CSS = """
        StatsPane {
            height: 1fr;
        }
        StatsPane > .stats-title {
            height: 1;
            margin-top: 1;
            text-style: bold;
        }
        StatsPane > #stats-summary {
            height: auto;
        }
        StatsPane > #stats-io {
            height: auto;
            margin-top: 1;
        }
        StatsPane > StatsTable {
            height: auto;
            max-height: 12;
        }
        StatsPane > .-empty {
            display: none;
        }
    """

    class Chosen(Message):
        """Enter on a row: filter the stream with ``terms``."""

        def __init__(self, terms: str) -> None:
            super().__init__()
            self.terms = terms

    def compose(self) -> ComposeResult:
        yield Static(Text("no record yet", "dim"), id="stats-summary")
        yield Static("Conversations", classes="stats-title", markup=False)
        yield StatsTable("conn", "service", "in", "out", "bytes in/out", "ACK ms p50/p99", "close (by)", id="stats-conversations")
        yield Static("Kinds (← in, → out)", classes="stats-title", markup=False)
        yield StatsTable("kind", "count", "share", "bytes", "size p50/p99/max", "per s", id="stats-kinds")
        yield Static(id="stats-io")
        yield Static("Delivery (later: from the hold)", classes="stats-title -delivery", markup=False)
        yield StatsTable("event", "read", "forwarded", "held", "later", "dropped", "wait ms p50/p99", id="stats-delivery")
        yield Static("Closes and violations", classes="stats-title -closes", markup=False)
        yield StatsTable("close or violation", "by", "count", id="stats-closes")

    def show(self, data: dict[str, Any] | None, *, where: str, side_term: str = "", now: float | None = None) -> None:
        """Lay out ``data`` (``Stats.to_json()``, None before any record). ``where``: whose side of
        the wire it counts; ``side_term``: added to each row's filter; ``now``: a live clock (the
        graph runs up to it), None for a recording (up to its last record)."""
        if data is None:
            self.query_one("#stats-summary", Static).update(Text(f"no record yet · {where}", "dim"))
            return
        conversations = data["conversations"]
        summary = Text()
        summary.append(f"{plural(data['payloads'], 'payload')} · {plural(data['notices'], 'notice')} · ", "bold")
        summary.append(f"{duration_text(data['duration_s'])} · {plural(len(conversations), 'connection')} · {where}", "bold")
        self.query_one("#stats-summary", Static).update(summary)
        self.query_one("#stats-io", Static).update(self._graph(data["io"], now))
        sessions = any(talk["session"] > 1 for talk in conversations)
        self.query_one("#stats-conversations", StatsTable).show(self._conversations(conversations, sessions, side_term))
        self.query_one("#stats-kinds", StatsTable).show(self._kinds(data["kinds"], side_term))
        self._optional("delivery", self._delivery(data["delivery"]))
        self._optional("closes", self._closes(data["closes"], data["violations"]))

    def _optional(self, name: str, rows: list[Row]) -> None:
        """A table shown only when it has rows (a client's recording has no delivery)."""
        for widget in (self.query_one(f".-{name}"), self.query_one(f"#stats-{name}")):
            widget.set_class(not rows, "-empty")
        self.query_one(f"#stats-{name}", StatsTable).show(rows)

    @staticmethod
    def _conversations(talks: list[dict[str, Any]], sessions: bool, side_term: str) -> list[Row]:
        busiest = sorted(talks, key=lambda t: -(t["payloads_in"] + t["payloads_out"]))[:MAX_ROWS]
        rows: list[Row] = []
        for talk in sorted(busiest, key=lambda t: (t["session"], t["conn"])):
            latency = talk["latency_ms"]
            close = talk["close"]
            ended = ""
            if close:
                ended = (
                    f"{close.get('code')} {close.get('name') or ''}".strip()
                    + f" ({BY.get(str(close.get('by')), close.get('by'))})"
                )
            if talk["violations"]:
                ended = f"{ended} · {plural(talk['violations'], 'violation')}".lstrip(" ·")
            conn = f"{talk['session']}:{talk['conn']}" if sessions else str(talk["conn"])
            rows.append((
                f"conn:{talk['conn']}{side_term}",
                (_cell(conn), _cell(talk["service"] or "–", "bold"), _cell(talk["payloads_in"]), _cell(talk["payloads_out"]),
                 Text(f"{bytes_text(talk['bytes_in'], '')}/{bytes_text(talk['bytes_out'], '')}", justify="right"),
                 _pair(latency["p50"], latency["p99"]), _cell(ended, "red" if close and close.get("by") == "gateway" else "")),
            ))  # fmt: skip
        return rows

    @staticmethod
    def _kinds(kinds: list[dict[str, Any]], side_term: str) -> list[Row]:
        rows: list[Row] = []
        busiest = {id(kind) for kind in sorted(kinds, key=lambda k: -k["count"])[:MAX_ROWS]}
        for kind in (kind for kind in kinds if id(kind) in busiest):  # in the core's order: in, then out
            arrow = "←" if kind["dir"] == "in" else "→"
            name = kind["name"]
            op, word = kind["op"], _word(name)
            terms = None
            if kind["op_code"] is not None:  # an undecodable frame's has no op to filter by
                terms = f"dir:{kind['dir']} op:{op}" + (f" t:{word}" if word else "") + side_term
            sizes = "/".join(f"{kind[key] or 0:.0f}" for key in ("size_p50", "size_p99", "size_max"))
            rows.append((
                terms,
                (Text(printable(f"{arrow} {op} {name or ''}".rstrip())), _cell(kind["count"]),
                 Text(f"{kind['share']:.1%}", justify="right"), Text(bytes_text(kind["bytes"]), justify="right"),
                 Text(sizes, justify="right"), Text("–" if kind["rate"] is None else f"{kind['rate']:,.1f}", justify="right")),
            ))  # fmt: skip
        return rows

    @staticmethod
    def _delivery(flows: list[dict[str, Any]]) -> list[Row]:
        rows: list[Row] = []
        for flow in flows[:MAX_ROWS]:
            word = _word(flow["t"])
            wait = flow["wait_ms"]
            rows.append((
                f"t:{word}" if word else None,
                (_cell(flow["t"]), _cell(flow["read"]), _cell(flow["forwarded"]), _cell(flow["held"]),
                 _cell(flow["delivered_later"]), _cell(flow["dropped"]), _pair(wait["p50"], wait["p99"])),
            ))  # fmt: skip
        return rows

    @staticmethod
    def _closes(closes: list[dict[str, Any]], violations: list[dict[str, Any]]) -> list[Row]:
        rows: list[Row] = []
        for close in closes[:MAX_ROWS]:
            what = f"{close['code']} {close['name'] or ''}".strip()
            rows.append(
                (None, (_cell(what, "red" if close["by"] == "gateway" else ""), _cell(close["by"] or "?"), _cell(close["count"])))
            )
        for violation in violations[:MAX_ROWS]:
            what = f"violation {violation['path'] or '–'}"
            rows.append((None, (_cell(what, "yellow"), _cell(violation["by"] or "?"), _cell(violation["count"]))))
        return rows

    def _graph(self, io: dict[str, Any], now: float | None) -> Text:
        """Payloads/s as bars, as many columns as fit, each a round number of seconds: live, the
        last LIVE_WINDOW seconds or more up to now; a recording, all of it up to its last record.
        A scale on the left, a time axis below (seconds before the end)."""
        series, interval, start = io["series"], io["interval_s"], io["start_ts"]
        if not series or start is None:
            return Text("I/O: nothing yet", "dim")
        columns = max(10, self.scrollable_content_region.width - SCALE_WIDTH - 2)
        rows = [(row["payloads_in"] + row["payloads_out"], row["bytes_in"] + row["bytes_out"]) for row in series]
        if now is not None:  # quiet since the last record: the graph still runs to now
            rows += [(0, 0)] * max(0, int((now - start) / interval) + 1 - len(rows))
        span = LIVE_WINDOW if now is not None else len(rows) * interval
        seconds = next((s for s in NICE_STEPS if s >= interval and s * columns >= span), NICE_STEPS[-1])
        group = max(1, round(seconds / interval))
        seconds = group * interval
        if now is not None:  # a window as wide as the graph: zeros before the first record
            rows = [(0, 0)] * max(0, columns * group - len(rows)) + rows
        first = max(0, len(rows) - columns * group)
        first -= first % group  # columns stay aligned on the series' start as it grows
        values, nbytes = [], []
        for i in range(first, len(rows), group):
            chunk = rows[i : i + group]
            values.append(sum(n for n, _ in chunk) / seconds)
            nbytes.append(sum(b for _, b in chunk) / seconds)
        values, nbytes = values[-columns:], nbytes[-columns:]
        peak = max(values) or 1.0
        text = Text()
        text.append(f"I/O: payloads/s (in + out), {seconds:g} s a column", "bold")
        text.append(f" · {bytes_text(sum(nbytes) / len(nbytes))}/s on average\n", "dim")
        for level, bar in enumerate(bar_rows(values, GRAPH_HEIGHT, peak)):
            scale = rate_text(peak, "/s") if level == 0 else ("0" if level == GRAPH_HEIGHT - 1 else "")
            text.append(f"{scale:>{SCALE_WIDTH}} ┤", "dim")
            text.append(bar + "\n", "cyan")
        end = "now" if now is not None else clock(start + len(series) * interval)[:8]  # HH:MM:SS
        text.append(" " * SCALE_WIDTH + " └" + "─" * len(values) + "\n", "dim")
        text.append(" " * (SCALE_WIDTH + 2) + recent_axis(len(values), seconds, end), "dim")
        return text

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        table = event.data_table
        if isinstance(table, StatsTable) and event.row_key.value is not None:
            terms = table.filters.get(event.row_key.value)
            if terms:
                self.post_message(self.Chosen(terms))
            else:
                self.notify("Nothing to filter the stream to from this row.", timeout=3)
