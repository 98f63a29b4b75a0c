"""Connected services, from the gateway's GET /services/ (or the embedded gateway directly), or
the connections through a proxy (``tui --proxy``): who, from where, since when, how many payloads
and violations each way."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.widgets import DataTable

from gwtool.text import printable
from gwtool.tui.widgets.status_bar import shard_span

if TYPE_CHECKING:
    from gwtool.proxy import LinkInfo

COLUMNS = ("conn", "type", "shards", "guilds", "heap", "up", "♥ last")
PROXIED_COLUMNS = ("conn", "type", "shards", "✗", "up", "← svc", "→ gw", "from")  # ✗: violations; the address last


def cell(value: object) -> Text:
    """Every cell is Text: a service's fields are untrusted and DataTable parses plain strings as markup."""
    if value is None:
        return Text("–", "dim")
    if isinstance(value, list):
        return Text(printable(",".join(map(str, value))))
    return Text(printable(str(value)))


def heap(value: object) -> Text:
    if isinstance(value, int) and not isinstance(value, bool):
        return Text(f"{value / (1 << 20):.1f} MiB", justify="right")
    return cell(value)


def age(ms_epoch: object, now: float, suffix: str = "") -> Text:
    if not isinstance(ms_epoch, (int, float)) or isinstance(ms_epoch, bool):
        return cell(None)
    seconds = max(0, int(now - ms_epoch / 1000))
    text = f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
    return Text(text + suffix, justify="right")


class Services(DataTable[Text]):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_columns(*COLUMNS)

    def _columns(self, columns: tuple[str, ...]) -> None:
        if tuple(str(c.label) for c in self.columns.values()) != columns:
            self.clear(columns=True)
            self.add_columns(*columns)
        else:
            self.clear()

    def show_proxied(self, links: list[LinkInfo], *, now: float | None = None) -> None:
        """The connections through the proxy: ``← svc`` what the service sent, ``→ gw`` what the gateway sent it."""
        now = time.time() if now is None else now
        self._columns(PROXIED_COLUMNS)
        for link in links:
            shards = (
                shard_span(link.shards) + (f" of {link.max_shards}" if link.max_shards is not None else "")
                if link.shards
                else None
            )
            by = {who: n for who, n in link.violations.items() if n}
            violations = ", ".join(f"{n} {'svc' if who == 'service' else 'gw'}" for who, n in by.items()) or "0"
            self.add_row(
                Text(f"#{link.conn}", "dim"),
                Text(printable(link.service or "?"), "bold cyan"),
                cell(shards),
                Text(violations, "bold red" if by else "green"),
                age(link.since * 1000, now),
                Text(f"{link.payloads.get('service', 0):,}", justify="right"),
                Text(f"{link.payloads.get('gateway', 0):,}", justify="right"),
                cell(link.remote),
            )
        if not links:
            self.add_row(Text(""), Text("no service connected", "dim"), *(Text("") for _ in PROXIED_COLUMNS[2:]))
        self.border_subtitle = "the proxy's connections"

    def show(self, services: list[dict[str, Any]], *, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self._columns(COLUMNS)
        for svc in services:
            shards = svc.get("shards")
            if isinstance(shards, list) and all(isinstance(n, int) for n in shards):
                shards = shard_span(shards) + (f" of {svc['maxShards']}" if svc.get("maxShards") is not None else "")
            self.add_row(
                Text(f"#{svc['conn']}" if "conn" in svc else "", "dim"),
                Text(printable(str(svc.get("type"))), "bold cyan"),
                cell(shards),
                cell(svc.get("guilds")),
                heap(svc.get("heapUsed")),
                age(svc.get("startTime"), now),
                age(svc.get("lastHeartbeat"), now, " ago"),  # the gateway's clock, embedded or not
            )
        if not services:
            self.add_row(Text(""), Text("no service identified", "dim"), *(Text("") for _ in COLUMNS[2:]))
