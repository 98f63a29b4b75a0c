"""Options shared by the commands, declared once. Nothing heavy is imported here."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Optional

import typer

from gwtool.errors import GwtoolError, InvalidSetting

if TYPE_CHECKING:
    from gwtool.filters import Side
    from gwtool.output import WireOutput
    from gwtool.protocol.definition import Definition
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
AllowOriginOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--allow-origin",
        metavar="ORIGIN",
        help="A browser origin allowed to connect or read REST, e.g. http://localhost:3000 (repeatable; * any). "
        "Requests with no Origin header (services, CLIs) are always allowed.",
    ),
]
ShowTokenOption = Annotated[
    bool, typer.Option("--show-token", help="Show IDENTIFY tokens in full (default: masked, e.g. s3c… (6 chars)).", metavar="")
]
DataOption = Annotated[
    Optional[list[str]],  # a list only to refuse a second one (cli/data.one_data), not to merge them
    typer.Option(
        "--data",
        metavar="JSON|@FILE|-",
        help="The data (d): JSON text, @file.json, or - for stdin (once). Default: the definition's example.",
    ),
]
SetOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--set",
        metavar="PATH=VALUE",
        help="Change one field of the data, e.g. ids.shard=2 or command=kick (repeatable). VALUE is JSON "
        "(2, true, null, [..]); text that is not JSON, or any value for a string-typed field, stays a string.",
    ),
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


def typed(ctx: typer.Context, name: str) -> bool:
    """Whether the user typed the command's option ``name`` (not its default, nor $ENV)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "COMMANDLINE"


def from_environment(ctx: typer.Context, name: str) -> bool:
    """Whether the command's parameter ``name`` took its value from an environment variable: a
    default of the user's shell, never a flag they typed on this command line."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "ENVIRONMENT"


def load(protocol: Path | None) -> Definition:
    """The active protocol definition (the option wins over $GWTOOL_PROTOCOL, which Typer reads)."""
    from gwtool.protocol.definition import load_protocol

    return load_protocol(protocol, use_env=False)


def known_service(proto: Definition, service: str) -> str:
    """``--as SERVICE``, refused unless the definition has that service type."""
    if service not in proto.services:
        raise GwtoolError(f"--as: {proto.unknown_service_text(service)}")
    return service


def check_url_option(ctx: typer.Context, url: str) -> None:
    """Refuse a URL that cannot be a gateway's, naming GWTOOL_URL when that is where it came from."""
    from gwtool.client.core import check_url

    try:
        check_url(url)
    except GwtoolError as exc:
        if from_environment(ctx, "url"):
            raise GwtoolError(f"GWTOOL_URL: {exc}") from None
        raise


@contextlib.contextmanager
def settings_flags(**flags: str) -> Iterator[None]:
    """An InvalidSetting raised in the block (a core settings object refusing a value) becomes the
    usage error of the flag it came from: ``hold_bytes`` → ``--hold-bytes: must be ≥ 0, got -1``.
    ``flags`` names the flags that are not the setting's name with dashes."""
    try:
        yield
    except InvalidSetting as exc:
        raise typer.BadParameter(exc.problem, param_hint=flags.get(exc.name, "--" + exc.name.replace("_", "-"))) from None


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    """How a wire command prints: ``--json``, ``--every``, ``-q`` and the open ``--log`` file."""

    json: bool = False
    every: bool = False
    quiet: bool = False
    log: IO[bytes] | None = None

    def output(
        self,
        proto: Definition,
        *,
        hide: Callable[[Record | Notice], bool] | None = None,
        figures: Callable[[], str] | None = None,
        on_closed: Callable[[], None] | None = None,
        show_conn: bool = False,
    ) -> WireOutput:
        """The console for these settings (gwtool/output.py), to subscribe to a client or gateway."""
        from gwtool.output import WireOutput

        return WireOutput(
            proto, json=self.json, every=self.every, quiet=self.quiet, log=self.log,
            hide=hide, figures=figures, on_closed=on_closed, show_conn=show_conn,
        )  # fmt: skip


def filter_hide(terms: str | None, proto: Definition, side: Side) -> Callable[[Record | Notice], bool] | None:
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
