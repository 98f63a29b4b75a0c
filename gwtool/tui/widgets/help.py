"""The help screen (keys and actions) and the confirmation dialog."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from gwtool.tui.commands import Action, key_label

INTRO = (
    "gwtool tui shows one service's connection to a gateway: every payload both ways, the latency of "
    "its heartbeats, the gateway's cache and services, and a composer for sending payloads. Without "
    "--url it runs a mock gateway in-process, with a simulated service sending events and cache data."
)
LEGEND = (
    "Reading the stream: 'you' lines are our client's view of the wire, 'gw' lines the embedded gateway's. "
    "← received, → sent, ● something happened to a connection. Then the other side (#conn and service "
    "type for the gateway), the op with its event name or cache type, the size on the wire (z: "
    "zlib-compressed) and the data. The border shows how many lines are kept and dropped."
)

PROXY_INTRO = (
    "gwtool tui --proxy runs a proxy between your services and their gateway: services connect to it "
    "instead of the gateway, and it forwards every payload unchanged, checks both directions against "
    "the protocol, and applies the Faults pane's rules. The dashboard has no client of its own here."
)
PROXY_LEGEND = (
    "Reading the stream: each line is a proxied connection's, as the gateway sees it: ← a service "
    "sent it (on its way to the gateway), → the gateway sent it, ● something happened (✗ a violation, "
    "in red, naming who broke the protocol; injected faults in magenta). #conn and the service type "
    "follow; conn:3 in the filter keeps one connection."
)


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
        HelpScreen {
            align: center middle;
        }
        #help-box {
            width: 90%;
            max-width: 120;
            height: 80%;
            border: thick $primary;
            background: $surface;
            padding: 0 1;
        }
        #help-title {
            height: 1;
            margin-bottom: 1;
        }
        #help-box .help-text {
            margin-bottom: 1;
        }
        #help-foot {
            height: 1;
        }
    """

    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def __init__(self, actions: list[Action], *, proxied: bool = False):
        super().__init__()
        self.actions = actions
        self.intro, self.legend = (PROXY_INTRO, PROXY_LEGEND) if proxied else (INTRO, LEGEND)

    def compose(self) -> ComposeResult:
        table = Table(box=None, padding=(0, 2), show_header=False, expand=True)
        table.add_column(style="bold", no_wrap=True)
        table.add_column(style="bold cyan")
        table.add_column(style="dim")
        for action in self.actions:
            table.add_row(key_label(action.key) if action.key else "", action.title, action.help)
        for key, what, more in (
            ("↑ ↓ j k", "Stream: move the selection", "Enter or a click shows it in Detail"),
            ("→ ←", "Stream: scroll the data sideways", "Detail shows the whole payload"),
            ("Ctrl+P", "Command palette", "Every action above, searchable"),
        ):
            table.add_row(key, what, more)
        with Vertical(id="help-box"):
            yield Static(Text("gwtool tui — keys and actions", "bold"), id="help-title")
            with VerticalScroll():
                yield Static(table)  # the keys first: at 80×24 they are what fits
                yield Static(Text(self.intro), classes="help-text")
                yield Static(Text(self.legend), classes="help-text")
            yield Static(Text("Esc closes", "dim"), id="help-foot")


class ConfirmScreen(ModalScreen[bool]):
    """Yes / no; the question is plain text (it names untrusted things)."""

    DEFAULT_CSS = """
        ConfirmScreen {
            align: center middle;
        }
        #confirm-box {
            width: 72;
            max-width: 95%;
            height: auto;
            border: thick $error;
            background: $surface;
            padding: 1 2;
        }
        #confirm-buttons {
            height: auto;
            margin-top: 1;
            align-horizontal: right;
        }
        #confirm-buttons Button {
            margin-left: 2;
        }
    """

    BINDINGS = [Binding("escape,n", "answer(False)", "No"), Binding("y", "answer(True)", "Yes")]

    def __init__(self, question: Text):
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(self.question, id="confirm-question")
            with Horizontal(id="confirm-buttons"):
                yield Button("Send anyway (y)", id="yes", variant="error")
                yield Button("Cancel (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
