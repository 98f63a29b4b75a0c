"""Compose a payload from the protocol definition, validate it live, and send it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Select, Static, TextArea

from gwtool.protocol import examples
from gwtool.protocol.validate import permission_error, validate_payload
from gwtool.session.reasons import NOT_ALLOWED
from gwtool.text import printable

if TYPE_CHECKING:
    from gwtool.protocol.definition import Definition


@dataclass(frozen=True)
class Template:
    """One choice of the picker: a payload prefilled from the definition, and a line about it."""

    key: str
    title: str
    payload: dict[str, Any]
    about: str


def templates(proto: Definition, service: str) -> list[Template]:
    """Every payload a service can put on the wire, from the definition (what this service may send first)."""
    out: list[Template] = []
    for opcode in proto.opcodes.values():
        if "service" not in opcode.sent_by:
            continue
        if opcode.name == "EVENT":
            events = sorted(proto.events.values(), key=lambda e: not e.may_be_sent_by(service))
            for e in events:
                about = f"{e.name}: from {', '.join(e.sources)} to {', '.join(e.targets)}, {e.routing}. {e.doc}"
                d = examples.event_data(proto, e.t)
                out.append(Template(f"event:{e.t}", f"EVENT {e.t}", {"op": opcode.code, "t": e.t, "d": d}, about))
        elif opcode.name == "CACHE":
            for s in proto.cache_types.values():
                d = examples.cache_data(proto, s.name)
                about = f"cache type {s.name}, key {'/'.join(s.key)}. {s.doc}"
                out.append(Template(f"cache:{s.name}", f"CACHE {s.name}", {"op": opcode.code, "type": s.name, "d": d}, about))
        else:
            if opcode.name == "IDENTIFY":
                d = examples.identify_payload(proto, service)["d"]
            elif opcode.name == "HEARTBEAT":
                d = examples.heartbeat_payload(proto, service)["d"]
            else:
                d = {}
            out.append(Template(f"op:{opcode.name}", opcode.name, {"op": opcode.code, "d": d}, opcode.doc))
    return out


def check(proto: Definition, service: str, text: str) -> tuple[dict[str, Any] | None, list[str], str | None]:
    """(payload or None, validation errors with paths, permission problem) for the editor's text."""
    try:
        payload = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return None, [f"line {exc.lineno}, column {exc.colno}: not JSON: {exc.msg}"], None
    if not isinstance(payload, dict):
        return None, [f"payload: expected object, got {type(payload).__name__}"], None
    errors = validate_payload(proto, payload, sender="service", service=service)
    return payload, errors, permission_error(proto, payload, service)


class Composer(Vertical):
    """Picker, editor, live problems and a send button."""

    DEFAULT_CSS = """
        #compose-bar {
            height: 1;
            margin-bottom: 1;
        }
        #compose-kind {
            width: 1fr;
        }
        #compose-send {
            min-width: 10;
            margin-left: 1;
        }
        #compose-about {
            height: auto;
            max-height: 3;
        }
        #compose-editor {
            height: 1fr;
            min-height: 4;
        }
        #compose-problems {
            height: auto;
            max-height: 6;
        }
    """

    BINDINGS = [
        Binding("ctrl+s", "send", "Send", priority=True),
        Binding("ctrl+r", "reset", "Reset to the example"),
    ]

    class Send(Message):
        def __init__(self, payload: dict[str, Any], errors: list[str], denied: str | None):
            super().__init__()
            self.payload, self.errors, self.denied = payload, errors, denied

    def __init__(self, proto: Definition, service: str, *, id: str | None = None):
        super().__init__(id=id)
        self.proto = proto
        self.service = service
        self.choices = {t.key: t for t in templates(proto, service)}
        sendable = [e.t for e in proto.events_sendable_by(service) if f"event:{e.t}" in self.choices]
        self.first = f"event:{sendable[0]}" if sendable else next(iter(self.choices))

    def compose(self) -> ComposeResult:
        options = [(Text(t.title), t.key) for t in self.choices.values()]
        with Horizontal(id="compose-bar"):
            yield Select(options, value=self.first, allow_blank=False, compact=True, id="compose-kind")
            yield Button("Send ^s", id="compose-send", variant="primary", compact=True)
        yield Static(id="compose-about")
        editor = TextArea(id="compose-editor", tab_behavior="focus", show_line_numbers=True)
        if "json" in editor.available_languages:  # tree-sitter-json, a dependency: highlighting
            editor.language = "json"
        yield editor
        yield Static(id="compose-problems")

    def on_mount(self) -> None:
        self.load(self.first)

    def load(self, key: str) -> None:
        template = self.choices[key]
        about = Text(printable(template.about), "dim")
        about.append("  ·  Ctrl+R resets to this example", "dim italic")
        self.query_one("#compose-about", Static).update(about)
        editor = self.query_one("#compose-editor", TextArea)
        editor.text = orjson.dumps(template.payload, option=orjson.OPT_INDENT_2).decode()
        self.validate_text()

    def action_reset(self) -> None:
        """Put the chosen kind's example back in the editor."""
        kind = self.query_one("#compose-kind", Select).value
        self.load(kind if isinstance(kind, str) else self.first)
        self.notify("The editor holds the example again.", timeout=2)

    @on(Select.Changed, "#compose-kind")
    def kind_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self.load(event.value)

    @on(TextArea.Changed, "#compose-editor")
    def text_changed(self) -> None:
        self.validate_text()

    def validate_text(self) -> tuple[dict[str, Any] | None, list[str], str | None]:
        result = check(self.proto, self.service, self.query_one("#compose-editor", TextArea).text)
        _, errors, denied = result
        problems = Text()
        if not errors and not denied:
            problems.append("✓ valid", "bold green")
            problems.append(f" — {self.service} may send it", "dim")
        for error in errors:
            problems.append("✗ " + printable(error) + "\n", "red")
        if denied:
            problems.append("! " + printable(denied), "bold yellow")
            problems.append(f" — the gateway will close with {self.proto.close(NOT_ALLOWED).code}", "yellow")
        problems.rstrip()
        self.query_one("#compose-problems", Static).update(problems)
        self.set_class(bool(errors), "-invalid")
        return result

    @on(Button.Pressed, "#compose-send")
    def action_send(self) -> None:
        payload, errors, denied = self.validate_text()
        if payload is None:
            self.app.bell()
            self.notify("Not sent: the editor does not hold a JSON object.", severity="error")
            return
        self.post_message(self.Send(payload, errors, denied))
