"""What ``--help`` shows beyond Typer's defaults: examples, the protocol's valid names, no type noise.

The names come from the active protocol definition (the built-in one, or ``$GWTOOL_PROTOCOL``) and
are read only when help is shown, so start-up does not pay for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from typer.core import TyperArgument, TyperCommand, TyperGroup

from gwtool.cli.options import EXIT_CODES_HELP

if TYPE_CHECKING:
    from gwtool.protocol.definition import Protocol

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
    "check gateway": (
        "gwtool check gateway ws://127.0.0.1:8765",
        "gwtool check gateway ws://127.0.0.1:9000 --token s3cret --slow --junit gateway.xml",
        "gwtool check gateway --only 'identify.*' --json",
    ),
    "check service": (
        "gwtool check service --as commands -- python worker.py",
        "gwtool check service --as sharder --junit sharder.xml -- node sharder.js --gateway {url}",
        "gwtool check service --as sharder --only 'reconnect.*' -- ./run-sharder.sh",
    ),
}


def _services(proto: Protocol) -> str:
    return "Service types: " + ", ".join(proto.services)


def _events(proto: Protocol) -> str:
    from gwtool.protocol.definition import NOBODY

    def senders(sources: tuple[str, ...]) -> str:
        return "the gateway" if tuple(sources) == (NOBODY,) else ", ".join(sources)

    names = [f"{e.t} (from {senders(e.sources)})" for e in proto.events.values()]
    return "Events: " + ", ".join(names)


def _cache_types(proto: Protocol) -> str:
    return "Cache types: " + ", ".join(proto.cache_types)


NAMES: dict[str, tuple[Callable[[Protocol], str], ...]] = {
    "connect": (_services,),
    "send": (_events, _services),
    "cache": (_cache_types, _services),
    "validate": (_services,),
    "tui": (_services,),
    "check service": (_services,),
    "replay": (_services,),
}


def epilog(command: str) -> str:
    """Examples, then the valid names, then the exit codes (rich markup: every name is escaped)."""
    parts = []
    if examples := EXAMPLES.get(command):
        parts.append("[b]Examples[/b]\n" + "\n".join(f"  {escape(line)}" for line in examples))
    if lists := NAMES.get(command):
        try:
            from gwtool.protocol.definition import load_protocol

            proto = load_protocol()
        except Exception as exc:  # a broken $GWTOOL_PROTOCOL must not break --help
            parts.append(escape(f"(the protocol definition did not load: {exc})"))
        else:
            parts.append("\n".join(escape(names(proto)) for names in lists) + "  (from the protocol definition)")
    parts.append(EXIT_CODES_HELP)
    return "\n\n".join(parts)


def _no_type(ctx: Any) -> None:
    return None


def _plain_help_option(option: Any) -> Any:
    """--help is a flag: no ``<bool>`` beside it."""
    if option is not None:
        option.display_type_rich = _no_type
    return option


class GwtoolCommand(TyperCommand):
    """A command whose help ends with its examples and the protocol's valid names, and whose
    arguments show their metavar only (``EVENT``, not ``EVENT <str>``)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self.epilog = epilog(ctx.command_path.partition(" ")[2] or self.name or "")  # "check gateway"
        for param in self.params:
            if isinstance(param, TyperArgument) and param.metavar:
                param.display_type_rich = _no_type  # type: ignore[method-assign]
        super().format_help(ctx, formatter)

    def get_help_option(self, ctx: Any) -> Any:
        return _plain_help_option(super().get_help_option(ctx))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        """``[OPTIONS] EVENT`` (click's style) rather than Typer's ``{EVENT}``."""
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = param.metavar or param.name or "ARG"
                pieces.append(name if param.required else f"[{name}]")
        return pieces


class GwtoolGroup(TyperGroup):
    """A group whose options are all flags (--version, the completion ones): no ``<bool>`` beside them."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        for param in self.params:
            param.display_type_rich = _no_type  # type: ignore[attr-defined]
        super().format_help(ctx, formatter)

    def get_help_option(self, ctx: Any) -> Any:
        return _plain_help_option(super().get_help_option(ctx))
