"""The private Textual hooks gwtool uses still exist with the parameters it relies on.

If this fails after a Textual upgrade, the named hook changed: adapt gwtool/tui/textual_private.py
(and the stream) to the new one, or pin Textual below that release in pyproject.toml."""

from __future__ import annotations

import importlib
import inspect

import pytest

from gwtool.tui.textual_private import HOOKS


@pytest.mark.parametrize("path", list(HOOKS))
def test_the_private_hook_is_still_there(path):
    module_name, class_name, attribute = path.rsplit(".", 2)
    owner = getattr(importlib.import_module(module_name), class_name)
    hook = getattr(owner, attribute, None)
    assert hook is not None, f"Textual no longer has {path}: see gwtool/tui/textual_private.py"
    parameters = tuple(inspect.signature(hook).parameters)[1:]
    assert parameters == HOOKS[path], f"{path} now takes {parameters}, gwtool relies on {HOOKS[path]}"
