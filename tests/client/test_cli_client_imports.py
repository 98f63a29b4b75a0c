"""The client commands stay light: `gwtool --help` must not import websockets or the client."""

from __future__ import annotations

import subprocess
import sys


def test_cli_import_does_not_load_the_network_stack():
    code = "import sys, gwtool.cli; print(sorted(m for m in sys.modules if m.split('.')[0] in ('websockets', 'textual') or m.startswith('gwtool.client')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
