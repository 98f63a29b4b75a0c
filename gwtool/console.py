"""How Records and Notices look in a terminal (Rich ``Text``, never markup) and as NDJSON.

Every command that prints the wire uses this, through ``gwtool.output``: the gateway's console,
``connect``, ``send``, ``--json`` and ``--log``; the dashboard uses the same pieces. Payload text is untrusted, so it only ever enters ``Text`` objects as plain text.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import orjson
from rich.text import Text

from gwtool.records import Forward, Notice, Record
from gwtool.text import printable, printable_frame, printable_json

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gwtool.protocol.definition import Definition

OP_STYLES = {
    "HEARTBEAT": "cyan",
    "HEARTBEAT_ACK": "green",
    "HELLO": "magenta",
    "IDENTIFY": "yellow",
    "EVENT": "bold blue",
    "CACHE": "bold green",
}
NOTICE_STYLES = {
    "connecting": "dim",
    "connected": "bold",
    "identified": "bold green",
    "closed": "bold red",
    "reconnecting": "yellow",
    "held": "yellow",
    "dropped": "bold red",
    "info": "dim",
    "warning": "yellow",
    "error": "bold red",
    "violation": "bold red",
    "injected": "magenta",
}
ARROWS = {"in": "←", "out": "→"}


_second: list[object] = [None, ""]  # the last whole second clock() formatted, and its text
_milli: list[object] = [None, ""]  # the last millisecond, and its text: a flood has dozens per ms


NO_CLOCK = "--:--:--.---"  # a time no clock shows: NaN, or past the platform's time_t (a file's, not ours)


def clock(ts: float) -> str:
    """``HH:MM:SS.mmm`` in local time (strftime once per second: a flood formats many per second)."""
    try:
        ms = int(ts * 1000)
        if _milli[0] == ms:
            return _milli[1]  # type: ignore[return-value]
        whole = int(ts)
        if _second[0] != whole:
            _second[0], _second[1] = whole, time.strftime("%H:%M:%S", time.localtime(whole))
    except (OverflowError, OSError, ValueError):
        return NO_CLOCK
    text = _milli[1] = f"{_second[1]}.{ms % 1000:03d}"
    _milli[0] = ms
    return text


def human_size(size: int) -> str:
    return f"{size} B" if size < 10_000 else f"{size / 1024:.1f} KiB"


def label(record: Record, proto: Definition) -> str:
    """``EVENT EXECUTE_COMMAND``, ``CACHE guild``, ``HEARTBEAT`` … for a record."""
    if record.payload is None:
        return "UNDECODABLE"
    name = proto.op_name(record.op)
    detail = record.t if record.t is not None else record.cache_type
    return printable(f"{name} {detail}") if isinstance(detail, str) else name


def summary(record: Record, width: int = 160) -> str:
    """The payload's data (or the decode error) as compact one-line JSON, cut to ``width``."""
    if record.payload is None:
        text = printable(f"{record.error}: {record.raw or ''}")  # line breaks become ⏎
    else:
        d = record.payload.get("d")
        try:
            text = "" if d is None else printable_json(orjson.dumps(d))  # JSON: no raw line breaks
        except orjson.JSONEncodeError as exc:  # nested past orjson's depth limit, say
            text = printable(f"<data not shown: {exc}>")
    return text if len(text) <= width else text[: width - 1] + "…"


def payload_json(record: Record, width: int = 4096) -> str:
    """The whole payload as one line of JSON, cut to ``width``: the frame exactly as it came when
    it was read from the wire (made printable), else encoded again. A pipe's lines end with it."""
    if record.payload is None:
        return summary(record, width)
    if record.frame is not None:
        text = printable_frame(record.frame)
    else:
        try:
            text = printable_json(orjson.dumps(record.payload))
        except orjson.JSONEncodeError as exc:  # nested past orjson's depth limit, say
            text = printable(f"<payload not shown: {exc}>")
    return text if len(text) <= width else text[: width - 1] + "…"


def record_texts(
    record: Record, proto: Definition, *, who: str | None = None, extra: str = "", width: int = 160
) -> tuple[str, ...]:
    """One console line's columns as text: styled for a terminal, joined plain for a pipe."""
    return (*record_columns(record, proto, who=who, extra=extra), summary(record, width))


def record_columns(record: Record, proto: Definition, *, who: str | None = None, extra: str = "") -> tuple[str, ...]:
    """Every column of ``record_texts`` but the data."""
    return (
        clock(record.ts),
        f" {ARROWS[record.direction]} ",
        f"{who:<14.14} " if who is not None else "",
        f"{label(record, proto):<24} ",
        f"{size_text(record):>9}  ",
        extra + "  " if extra else "",
    )


def record_styles(record: Record, proto: Definition) -> tuple[str, ...]:
    """The styles of ``record_texts``'s columns, in order."""
    if record.payload is None:
        return ("dim", "bold" if record.direction == "in" else "dim", "dim", "bold red", "dim", "bold green", "red")
    style = OP_STYLES.get(proto.op_name(record.op), "white")
    return ("dim", "bold" if record.direction == "in" else "dim", "dim", style, "dim", "bold green", "default")


def format_record(record: Record, proto: Definition, *, who: str | None = None, extra: str = "", columns: int = 160) -> Text:
    """One console line for a terminal ``columns`` cells wide: the data gets what the other columns
    leave (at least 20), so a line of single-cell text fits as made and need not be cut again.
    ``who`` names the other side (the gateway's console shows the service)."""
    texts = record_columns(record, proto, who=who, extra=extra)
    width = max(20, columns - sum(map(len, texts)))
    line = Text(no_wrap=True, overflow="ellipsis")
    for text, style in zip((*texts, summary(record, width)), record_styles(record, proto)):
        line.append(text, style)
    return line


def size_text(record: Record | Forward) -> str:
    return human_size(record.size) + (" z" if record.compressed else "")


def plain_record(record: Record, proto: Definition, *, who: str | None = None, extra: str = "", width: int = 4096) -> str:
    """The same line as plain text, for a pipe or a file."""
    return "".join(record_texts(record, proto, who=who, extra=extra, width=width))


class PlainLines:
    """``plain_record`` for a flood into a pipe. Every column but the time, ``extra`` and the data
    repeats for one connection, kind of payload and size, so it is made once and kept; so is a
    relayed event's route (``to``: its one forward, as it was read)."""

    MAX_KEPT = 10_000

    def __init__(self, proto: Definition, *, show_conn: bool):
        self.proto, self.show_conn = proto, show_conn
        self._kept: dict[tuple[object, ...], str] = {}

    def __call__(self, record: Record, extra: str = "", to: Forward | None = None) -> str:
        payload = record.payload
        if payload is None:  # (``to`` is never set then: only a read with a payload has forwards)
            return plain_record(record, self.proto, who=self._who(record), extra=extra)
        key = (record.conn, record.direction, record.service, payload.get("op"), payload.get("t"), payload.get("type"),
               record.size, record.compressed, to and to.conn, to and to.service)  # fmt: skip
        try:
            middle = self._kept.get(key)
            hashable = True
        except TypeError:  # an unhashable t or type (a hostile payload): nothing kept
            middle, hashable = None, False
        if middle is None:
            route = route_extra(record, [to]) + "  " if to is not None else ""
            _, *columns, _ = record_columns(record, self.proto, who=self._who(record))
            middle = "".join(columns) + route
            if hashable:
                if len(self._kept) >= self.MAX_KEPT:
                    self._kept.clear()
                self._kept[key] = middle
        if extra:  # the columns of record_texts, then the whole payload
            return f"{clock(record.ts)}{middle}{extra}  {payload_json(record)}"
        return f"{clock(record.ts)}{middle}{payload_json(record)}"

    def _who(self, record: Record) -> str | None:
        return connection_name(record.conn, record.service) if self.show_conn else None


def route_extra(read: Record, forwards: Sequence[Forward]) -> str:
    """What a relayed event's line adds: where the gateway forwarded it (``→ #5 commands``), with
    the forward's own size when it differs (compressed for its receiver)."""
    return "→ " + ", ".join(
        connection_name(f.conn, f.service) + (f" {size_text(f)}" if f.compressed or f.size != read.size else "") for f in forwards
    )


def ack_extra(record: Record) -> str:
    """What an ACK line adds: the heartbeat's round trip, as the client measured it."""
    return f"{record.latency_ms:.2f} ms" if record.latency_ms is not None else "unsolicited"


def notice_columns(notice: Notice, *, who: str | None = None) -> list[tuple[str, str]]:
    style = NOTICE_STYLES.get(notice.kind, "white")
    return [
        (clock(notice.ts), "dim"),
        (" ● ", style),
        (f"{who:<14.14} " if who is not None else "", "dim"),
        (printable(notice.text), style),
    ]


def format_notice(notice: Notice, *, who: str | None = None) -> Text:
    line = Text(no_wrap=False)
    for text, style in notice_columns(notice, who=who):
        line.append(text, style)
    return line


def plain_notice(notice: Notice, *, who: str | None = None) -> str:
    return "".join(text for text, _ in notice_columns(notice, who=who))


def connection_name(conn: int, service: str | None) -> str:
    return f"#{conn} {printable(service or '?')}"


def ndjson(item: Record | Notice) -> bytes:
    """One NDJSON line (with its newline). Non-JSON keys or values degrade to strings, never raise."""
    data = item.to_json()
    try:
        return orjson.dumps(data, option=NDJSON_OPTIONS, default=str)
    except orjson.JSONEncodeError as exc:  # nested past orjson's depth limit: keep the line, say why
        data["d"], data["error"] = None, f"data not written: {exc}"
        return orjson.dumps(data, option=NDJSON_OPTIONS, default=str)


NDJSON_OPTIONS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
