"""One key table: the app's bindings and docs/tui.md's key table both come from commands.ACTIONS."""

from __future__ import annotations

import re
from pathlib import Path

from gwtool.tui.app import CANNOT_IN_A_RECORDING, GwtoolApp
from gwtool.tui.commands import ACTIONS, keys_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "tui.md"


def test_docs_tui_md_shows_the_key_table_as_generated():
    block = re.search(r"<!-- keys:[^\n]*-->\n(.*?)\n<!-- /keys -->", DOC.read_text("utf-8"), re.S)
    assert block, "docs/tui.md lost its keys block"
    assert block.group(1) == keys_markdown(), "docs/tui.md's key table is stale: paste keys_markdown()"


def test_every_bound_action_is_an_app_binding_and_no_binding_is_restated():
    bound = {(b.key, b.action) for b in GwtoolApp.BINDINGS}  # type: ignore[union-attr]
    for action in ACTIONS:
        if action.binding:
            assert (action.binding, action.action) in bound, action.title
    explained = {(a.binding, f"explain('{a.action}')") for a in ACTIONS if a.action in CANNOT_IN_A_RECORDING}
    assert explained <= bound  # a key that cannot act here says why: the same key, from the same table
    assert len(bound) == sum(1 for a in ACTIONS if a.binding) + 1 + len(explained)  # + Esc, which steps back


async def test_the_palette_does_not_list_textuals_duplicates_of_our_actions(proto):
    from gwtool.tui.demo import demo_app

    app = demo_app(proto)
    async with app.run_test(size=(120, 40)):
        titles = [command.title for command in app.get_system_commands(app.screen)]
    assert not {"Theme", "Quit", "Keys"} & set(titles)
