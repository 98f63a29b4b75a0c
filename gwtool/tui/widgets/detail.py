"""The selected payload as pretty, highlighted JSON with its sizes (plain and compressed)."""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

import orjson
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from gwtool.console import clock, human_size, label, route_extra
from gwtool.records import Record
from gwtool.text import printable
from gwtool.tui.feed import Entry

if TYPE_CHECKING:
    from gwtool.protocol.definition import Definition

PLACEHOLDER = "Select a line in the stream (↑/↓ or click) to see its payload here."


def pretty_json(value: object) -> str:
    """Indented JSON; keys that are not strings and odd values degrade to strings instead of failing."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str).decode()


def entry_json(entry: Entry) -> str:
    """What ``copy`` puts on the clipboard: the payload, or the notice / undecodable frame as JSON."""
    item = entry.item
    if isinstance(item, Record) and item.payload is not None:
        return pretty_json(item.payload)
    return pretty_json(item.to_json())


def sizes(record: Record) -> Text:
    """Bytes on the wire, the JSON's size and its zlib-compressed size (actual or what it would be)."""
    text = Text()
    text.append(human_size(record.size), "bold")
    text.append(" on the wire", "dim")
    if record.payload is not None:
        plain = orjson.dumps(record.payload)
        packed = len(zlib.compress(plain))
        if record.compressed:
            text.append(f" (zlib, {len(plain)} B as JSON)", "dim")
        elif packed < len(plain):
            text.append(f" · zlib would make it {packed} B ({packed / max(1, len(plain)):.0%})", "dim")
        else:
            text.append(" · too small for zlib to shrink", "dim")
    return text


def heading(entry: Entry, proto: Definition) -> Text:
    item = entry.item
    text = Text(no_wrap=False)
    side = "our client" if entry.side == "you" else "the gateway"
    if isinstance(item, Record):
        way = "received" if item.direction == "in" else "sent"
        text.append(printable(label(item, proto)), "bold")
        if item.sender is not None:  # a proxy's record: who sent it to whom
            who = f"#{item.conn} {printable(item.service or '?')}"
            route = f"{who} → the gateway" if item.sender == "service" else f"the gateway → {who}"
            text.append(f"  {route}, through the proxy", "dim")
        else:
            text.append(f"  {way} by {side}", "dim")
        if entry.side == "gw" and item.sender is None:
            text.append(f" ({'from' if item.direction == 'in' else 'to'} #{item.conn} {printable(item.service or '?')})", "dim")
        text.append(f"  at {clock(item.ts)}\n", "dim")
        if item.forwards:
            text.append(f"forwarded {route_extra(item, item.forwards)}\n", "magenta")
        text.append_text(sizes(item))
        if item.error:
            text.append("\n" + printable(item.error), "bold red")
    else:
        text.append(f"{item.kind}  ", "bold")
        if item.kind in ("violation", "injected"):  # a proxy's: who broke the protocol, or the proxy's own doing
            by = item.data.get("by")
            side = f"by the {by}" if by in ("service", "gateway") else "by the proxy"
        text.append(f"{side} · {clock(item.ts)}\n", "dim")
        text.append(printable(item.text))
    return text


class Detail(VerticalScroll):
    """Header (label, sizes) above the highlighted JSON."""

    DEFAULT_CSS = """
        .detail-heading {
            padding-bottom: 1;
        }
    """

    def __init__(self, proto: Definition, *, placeholder: str = PLACEHOLDER, id: str | None = None):
        super().__init__(id=id)
        self.proto = proto
        self.placeholder = placeholder
        self.entry: Entry | None = None

    def compose(self) -> ComposeResult:
        self.head = Static(Text(self.placeholder, "dim"), classes="detail-heading")
        self.body = Static("", classes="detail-json")
        yield self.head
        yield self.body

    def show(self, entry: Entry | None) -> None:
        self.entry = entry
        head, body = self.head, self.body
        if entry is None:
            head.update(Text(self.placeholder, "dim"))
            body.update("")
            return
        head.update(heading(entry, self.proto))
        item = entry.item
        if isinstance(item, Record) and item.payload is None:
            body.update(Text(printable(item.raw or ""), "red"))
        else:
            body.update(Syntax(entry_json(entry), "json", theme="ansi_dark", word_wrap=True, background_color="default"))
        self.scroll_home(animate=False)

    def show_value(self, title: str, value: object) -> None:
        """Any JSON value (a cache entity, a service) with a plain-text title."""
        self.entry = None
        self.head.update(Text(printable(title), "bold"))
        self.body.update(Syntax(pretty_json(value), "json", theme="ansi_dark", word_wrap=True, background_color="default"))
