"""Every dashboard action, listed once: the app's key bindings, the footer, the command palette,
the help screen and docs/tui.md's key table are all made from ``ACTIONS``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from gwtool.tui.app import GwtoolApp


@dataclass(frozen=True)
class Action:
    title: str  # what the palette shows
    action: str  # a Textual action string run on the app
    key: str  # the key, as the help screen shows it ("" = palette only)
    help: str
    embedded_only: bool = False
    binding: str = ""  # the app's binding, in Textual's key names ("" = bound elsewhere, or not at all)
    footer: str = ""  # its label in the footer ("" = not shown there)


ACTIONS: tuple[Action, ...] = (
    Action(
        "Stream: pause",
        "pause",
        "p",
        "Freeze the stream while you read; payloads keep being recorded",
        binding="p",
        footer="Pause",
    ),
    Action(
        "Stream: resume",
        "resume",
        "p",
        "Show what came in meanwhile and run again",
        binding="p",
        footer="Resume",
    ),
    Action(
        "Stream: follow the newest payload",
        "follow",
        "end",
        "Select the newest line and keep scrolling with new ones",
        binding="end",
    ),
    Action(
        "Stream: filter",
        "focus_filter",
        "/",
        "op:HEARTBEAT t:EXECUTE conn:3 dir:in side:gw, free text; -term hides",
        binding="slash",
        footer="Filter",
    ),
    Action("Stream: clear the filter", "clear_filter", "escape", "Show every payload again"),
    Action(
        "Stream: switch side (both / our client / gateway)",
        "cycle_side",
        "g",
        "Which side of the wire the stream shows",
        binding="g",
        footer="Side",
    ),
    Action("Stream: clear", "clear_stream", "ctrl+l", "Forget every recorded payload", binding="ctrl+l"),
    Action(
        "Payload: copy as JSON",
        "copy",
        "c",
        "Copy the selected payload (or cache entity) to the clipboard",
        binding="c",
        footer="Copy",
    ),
    Action(
        "Heartbeat: send one now",
        "heartbeat",
        "h",
        "Our client sends a heartbeat; its ACK gives a latency sample",
        binding="h",
        footer="Beat",
    ),
    Action(
        "Heartbeat: gateway requests one",
        "request_heartbeat",
        "H",
        "The embedded gateway sends op HEARTBEAT to our client",
        True,
        binding="H",
    ),
    Action(
        "View: zoom the focused side",
        "zoom",
        "z",
        "Stream or panes full screen (small terminals); z or Esc restores",
        binding="z",
        footer="Zoom",
    ),
    Action("Compose: send the payload", "send", "ctrl+s", "Validate and send the composer's payload", binding="ctrl+s"),
    Action("View: detail", "show_tab('detail')", "1", "The selected payload as JSON, with its sizes", binding="1"),
    Action("View: latency", "show_tab('latency')", "2", "Heartbeat round trips and a graph", binding="2"),
    Action("View: cache", "show_tab('cache')", "3", "The gateway's cache, by type", binding="3"),
    Action("View: compose", "show_tab('compose')", "4", "Write a payload from the protocol definition and send it", binding="4"),
    Action("View: services", "show_tab('services')", "5", "Services connected to the gateway", binding="5"),
    Action("View: stats", "show_tab('stats')", "6", "Conversations, kinds, delivery, closes and an I/O graph", binding="6"),
    Action("View: faults", "show_tab('faults')", "7", "The proxy's fault rules: add one, see how often each fired", binding="7"),
    Action("Cache and services: refresh now", "refresh_panes", "r", "Read the cache and services again", binding="r"),
    Action("Connection: reconnect now", "reconnect", "R", "Skip the wait before the next connection attempt", binding="R"),
    Action(
        "Faults: turn the selected rule off or on",
        "toggle_rule",
        "t",
        "Off, it stays listed with its count and acts on nothing (tui --proxy)",
        binding="t",
        footer="On/off",
    ),
    Action(
        "Faults: remove the selected rule",
        "remove_rule",
        "x",
        "What it stalled goes on (x or Delete; tui --proxy)",
        binding="x,delete",
        footer="Remove",
    ),
    Action("Theme: change", "change_theme", "ctrl+t", "Pick one of Textual's themes", binding="ctrl+t"),
    Action("Help: keys and actions", "help", "?", "This list, with the keys", binding="question_mark,f1", footer="Help"),
    Action("Quit", "quit", "q", "Close the connections and leave", binding="q", footer="Quit"),
)


# the footer's order (the rest of the bindings are not shown there)
FOOTER_ORDER = ("quit", "help", "focus_filter", "pause", "resume", "cycle_side", "copy", "zoom", "heartbeat")


def app_bindings() -> list[Binding]:
    """The app's key bindings, from ACTIONS: the footer's first, in FOOTER_ORDER.

    Priority bindings: they run as soon as the key arrives, whatever has focus (a Tree or a table
    no longer swallows ``1``–``5``), instead of after the key bubbled up a widget at a time (a turn
    of the event loop per hop, which under load belongs to the wire). ``GwtoolApp.check_action``
    lets a text field keep its printable keys."""
    bound = [a for a in ACTIONS if a.binding]
    bound.sort(key=lambda a: FOOTER_ORDER.index(a.action) if a.action in FOOTER_ORDER else len(FOOTER_ORDER))
    return [Binding(a.binding, a.action, a.footer or a.title, show=bool(a.footer), priority=True) for a in bound]


KEY_NAMES = {"escape": "Esc", "question_mark": "?", "slash": "/", "enter": "Enter", "end": "End", "home": "Home"}


def key_label(key: str) -> str:
    """A key as a person reads it: ``Esc``, ``Ctrl+L``, ``?``."""
    if key in KEY_NAMES:
        return KEY_NAMES[key]
    if "+" in key:
        *mods, last = key.split("+")
        return "+".join([*(m.capitalize() for m in mods), last.upper() if len(last) == 1 else last.capitalize()])
    return key


def keys_markdown() -> str:
    """docs/tui.md's key table: the stream's own keys, then every action with a key."""
    rows = ["| key | action |", "|---|---|"]
    rows += [f"| {keys} | {what} |" for keys, what in STREAM_KEYS]
    for a in ACTIONS:
        if a.key:
            only = " (embedded gateway only)" if a.embedded_only else ""
            rows.append(f"| `{key_label(a.key)}` | {a.title}: {a.help[0].lower() + a.help[1:]}{only} |")
    return "\n".join(rows)


# the stream's own keys (its BINDINGS, and the mouse), for the docs
STREAM_KEYS = (
    ("`↑` `↓` `j` `k`, `PgUp` `PgDn`, `Home`", "move the selection in the stream (stops following)"),
    ("`→` `l`, `←`", "scroll the stream's data column sideways"),
    ("`Enter`, a click", "show the selected line in Detail"),
)


def available(app: GwtoolApp) -> list[Action]:
    return [a for a in ACTIONS if app.session.embedded or not a.embedded_only]


class GwtoolCommands(Provider):
    """Palette entries for every action in ``ACTIONS``."""

    @property
    def gwtool(self) -> GwtoolApp:
        from gwtool.tui.app import GwtoolApp  # at run time: app.py imports this module

        if not isinstance(self.app, GwtoolApp):
            raise TypeError(f"gwtool's palette entries belong to its dashboard, not {type(self.app).__name__}")
        return self.app

    def _entries(self) -> list[tuple[str, Action]]:
        app = self.gwtool
        return [(f"{a.title}  ({key_label(a.key)})" if a.key else a.title, a) for a in available(app) if app.applies(a.action)]

    async def discover(self) -> Hits:
        for name, action in self._entries():
            yield DiscoveryHit(name, partial(self.gwtool.run_action, action.action), help=action.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, action in self._entries():
            if (score := matcher.match(name)) > 0:
                yield Hit(score, matcher.highlight(name), partial(self.gwtool.run_action, action.action), help=action.help)
