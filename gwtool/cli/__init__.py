"""The ``gwtool`` command line: thin Typer commands over the protocol, client, gateway and TUI.

Command modules import websockets and textual inside the commands that need them, so that
``gwtool --help`` stays fast.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import typer

# Each module adds its commands to ``app`` (gwtool/cli/app.py); none imports websockets or textual
# at module level.
from gwtool.cli import (  # noqa: F401
    bench_cmd,
    check_cmd,
    client_cmds,
    gateway_cmds,
    locust_cmd,
    protocol_cmds,
    proxy_cmd,
    replay_cmd,
    stats_cmd,
    tui_cmd,
)
from gwtool.cli.app import app


def main(argv: list[str] | None = None) -> None:
    """Run the CLI. Usage errors exit 1 (invalid input), so that 2 keeps meaning 'could not connect'."""
    from gwtool.errors import GwtoolError

    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="gwtool", standalone_mode=False)
    except GwtoolError as exc:
        _fail(str(exc), exc.exit_code)
    except typer._click.exceptions.NoArgsIsHelpError as exc:  # `gwtool`, `gwtool check`: their help, asked for
        if text := exc.format_message():  # Rich help is printed as the error is made; plain help is its text
            typer.echo(text)
        sys.exit(0)
    except typer._click.exceptions.ClickException as exc:  # bad flag, missing argument, …
        _fail(usage_error_text(exc), 1)
    except typer.Abort:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


def usage_error_text(exc: Exception) -> str:
    """A usage error in gwtool's own one-line style, naming the option and what it allows."""
    import re

    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else "gwtool"
    hint = f"\n({path} --help lists the options)"
    option = getattr(exc, "option_name", None)
    if type(exc).__name__ == "NoSuchOption" and option:
        return f"{option}: no such option for {path}" + hint
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    message = re.sub(r"^Invalid value for '?(-[-\w]+)'?(?: / '?-[-\w]+'?)*: ", r"\1: ", message)  # --sharders / --senders
    message = re.sub(r"^Option '(-[-\w]+)' requires an argument", r"\1: needs a value", message)
    message = re.sub(r"Input should be greater than or equal to (\S+)", r"must be ≥ \1", message)
    message = re.sub(r"Input should be less than or equal to (\S+)", r"must be ≤ \1", message)
    message = re.sub(r"Input should be a valid (\w+)\b.*", lambda m: f"expected {_article(m[1])} {m[1]}", message)
    if message.startswith("No such command"):
        hint = f"\n({path} --help lists the commands)"
    return message.rstrip(".") + hint


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _fail(message: str, code: int) -> NoReturn:
    from rich.console import Console
    from rich.text import Text

    from gwtool.text import printable_lines

    # soft_wrap: a long message stays one line in a pipe (a terminal still wraps it for the eye)
    Console(stderr=True, highlight=False).print(Text("error: ", "bold red") + Text(printable_lines(message)), soft_wrap=True)
    sys.exit(code)
