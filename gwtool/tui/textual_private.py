"""The two private Textual hooks the stream relies on for speed, in one place.

Each is used as Textual's own code uses it; tests/tui/test_textual_private.py checks that each
still exists with the signature relied on here, so a Textual release that changes one fails that
test with a clear message instead of breaking the dashboard at run time.

- ``ScrollView._size_updated(size, virtual_size, container_size, layout)``: overridden so a layout
  of the screen does not re-render the stream's scrollbar (~2.5 ms each time).
- ``Widget._scroll_update(virtual_size)``: refresh the scrollbars after the stream sets its
  virtual size without a layout of the whole screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.geometry import Size
    from textual.widget import Widget

# name → the parameters relied on (after self); the test compares them with Textual's
HOOKS = {
    "textual.scroll_view.ScrollView._size_updated": ("size", "virtual_size", "container_size", "layout"),
    "textual.widget.Widget._scroll_update": ("virtual_size",),
}


def scroll_update(widget: Widget, virtual_size: Size) -> None:
    widget._scroll_update(virtual_size)  # noqa: SLF001
