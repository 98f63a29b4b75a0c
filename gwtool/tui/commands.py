"""Every dashboard action, listed once: the command palette, the help screen and the docs use it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

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


ACTIONS: tuple[Action, ...] = (
    Action("Stream: pause / resume", "toggle_pause", "p", "Freeze the stream while you read; payloads keep being recorded"),
    Action("Stream: follow the newest payload", "follow", "end", "Select the newest line and keep scrolling with new ones"),
    Action("Stream: filter", "focus_filter", "/", "op:HEARTBEAT t:EXECUTE dir:in side:gw, free text; -term hides"),
    Action("Stream: clear the filter", "clear_filter", "escape", "Show every payload again"),
    Action("Stream: switch side (both / our client / gateway)", "cycle_side", "g", "Which side of the wire the stream shows"),
    Action("Stream: clear", "clear_stream", "ctrl+l", "Forget every recorded payload"),
    Action("Payload: copy as JSON", "copy", "c", "Copy the selected payload (or cache entity) to the clipboard"),
    Action("Heartbeat: send one now", "heartbeat", "h", "Our client sends a heartbeat; its ACK gives a latency sample"),
    Action(
        "Heartbeat: gateway requests one", "request_heartbeat", "H", "The embedded gateway sends op HEARTBEAT to our client", True
    ),
    Action("View: zoom the focused side", "zoom", "z", "Stream or panes full screen (small terminals); z or Esc restores"),
    Action("Compose: send the payload", "send", "ctrl+s", "Validate and send the composer's payload"),
    Action("View: detail", "show_tab('detail')", "1", "The selected payload as JSON, with its sizes"),
    Action("View: latency", "show_tab('latency')", "2", "Heartbeat round trips and a graph"),
    Action("View: cache", "show_tab('cache')", "3", "The gateway's cache, by type"),
    Action("View: compose", "show_tab('compose')", "4", "Write a payload from the protocol definition and send it"),
    Action("View: services", "show_tab('services')", "5", "Services connected to the gateway"),
    Action("Cache and services: refresh now", "refresh_panes", "r", "Read the cache and services again"),
    Action("Theme: change", "change_theme", "ctrl+t", "Pick one of Textual's themes"),
    Action("Help: keys and actions", "help", "?", "This list, with the keys"),
    Action("Quit", "quit", "q", "Close the connections and leave"),
)


def available(app: GwtoolApp) -> list[Action]:
    return [a for a in ACTIONS if app.session.embedded or not a.embedded_only]


class GwtoolCommands(Provider):
    """Palette entries for every action in ``ACTIONS``."""

    @property
    def gwtool(self) -> GwtoolApp:
        return self.app  # type: ignore[return-value]

    def _entries(self) -> list[tuple[str, Action]]:
        return [(f"{a.title}  ({a.key})" if a.key else a.title, a) for a in available(self.gwtool)]

    async def discover(self) -> Hits:
        for name, action in self._entries():
            yield DiscoveryHit(name, partial(self.gwtool.run_action, action.action), help=action.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, action in self._entries():
            if (score := matcher.match(name)) > 0:
                yield Hit(score, matcher.highlight(name), partial(self.gwtool.run_action, action.action), help=action.help)
