"""The dashboard App. ``make_app()`` builds it from CLI options; tests and screenshots reuse it.

Data flows one way: the session's client and gateway push Records/Notices into ``Feed`` (one list
append each); a timer drains the feed once per frame into the stream; other timers read the session's
state. Every network call runs in a worker, so the UI never waits on the wire.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Input, OptionList, TabbedContent, TabPane, Tabs, TextArea, Tree

from gwtool import filters
from gwtool.console import label
from gwtool.errors import GwtoolError, InvalidPayload
from gwtool.filters import Filter, Side
from gwtool.protocol.definition import Definition
from gwtool.records import Notice, Record
from gwtool.session.reasons import INVALID, NOT_ALLOWED
from gwtool.text import plural, printable
from gwtool.tui.commands import ACTIONS, GwtoolCommands, app_bindings, available
from gwtool.tui.feed import DEFAULT_LIMIT, Entry, Feed
from gwtool.tui.session import Session
from gwtool.tui.settings import load_settings, save_setting
from gwtool.tui.source import FileMatch, RecordingView, Source
from gwtool.tui.widgets.cache_tree import CacheTree, EntityNode
from gwtool.tui.widgets.compose import Composer
from gwtool.tui.widgets.detail import Detail, entry_json, pretty_json
from gwtool.tui.widgets.faults import FaultsPane
from gwtool.tui.widgets.help import ConfirmScreen, HelpScreen
from gwtool.tui.widgets.latency import Latency
from gwtool.tui.widgets.services import Services
from gwtool.tui.widgets.stats_pane import LiveStats, StatsPane
from gwtool.tui.widgets.status_bar import StatusBar
from gwtool.tui.widgets.stream import Stream

if TYPE_CHECKING:
    from collections.abc import Iterator

    from textual.app import SystemCommand
    from textual.driver import Driver
    from textual.screen import Screen
    from textual.theme import Theme

FLUSH_SECONDS = 0.1  # drain the feed 10×/s: under load each drain repaints the whole stream
STATUS_EVERY = 2  # flushes between status bar updates (repainted in the same frame as the stream)
SIDES: tuple[Side | None, ...] = (None, "you", "gw")
SIDE_NAMES: dict[Side | None, str] = {None: "both sides"} | filters.SIDE_NAMES
PANE_FOCUS = {"detail": "#detail-view", "cache": "#cache-tree", "compose": "#compose-editor", "services": "#services-table",
              "stats": "#stats-conversations", "faults": "#fault-input"}  # fmt: skip
STATS_SECONDS = 1.0  # the Stats pane's refresh, while it is open
PROXY_STATS = "every proxied connection, both ways"  # what the Stats pane counts over a proxy
OUR_ACTIONS = {a.action.split("(")[0] for a in ACTIONS if a.binding} | {"escape"}
# the actions that still run while a text field has focus: their keys are not text
CTRL_ACTIONS = {a.action for a in ACTIONS if a.binding.startswith("ctrl+")}
LIVE_ACTIONS = frozenset(("heartbeat", "reconnect", "send"))  # they act on a connection
FAULT_ACTIONS = frozenset(("toggle_rule", "remove_rule"))  # they act on the Faults pane's selected rule
EMBEDDED_ACTIONS = frozenset(("cycle_side", "request_heartbeat"))  # they need the gateway in this process
# why a key does nothing here: said when it is pressed (its binding's hidden twin, see check_action)
CANNOT_IN_A_RECORDING = {
    "heartbeat": "A recording cannot heartbeat: it has no connection (Latency shows the round trips it holds).",
    "reconnect": "A recording has no connection to reconnect.",
    "send": "A recording cannot send: nothing is connected (gwtool replay FILE sends its payloads again).",
    "cycle_side": "A recording shows the side of the wire it recorded.",
    "request_heartbeat": "A recording has no gateway to ask for a heartbeat.",
}
CANNOT_THROUGH_A_PROXY = {  # the same keys as CANNOT_IN_A_RECORDING: the proxy has no client of its own
    "heartbeat": "Through a proxy the dashboard has no client: your services heartbeat (Latency shows their round trips).",
    "reconnect": "Through a proxy the dashboard has no connection of its own: your services reconnect themselves.",
    "send": "Through a proxy the dashboard has no client to send as (gwtool send --url the proxy's URL sends one).",
    "cycle_side": "Through a proxy the stream shows every proxied connection, both ways (conn:N picks one).",
    "request_heartbeat": "The gateway is not in this process: the proxy forwards what it sends, it cannot ask.",
}
CANNOT_WITHOUT_EMBEDDED_GATEWAY = {
    "cycle_side": "Only our client's side: the gateway is not embedded (run without --url to see both).",
    "request_heartbeat": "Only the embedded gateway can be asked for a heartbeat (run without --url).",
}
FILTER_HINT = "filter: op:HEARTBEAT  t:EXECUTE  conn:3  dir:in  side:gw  -op:heartbeat  words"


class GwtoolApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "gwtool"
    COMMANDS = App.COMMANDS | {GwtoolCommands}
    # side by side only where the stream keeps room for the payloads' data (see Stream's columns)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (140, "-wide")]
    ALLOW_IN_MAXIMIZED_VIEW = "Footer, #status"
    # every key from the one table (commands.ACTIONS); Esc goes back to the stream, whatever has focus;
    # the keys of actions that cannot run here say why (hidden twins, after the actions' own bindings)
    BINDINGS = [
        *app_bindings(),
        Binding("escape", "escape", "Back", show=False, priority=True),
        *(
            Binding(a.binding, f"explain('{a.action}')", show=False, priority=True)
            for a in ACTIONS
            if a.action in CANNOT_IN_A_RECORDING
        ),
    ]

    def __init__(
        self,
        session: Source,
        *,
        limit: int = DEFAULT_LIMIT,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        remember: bool = True,
    ):
        super().__init__()
        self.remember = remember  # the theme from and to the user's config dir (not for the demo's screenshots)
        self.session = session
        self.last_close: tuple[str, float] | None = None  # the last close by the gateway, and when
        self.proto: Definition = session.proto
        self.feed = Feed(limit)
        self.clock = clock
        self.monotonic = monotonic
        self.paused = False
        self.unseen = 0  # entries recorded while paused
        self.side: Side | None = None
        self.copy_text: str | None = None  # what 'copy' copies: the payload or entity shown in Detail
        self.flushes = 0
        self.file_matches: int | None = None  # a recording's whole-file search: how many lines matched
        # live: the Stats pane's counts, fed every drained batch (a recording's come from its file)
        self.live_stats = LiveStats(self.proto, through_proxy=session.proxy is not None) if session.recording is None else None
        if self.live_stats is not None:
            self.feed.tap = self.live_stats.add

    # --- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        # Kept as attributes: timers must reach them while a dialog screen is on top.
        self.status = StatusBar(id="status")
        self.filter_box = Input(placeholder=FILTER_HINT, id="filter")
        self.stream = Stream(self.proto, limit=self.feed.limit, id="stream")
        self.panes = TabbedContent(id="panes", initial="detail")
        self.detail = Detail(self.proto, id="detail-view")
        self.latency = Latency(id="latency-view")
        self.cache_tree = CacheTree(self.proto, id="cache-tree")
        self.cache_detail = Detail(self.proto, placeholder="Select an entity to see its JSON.", id="cache-detail")
        self.composer = Composer(self.proto, self.session.service, id="composer")
        self.services = Services(id="services-table")
        self.stats_pane = StatsPane(id="stats-view")
        self.faults = FaultsPane(self.proto, self.session.proxy, id="faults-pane")
        yield self.status
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield self.filter_box
                yield self.stream
            with self.panes:
                with TabPane("Detail", id="detail"):
                    yield self.detail
                with TabPane("Latency", id="latency"):
                    yield self.latency
                with TabPane("Cache", id="cache"):
                    yield self.cache_tree
                    yield self.cache_detail
                with TabPane("Compose", id="compose"):
                    yield self.composer
                with TabPane("Services", id="services"):
                    yield self.services
                with TabPane("Stats", id="stats"):
                    yield self.stats_pane
                with TabPane("Faults", id="faults"):
                    yield self.faults
        yield Footer()

    def get_driver_class(self) -> type[Driver]:
        """Textual's web driver (a browser tab, ``tui --web``) becomes one that ends with its server."""
        driver = super().get_driver_class()
        if (driver.__module__, driver.__qualname__) == ("textual.drivers.web_driver", "WebDriver"):
            from gwtool.tui.tab import TabDriver

            return TabDriver
        return driver

    def get_system_commands(self, screen: Screen[Any]) -> Iterator[SystemCommand]:
        """Textual's own palette entries, less those our ACTIONS already list (Theme, Quit, Keys)."""
        for command in super().get_system_commands(screen):
            if command.title not in ("Theme", "Quit", "Keys"):
                yield command

    def on_mount(self) -> None:
        if self.remember:
            theme = load_settings().get("theme")
            if isinstance(theme, str) and theme in self.available_themes:
                self.theme = theme
            self.theme_changed_signal.subscribe(self, self.remember_theme)
        self.stream.border_title = "stream"
        self.stream.show_sides(self.stream_sides())
        self.stream.focus()
        self.set_interval(FLUSH_SECONDS, self.flush)
        self.set_interval(0.5, self.refresh_latency)
        self.set_interval(2.0, self.refresh_panes)
        self.set_interval(STATS_SECONDS, self.refresh_stats)
        self.refresh_status()
        self.refresh_latency()
        self.run_worker(self.session.run(self.feed.push), name="session", group="network", exit_on_error=False)
        self.refresh_panes()
        self.call_after_refresh(self.freeze_startup_objects)

    def remember_theme(self, theme: Theme) -> None:
        if not save_setting("theme", theme.name):
            self.notify("The theme could not be saved for next time (the config directory is not writable).", severity="warning")

    def freeze_startup_objects(self) -> None:
        """Keep the garbage collector's full passes off the objects that live as long as the app.

        Under load the ring buffer's churn triggers a full collection every second or so, and it
        scanned Textual's and the app's own objects too: pauses of up to ~100 ms, which delayed
        keys and drains. Frozen (after one collection), those objects are skipped; see on_unmount.
        """
        gc.collect()
        gc.freeze()

    def on_unmount(self) -> None:
        if self.live_stats is not None:
            self.live_stats.close()
        gc.unfreeze()  # several apps in one process (tests): frozen cycles are collectable again

    # --- the feed → the stream ---------------------------------------------------------------
    def push(self, item: Record | Notice, side: Side = "you") -> None:
        """Test and demo hook: record ``item`` as if a source had reported it."""
        self.feed.push(side, item)

    def flush(self) -> None:
        self.flushes += 1
        if self.flushes % STATUS_EVERY == 0:
            self.refresh_status()
        batch = self.feed.drain()
        self.say_closes(batch)
        stream = self.stream
        if batch and not self.paused:
            stream.add(batch)
        elif batch:
            self.unseen += len(batch)
        self.update_stream_title()

    def say_closes(self, batch: list[Entry]) -> None:
        """A close by the gateway is an error toast, and the status bar keeps it for a minute: the
        reconnect a moment later must not hide that the gateway refused something."""
        for entry in batch:
            item = entry.item
            if entry.side == "you" and isinstance(item, Notice) and item.kind == "closed" and item.data.get("by_gateway"):
                code, name, reason = item.data.get("code"), item.data.get("name") or "", item.data.get("reason") or ""
                text = printable(f"{code} {name}".strip() + (f": {reason}" if reason else ""))
                self.notify(f"Closed by the gateway: {text}", severity="error", timeout=10, markup=False)
                self.last_close = (text, self.monotonic())
                self.refresh_status()

    def update_stream_title(self) -> None:
        stream = self.stream
        parts = [f"{len(stream.view):,} shown", f"{len(self.feed.entries):,} kept"]
        if self.file_matches is not None:
            parts[0] = f"{plural(self.file_matches, 'matching line')} of the file"
        elif self.feed.dropped:
            parts.append(f"{self.feed.dropped:,} dropped")
        if stream.data_offset:
            parts.append(f"data from column {stream.data_offset + 1} (←)")
        if self.paused:
            parts.append(f"PAUSED, {self.unseen:,} new")
        elif stream.follow:
            parts.append("following")
        if not stream.view and stream.filter and self.feed.entries:
            problems = stream.filter.problems(self.proto, self.stream_sides())
            parts.insert(0, " · ".join(f"{term} {why}" for term, why in problems) or "no line matches the filter")
            parts.insert(1, "Esc clears it")
        subtitle = " · ".join(parts)
        if stream.border_subtitle != subtitle:
            stream.border_subtitle = subtitle
        title = f"stream · {SIDE_NAMES[self.side]}" if self.session.embedded else "stream"
        if stream.border_title != title:
            stream.border_title = title

    def stream_sides(self) -> Side | None:
        """Which side of the wire the stream shows: without an embedded gateway, only ours (or the
        one a recording holds)."""
        if self.session.embedded:
            return self.side
        if self.session.proxy is not None:
            return "gw"  # every proxied connection, as the gateway sees it: #3 commands
        recording = self.session.recording
        return recording.side_shown if recording is not None else "you"

    def refilter(self) -> None:
        text = self.filter_box.value
        self.file_matches = None
        self.stream.show_sides(self.stream_sides())
        self.stream.rebuild(self.feed.entries, Filter.parse(text, self.side))
        self.update_stream_title()

    @work(exclusive=True, group="search", thread=True)
    def search_file(self, recording: RecordingView, filter: Filter) -> None:
        """A recording: the filter over the whole file, not just the kept lines (a thread: it reads it)."""
        from textual.worker import get_current_worker

        worker = get_current_worker()
        found = recording.search(filter, lambda: worker.is_cancelled)
        if not worker.is_cancelled:
            self.call_from_thread(self.show_file_matches, filter, found)

    def show_file_matches(self, filter: Filter, found: list[FileMatch]) -> None:
        if self.stream.filter != filter:
            return  # typed on since
        # negative sequence numbers: never the same as a kept entry's once the filter is cleared
        side = self.stream_sides() or "you"
        entries = [Entry(i - len(found), side, item) for i, (_, item) in enumerate(found)]
        self.stream.rebuild(entries, filter)
        self.file_matches = len(found)
        self.update_stream_title()

    @on(Input.Changed, "#filter")
    def filter_changed(self) -> None:
        self.refilter()

    @on(Input.Submitted, "#filter")
    def filter_submitted(self) -> None:
        if self.session.recording is not None and self.stream.filter:
            self.search_file(self.session.recording, self.stream.filter)
        self.stream.focus()

    @on(Stream.Shifted)
    def stream_shifted(self) -> None:
        self.update_stream_title()

    @on(Stream.Selected)
    def entry_selected(self, event: Stream.Selected) -> None:
        if event.entry is None:
            return
        self.detail.show(event.entry)
        self.copy_text = entry_json(event.entry)
        if event.chosen:
            self.panes.active = "detail"

    # --- periodic reads of the session -------------------------------------------------------
    def refresh_status(self) -> None:
        self.status.show(self.session, now=self.clock, monotonic=self.monotonic, paused=self.paused, last_close=self.last_close)

    def refresh_latency(self) -> None:
        if self.panes.active == "latency":
            state = self.session.state
            stale = state is not None and state.phase != "identified"
            self.latency.show(
                self.session.latency, embedded=self.session.embedded, stale=stale, recording=self.recording,
                proxied=self.session.proxy is not None,
            )  # fmt: skip

    @work(exclusive=True, group="panes")
    async def refresh_panes(self) -> None:
        """Read services and cache (over HTTP for a remote gateway) for whichever pane is showing."""
        active = self.panes.active
        try:
            if active == "services" and (proxy := self.session.proxy) is not None:
                self.services.show_proxied(proxy.connections, now=self.clock())
            elif active == "services":
                table = self.services
                table.show(await self.session.services(), now=self.clock())
                table.border_subtitle = "GET /services/" if not self.session.embedded else "the gateway's connections"
            elif active == "cache":
                self.cache_tree.show(*await self.session.cache_index())
        except (OSError, TimeoutError) as exc:
            pane = self.services if active == "services" else self.cache_tree
            pane.border_subtitle = printable(f"stale: cannot read the gateway: {exc or type(exc).__name__}")

    @on(TabbedContent.TabActivated)
    def tab_activated(self) -> None:
        self.panes.set_class(self.panes.active == "stats", "-stats")
        self.refresh_latency()
        self.refresh_panes()
        self.refresh_stats()

    def refresh_stats(self) -> None:
        """The Stats pane, only while it is open: live, the side of the wire the stream shows (the
        gateway's, which sees every connection, when it shows both); a recording, its whole file."""
        if self.panes.active != "stats":
            return
        recording = self.session.recording
        if recording is not None:
            where = recording.whose if recording.scanned.is_set() else f"{recording.whose} · reading the file…"
            self.stats_pane.show(recording.statistics(), where=where)
        elif self.live_stats is not None:
            shown = self.stream_sides()
            side: Side = shown or "gw"
            term = " side:gw" if shown is None else ""
            where = PROXY_STATS if self.session.proxy is not None else filters.SIDE_NAMES[side]
            if self.live_stats.failure:
                where += f" · {self.live_stats.failure}"
            self.stats_pane.show(self.live_stats.to_json(side), where=where, side_term=term, now=self.clock())

    @on(StatsPane.Chosen)
    def stats_chosen(self, event: StatsPane.Chosen) -> None:
        """Enter on a conversation or a kind: the stream shows only it (over a recording, the whole file's)."""
        if self.screen.maximized is not None:
            self.screen.minimize()
        with self.filter_box.prevent(Input.Changed):  # refiltered here, before the search: not again after it
            self.filter_box.value = event.terms
        self.refilter()
        if self.session.recording is not None and self.stream.filter:
            self.search_file(self.session.recording, self.stream.filter)
        self.stream.focus()
        self.notify(printable(f"Stream filtered: {event.terms} (/ edits the filter)"), timeout=3, markup=False)

    @on(Tree.NodeHighlighted, "#cache-tree")
    @on(Tree.NodeSelected, "#cache-tree")
    def cache_node(self, event: Tree.NodeHighlighted[EntityNode] | Tree.NodeSelected[EntityNode]) -> None:
        data = event.node.data
        if data is None:
            return
        kind, key, entity = data
        self.cache_detail.show_value(f"{kind} {'/'.join(key)}", entity)
        self.copy_text = pretty_json(entity)
        if isinstance(event, Tree.NodeSelected) and not self.session.embedded:
            self.fetch_entity(kind, key)

    @work(exclusive=True, group="entity")
    async def fetch_entity(self, kind: str, key: tuple[str, ...]) -> None:
        """The gateway's current copy, from GET /cache/{type}/{key…}."""
        path = "/".join((kind, *key))
        try:
            status, value = await self.session.fetch_entity(kind, key)
        except (OSError, TimeoutError) as exc:
            self.notify(printable(f"GET /cache/{path} failed: {exc}"), severity="warning", markup=False)
            return
        if status == 200:
            self.cache_detail.show_value(f"GET /cache/{path} → 200", value)
            self.copy_text = pretty_json(value)
        else:
            self.notify(printable(f"GET /cache/{path} → {status or 'no answer'} (showing the payload seen)"), markup=False)

    # --- actions -----------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Which of our keys apply now (the footer shows only those). On a dialog, the dialog's keys
        only; in a text field (the filter, the editor) its printable keys are text. ``explain``, the
        hidden twin of an action's key, runs where the action cannot (a recording's ``h``)."""
        if action == "explain":
            name = str(parameters[0]) if parameters else ""
            return self.key_reaches_app(name) and not self.applies(name)
        if action not in OUR_ACTIONS:
            return True
        return self.key_reaches_app(action) and self.applies(action)

    def key_reaches_app(self, action: str) -> bool:
        """Not on a dialog; in a text field only Esc and the Ctrl keys (the rest are text)."""
        if self.screen is not self.screen_stack[0]:
            return False
        focused = self.focused
        if isinstance(focused, (Input, TextArea, OptionList)):  # OptionList: the Select's open list
            return (action == "escape" and not isinstance(focused, OptionList)) or action in CTRL_ACTIONS
        return True

    @property
    def recording(self) -> bool:
        """A recording (tui --open): no connection to act on."""
        return self.session.recording is not None

    def applies(self, action: str) -> bool:
        """Whether an action means something in the app's state (the palette asks this too)."""
        if action in EMBEDDED_ACTIONS:
            return self.session.embedded
        if action in LIVE_ACTIONS and (self.recording or self.session.proxy is not None):
            return False
        if action in FAULT_ACTIONS:
            return self.session.proxy is not None and self.panes.active == "faults"
        if action in ("pause", "resume"):  # one key, p: the footer shows the one that applies
            return self.paused == (action == "resume")
        return True

    def action_explain(self, action: str) -> None:
        """A key whose action cannot run here says why, instead of doing nothing."""
        why = (
            CANNOT_IN_A_RECORDING if self.recording
            else CANNOT_THROUGH_A_PROXY if self.session.proxy is not None
            else CANNOT_WITHOUT_EMBEDDED_GATEWAY
        )  # fmt: skip
        self.notify(why.get(action, "That does nothing here."), severity="warning", timeout=5)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(available(self), proxied=self.session.proxy is not None))

    def action_focus_filter(self) -> None:
        self.filter_box.focus()

    def action_clear_filter(self) -> None:
        self.filter_box.value = ""
        self.refilter()

    def action_escape(self) -> None:
        if self.screen.maximized is not None:
            self.screen.minimize()
            return
        filter_box = self.filter_box
        if filter_box.has_focus and filter_box.value:
            self.action_clear_filter()
        self.stream.focus()

    def action_pause(self) -> None:
        if not self.paused:
            self.action_toggle_pause()

    def action_resume(self) -> None:
        if self.paused:
            self.action_toggle_pause()

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        self.refresh_bindings()  # the footer: Pause or Resume
        if not self.paused:
            self.unseen = 0
            self.stream.rebuild(self.feed.entries)
        self.update_stream_title()
        self.refresh_status()

    def action_follow(self) -> None:
        if self.paused:
            self.action_toggle_pause()
        self.stream.action_follow()
        self.update_stream_title()

    def action_cycle_side(self) -> None:
        if not self.session.embedded:
            self.action_explain("cycle_side")
            return
        self.side = SIDES[(SIDES.index(self.side) + 1) % len(SIDES)]
        self.refilter()
        self.refresh_stats()  # the pane counts the side the stream shows
        self.notify(f"Stream shows {SIDE_NAMES[self.side]}.", timeout=2)

    def action_clear_stream(self) -> None:
        self.feed.entries.clear()
        if self.live_stats is not None:  # the Stats pane starts again too
            self.live_stats.clear()
        self.stream.rebuild(())
        self.detail.show(None)
        self.update_stream_title()

    def action_copy(self) -> None:
        if self.copy_text is None:
            self.notify("Nothing selected to copy: pick a line in the stream first.", severity="warning")
            return
        self.copy_to_clipboard(self.copy_text)  # OSC 52: the terminal (or browser) may ignore it, and cannot say
        where = (
            "the browser's clipboard (where the browser allows the page to write it)"
            if self.is_web
            else "the terminal's clipboard (OSC 52: tmux needs set-clipboard on; some terminals ignore it)"
        )
        self.notify(f"Sent {len(self.copy_text):,} characters of JSON to {where}.", timeout=4)

    def action_zoom(self) -> None:
        """Give the whole screen to the stream or to the panes (whichever has focus); again to restore."""
        screen = self.screen
        if screen.maximized is not None:
            screen.minimize()
            return
        focused = self.focused
        in_panes = focused is not None and (focused is self.panes or self.panes in focused.ancestors)
        screen.maximized = self.panes if in_panes else self.query_one("#left")

    def action_show_tab(self, tab: str) -> None:
        """Open a pane and focus what is in it, so its keys (↑/↓, Enter) work at once."""
        self.panes.active = tab
        target = PANE_FOCUS.get(tab)
        found = self.query(target) if target else None  # none: a pane with nothing to focus here (Faults, no proxy)
        widget = found.first() if found else None
        if widget is None or not widget.focusable:
            widget = self.panes.query_one(Tabs)  # the tab bar: ← → switch panes
        widget.focus()

    def action_send(self) -> None:
        self.panes.active = "compose"
        self.composer.action_send()

    @work(group="actions")
    async def action_heartbeat(self) -> None:
        try:
            await self.session.heartbeat_now()
        except (GwtoolError, OSError) as exc:
            self.notify(printable(f"No heartbeat sent: {exc or 'not connected'}"), severity="warning", markup=False)

    @work(group="actions")
    async def action_request_heartbeat(self) -> None:
        if not self.session.embedded:
            self.action_explain("request_heartbeat")
            return
        try:
            await self.session.request_heartbeat()
        except (GwtoolError, OSError) as exc:
            self.notify(printable(f"The gateway could not ask: {exc}"), severity="warning", markup=False)

    def action_reconnect(self) -> None:
        state = self.session.state
        if state is None or state.phase != "reconnecting":
            self.notify("Connected, or connecting already: nothing to skip.", timeout=3)
            return
        self.session.retry_now()
        self.notify("Reconnecting now.", timeout=2)

    def action_refresh_panes(self) -> None:
        self.refresh_panes()

    def action_toggle_rule(self) -> None:
        self.faults.toggle_selected()

    def action_remove_rule(self) -> None:
        self.faults.remove_selected()

    @on(Composer.Send)
    def compose_send(self, event: Composer.Send) -> None:
        if not event.errors and not event.denied:
            self.send_payload(event.payload, force=False)
            return
        question = Text()
        if event.denied:
            close = self.proto.close(NOT_ALLOWED)
            question.append(printable(event.denied) + "\n", "bold")
            question.append(f"The gateway will close the connection with {close.code} {close.name}.\n")
        if event.errors:
            close = self.proto.close(INVALID)
            count = len(event.errors)
            question.append(f"The payload has {count} problem{'s' if count > 1 else ''}:\n", "bold")
            for error in event.errors[:6]:
                question.append(f"  {printable(error)}\n")
            question.append(f"The gateway will likely close with {close.code} {close.name}.\n")
        question.append("Send it anyway?")

        def answered(yes: bool | None) -> None:
            if yes:
                self.send_payload(event.payload, force=True)

        self.push_screen(ConfirmScreen(question), answered)

    @work(group="actions")
    async def send_payload(self, payload: dict[str, Any], *, force: bool) -> None:
        try:
            record = await self.session.send(payload, force=force)
        except InvalidPayload as exc:
            self.notify(printable("Not sent: " + "; ".join(exc.errors)), severity="error", markup=False)
        except (GwtoolError, OSError) as exc:
            self.notify(printable(f"Not sent: {exc or 'not connected'}"), severity="error", markup=False)
        else:
            self.notify(printable(f"Sent {label(record, self.proto)} ({record.size} B)."), timeout=3, markup=False)


def make_app(
    proto: Definition | None = None,
    *,
    url: str | None = None,
    service: str | None = None,
    token: str = "",
    compress: bool = False,
    quiet: bool = False,
    limit: int = DEFAULT_LIMIT,
    show_token: bool = False,
    port: int = 0,
    recording: Path | None = None,
    follow: bool = False,
    log: IO[bytes] | None = None,
) -> GwtoolApp:
    """The dashboard for one service's connection; embedded mock gateway when ``url`` is None; a
    viewer of a recording, with no network, when ``recording`` is given."""
    if proto is None:
        from gwtool.protocol.definition import load_protocol

        proto = load_protocol()
    if recording is not None:
        from gwtool.tui.recording_source import RecordingSource

        return GwtoolApp(RecordingSource(proto, recording, keep=limit, follow=follow), limit=limit)
    session = Session(
        proto, url=url, service=service, token=token, compress=compress, quiet=quiet, show_token=show_token, port=port, log=log
    )
    return GwtoolApp(session, limit=limit)
