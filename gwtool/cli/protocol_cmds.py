"""``gwtool protocol`` (show the active definition) and ``gwtool validate`` (check payloads offline).

Both read only the definition: no network. Every string from a definition or payload file is
untrusted and enters Rich only as ``Text``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional, TypeAlias

import typer

from gwtool.cli.app import app
from gwtool.cli.help import GwtoolCommand
from gwtool.cli.options import ProtocolOption, load
from gwtool.errors import GwtoolError
from gwtool.text import plural

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table
    from rich.text import Text

    from gwtool.protocol.definition import Definition, Field, Structure

GATEWAY = "gateway"  # ``--as gateway``: the payload is checked as sent by the gateway


# --- gwtool protocol ------------------------------------------------------------------------------


@app.command("protocol", cls=GwtoolCommand)
def protocol_command(
    name: Annotated[
        Optional[str],
        typer.Argument(
            metavar="TABLE",
            help="Show only this: opcodes, services, hello, identify, heartbeat, events, cache, close-codes, "
            "an event's t or a cache type's name.",
            show_default=False,
        ),
    ] = None,
    protocol: ProtocolOption = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the definition (or TABLE's part of it) as JSON: a valid --protocol file.", metavar=""),
    ] = False,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the full protocol write-up as Markdown.", metavar="")
    ] = False,
) -> None:
    """Show the active protocol definition: opcodes, services, events, cache types, close codes."""
    proto = load(protocol)
    if as_json:
        import orjson

        part = proto.as_definition() if name is None else definition_part(proto, name)
        sys.stdout.buffer.write(orjson.dumps(part, option=orjson.OPT_INDENT_2) + b"\n")
        return
    if markdown and name is not None:
        raise GwtoolError(f"--markdown writes up the whole protocol: drop {name!r} (or use --json for one table)")
    if markdown:
        from gwtool.protocol.docs import render

        sys.stdout.write(render(proto))
        return
    from rich.console import Console

    print_protocol(proto, Console(highlight=False), name)


Section: TypeAlias = "tuple[tuple[str, ...], list[RenderableType]]"  # (names that select it, renderables)


def print_protocol(proto: Definition, console: Console, name: str | None = None) -> None:
    """Every table of ``proto`` (or those ``name`` selects), built from its objects."""
    from rich.text import Text

    from gwtool.protocol.docs import TYPE_HELP

    sections = _sections(proto)
    if name is not None:
        wanted = name.lower()
        sections = [(names, items) for names, items in sections if wanted in (names[0].lower(), names[-1].lower())]
        if not sections:
            raise _no_table(proto, name)
    console.print(Text.assemble(("Protocol definition: ", "bold"), " + ".join(_source_names(proto))))
    console.print(Text(TYPE_HELP, "dim"))
    for _, items in sections:
        console.print()
        for item in items:
            console.print(item)


def _no_table(proto: Definition, name: str) -> GwtoolError:
    choices = list(dict.fromkeys(n for names, _ in _sections(proto) for n in names))
    return GwtoolError(f"no table {name!r} in the protocol (choose from: {', '.join(choices)})")


def definition_part(proto: Definition, name: str) -> dict[str, Any]:
    """The part of ``proto.as_definition()`` that the table ``name`` shows, under its own keys (so it
    is still a --protocol file): ``EXECUTE_COMMAND`` → ``{"events": {"EXECUTE_COMMAND": …}}``."""
    definition = proto.as_definition()
    wanted = name.lower()
    for names, _ in _sections(proto):  # the names the tables answer to
        if names[-1].lower() != wanted:
            continue
        if names == ("cache",):
            return {key: definition[key] for key in ("cache_types", "structures")}
        if len(names) == 1:
            key = names[0].replace("-", "_")  # close-codes → close_codes
            return {key: definition[key]}
        entry = names[-1]
        section = "events" if names[0] == "events" else "cache_types" if entry in definition["cache_types"] else "structures"
        return {section: {entry: definition[section][entry]}}
    raise _no_table(proto, name)


def _sections(proto: Definition) -> list[Section]:
    from rich.text import Text

    from gwtool.protocol.docs import ROUTING_HELP

    routing = Text("\n".join(f"{k}: {v}" for k, v in ROUTING_HELP.items()), "dim")
    out: list[Section] = [
        (("opcodes",), [_opcodes_table(proto)]),
        (("services",), [_services_table(proto)]),
        (("hello",), [_fields_table("HELLO d (gateway → service)", proto.hello_fields)]),
        (("identify",), [_fields_table("IDENTIFY d (service → gateway)", proto.identify_fields)]),
        (("heartbeat",), [_heartbeat_table(proto)]),
        (("events",), [_events_table(proto), routing]),
    ]
    for event in proto.events.values():
        out.append((("events", event.t), [_fields_table(f"EVENT {event.t} d", event.fields, event.doc)]))
    out.append((("cache",), [_structures_table(proto)]))
    for structure in _structures_in_order(proto):
        kind = "CACHE type" if structure.cacheable else "structure"
        table = _fields_table(f"{kind} {structure.name}", structure.fields, structure.doc)
        out.append((("cache", structure.name), [table]))
    out.append((("close-codes",), [_close_codes_table(proto)]))
    return out


def _source_names(proto: Definition) -> list[str]:
    return ["built-in default" if s == "default" else s for s in proto.sources]


def _table(title: str, *columns: str, caption: str = "") -> Table:
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=Text(title, "bold"),
        title_justify="left",
        caption=Text(caption, "dim") if caption else None,
        caption_justify="left",
        header_style="bold cyan",
    )
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _row(table: Table, *cells: object, style: str = "") -> None:
    from rich.text import Text

    table.add_row(*(cell if isinstance(cell, Text) else Text(str(cell)) for cell in cells), style=style or None)


def _names(names: tuple[str, ...] | list[str]) -> str:
    return ", ".join(names) if names else "—"


def _yes(flag: bool) -> Text:
    from rich.text import Text

    return Text("yes", "green") if flag else Text("no", "dim")


def _opcodes_table(proto: Definition) -> Table:
    table = _table("Opcodes", "op", "name", "sent by", "description")
    for opcode in sorted(proto.opcodes.values(), key=lambda o: o.code):
        _row(table, opcode.code, opcode.name, " and ".join(opcode.sent_by), opcode.doc)
    return table


def _services_table(proto: Definition) -> Table:
    caption = "shards: gets shard ids in IDENTIFIED · cache: may send CACHE"
    table = _table("Service types", "service", "shards", "cache", "extra heartbeat fields", "description", caption=caption)
    for service in proto.services.values():
        extra = _names([f.name for f in service.heartbeat_fields])
        _row(table, service.name, _yes(service.shards), _yes(service.cache), extra, service.doc)
    return table


def _heartbeat_table(proto: Definition) -> Table:
    interval = proto.default_interval_ms
    caption = (
        f"Sent every heartbeatInterval ms (default {interval}); silent for {proto.heartbeat_timeout_factor:g} × "
        "heartbeatInterval → HEARTBEAT_TIMEOUT."
    )
    table = _table("HEARTBEAT d (service → gateway)", "field", "type", "sent by", "description", caption=caption)
    for f in proto.heartbeat_fields:
        _row(table, _field_name(f), str(f.type), "every service", f.doc)
    for service in proto.services.values():
        for f in service.heartbeat_fields:
            _row(table, _field_name(f), str(f.type), service.name, f.doc)
    return table


def _events_table(proto: Definition) -> Table:
    table = _table("Events (op EVENT)", "t", "name", "from", "to", "routing")
    for event in proto.events.values():
        _row(table, event.t, event.name, _names(event.sources), _names(event.targets), event.routing)
    return table


def _structures_table(proto: Definition) -> Table:
    caption = "key: the fields naming one entity (its REST path) · nested: arrays also cached under their own type"
    table = _table("Cache types (op CACHE) and structures", "type", "key", "nested", "description", caption=caption)
    for structure in _structures_in_order(proto):
        key = _names(structure.key) if structure.cacheable else "(not cached alone)"
        _row(table, structure.name, key, _names(structure.nested), structure.doc)
    return table


def _structures_in_order(proto: Definition) -> list[Structure]:
    """Cache types first, then the structures used only inside them."""
    return [*proto.cache_types.values(), *(s for s in proto.structures.values() if not s.cacheable)]


def _close_codes_table(proto: Definition) -> Table:
    table = _table("Close codes", "code", "name", "reconnect", "when")
    for close in proto.close_codes.values():
        _row(table, close.code, close.name, _yes(close.reconnect), close.doc)
    from gwtool.protocol.definition import RFC6455_CLOSE_NAMES, WEBSOCKET_CLOSES

    for code, when in WEBSOCKET_CLOSES:  # the websocket layer's own
        _row(table, code, RFC6455_CLOSE_NAMES[code], "—", f"(websocket) {when}")
    return table


def _field_name(f: Field) -> Text:
    from rich.text import Text

    return Text(f.path) + (Text("?", "yellow") if f.optional else Text())


def _fields_table(title: str, fields: tuple[Field, ...], doc: str = "") -> Table:
    table = _table(title, "field", "type", "description", caption=doc)
    for f in fields:
        _row(table, _field_name(f), str(f.type), f.doc)
    if not fields:
        _row(table, "—", "", "no fields")
    return table


# --- gwtool validate ------------------------------------------------------------------------------


@app.command("validate", cls=GwtoolCommand)
def validate_command(
    file: Annotated[
        Optional[str],
        typer.Argument(
            metavar="FILE", help="JSON payload, or NDJSON (one payload per line); - or nothing for stdin.", show_default=False
        ),
    ] = None,
    as_: Annotated[
        Optional[str],
        typer.Option(
            "--as",
            metavar="SERVICE",
            help="Who sends it: a service type (also checks it may send it) or 'gateway'. Default: whoever may send its "
            "opcode. On a recording, whose payloads to check (each as recorded): default every sender's.",
            show_default=False,
        ),
    ] = None,
    protocol: ProtocolOption = None,
) -> None:
    """Validate payloads offline: exit 0 when all are valid, 1 with each error's JSON path."""
    from rich.console import Console

    proto = load(protocol)
    _check_sender(proto, as_)
    data = _read_input(file)
    console = Console(highlight=False)
    from gwtool.logfile import is_recording

    whose = ""
    if is_recording(data.split(b"\n", 1)[0]):
        results = _recording_errors(proto, data, file or "-", as_)
        whose = f" (those {'the gateway' if as_ == GATEWAY else as_} sent)" if as_ is not None else ""
    else:
        results = [(line, _payload_errors(proto, frame, as_)) for line, frame in split_payloads(data)]
    if not results:
        raise GwtoolError("no payload to validate (the input is empty)")
    raise typer.Exit(_report(console, results, single=len(results) == 1 and results[0][0] == 0, whose=whose))


def _recording_errors(
    proto: Definition, data: bytes, name: str, as_: str | None = None
) -> list[tuple[int, tuple[str, list[str]]]]:
    """Each payload record of a recording, checked as its sender was: a service's payloads against
    its type (and what it may send), the gateway's as the gateway's. Notices are not payloads.
    ``as_`` keeps only what that sender (a service type, or the gateway) sent."""
    from gwtool.logfile import parse_lines, payload_of, sender_type, sent_by_service
    from gwtool.protocol.validate import permission_error, validate_payload

    results = []
    senders: dict[str, int] = {}  # who sent the recording's payloads, for a --as that matches none
    for line in parse_lines(data.splitlines(keepends=True), name):
        if line.record.get("kind") != "payload":
            continue
        sender = (sender_type(line) or _identifying_as(proto, line.record)) if sent_by_service(line) else GATEWAY
        senders[sender] = senders.get(sender, 0) + 1
        if as_ is not None and sender != as_:
            continue
        if line.record.get("error"):  # a frame that did not decode: it was refused as it came
            results.append((line.number, ("undecodable frame", [f"{line.record['error']}: {line.record.get('raw') or ''}"])))
            continue
        payload = payload_of(line.record)
        if sent_by_service(line):
            service = sender_type(line)
            errors = validate_payload(proto, payload, sender="service", service=service)
            if service is not None and (denied := permission_error(proto, payload, service)):
                errors.append(denied)
        else:
            errors = validate_payload(proto, payload, sender=GATEWAY)
        results.append((line.number, (_label(proto, payload), errors)))
    if as_ is not None and not results and senders:
        found = ", ".join(f"{plural(n, 'payload')} from {'the gateway' if who == GATEWAY else who}" for who, n in senders.items())
        raise GwtoolError(f"{name}: no payload in the recording was sent by {as_} (it holds {found})")
    return results


def _identifying_as(proto: Definition, record: dict[str, Any]) -> str:
    """Who sent a payload before its connection identified: the type its IDENTIFY claims."""
    d = record.get("d")
    claimed = d.get(proto.roles.identify_service) if isinstance(d, dict) and record.get("op") == proto.op("IDENTIFY") else None
    return claimed if isinstance(claimed, str) else "a service not identified yet"


def _check_sender(proto: Definition, as_: str | None) -> None:
    if as_ is not None and as_ != GATEWAY and as_ not in proto.services:
        raise GwtoolError(f"--as {as_!r}: unknown sender (use {GATEWAY!r} or a service type: {', '.join(proto.services)})")


def _read_input(file: str | None) -> bytes:
    if file in (None, "-"):
        if sys.stdin.isatty():
            sys.stderr.write("reading payloads from stdin (end with Ctrl-D)…\n")
        return sys.stdin.buffer.read()
    try:
        return Path(file).read_bytes()
    except OSError as exc:
        raise GwtoolError(f"{file}: cannot read: {exc.strerror or exc}") from None


def split_payloads(data: bytes) -> list[tuple[int, bytes]]:
    """``[(0, data)]`` when the whole input is one JSON object (or one line); else ``(line number, line)``
    for every non-blank line (NDJSON)."""
    import orjson

    from gwtool.protocol.codec import is_compressed

    if is_compressed(data):  # one zlib-compressed frame
        return [(0, data)]
    lines = [(n, line) for n, line in enumerate(data.splitlines(), 1) if line.strip()]
    if len(lines) <= 1:
        return [(0, data)] if data.strip() else []
    try:
        whole = orjson.loads(data)
    except orjson.JSONDecodeError:
        return lines
    return [(0, data)] if isinstance(whole, dict) else lines


def _payload_errors(proto: Definition, frame: bytes, as_: str | None) -> tuple[str, list[str]]:
    """(label of the payload, its errors) — never raises for any input."""
    from gwtool.errors import DecodeError
    from gwtool.protocol.codec import decode
    from gwtool.protocol.validate import permission_error, validate_payload

    try:
        payload = decode(frame).payload
    except DecodeError as exc:
        return "", [str(exc)]
    sender, service = _sender(proto, payload, as_)
    errors = validate_payload(proto, payload, sender=sender, service=service)
    if service is not None and (denied := permission_error(proto, payload, service)):
        errors.append(denied)
    who = f"a {service} service" if service else f"the {GATEWAY}" if sender == GATEWAY else "a service"
    return f"{_label(proto, payload)} as sent by {who}", errors


def _sender(proto: Definition, payload: dict[str, Any], as_: str | None) -> tuple[str, str | None]:
    if as_ == GATEWAY:
        return GATEWAY, None
    if as_ is not None:
        return "service", as_
    op = payload.get("op")
    opcode = proto.opcode_by_code.get(op) if type(op) is int else None
    if opcode is not None and "service" not in opcode.sent_by:
        return GATEWAY, None
    return "service", None


def _label(proto: Definition, payload: dict[str, Any]) -> str:
    name = proto.op_name(payload.get("op"))
    detail = payload.get("t") if payload.get("t") is not None else payload.get("type")
    return f"{name} {detail}" if isinstance(detail, str) else name


def _report(console: Console, results: list[tuple[int, tuple[str, list[str]]]], *, single: bool, whose: str = "") -> int:
    from rich.text import Text

    bad = 0
    for line, (_label, errors) in results:
        if not errors:
            continue
        bad += 1
        where = "" if single else f"line {line}: "
        for error in errors:
            console.print(Text(where, "bold") + Text(error, "red"), soft_wrap=True)
    total = len(results)
    if single:
        label = results[0][1][0]
        verdict = Text("invalid", "bold red") if bad else Text("ok", "bold green")
        console.print(verdict + Text(f": {label}" if label else ""))
    elif bad:
        console.print(Text(f"{bad:,} of {plural(total, 'payload')} invalid{whose}", "bold red"))
    else:
        console.print(Text(f"ok: {plural(total, 'payload')} valid{whose}", "bold green"))
    return 1 if bad else 0
