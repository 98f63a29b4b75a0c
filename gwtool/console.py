"""How Records and Notices look in a terminal (Rich ``Text``, never markup) and as NDJSON.

Every command that prints the wire uses this: the gateway's console, ``connect``, ``--json``
and ``--log``. Payload text is untrusted, so it only ever enters ``Text`` objects as plain text.
"""

from __future__ import annotations

import sys
import time
from typing import IO, TYPE_CHECKING, Any

import orjson
from rich.text import Text

from gwtool.records import Notice, Record

if TYPE_CHECKING:
    from rich.console import Console

    from gwtool.protocol.definition import Protocol

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
}
ARROWS = {"in": "←", "out": "→"}


def clock(ts: float) -> str:
    """``HH:MM:SS.mmm`` in local time."""
    return time.strftime("%H:%M:%S", time.localtime(ts)) + f".{int(ts * 1000) % 1000:03d}"


def human_size(size: int) -> str:
    return f"{size} B" if size < 10_000 else f"{size / 1024:.1f} KiB"


def label(record: Record, proto: Protocol) -> str:
    """``EVENT EXECUTE_COMMAND``, ``CACHE guild``, ``HEARTBEAT`` … for a record."""
    if record.payload is None:
        return "UNDECODABLE"
    name = proto.op_name(record.op)
    detail = record.t if record.t is not None else record.cache_type
    return f"{name} {detail}" if isinstance(detail, str) else name


def summary(record: Record, width: int = 160) -> str:
    """The payload's data (or the decode error) as compact one-line JSON, cut to ``width``."""
    if record.payload is None:
        text = f"{record.error}: {record.raw or ''}"
    else:
        d = record.payload.get("d")
        text = "" if d is None else orjson.dumps(d).decode()
    text = text.replace("\n", "\\n").replace("\r", "\\r")
    return text if len(text) <= width else text[: width - 1] + "…"


def format_record(record: Record, proto: Protocol, *, who: str | None = None, extra: str = "", width: int = 160) -> Text:
    """One console line. ``who`` names the other side (the gateway's console shows the service)."""
    name = proto.op_name(record.op) if record.payload is not None else ""
    style = OP_STYLES.get(name, "bold red" if record.payload is None else "white")
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(clock(record.ts), "dim")
    line.append(f" {ARROWS[record.direction]} ", "bold" if record.direction == "in" else "dim")
    if who is not None:
        line.append(f"{who:<14.14} ", "dim")
    line.append(f"{label(record, proto):<24} ", style)
    size = human_size(record.size) + (" z" if record.compressed else "")
    line.append(f"{size:>9}  ", "dim")
    if extra:
        line.append(extra + "  ", "bold green")
    line.append(summary(record, width), "default" if record.payload is not None else "red")
    return line


def format_notice(notice: Notice, *, who: str | None = None) -> Text:
    line = Text(no_wrap=False)
    line.append(clock(notice.ts), "dim")
    line.append(" ● ", NOTICE_STYLES.get(notice.kind, "white"))
    if who is not None:
        line.append(f"{who:<14.14} ", "dim")
    line.append(notice.text, NOTICE_STYLES.get(notice.kind, "white"))
    return line


def connection_name(conn: int, service: str | None) -> str:
    return f"#{conn} {service or '?'}"


def ndjson(item: Record | Notice) -> bytes:
    """One NDJSON line (with its newline). Non-JSON keys or values degrade to strings, never raise."""
    return orjson.dumps(item.to_json(), option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS, default=str)


class Printer:
    """Writes records and notices to the terminal (Rich lines or NDJSON) and to a ``--log`` file."""

    def __init__(
        self,
        proto: Protocol,
        *,
        console: Console | None = None,
        json: bool = False,
        log: IO[bytes] | None = None,
        show_conn: bool = False,
        out: IO[bytes] | None = None,
    ):
        self.proto = proto
        self.json = json
        self.log = log
        self.show_conn = show_conn
        self.out = out or sys.stdout.buffer
        if console is None and not json:
            from rich.console import Console

            console = Console(highlight=False)
        self.console = console

    def __call__(self, item: Record | Notice, *, extra: str = "") -> None:
        line = None
        if self.log is not None:
            line = ndjson(item)
            self.log.write(line)
        if self.json:
            self.out.write(line or ndjson(item))
            self.out.flush()
            return
        who = connection_name(item.conn, item.service) if self.show_conn else None
        if isinstance(item, Record):
            text = format_record(item, self.proto, who=who, extra=extra, width=self._summary_width())
        else:
            text = format_notice(item, who=who)
        self.console.print(text, soft_wrap=isinstance(item, Record))

    def _summary_width(self) -> int:
        # A terminal gets one line per payload; a pipe or file gets the whole payload (up to 4 KiB).
        return max(20, self.console.width - 60) if self.console.is_terminal else 4096

    def message(self, text: str, style: str = "dim") -> None:
        """A line of gwtool's own (not a record): on stderr in --json mode so stdout stays NDJSON."""
        if self.json:
            sys.stderr.write(text + "\n")
        else:
            self.console.print(Text(text, style))
