"""The Typer application every command module adds its commands to (imported by all, importing none)."""

from __future__ import annotations

import typer

from gwtool.cli.options import EXIT_CODES_HELP

app = typer.Typer(
    name="gwtool",
    help=f"See and poke the wire of a websocket-gateway microservice system.\n\n{EXIT_CODES_HELP}",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
