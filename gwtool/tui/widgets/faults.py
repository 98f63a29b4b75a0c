"""The Faults pane: the proxy's fault rules, how often each fired, and a line to add one.

The rule is checked as it is typed by the proxy's own parser (gwtool/proxy/faults.py), which names
the word at fault, as the composer checks a payload; Enter adds it. ``t`` turns the selected rule
off and on, ``x`` removes it (commands.ACTIONS). Without a proxy the pane says how to get one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static

from gwtool.proxy.faults import ACTIONS, GRAMMAR, SELECTION, RuleError, parse_rule
from gwtool.text import printable
from gwtool.tui.commands import ACTIONS as KEYS
from gwtool.tui.commands import key_label

if TYPE_CHECKING:
    from gwtool.protocol.definition import Definition
    from gwtool.proxy.faults import Rule
    from gwtool.tui.source import ProxyView

REFRESH_SECONDS = 0.5  # the fired counts, while the pane shows
PLACEHOLDER = "add a rule: drop op:HEARTBEAT_ACK service:sharder"
HINT = "an action (" + ", ".join(ACTIONS) + f"), then which payloads: {SELECTION}"
# the table's keys, as the one table of actions binds them
KEY_HINT = " · ".join(
    f"{key_label(a.key)} {words}" for a in KEYS for action, words in (("toggle_rule", "turns on/off"), ("remove_rule", "removes"))
    if a.action == action
)  # fmt: skip
NO_PROXY = (
    "Fault rules belong to a proxy between your services and their gateway. "
    "Run gwtool tui --proxy ws://GATEWAY:8765: services connect to the proxy instead, "
    "and the rules added here drop, delay, corrupt or close what passes."
)


def check_rule(proto: Definition, text: str) -> tuple[Text, bool]:
    """What the proxy's parser makes of ``text`` (✓ with the action's form, or ✗ naming the
    problem), and whether it can work."""
    if not text.strip():
        return Text(HINT, "dim"), True
    try:
        rule = parse_rule(text, proto)
    except RuleError as exc:
        return Text("✗ " + printable(str(exc)), "red"), False
    shown = Text("✓ valid", "bold green")
    shown.append(f" — Enter adds it · {GRAMMAR[rule.action]}", "dim")
    return shown, True


class FaultsPane(Vertical):
    DEFAULT_CSS = """
        FaultsPane {
            height: 1fr;
        }
        #fault-input {
            height: 1;
            border: none;
            padding: 0 1;
            background: $boost;
            &:focus {
                background: $accent 20%;
            }
        }
        #fault-input.-invalid {
            background: $error 25%;
        }
        #fault-check {
            height: auto;
            max-height: 3;
            padding: 0 1;
        }
        #faults-table {
            height: 1fr;
            border: round $primary 50%;
            border-subtitle-color: $text-muted;
        }
        #faults-none {
            padding: 1 1;
        }
    """

    def __init__(self, proto: Definition, view: ProxyView | None, *, id: str | None = None):
        super().__init__(id=id)
        self.proto = proto
        self.view = view
        self._shown: list[tuple[int, str, bool, int]] = []

    def compose(self) -> ComposeResult:
        if self.view is None:
            yield Static(Text(NO_PROXY), id="faults-none")
            return
        yield Input(placeholder=PLACEHOLDER, id="fault-input")
        yield Static(Text(HINT, "dim"), id="fault-check")
        yield DataTable[Text](id="faults-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        if self.view is None:
            return
        table = self.query_one("#faults-table", DataTable)
        table.add_column("#", key="id")
        table.add_column("on", key="on")
        table.add_column("fired", key="fired")
        table.add_column("rule", key="rule")  # last: a long rule is what the pane's edge cuts
        table.border_subtitle = KEY_HINT
        self.refresh_rules()
        self.set_interval(REFRESH_SECONDS, self.refresh_rules)

    @property
    def table(self) -> DataTable[Text] | None:
        return self.query_one("#faults-table", DataTable) if self.view is not None else None

    def refresh_rules(self) -> None:
        """The rules as they are now: counts updated in place, the table rebuilt when rules changed."""
        table = self.table
        if self.view is None or table is None:
            return
        rules = self.view.rules
        now = [(r.id, r.text, r.enabled, r.applied) for r in rules]
        if now == self._shown:
            return
        if [r[:3] for r in now] == [r[:3] for r in self._shown]:
            for rule in rules:
                table.update_cell(str(rule.id), "fired", Text(f"{rule.applied:,}", justify="right"))
        else:
            selected = self.selected()
            table.clear()
            for rule in rules:
                table.add_row(*self._cells(rule), key=str(rule.id))
            if selected is not None and (row := next((i for i, r in enumerate(rules) if r.id == selected), None)) is not None:
                table.move_cursor(row=row)
        self._shown = now
        active = sum(r.enabled for r in rules)
        table.border_title = f"{len(rules)} rule{'s' if len(rules) != 1 else ''}, {active} on" if rules else "no rule yet"

    @staticmethod
    def _cells(rule: Rule) -> tuple[Text, ...]:
        return (
            Text(str(rule.id), "dim"),
            Text("on", "bold green") if rule.enabled else Text("off", "dim"),
            Text(f"{rule.applied:,}", justify="right"),
            Text(printable(rule.text), "" if rule.enabled else "dim strike"),
        )

    def selected(self) -> int | None:
        """The id of the rule under the table's cursor."""
        table = self.table
        if table is None or not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return int(key) if key is not None else None

    @on(Input.Changed, "#fault-input")
    def typed(self, event: Input.Changed) -> None:
        shown, works = check_rule(self.proto, event.value)
        self.query_one("#fault-check", Static).update(shown)
        event.input.set_class(not works, "-invalid")

    @on(Input.Submitted, "#fault-input")
    def submitted(self, event: Input.Submitted) -> None:
        if self.view is None or not event.value.strip():
            return
        try:
            rule = self.view.add_rule(event.value)
        except RuleError as exc:
            self.app.bell()
            self.query_one("#fault-check", Static).update(Text("✗ " + printable(str(exc)), "red"))
            return
        event.input.value = ""
        self.refresh_rules()
        self.notify(printable(f"Fault rule {rule.id} added: {rule.text}"), timeout=3, markup=False)

    def toggle_selected(self) -> None:
        rule = self._selected_rule()
        if rule is None or self.view is None:
            return
        self.view.enable_rule(rule.id, not rule.enabled)
        self.refresh_rules()
        state = "on" if rule.enabled else "off (what it stalled goes on)"
        self.notify(printable(f"Fault rule {rule.id} {state}: {rule.text}"), timeout=3, markup=False)

    def remove_selected(self) -> None:
        rule = self._selected_rule()
        if rule is None or self.view is None:
            return
        self.view.remove_rule(rule.id)
        self.refresh_rules()
        self.notify(printable(f"Fault rule {rule.id} removed: {rule.text}"), timeout=3, markup=False)

    def _selected_rule(self) -> Rule | None:
        selected = self.selected()
        rule = next((r for r in self.view.rules if r.id == selected), None) if self.view is not None else None
        if rule is None:
            self.notify("No rule selected: add one first (type it above, Enter).", severity="warning", timeout=3)
        return rule
