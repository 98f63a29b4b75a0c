"""The Typer application every command module adds its commands to (imported by all, importing none)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, get_type_hints

import typer

from gwtool.cli.help import GwtoolGroup

F = TypeVar("F", bound=Callable[..., Any])


def resolved(function: F) -> F:
    """``function`` with its annotations evaluated, once.

    The command modules write their annotations as strings (``from __future__ import annotations``),
    and Typer evaluates a command's strings again each time it reads its parameters, several times
    for every command on every start, whichever command runs: about a tenth of ``gwtool --help``."""
    function.__annotations__ = get_type_hints(function, include_extras=True)
    return function


class Typer(typer.Typer):
    """typer.Typer whose commands and callbacks have their annotations resolved when declared."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        register = super().command(*args, **kwargs)
        return lambda function: register(resolved(function))

    def callback(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        register = super().callback(*args, **kwargs)
        return lambda function: register(resolved(function))


app = Typer(
    name="gwtool",
    cls=GwtoolGroup,
    help="See and poke the wire of a websocket-gateway microservice system.",
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
