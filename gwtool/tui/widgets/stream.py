"""The payload stream: a line-API widget rendering entries straight from the ring buffer.

``Log`` keeps up with the wire but has no selection; ``RichLog``/``DataTable``/``ListView`` are far
too slow. This widget renders only the visible lines, each from its Entry, and keeps a cursor.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from gwtool.console import ARROWS, NOTICE_STYLES, OP_STYLES, clock, human_size, label, route_extra, summary
from gwtool.filters import Filter, Side
from gwtool.records import Record
from gwtool.text import printable
from gwtool.tui.feed import DEFAULT_LIMIT, Entry
from gwtool.tui.textual_private import scroll_update

if TYPE_CHECKING:
    from gwtool.protocol.definition import Definition

SIDE_STYLES = {"you": "bold cyan", "gw": "bold magenta"}
NOTICE_MARKS = {"violation": " ✗ "}  # a violation stands out from the other notices' " ● " (same width)
DATA_SHARE = 0.4  # the data column gets at least this share of the stream's width, where it can


@dataclass(frozen=True, slots=True)
class Columns:
    """The widths of a stream line's fixed columns; the data gets the rest of the line."""

    clock: int  # 12: HH:MM:SS.mmm, 9: MM:SS.mmm
    who: int  # the side and the other party; 0 when only our client's side is shown (it is always the gateway)
    both: bool  # both sides shown: the gateway's lines say "gw" before the other party
    label: int
    size: int  # 0: not shown (Detail has it)
    event_prefix: bool  # "EVENT EXECUTE_COMMAND", or the event's name alone (its colour says EVENT)

    @property
    def fixed(self) -> int:
        return self.clock + len(" → ") + self.who + self.label + self.size


MAX_SERVICE_WIDTH = 16  # a longer service type's name is shortened, with "…", in the who column


def service_width(proto: Definition) -> int:
    """The who column's room for a service type: the definition's longest name (up to a bound)."""
    return min(MAX_SERVICE_WIDTH, max((len(name) for name in proto.services), default=1))


def columns_for(width: int, sides: Side | None, services: int = 8) -> Columns:
    """The widest columns that leave the data ``DATA_SHARE`` of ``width``, else the narrowest.

    ``sides``: which side of the wire the stream shows (None: both); ``services``: the longest
    service type's name (``service_width``). The who column holds ``#123 commands`` in the widest
    tier and ``#12 commands`` in the others, so a name is never cut into something else."""
    tiers = ((12, 3, 23, 10, True), (9, 2, 17, 10, False), (9, 2, 16, 0, False))
    columns = None
    for clock_width, digits, label_width, size_width, prefix in tiers:
        gateway = len("#") + digits + len(" ") + services + len(" ")
        who = 0 if sides == "you" else len("gw ") + gateway if sides is None else gateway
        columns = Columns(clock_width, who, sides is None, label_width, size_width, prefix)
        if width - columns.fixed >= DATA_SHARE * width:
            break
    assert columns is not None
    return columns


def fit(text: str, width: int) -> str:
    """``text`` padded to ``width``, or cut with a visible "…" (never into a word that reads as a typo)."""
    return f"{text:<{width}}" if len(text) <= width else text[: width - 1] + "…"


def _who(entry: Entry, columns: Columns) -> list[tuple[str, str]]:
    """``you`` / ``gw #3 commands`` (both sides), ``#3 commands`` (the gateway's side), or nothing.

    A connection number longer than the column reserves shortens the service's name with "…"."""
    if not columns.who:
        return []
    width = columns.who - 1
    if entry.side == "you":
        return [(fit("you", width) + " ", SIDE_STYLES["you"])]
    item = entry.item
    other = printable(f"#{item.conn} {item.service or '?'}") if item.conn else ""  # conn 0: the server's own notice
    if columns.both:
        return [("gw ", SIDE_STYLES["gw"]), (fit(other, width - 3) + " ", "dim")]
    return [(fit(other, width) + " ", "dim")]


def entry_parts(
    entry: Entry, proto: Definition, columns: Columns, data_offset: int = 0, data_width: int = 400
) -> list[tuple[str, str]]:
    """One stream line as (text, style name) parts, never markup: time, direction, side and other
    party, label, size, data (from ``data_offset``, ``data_width`` cells of it)."""
    item = entry.item
    stamp = clock(item.ts)
    parts = [(stamp if columns.clock >= 12 else stamp[3:], "dim")]
    if isinstance(item, Record):
        name = proto.op_name(item.op) if item.payload is not None else ""
        text = label(item, proto)
        if not columns.event_prefix and isinstance(item.t, str):
            text = printable(item.t)
        width = columns.label - 1
        parts.append((f" {ARROWS[item.direction]} ", "bold" if item.direction == "in" else "dim"))
        parts += _who(entry, columns)
        parts.append((f"{text:<{width}.{width}} ", OP_STYLES.get(name, "bold red" if item.payload is None else "")))
        if columns.size:
            size = human_size(item.size) + (" z" if item.compressed else "  ")
            parts.append((f"{size:>{columns.size - 1}} ", "dim"))
        if item.forwards:  # a relayed event: where the gateway wrote it
            parts.append((route_extra(item, item.forwards) + "  ", "magenta"))
        data = summary(item, data_offset + data_width)[data_offset:]
        parts.append((data, "" if item.payload is not None else "red"))
    else:
        style = NOTICE_STYLES.get(item.kind, "")
        parts.append((NOTICE_MARKS.get(item.kind, " ● "), style))
        parts += _who(entry, columns)
        parts.append((printable(item.text), style))
    return parts


class Stream(ScrollView, can_focus=True):
    """The visible (filtered) entries, newest last, with a cursor and follow mode."""

    COMPONENT_CLASSES = {"stream--cursor"}
    DEFAULT_CSS = """
    Stream { background: $surface; overflow-x: hidden; overflow-y: scroll; }
    Stream > .stream--cursor { background: $accent 30%; color: auto 100%; }
    Stream:focus > .stream--cursor { background: $accent 70%; color: auto 100%; }
    """
    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "cursor(-20)", "Page up", show=False),
        Binding("pagedown", "cursor(20)", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "follow", "Follow", show=False),
        Binding("enter", "choose", "Detail", show=False),
        Binding("right,l", "shift_data(1)", "Data →", show=False),
        Binding("left", "shift_data(-1)", "Data ←", show=False),
    ]

    follow: reactive[bool] = reactive(True)
    cursor: reactive[int | None] = reactive(None, always_update=True)

    class Selected(Message):
        """The cursor moved onto an entry (or off all of them: ``entry`` is None)."""

        def __init__(self, entry: Entry | None, chosen: bool = False):
            super().__init__()
            self.entry = entry
            self.chosen = chosen  # Enter or a click, rather than moving

    def __init__(self, proto: Definition, *, limit: int = DEFAULT_LIMIT, id: str | None = None):
        super().__init__(id=id)
        self.proto = proto
        self.service_width = service_width(proto)
        self.view: deque[Entry] = deque(maxlen=limit)
        self.filter = Filter()
        self.sides: Side | None = None  # which side of the wire the entries are from (None: both)
        self.data_offset = 0  # cells of the data column scrolled off to the left (→ / ←)
        self._strips: LRUCache[tuple[int, bool, int], Strip] = LRUCache(1024)  # (seq, cursor, width)
        self._columns: tuple[tuple[int, Side | None], Columns] | None = None
        self._styles: tuple[Style, Style] | None = None
        self._part_styles: dict[tuple[str, bool], Style] = {}  # (style name, cursor) → base + that style

    # --- content -----------------------------------------------------------------------------
    def add(self, entries: Iterable[Entry]) -> int:
        """Append the entries that pass the filter; returns how many did."""
        matches, proto = self.filter.matches, self.proto
        shown = [e for e in entries if matches(e.item, proto, e.side, e.text_for_search)] if self.filter else list(entries)
        if not shown:
            return 0
        overflow = len(self.view) + len(shown) - (self.view.maxlen or 0)
        self.view.extend(shown)
        if overflow > 0 and self.cursor is not None:
            self.set_reactive(Stream.cursor, self.cursor - overflow if self.cursor >= overflow else None)
        if overflow > 0 and not self.follow:  # the oldest lines left: keep what the reader looks at in place
            self.scroll_to(y=max(0, self.scroll_y - overflow), animate=False, immediate=True)
        self._resize()
        return len(shown)

    def rebuild(self, entries: Iterable[Entry], filter: Filter | None = None) -> None:
        """Show ``entries`` again through ``filter`` (or the current one), keeping the selected entry
        or, with none and not following, the line at the top where it was."""
        selected = self.selected
        top_y = self.scroll_offset.y
        top = self.view[top_y].seq if not self.follow and selected is None and top_y < len(self.view) else None
        if filter is not None:
            self.filter = filter
        self.view.clear()
        self.set_reactive(Stream.cursor, None)
        self.add(entries)
        if selected is not None:
            index = self.index_of(selected.seq)
            if index is not None:
                self.cursor = index
        self._resize()
        if top is not None:
            self.scroll_to(y=self._first_from(top), animate=False, immediate=True)
        self.refresh()

    def _resize(self) -> None:
        """Follow the view's length. The stream's own size does not change, so no layout of the screen:
        assigning ``virtual_size`` would relayout everything on each flush while the ring fills."""
        size = Size(self.size.width, len(self.view))
        if size != self.virtual_size:
            self.set_reactive(Stream.virtual_size, size)
            scroll_update(self, size)  # private: see gwtool/tui/textual_private.py
        if self.follow:
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
        self.refresh()

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        # a private hook of ScrollView's, overridden: see gwtool/tui/textual_private.py
        # Every layout passes a line-API widget its viewport as virtual_size, which never equals
        # ours, so ScrollView re-rendered the scrollbar on each layout of the screen (~2.5 ms).
        # _resize() keeps the scrollbar up to date; here only a change of size matters.
        return super()._size_updated(size, self.virtual_size, container_size, layout)

    def index_of(self, seq: int) -> int | None:
        if not self.view or seq < self.view[0].seq:
            return None
        low = self._first_from(seq)
        return low if low < len(self.view) and self.view[low].seq == seq else None

    def _first_from(self, seq: int) -> int:
        """The index of the first entry whose seq is ``seq`` or later (entries are in seq order)."""
        low, high = 0, len(self.view)
        while low < high:
            mid = (low + high) // 2
            if self.view[mid].seq < seq:
                low = mid + 1
            else:
                high = mid
        return low

    @property
    def selected(self) -> Entry | None:
        return self.view[self.cursor] if self.cursor is not None and self.cursor < len(self.view) else None

    # --- rendering ---------------------------------------------------------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self._styles = None
        self._part_styles.clear()

    def _line_styles(self) -> tuple[Style, Style]:
        """(normal, cursor) styles, computed once per style change rather than once per line."""
        if self._styles is None:
            base = self.rich_style
            self._styles = (base, base + self.get_component_rich_style("stream--cursor"))
        return self._styles

    def render_line(self, y: int) -> Strip:
        # No apply_offsets(): its per-line style meta only serves text selection, which the stream
        # does not offer (it has a cursor), and it cost a tenth of each frame under load.
        index = self.scroll_offset.y + y
        width = self.size.width
        if index >= len(self.view):
            return Strip.blank(width, self._line_styles()[0])
        entry = self.view[index]
        key = (entry.seq, index == self.cursor, width)
        strip = self._strips.get(key)
        if strip is None:  # once per entry while it is visible
            strip = self._strips[key] = self._render_strip(entry, index == self.cursor, width)
        return strip

    def columns(self, width: int | None = None) -> Columns:
        """The column widths for this width and side (computed once per change)."""
        key = (self.size.width if width is None else width, self.sides)
        if self._columns is None or self._columns[0] != key:
            self._columns = (key, columns_for(*key, self.service_width))
        return self._columns[1]

    def show_sides(self, sides: Side | None) -> None:
        """Which side the entries are from: with one, its column goes (call before ``rebuild``)."""
        self.sides = sides
        self._strips.clear()

    def action_shift_data(self, step: int) -> None:
        """Scroll the data column by half its width (the fixed columns stay)."""
        width = max(8, (self.size.width - self.columns().fixed) // 2)
        offset = max(0, self.data_offset + step * width)
        if offset != self.data_offset:
            self.data_offset = offset
            self._strips.clear()
            self.refresh()
            self.post_message(self.Shifted(offset))

    class Shifted(Message):
        """The data column was scrolled sideways (``offset`` cells)."""

        def __init__(self, offset: int):
            super().__init__()
            self.offset = offset

    def _render_strip(self, entry: Entry, on_cursor: bool, width: int) -> Strip:
        """The entry's line as Segments cut or padded to ``width`` (not through Text and crop: each
        new entry on screen costs this once, and under load every line on screen is new each frame).

        On the cursor row every part takes the cursor's colours (bold kept): a part's own colour on
        the cursor's background could be unreadable in some theme."""
        styles = self._part_styles
        segments = []
        room = width
        columns = self.columns(width)
        for text, name in entry_parts(entry, self.proto, columns, self.data_offset, max(1, width - columns.fixed)):
            if room <= 0:
                break
            style = styles.get((name, on_cursor))
            if style is None:
                own = self.app.console.get_style(name, default=Style.null())
                if on_cursor:
                    own = Style(bold=own.bold)
                style = styles[(name, on_cursor)] = self._line_styles()[on_cursor] + own
            cells = cell_len(text)
            if cells > room:
                text, cells = set_cell_size(text, room), room
            segments.append(Segment(text, style))
            room -= cells
        if room > 0:
            segments.append(Segment(" " * room, self._line_styles()[on_cursor]))
        return Strip(segments, width)

    # --- cursor ------------------------------------------------------------------------------
    def watch_cursor(self, cursor: int | None) -> None:
        if cursor is not None:
            self.scroll_to_region_y(cursor)
        self.refresh()
        self.post_message(self.Selected(self.selected))

    def scroll_to_region_y(self, index: int) -> None:
        top = self.scroll_offset.y
        height = max(1, self.scrollable_content_region.height)
        if index < top:
            self.scroll_to(y=index, animate=False, immediate=True)
        elif index >= top + height:
            self.scroll_to(y=index - height + 1, animate=False, immediate=True)

    def action_cursor(self, delta: int) -> None:
        if not self.view:
            return
        if self.cursor is None:  # the first move selects the newest line
            self.follow = False
            self.cursor = len(self.view) - 1
            return
        new = min(max(0, self.cursor + delta), len(self.view) - 1)
        if delta > 0 and new == len(self.view) - 1 and self.cursor == new:
            return
        self.follow = False
        self.cursor = new

    def action_first(self) -> None:
        if self.view:
            self.follow = False
            self.cursor = 0

    def action_follow(self) -> None:
        """Jump to the newest entry and keep following new ones (Detail keeps what it showed)."""
        self.follow = True
        self.set_reactive(Stream.cursor, None)
        self.scroll_end(animate=False, x_axis=False)
        self.refresh()

    def on_mouse_scroll_up(self) -> None:
        self.follow = False  # reading back: stop jumping to the newest line

    def on_mouse_scroll_down(self) -> None:
        def at_end() -> None:
            if self.cursor is None and self.scroll_y >= self.max_scroll_y:
                self.follow = True

        self.call_after_refresh(at_end)

    def action_choose(self) -> None:
        if self.selected is not None:
            self.post_message(self.Selected(self.selected, chosen=True))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:  # on the border or a scrollbar
            return
        index = self.scroll_offset.y + offset.y
        if 0 <= index < len(self.view):
            self.follow = False
            self.cursor = index
            self.post_message(self.Selected(self.selected, chosen=True))

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, len(self.view))
        self._resize()
