"""``gwtool stats FILE…``: what recordings hold, as tables and an I/O graph (or one JSON object)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from gwtool.charts import bar_rows, bytes_text, rate_text, time_axis
from gwtool.cli.app import app
from gwtool.cli.help import GwtoolCommand
from gwtool.cli.options import ProtocolOption, load

if TYPE_CHECKING:
    from rich.console import Console

    from gwtool.logfile import Batch
    from gwtool.stats import Stats

PROGRESS_BYTES = 8 << 20  # files at least this large show a progress bar (on a terminal)
PROGRESS_EVERY = 64  # batches (of logfile.BATCH_LINES lines) between progress updates
GRAPH_HEIGHT = 6


@app.command("stats", cls=GwtoolCommand)
def stats(
    files: Annotated[list[Path], typer.Argument(metavar="FILE…", help="Recordings (--log of any command).", dir_okay=False)],
    json: Annotated[bool, typer.Option("--json", metavar="", help="Print one JSON object instead of tables.")] = False,
    interval: Annotated[
        float,
        typer.Option("--interval", min=0.001, metavar="S", help="Seconds per step of the I/O series (doubled past 4,096 steps)."),
    ] = 1.0,
    conn: Annotated[
        Optional[int], typer.Option("--conn", metavar="N", help="Connection N only (its conn in the recording).")
    ] = None,
    filter_: Annotated[
        Optional[str],
        typer.Option(
            "--filter",
            metavar="TERMS",
            help="Count only what these terms match, e.g. 't:EXECUTE_COMMAND -op:heartbeat' (the dashboard's filter: op: t: "
            "dir: conn: side:, free words, -term hides; notices pass op: t: dir: terms only when negated).",
            show_default=False,
        ),
    ] = None,
    protocol: ProtocolOption = None,
) -> None:
    """Count what recordings hold: conversations per connection, payload kinds, delivery through a gateway, closes and violations, I/O over time.

    Reads each FILE once, in flat memory (counts are exact; percentiles are exact up to 1,000 distinct values, above within 1%). --conn and --filter count only the payloads and notices they match.
    """
    from gwtool.stats import Stats

    proto = load(protocol)
    terms = " ".join(part for part in (f"conn:{conn}" if conn is not None else "", filter_ or "") if part)
    wanted = None
    if terms:
        from gwtool.filters import Filter, FilterError  # (with what it imports, only when asked: start-up)

        try:
            wanted = Filter.parse_strict(terms, proto)
        except FilterError as exc:
            raise typer.BadParameter(str(exc), param_hint="--filter" if filter_ else "--conn") from None
    result = Stats(proto, interval, conn=conn)  # (a relayed event's other receivers are not counted)
    for path in files:
        _read(path, result, wanted)
    result.fold()
    if json:
        import orjson

        typer.echo(orjson.dumps(result.to_json(), option=orjson.OPT_NON_STR_KEYS).decode())
        return
    from rich.console import Console

    _print(Console(highlight=False), result, files)


def _read(path: Path, result: Stats, wanted: Any) -> None:
    """Feed one recording's lines, streamed in batches; broken lines are named as replay and validate name them."""
    from gwtool.logfile import READ_BUFFER, RecordingError, parse_batches

    try:
        handle = path.open("rb", buffering=READ_BUFFER)
        size = path.stat().st_size
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with handle:
        batches = parse_batches(handle, str(path))
        if size >= PROGRESS_BYTES and (err := _terminal_stderr()) is not None:
            with _progress(err, path, size) as advance:
                _feed(_advancing(batches, handle, advance), result, wanted)
        else:
            _feed(batches, result, wanted)


def _feed(batches: Iterable[Batch], result: Stats, wanted: Any) -> None:
    header: dict[str, Any] | None = None
    if wanted is None:
        for batch in batches:
            if batch.header is not header:
                header = batch.header
                result.start_session(header)
            result.add_many(batch.records)
        return
    from gwtool.logfile import item_of

    proto = result.proto
    for batch in batches:
        if batch.header is not header:
            header = batch.header
            result.start_session(header)
        side = "gw" if header.get("side") == "gateway" else "you"
        result.add_many(
            record for record in batch.records if (item := item_of(record)) is not None and wanted.matches(item, proto, side)
        )


def _terminal_stderr() -> Console | None:
    """A console on stderr if it is a terminal (rich decides; imported only for a large file)."""
    from rich.console import Console

    err = Console(stderr=True)
    return err if err.is_terminal else None


class _progress:
    """A progress bar of bytes read, on stderr, gone when done."""

    def __init__(self, err: Console, path: Path, size: int) -> None:
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn(f"reading {path.name}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                            console=err, transient=True)  # fmt: skip
        self.task = self.bar.add_task("read", total=size)

    def __enter__(self) -> Any:
        self.bar.__enter__()
        return lambda done: self.bar.update(self.task, completed=done)

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)  # type: ignore[arg-type]


def _advancing(batches: Iterable[Batch], handle: Any, advance: Any) -> Iterator[Batch]:
    for number, batch in enumerate(batches):
        if not number % PROGRESS_EVERY:
            advance(handle.tell())
        yield batch


# --- the tables -----------------------------------------------------------------------------------


def _print(console: Console, result: Stats, files: list[Path]) -> None:
    from rich.text import Text

    from gwtool.text import plural

    if not result.payloads and not result.notices:
        console.print(Text(f"{', '.join(map(str, files))}: no records" + (" matched" if result.session else "")), soft_wrap=True)
        return
    console.print(
        Text(
            f"{plural(result.payloads, 'payload')} and {plural(result.notices, 'notice')} over {result.duration:.2f} s, "
            f"{plural(len(result.conversations), 'connection')}",
            "bold",
        )
    )
    for table in (_conversations(result), _kinds(result), _delivery(result), _closes(result)):
        if table is not None:
            console.print(table)
    for line in io_graph(result, min(console.width, 100) - 12):
        console.print(line)
    console.print(Text(f"percentiles: {_note()}", "dim"))


def _note() -> str:
    from gwtool.stats import PERCENTILES_NOTE

    return PERCENTILES_NOTE


def _table(title: str, *columns: str) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(
        title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True
    )
    for i, name in enumerate(columns):
        words = i == 0 or name in WORDS
        table.add_column(name, justify="left" if words else "right", overflow="fold", no_wrap=not words)
    return table


WORDS = ("service", "kind", "event", "close (by)", "close", "path", "by")  # columns of text, left-aligned and folded


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


BY = {"gateway": "gw", "service": "svc"}  # who closed, in the conversations table


def _conversations(result: Stats) -> Any:
    from rich.text import Text

    missed = any(talk.missed for talk in result.conversations.values())  # a column only when some were
    title = "Conversations (ACK ms: p50/p99 of heartbeat → ACK" + ("; miss: heartbeats never ACKed)" if missed else ")")
    columns = ("conn", "service", "secs", "in", "out", "bytes in/out", "ACK ms", *(("miss",) if missed else ()), "close (by)")
    table = _table(title, *columns)
    sessions = result.session > 1
    for talk in result.conversations.values():
        latency = talk.latency
        acks = f"{_ms(latency.percentile(50))}/{_ms(latency.percentile(99))}" if latency.count else "–"
        close = talk.close
        ended = (
            f"{close.get('code')} {close.get('name') or ''} ({BY.get(str(close.get('by')), close.get('by'))})" if close else ""
        )
        if talk.violations:
            ended += f" · {talk.violations} violation{'s' if talk.violations > 1 else ''}"
        table.add_row(
            f"{talk.session}:{talk.conn}" if sessions else str(talk.conn), Text(talk.service or "–"), f"{talk.duration:.1f}",
            f"{talk.payloads['in']:,}", f"{talk.payloads['out']:,}", f"{bytes_text(talk.bytes['in'], '')}/{bytes_text(talk.bytes['out'], '')}",
            acks, *((f"{talk.missed:,}" if talk.missed else "",) if missed else ()), Text(ended),
        )  # fmt: skip
    return table


def _kinds(result: Stats) -> Any:
    from rich.text import Text

    table = _table("Kinds", "kind", "count", "share", "bytes", "size p50/p99/max", "per s")
    total = result.payloads or 1
    for (direction, op, name), kind in result.sorted_kinds():
        arrow = "←" if direction == "in" else "→"
        sizes = kind.sizes
        rate = result.rate(kind.count, result.duration)
        table.add_row(
            Text(f"{arrow} {result.kind_label(op, name)} {name or ''}".rstrip()), f"{kind.count:,}",
            f"{kind.count / total:.1%}", bytes_text(kind.bytes),
            f"{sizes.percentile(50) or 0:.0f}/{sizes.percentile(99) or 0:.0f}/{sizes.max or 0:.0f}",
            "–" if rate is None else f"{rate:,.1f}",
        )  # fmt: skip
    table.caption = "← in, → out, as the recording's side saw them"
    return table


def _delivery(result: Stats) -> Any:
    from rich.text import Text

    if not result.delivery:
        return None
    table = _table("Delivery", "event", "read", "forwarded", "held", "later", "dropped", "wait p50/p99 ms")
    for name, flow in sorted(result.delivery.items()):
        wait = f"{_ms(flow.wait.percentile(50))}/{_ms(flow.wait.percentile(99))}" if flow.wait.count else "–"
        hold = ("–", "–", "–") if flow.through_proxy else (f"{flow.held:,}", f"{flow.delivered_later:,}", f"{flow.dropped:,}")
        table.add_row(Text(name), f"{flow.read:,}", f"{flow.forwarded:,}", *hold, wait)
    table.caption = "forwarded: written at once; later: from the hold (wait: held → written)"
    if any(flow.through_proxy for flow in result.delivery.values()):
        table.caption += "\nthrough a proxy: forwarded = written to services; the gateway's hold is not seen (–)"
    return table


def _closes(result: Stats) -> Any:
    from rich.console import Group
    from rich.text import Text

    if not result.closes and not result.violations:
        return None
    parts = []
    if result.closes:
        table = _table("Closes", "close", "by", "count")
        for (code, name, by), n in sorted(result.closes.items(), key=lambda item: -item[1]):
            table.add_row(Text(f"{code} {name or ''}".rstrip()), Text(str(by or "?")), f"{n:,}")
        parts.append(table)
    if result.violations:
        table = _table("Violations", "path", "by", "count")
        for (path, by), n in sorted(result.violations.items(), key=lambda item: -item[1]):
            table.add_row(Text(str(path or "–")), Text(str(by or "?")), f"{n:,}")
        parts.append(table)
    return Group(*parts)


def io_graph(result: Stats, width: int) -> list[Any]:
    """Payloads/s and bytes/s over time as bar charts of ``width`` columns, with a scale on the
    left and a time axis (seconds from the first record) below."""
    from rich.text import Text

    rows = result.io
    if not rows:
        return []
    width = max(10, width)
    step = max(1, -(-len(rows) // width))  # intervals per column
    seconds = result.interval * step
    columns = [[sum(col) for col in zip(*rows[i : i + step])] for i in range(0, len(rows), step)]
    out: list[Any] = []
    for title, values, unit in (
        ("payloads/s (in + out)", [(c[0] + c[1]) / seconds for c in columns], "/s"),
        ("bytes/s (in + out)", [(c[2] + c[3]) / seconds for c in columns], "B/s"),
    ):
        out.append(Text(f"I/O: {title}, {seconds:g} s a column", "bold"))
        peak = max(values) or 1.0
        for level, bar in enumerate(bar_rows(values, GRAPH_HEIGHT, peak)):
            scale = rate_text(peak, unit) if level == 0 else ("0" if level == GRAPH_HEIGHT - 1 else "")
            out.append(Text(f"{scale:>10} ┤", "dim") + Text(bar, "cyan"))
        out.append(Text(" " * 11 + "└" + "─" * len(values), "dim"))
        out.append(Text(" " * 12 + time_axis(len(values), seconds, lambda offset: f"{offset:g}s"), "dim"))
    return out
