"""The client commands stay light: `gwtool --help` must not import websockets or the client."""

from __future__ import annotations

import subprocess
import sys


def test_cli_import_does_not_load_the_network_stack():
    code = "import sys, gwtool.cli; print(sorted(m for m in sys.modules if m.split('.')[0] in ('websockets', 'textual') or m.startswith('gwtool.client')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_wire_commands_run_on_uvloop_where_it_is_installed():
    """The stock loop on 3.11 maps and unmaps a 256 KiB buffer per read; uvloop is a dependency off Windows."""
    import asyncio
    import importlib.util

    from gwtool.loop import run_on_fast_loop

    async def loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    expected = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    assert run_on_fast_loop(loop_module()).startswith(expected)
