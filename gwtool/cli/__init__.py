"""The ``gwtool`` command line: thin Typer commands over the protocol, client, gateway and TUI.

Command modules import websockets and textual inside the commands that need them, so that
``gwtool --help`` stays fast.
"""

from __future__ import annotations

import sys

import typer

# Each module adds its commands to ``app`` (gwtool/cli/app.py); none imports websockets or textual
# at module level.
from gwtool.cli import bench_cmd, client_cmds, gateway_cmds, protocol_cmds, tui_cmd  # noqa: F401
from gwtool.cli.app import app


def main(argv: list[str] | None = None) -> None:
    """Run the CLI. Usage errors exit 1 (invalid input), so that 2 keeps meaning 'could not connect'."""
    from gwtool.errors import GwtoolError

    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="gwtool", standalone_mode=False)
    except GwtoolError as exc:
        _fail(str(exc), exc.exit_code)
    except typer._click.exceptions.ClickException as exc:  # bad flag, missing argument, …
        from typer import rich_utils

        rich_utils.rich_format_error(exc)
        sys.exit(1)
    except typer.Abort:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> None:
    from rich.console import Console
    from rich.text import Text

    from gwtool.text import printable_lines

    Console(stderr=True, highlight=False).print(Text("error: ", "bold red") + Text(printable_lines(message)))
    sys.exit(code)
