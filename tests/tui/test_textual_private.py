"""The private Textual hooks gwtool uses still exist with the parameters it relies on.

If this fails after a Textual upgrade, the named hook changed: adapt gwtool/tui/textual_private.py
(and the stream) to the new one, or pin Textual below that release in pyproject.toml."""

from __future__ import annotations

import importlib
import inspect

import pytest

from gwtool.tui.textual_private import HOOKS, WEB_DRIVER_HOOKS

ALL_HOOKS = HOOKS | WEB_DRIVER_HOOKS


@pytest.mark.parametrize("path", list(ALL_HOOKS))
def test_the_private_hook_is_still_there(path):
    module_name, class_name, attribute = path.rsplit(".", 2)
    owner = getattr(importlib.import_module(module_name), class_name)
    hook = getattr(owner, attribute, None)
    assert hook is not None, f"Textual no longer has {path}: see gwtool/tui/textual_private.py"
    parameters = tuple(inspect.signature(hook).parameters)[1:]
    assert parameters == ALL_HOOKS[path], f"{path} now takes {parameters}, gwtool relies on {ALL_HOOKS[path]}"


def test_the_web_driver_still_keeps_its_exit_event():
    """gwtool/tui/tab.py tells EOF from the app stopping by WebDriver.exit_event (read from the
    source: a WebDriver cannot be made here, it registers the process's stdin)."""
    from textual.drivers.web_driver import WebDriver

    made = inspect.getsource(WebDriver.__init__)
    assert "self.exit_event = Event()" in made, "WebDriver.exit_event changed: see gwtool/tui/tab.py"
    stop = inspect.getsource(WebDriver.stop_application_mode)
    assert "self.exit_event.set()" in stop, "WebDriver.stop_application_mode no longer sets exit_event: see gwtool/tui/tab.py"
