"""The Typer application every command module adds its commands to (imported by all, importing none)."""

from __future__ import annotations

import typer

from gwtool.cli.help import GwtoolGroup
from gwtool.cli.options import EXIT_CODES_HELP

app = typer.Typer(
    name="gwtool",
    cls=GwtoolGroup,
    help=f"See and poke the wire of a websocket-gateway microservice system.\n\n{EXIT_CODES_HELP}",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from gwtool import __version__

        typer.echo(f"gwtool {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", "-V", callback=_print_version, is_eager=True, metavar="", help="Print gwtool's version and exit."
    ),
) -> None:
    """See and poke the wire of a websocket-gateway microservice system."""
