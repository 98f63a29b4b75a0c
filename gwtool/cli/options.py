"""Options shared by the commands, declared once. Nothing heavy is imported here."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from collections.abc import Callable

    from gwtool.filters import Side
    from gwtool.protocol.definition import Protocol
    from gwtool.records import Notice, Record

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
FilterOption = Annotated[
    Optional[str],
    typer.Option(
        "--filter",
        metavar="TERMS",
        help="Print only the payloads these terms match, e.g. 'conn:3 t:EXECUTE_COMMAND -op:heartbeat' (the dashboard's "
        "filter: op: t: dir: conn: side:, free words, -term hides). Notices always print; --json is filtered, --log keeps all.",
        show_default=False,
    ),
]
ServiceOption = Annotated[
    Optional[str],
    typer.Option(
        "--as", metavar="SERVICE", help="Service type to identify as (one of the protocol definition's).", show_default=False
    ),
]

EXIT_CODES_HELP = "Exit status: 0 ok, 1 invalid input, 2 could not connect, 3 closed by the gateway, 4 connection lost midway."


def load(protocol: Path | None) -> Protocol:
    """The active protocol definition (the option wins over $GWTOOL_PROTOCOL, which Typer reads)."""
    from gwtool.protocol.definition import load_protocol

    return load_protocol(protocol, use_env=False)


def filter_hide(terms: str | None, proto: Protocol, side: Side) -> Callable[[Record | Notice], bool] | None:
    """``--filter`` as the console's ``hide``: the payloads the terms do not match, never a notice.
    It runs where the console renders, off the wire's path. A term that cannot match is a usage
    error naming it (exit 1)."""
    if not terms or not terms.strip():
        return None
    from gwtool.filters import Filter, FilterError
    from gwtool.records import Record

    try:
        wanted = Filter.parse_strict(terms, proto, only_side=side)
    except FilterError as exc:
        raise typer.BadParameter(str(exc), param_hint="--filter") from None
    matches = wanted.matches

    def hide(item: Record | Notice) -> bool:
        return type(item) is Record and not matches(item, proto, side)

    return hide
