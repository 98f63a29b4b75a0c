"""Options shared by the commands, declared once. Nothing heavy is imported here."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from gwtool.protocol.definition import Protocol

DEFAULT_PORT = 8765
DEFAULT_URL = f"ws://127.0.0.1:{DEFAULT_PORT}"

ProtocolOption = Annotated[
    Optional[Path],
    typer.Option(
        "--protocol",
        metavar="FILE",
        envvar="GWTOOL_PROTOCOL",
        help="TOML or JSON file merged over the built-in protocol definition.",
        show_default=False,
        dir_okay=False,
    ),
]
UrlOption = Annotated[
    str, typer.Option("--url", metavar="URL", envvar="GWTOOL_URL", help="Gateway websocket URL.", show_envvar=True)
]
TokenOption = Annotated[
    str, typer.Option("--token", metavar="TOKEN", envvar="GWTOOL_TOKEN", help="Token sent in IDENTIFY.", show_envvar=True)
]
CompressOption = Annotated[
    bool, typer.Option("--compress", help="Ask the gateway to zlib-compress its payloads (IDENTIFY compress).", metavar="")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print NDJSON records instead of coloured lines.", metavar="")]
EveryOption = Annotated[
    bool,
    typer.Option(
        "--every",
        help="In a terminal, a line for every payload (default: above a rate a person can read, a summary line a second).",
        metavar="",
    ),
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print connection steps (notices) only, no payloads.", metavar="")
]
LogOption = Annotated[
    Optional[Path],
    typer.Option("--log", metavar="FILE", dir_okay=False, help="Append NDJSON of every payload and notice to FILE."),
]
ShowTokenOption = Annotated[
    bool, typer.Option("--show-token", help="Show IDENTIFY tokens in full (default: masked, e.g. s3c… (6 chars)).", metavar="")
]
ServiceOption = Annotated[
    Optional[str],
    typer.Option(
        "--as", metavar="SERVICE", help="Service type to identify as (one of the protocol definition's).", show_default=False
    ),
]


def typed(ctx: typer.Context, name: str) -> bool:
    """Whether the user typed the command's option ``name`` (not its default, nor $ENV)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "COMMANDLINE"


def from_environment(ctx: typer.Context, name: str) -> bool:
    """Whether the command's parameter ``name`` took its value from an environment variable: a
    default of the user's shell, never a flag they typed on this command line."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "ENVIRONMENT"


def load(protocol: Path | None) -> Protocol:
    """The active protocol definition (the option wins over $GWTOOL_PROTOCOL, which Typer reads)."""
    from gwtool.protocol.definition import load_protocol

    return load_protocol(protocol, use_env=False)
