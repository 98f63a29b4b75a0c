"""The two private Textual hooks the stream relies on for speed, in one place, and the web driver's
methods a browser tab's dashboard builds on.

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


# What a browser tab's driver (gwtool/tui/tab.py) relies on in Textual's web driver: public
# methods, but their behaviour is the contract (``run_input_thread`` returns at EOF on stdin;
# ``stop_application_mode`` sets ``exit_event``; the three writes are all it writes once running),
# so the test checks them too, and that ``exit_event`` is still a threading.Event.
WEB_DRIVER_HOOKS = {
    "textual.drivers.web_driver.WebDriver.run_input_thread": (),
    "textual.drivers.web_driver.WebDriver.start_application_mode": (),
    "textual.drivers.web_driver.WebDriver.stop_application_mode": (),
    "textual.drivers.web_driver.WebDriver.write": ("data",),
    "textual.drivers.web_driver.WebDriver.write_meta": ("data",),
    "textual.drivers.web_driver.WebDriver.write_binary_encoded": ("data",),
    "textual.drivers.web_driver.WebDriver.on_meta": ("packet_type", "payload"),
    "textual.driver.Driver.send_message": ("message",),
}


def scroll_update(widget: Widget, virtual_size: Size) -> None:
    widget._scroll_update(virtual_size)  # noqa: SLF001
