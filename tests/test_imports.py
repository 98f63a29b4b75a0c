"""Data flows one way: the core never imports a front end, and a CLI command module imports the
core and the CLI's shared modules, never another command module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import gwtool

PACKAGE = Path(gwtool.__file__).parent
CLI_SHARED = {"app", "options", "help", "help_names", "data", "running"}  # what every command module may import
ENTRY_POINTS = {PACKAGE / "__main__.py", PACKAGE / "cli" / "__init__.py"}  # they start the CLI, so they import it


def imported_modules(path: Path) -> set[str]:
    """Every gwtool module ``path`` imports, at module level or inside a function, by full name
    (``from gwtool.cli import options`` counts as gwtool.cli.options)."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # a submodule, when it is one
    return {name for name in found if name == "gwtool" or name.startswith("gwtool.")}


def is_cli(name: str) -> bool:
    return name == "gwtool.cli" or name.startswith("gwtool.cli.")


def modules(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*.py") if path not in ENTRY_POINTS)


def test_the_core_never_imports_the_command_line():
    offenders = {
        str(path.relative_to(PACKAGE.parent)): sorted(name for name in imported_modules(path) if is_cli(name))
        for path in modules(PACKAGE)
        if "cli" not in path.relative_to(PACKAGE).parts[:1]
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_a_command_module_imports_no_other_command_module():
    """Shared options live in cli/options.py, shared non-Typer code in the core: a command module
    that needs another's helper is a sign the helper belongs in one of those."""
    cli = PACKAGE / "cli"
    offenders = {}
    for path in modules(cli):
        if path.stem in CLI_SHARED:
            continue
        commands = {name for name in imported_modules(path) if is_cli(name) and name.split(".")[2] not in CLI_SHARED}
        if commands:
            offenders[path.name] = sorted(commands)
    assert offenders == {}


def test_the_import_rules_see_imports_inside_functions():
    module = PACKAGE / "cli" / "client_cmds.py"
    assert "gwtool.client.sending" in imported_modules(module)  # imported inside a command, to keep --help fast


@pytest.mark.parametrize(
    "module", ["gwtool.session.gateway", "gwtool.session", "gwtool.gateway", "gwtool.proxy.server", "gwtool.tui.app"]
)
def test_each_core_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    """No import cycle that only an import order elsewhere hides (the session's rules and the gateway)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
