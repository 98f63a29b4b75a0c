"""What ``--help`` shows beyond Typer's defaults: examples, the protocol's valid names, no type noise.

The names come from the active protocol definition (the built-in one, or ``$GWTOOL_PROTOCOL``) and
are read only when help is shown. Those of the built-in definition are also kept, generated, in
help_names.py (``python -m gwtool.cli.help`` writes it): loading the definition would cost a tenth
of ``gwtool send --help``. They are used only while default.toml is the file they were made from.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from typer._click.exceptions import UsageError  # typer 0.29 bundles click: not exported by typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

if TYPE_CHECKING:
    from typer._click import Context, HelpFormatter  # what typer's own signatures name (typer.Context is a subclass)

    from gwtool.protocol.definition import Definition

EXAMPLES: dict[str, tuple[str, ...]] = {
    "connect": (
        "gwtool connect --as commands",
        "gwtool connect --as sharder --url ws://127.0.0.1:9000 --log wire.ndjson",
        "gwtool connect --as commands --json --count 10",
    ),
    "send": (
        "gwtool send EXECUTE_COMMAND",
        "gwtool send EXECUTE_COMMAND --set ids.shard=2 --repeat 100 --rate 50",
        "gwtool send EXECUTE_COMMAND --data @command.json --as commands --force",
    ),
    "cache": (
        "gwtool cache guild",
        "gwtool cache member --set guildID=1 --repeat 1000 --rate 200",
        "gwtool cache role --data @roles.json",
    ),
    "mock-gateway": (
        "gwtool mock-gateway",
        "gwtool mock-gateway --port 9000 --token s3cret --log wire.ndjson",
        "gwtool mock-gateway --json > wire.ndjson",
    ),
    "bench": (
        "gwtool bench",
        "gwtool bench --url ws://127.0.0.1:9000 --sharders 4 --commands 4 --rate 2000 --duration 30",
    ),
    "protocol": ("gwtool protocol", "gwtool protocol --markdown > protocol.md", "gwtool protocol --protocol mine.toml --json"),
    "validate": ("gwtool validate payload.json", "gwtool validate --as sharder - < wire.ndjson"),
    "tui": (
        "gwtool tui",
        "gwtool tui --url ws://127.0.0.1:8765 --as sharder --log wire.ndjson",
        "gwtool tui --open wire.ndjson --follow",
        "gwtool tui --proxy ws://127.0.0.1:8765 --fault 'delay 300 op:HEARTBEAT_ACK'",
    ),
    "locustfile": (
        "gwtool locustfile > locustfile.py",
        "gwtool locustfile --rate 50 --set command=kick --token s3cret > locustfile.py",
    ),
    "replay": (
        "gwtool replay session.ndjson",
        "gwtool replay wire.ndjson --conn 2 --speed 2 --url ws://127.0.0.1:9000",
        "gwtool replay wire.ndjson --only EXECUTE_COMMAND --asap --dry-run",
    ),
    "stats": (
        "gwtool stats wire.ndjson",
        "gwtool stats wire.ndjson --conn 3 --interval 10",
        "gwtool stats wire.ndjson other.ndjson --filter t:EXECUTE_COMMAND --json",
    ),
    "proxy": (
        "gwtool proxy --upstream ws://127.0.0.1:8765",
        "gwtool proxy --upstream ws://gateway.internal:8765 --port 8766 --log wire.ndjson --strict",
    ),
    "check gateway": (
        "gwtool check gateway ws://127.0.0.1:8765",
        "gwtool check gateway ws://127.0.0.1:9000 --token s3cret --slow --junit gateway.xml",
        "gwtool check gateway --url ws://127.0.0.1:9000 --only 'identify.*' --json",
    ),
    "check service": (
        "gwtool check service --as commands -- python worker.py",
        "gwtool check service --as sharder --junit sharder.xml -- node sharder.js --gateway {url}",
        "gwtool check service --as sharder --only 'reconnect.*' -- ./run-sharder.sh",
    ),
}


# What each command's exit status means, the last thing its --help says (a command whose docstring
# states it, as mock-gateway's and tui's do, gets no second statement). "" is gwtool's own help.
EXIT_STATUS = {
    "": "Exit status: 0 ok, 1 invalid input, 2 could not connect, 3 closed by the gateway, 4 connection lost midway, "
    "130 Ctrl-C; each command's --help says which it uses.",
    "connect": "Exit status: 0 ended by Ctrl-C, --duration, --count or a closed stdout; 1 invalid input; 2 could not connect "
    "(or no HELLO / IDENTIFIED within --timeout); 3 closed by the gateway with a code that says not to reconnect.",
    "send": "Exit status: 0 sent and confirmed; 1 invalid input, or no ACK / --wait-for event within --timeout; "
    "2 could not connect; 3 closed by the gateway; 4 connection lost midway through --repeat; 130 Ctrl-C.",
    "cache": "Exit status: 0 sent and confirmed; 1 invalid input, or no ACK within --timeout; 2 could not connect; "
    "3 closed by the gateway; 4 connection lost midway through --repeat; 130 Ctrl-C.",
    "replay": "Exit status: 0 replayed and confirmed (or --dry-run); 1 invalid input (a payload the gateway would refuse), "
    "or no ACK within --timeout; 2 could not connect; 3 closed by the gateway; 4 connection lost midway; 130 Ctrl-C.",
    "bench": "Exit status: 0 done; 1 invalid input; 2 could not connect; 3 the gateway closed a connection; 130 Ctrl-C.",
    "protocol": "Exit status: 0 printed; 1 invalid input (an unknown TABLE, a broken --protocol file).",
    "validate": "Exit status: 0 every payload valid; 1 a payload invalid (each error with its JSON path), or invalid input; "
    "130 Ctrl-C.",
    "locustfile": "Exit status: 0 printed; 1 invalid input.",
    "stats": "Exit status: 0 printed; 1 invalid input (a file that cannot be read, a broken line, a --filter term "
    "that cannot match).",
    "check": "Exit status: 0 no case failed; 1 a case failed, or invalid input; 2 the gateway could not be reached "
    "(check gateway) or the command not started (check service); 130 Ctrl-C.",
    "check gateway": "Exit status: 0 no case failed; 1 a case failed, or invalid input (a URL that is not ws:// or wss://); "
    "2 the gateway could not be reached or refused the token; 130 Ctrl-C.",
    "check service": "Exit status: 0 no case failed; 1 a case failed, or invalid input; 2 the command could not be started; "
    "130 Ctrl-C.",
}


def exit_status(command: str, help_text: str | None) -> str | None:
    """The exit-status statement for ``command``'s help, unless its own help text states one."""
    return None if "Exit status:" in (help_text or "") else EXIT_STATUS[command]


def _services(proto: Definition) -> str:
    return "Service types: " + ", ".join(proto.services)


def _events(proto: Definition) -> str:
    from gwtool.protocol.definition import NOBODY

    def senders(sources: tuple[str, ...]) -> str:
        return "the gateway" if tuple(sources) == (NOBODY,) else ", ".join(sources)

    names = [f"{e.t} (from {senders(e.sources)})" for e in proto.events.values()]
    return "Events: " + ", ".join(names)


def _cache_types(proto: Definition) -> str:
    return "Cache types: " + ", ".join(proto.cache_types)


NAMES: dict[str, tuple[Callable[[Definition], str], ...]] = {
    "connect": (_services,),
    "send": (_events, _services),
    "cache": (_cache_types, _services),
    "validate": (_services,),
    "tui": (_services,),
    "check service": (_services,),
    "replay": (_services,),
}


def names_text(proto: Definition, command: str) -> str:
    """The lines of ``command``'s help that list ``proto``'s valid names (plain text)."""
    return "\n".join(names(proto) for names in NAMES[command])


DEFAULT_DEFINITION = Path(__file__).resolve().parents[1] / "protocol" / "default.toml"


def definition_crc32() -> int | None:
    """CRC-32 of the built-in default.toml (None if it cannot be read as a file)."""
    try:
        return zlib.crc32(DEFAULT_DEFINITION.read_bytes())
    except OSError:
        return None


def _cached_names(command: str) -> str | None:
    """``command``'s names from help_names.py when they are the active definition's, else None."""
    if os.environ.get("GWTOOL_PROTOCOL"):
        return None
    from gwtool.cli import help_names

    if definition_crc32() != help_names.DEFINITION_CRC32:  # default.toml changed since: load it
        return None
    return help_names.NAMES.get(command)


def _names(command: str) -> str:
    if (cached := _cached_names(command)) is not None:
        return cached
    from gwtool.protocol.definition import load_protocol

    return names_text(load_protocol(), command)


def epilog(command: str, help_text: str | None = None) -> str:
    """Examples, then the valid names, then the exit statuses (rich markup: every name is escaped)."""
    parts = []
    if examples := EXAMPLES.get(command):
        parts.append("[b]Examples[/b]\n" + "\n".join(f"  {escape(line)}" for line in examples))
    if command in NAMES:
        try:
            names = _names(command)
        except Exception as exc:  # a broken $GWTOOL_PROTOCOL must not break --help
            parts.append(escape(f"(the protocol definition did not load: {exc})"))
        else:
            parts.append(escape(names) + "  (from the protocol definition)")
    if statuses := exit_status(command, help_text):
        parts.append(escape(statuses))
    return "\n\n".join(parts)


def _no_type(ctx: Context) -> str | None:
    return None


def _show_no_type(param: TyperArgument | TyperOption) -> None:
    """No ``<bool>`` or ``<str>`` beside ``param`` in the help. Typer makes the parameter objects, so
    their method is replaced on each one: no subclass of ours can stand in for them."""
    param.display_type_rich = _no_type  # type: ignore[method-assign]  # on purpose, per object: see above


def _plain_help_option(option: TyperOption | None) -> TyperOption | None:
    """--help is a flag: no ``<bool>`` beside it."""
    if option is not None:
        _show_no_type(option)
    return option


class GwtoolCommand(TyperCommand):
    """A command whose help ends with its examples and the protocol's valid names, and whose
    arguments show their metavar only (``EVENT``, not ``EVENT <str>``)."""

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        self.epilog = epilog(ctx.command_path.partition(" ")[2] or self.name or "", self.help)  # "check gateway"
        for param in self.params:
            if isinstance(param, TyperArgument) and param.metavar:
                _show_no_type(param)
        super().format_help(ctx, formatter)

    def get_help_option(self, ctx: Context) -> TyperOption | None:
        return _plain_help_option(super().get_help_option(ctx))

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except UsageError as exc:
            exc.ctx = exc.ctx or ctx  # the parser's own errors (--data with no value) come without it
            raise

    def collect_usage_pieces(self, ctx: Context) -> list[str]:
        """``[OPTIONS] EVENT`` (click's style) rather than Typer's ``{EVENT}``."""
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = param.metavar or param.name or "ARG"
                pieces.append(name if param.required else f"[{name}]")
        return pieces


class GwtoolGroup(TyperGroup):
    """A group whose help ends with its exit statuses, and whose options are all flags (--version, the
    completion ones): no ``<bool>`` beside them."""

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        self.epilog = escape(EXIT_STATUS[ctx.command_path.partition(" ")[2]])  # "" for gwtool itself, "check"
        for param in self.params:
            if isinstance(param, TyperOption):  # --version and the completion options: typer's, as every one is
                _show_no_type(param)
        super().format_help(ctx, formatter)

    def get_help_option(self, ctx: Context) -> TyperOption | None:
        return _plain_help_option(super().get_help_option(ctx))


GENERATED = ("# generated: start\n", "# generated: end\n")


def generated_names_block() -> str:
    """help_names.py's generated block for the built-in definition as it is now."""
    import json

    from gwtool.protocol.definition import load_protocol

    proto = load_protocol(use_env=False)
    names = "".join(f"    {json.dumps(c)}: {json.dumps(names_text(proto, c), ensure_ascii=False)},\n" for c in NAMES)
    return f"{GENERATED[0]}DEFINITION_CRC32 = {definition_crc32():#010x}\nNAMES = {{\n{names}}}\n{GENERATED[1]}"


def rewrite_names_block(path: Path) -> None:
    text = path.read_text()
    start, end = text.index(GENERATED[0]), text.index(GENERATED[1]) + len(GENERATED[1])
    path.write_text(text[:start] + generated_names_block() + text[end:])
