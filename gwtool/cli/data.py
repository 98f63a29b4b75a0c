"""The ``--data`` / ``--set`` language of ``send`` and ``cache``: JSON (or @file, or stdin), then
``PATH=VALUE`` edits typed by the definition's field tables (``ids.shard=2`` is an integer,
``command=kick`` a string)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gwtool.errors import GwtoolError

if TYPE_CHECKING:
    from gwtool.protocol.definition import Definition, Field, TypeExpr


def build_data(data: str | None, sets: list[str], example: Any, fields: tuple[Field, ...], proto: Definition) -> Any:
    """The payload's d: --data (or the example), then each --set applied in order."""
    import copy

    d = read_data(data) if data is not None else copy.deepcopy(example)
    for item in sets:
        path_text, sep, value_text = item.partition("=")
        if not sep or not path_text:
            raise GwtoolError(f"--set {item!r}: expected PATH=VALUE, e.g. ids.shard=2")
        path = parse_path(path_text)
        try:
            value = parse_value(value_text, field_type(fields, path, proto))
        except GwtoolError as exc:
            raise GwtoolError(f"--set {item!r}: {exc}") from None
        d = set_path(d, path, value, item)
    return d


def one_data(data: list[str] | None) -> str | None:
    """The one --data given (None: none). Two are refused rather than one silently winning."""
    if not data:
        return None
    if len(data) > 1:
        import typer

        raise typer.BadParameter(
            f"given {len(data)} times: the data is one JSON value (text, @FILE or -); --set PATH=VALUE changes fields of it",
            param_hint="--data",
        )
    return data[0]


def invalid_data(what: str, errors: list[str], hint: str) -> GwtoolError:
    """The error for data the definition's field tables refuse: every path and what it expects."""
    return GwtoolError(f"invalid {what} data: {'; '.join(errors)}\n({hint})")


def read_data(data: str) -> Any:
    import sys

    import orjson

    where = "--data"
    if data == "-":
        text, where = sys.stdin.buffer.read(), "--data - (stdin)"
    elif data.startswith("@"):
        where = f"--data {data}"
        try:
            text = Path(data[1:]).read_bytes()
        except OSError as exc:
            raise GwtoolError(f"{where}: cannot read: {exc.strerror or exc}") from None
    else:
        text = data.encode()
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise GwtoolError(f"{where}: not valid JSON: {exc.msg} at char {exc.pos}") from None


_PATH_TOKEN = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def parse_path(text: str) -> list[str | int]:
    """``ids.shard`` → ["ids", "shard"]; ``roles[0]`` / ``[1].id`` → indexes as ints."""
    parts: list[str | int] = []
    pos = 0
    for match in _PATH_TOKEN.finditer(text):
        gap = text[pos : match.start()]
        if gap not in ("", "."):
            raise GwtoolError(f"--set {text!r}: bad path near {gap!r}")
        pos = match.end()
        parts.append(int(match.group(1)) if match.group(1) is not None else match.group(2))
    if text[pos:] not in ("",):
        raise GwtoolError(f"--set {text!r}: bad path near {text[pos:]!r}")
    return parts


STRING_TYPES = ("string", "snowflake", "timestamp", "discriminator", "service")


def parse_value(text: str, expr: TypeExpr | None) -> Any:
    """JSON when it parses; the text itself otherwise, or when the field is typed as a string."""
    import orjson

    if expr is not None and _is_string_type(expr) and not text.startswith('"') and text != "null":
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        if _JSON_NUMBER.fullmatch(text):  # a number, but past what a double holds: not a string either
            raise GwtoolError(f"{text} is outside the range of a JSON number (a double: ±1.8e308 at most)") from None
        return text


_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def _is_string_type(expr: TypeExpr) -> bool:
    if expr.kind == "nullable":
        return _is_string_type(expr.of)
    return expr.kind == "choice" or (expr.kind == "scalar" and expr.name in STRING_TYPES)


def field_type(fields: tuple[Field, ...], path: list[str | int], proto: Definition) -> TypeExpr | None:
    """The definition's type for ``path`` inside data described by ``fields`` (None if unknown)."""
    prefix, expr = "", None
    for part in path:
        if isinstance(part, int):
            if expr is not None:
                if expr.kind == "nullable":
                    expr = expr.item
                if expr is None or expr.kind != "array":
                    return None
                expr = expr.item
            continue  # an index at the top: d is an array of the entity
        if expr is not None and expr.kind == "nullable":
            expr = expr.item
        if expr is not None and expr.kind == "ref":
            fields, prefix = proto.structures[expr.name].fields, ""
        elif expr is not None and not (expr.kind == "scalar" and expr.name == "object"):
            return None
        name = f"{prefix}{part}"
        found = next((f for f in fields if f.path == name), None)
        if found is None:
            return None
        expr, prefix = found.type, name + "."
    return expr


def set_path(d: Any, path: list[str | int], value: Any, item: str) -> Any:
    """Set ``value`` at ``path`` in ``d`` (objects are created on the way); returns the new d."""
    if not path:
        return value
    if d is None:
        d = [] if isinstance(path[0], int) else {}
    node = d
    for i, part in enumerate(path):
        last = i == len(path) - 1
        if isinstance(part, int):
            if not isinstance(node, list):
                raise GwtoolError(f"--set {item!r}: [{part}] needs an array, found {_found(node)}")
            if part > len(node):
                raise GwtoolError(f"--set {item!r}: index {part} is past the end (array of {len(node)})")
            if part == len(node):
                node.append(None if last else ({} if not isinstance(path[i + 1], int) else []))
            if last:
                node[part] = value
            elif node[part] is None:
                node[part] = [] if isinstance(path[i + 1], int) else {}
        else:
            if not isinstance(node, dict):
                raise GwtoolError(f"--set {item!r}: {part!r} needs an object, found {_found(node)}")
            if last:
                node[part] = value
            elif node.get(part) is None:  # missing: create it; a scalar in the way is an error below
                node[part] = [] if isinstance(path[i + 1], int) else {}
        if not last:
            node = node[part]
    return d


def _found(node: Any) -> str:
    """What is in the way of a --set path, in JSON's words: ``an object``, ``the string 'ban'``."""
    from gwtool.protocol.definition import shown_value
    from gwtool.protocol.validate import json_type

    kind = json_type(node)
    if isinstance(node, dict | list):
        return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
    return f"the {kind} {shown_value(node)}" if node is not None else "null"
