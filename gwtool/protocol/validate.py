"""Validation: the definition's field tables compiled once into small check functions.

``validate_payload`` answers with a list of ``"path: expectation"`` strings (empty = valid), e.g.
``d.ids.shard: expected integer, got string``. Paths start at the payload: ``op``, ``t``, ``type``,
``d``, ``d.ids.shard``, ``d[3].roles[0]``. Extra fields are allowed, missing required ones are not.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from gwtool.protocol.definition import Field, TypeExpr, shown_value

if TYPE_CHECKING:
    from gwtool.protocol.definition import Definition

Check = Callable[[Any, str, list[str]], None]  # (value, path, errors) → appends "path: message"
Predicate = Callable[[Any], bool]
_MISSING = object()
_JSON_TYPES = ("", "string", "integer", "boolean", "object", "number", "array")
_ISO_8601 = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|z|[+-]\d\d(:?\d\d)?)?")


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, as error messages say it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return {int: "integer", float: "number", str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


INT64_RANGE = "-2^63 … 2^64-1"  # what orjson reads as an integer; beyond, a double


def _got(value: Any, label: str = "") -> str:
    """``got string`` for a wrong type; the value itself for a string of the wrong form."""
    if type(value) is float and label.startswith("integer") and value.is_integer() and abs(value) >= 2**63:
        return f"got a number outside the 64-bit integer range ({INT64_RANGE})"
    if isinstance(value, str) and label not in _JSON_TYPES:
        shown = value if len(value) <= 24 else value[:21] + "…"
        return f"got {shown!r}"
    return f"got {json_type(value)}"


def _is_timestamp(v: Any) -> bool:
    if type(v) is not str or not _ISO_8601.fullmatch(v):
        return False
    try:
        datetime.fromisoformat(v.replace("z", "Z"))
    except ValueError:
        return False
    return True


# scalar type → (a Python expression true when the value ``x`` is one, what an error says is expected).
# The expressions are compiled into predicates, and inlined into each field table's generated check.
_SCALARS = {
    "string": ("type(x) is str", "string"),
    "integer": ("type(x) is int", "integer"),
    "boolean": ("type(x) is bool", "boolean"),
    "snowflake": ("type(x) is str and x.isascii() and x.isdigit()", "snowflake id (string of digits)"),
    "discriminator": ("type(x) is str and len(x) == 4 and x.isascii() and x.isdigit()", "4 digits"),
    "timestamp": ("_is_timestamp(x)", "ISO 8601 timestamp"),
    "object": ("type(x) is dict", "object"),
    "any": ("True", "any value"),
    "service": ("type(x) is str and x in services", ""),  # label: the protocol's services, below
}


def _expression_names(proto: Definition) -> dict[str, Any]:
    """What the scalar expressions refer to."""
    return {"_is_timestamp": _is_timestamp, "services": frozenset(proto.services)}


def _scalars(proto: Definition) -> dict[str, tuple[Predicate, str, str]]:
    """Each scalar type's (predicate, label, expression) for one protocol's services."""
    namespace = _expression_names(proto)
    labels = {"service": f"a service type ({', '.join(proto.services)})"}
    return {
        name: (eval(f"lambda x: {expr}", namespace), labels.get(name, label), expr) for name, (expr, label) in _SCALARS.items()
    }


class _Compiler:
    """Compiles field tables and types into ``Check`` functions, once per protocol."""

    def __init__(self, proto: Definition):
        self.proto = proto
        self.scalars = _scalars(proto)
        self.structures: dict[str, Check] = {}  # filled after compiling, looked up at call time

    def predicate(self, expr: TypeExpr) -> tuple[Predicate, str] | None:
        """A plain predicate for types that need no path below them (the fast path)."""
        if expr.kind == "scalar":
            pred, label, _ = self.scalars[expr.name]
            return pred, label
        if expr.kind == "choice":
            choices = frozenset(expr.choices)
            return (lambda v: type(v) is str and v in choices), " or ".join(f'"{c}"' for c in expr.choices)
        if expr.kind == "nullable" and (inner := self.predicate(expr.of)):
            pred, label = inner
            return (lambda v: v is None or pred(v)), f"{label} or null"
        return None

    def type_check(self, expr: TypeExpr, children: tuple[Field, ...] = ()) -> Check:
        if children:  # an object field with its own fields ("ids" with "ids.shard", …)
            table = self.table(children)
            return self._nullable(expr, table) if expr.kind == "nullable" else table
        if simple := self.predicate(expr):
            pred, label = simple

            def check_scalar(v: Any, path: str, errors: list[str]) -> None:
                if not pred(v):
                    errors.append(f"{path}: expected {label}, {_got(v, label)}")

            return check_scalar
        if expr.kind == "nullable":
            return self._nullable(expr, self.type_check(expr.of))
        if expr.kind == "array":
            return self._array(expr.of)
        return self._ref(expr.name)

    def _nullable(self, expr: TypeExpr, inner: Check) -> Check:
        def check_nullable(v: Any, path: str, errors: list[str]) -> None:
            if v is not None:
                inner(v, path, errors)

        return check_nullable

    def _array(self, item: TypeExpr) -> Check:
        simple = self.predicate(item)
        inner = None if simple else self.type_check(item)
        label = f"array of {simple[1] if simple else item}"

        def check_array(v: Any, path: str, errors: list[str]) -> None:
            if type(v) is not list:
                errors.append(f"{path}: expected {label}, {_got(v, label)}")
                return
            if simple:
                pred, item_label = simple
                for i, x in enumerate(v):
                    if not pred(x):
                        errors.append(f"{path}[{i}]: expected {item_label}, {_got(x, item_label)}")
            else:
                assert inner is not None  # compiled above whenever there is no simple predicate
                for i, x in enumerate(v):
                    inner(x, f"{path}[{i}]", errors)

        return check_array

    def _ref(self, name: str) -> Check:
        structures = self.structures

        def check_ref(v: Any, path: str, errors: list[str]) -> None:
            structures[name](v, path, errors)

        return check_ref

    def table(self, fields: tuple[Field, ...]) -> Check:
        """A check for an object whose fields are ``fields`` (dotted paths for nested objects).

        It is generated as one function with each scalar's expression inline: the gateway runs it
        on every payload, where a call per field cost more than the tests themselves. Names, labels
        and inner checks reach it as variables (``name0``, ``label0``, ``check0``), never as source."""
        depth = fields[0].path.count(".") if fields else 0
        top = [f for f in fields if f.path.count(".") == depth]
        namespace: dict[str, Any] = {"_MISSING": _MISSING, "_got": _got, **_expression_names(self.proto)}
        body = [
            "def check_object(v, path, errors):",
            "    if type(v) is not dict:",
            '        errors.append(f"{path}: expected object, {_got(v)}")',
            "        return",
        ]
        for i, f in enumerate(top):
            children = tuple(g for g in fields if g.path.startswith(f.path + "."))
            namespace[f"name{i}"], namespace[f"type{i}"] = f.name, f.type
            body += [f"    x = v.get(name{i}, _MISSING)", "    if x is _MISSING:"]
            body.append(
                "        pass"
                if f.optional
                else f'        errors.append(f"{{path}}.{{name{i}}}: missing (required {{type{i}}})")'
            )
            simple = None if children else self.predicate(f.type)
            if simple is not None:
                namespace[f"test{i}"], namespace[f"label{i}"] = simple
                inline = self.scalars[f.type.name][2] if f.type.kind == "scalar" else f"test{i}(x)"
                body += [
                    f"    elif not ({inline}):",
                    f'        errors.append(f"{{path}}.{{name{i}}}: expected {{label{i}}}, {{_got(x, label{i})}}")',
                ]
            else:
                namespace[f"check{i}"] = self.type_check(f.type, children)
                body += ["    else:", f'        check{i}(x, f"{{path}}.{{name{i}}}", errors)']
        exec("\n".join(body), namespace)
        return cast(Check, namespace["check_object"])


class Checks:
    """Every check of one protocol, compiled once (``proto.checks``)."""

    def __init__(self, proto: Definition):
        c = _Compiler(proto)
        for name, structure in proto.structures.items():
            c.structures[name] = c.table(structure.fields)
        self.entities: dict[str, Check] = c.structures
        self.events: dict[str, Check] = {t: c.table(e.fields) for t, e in proto.events.items()}
        self.identify: Check = c.table(proto.identify_fields)
        self.hello: Check = c.table(proto.hello_fields)
        self.heartbeat: dict[str | None, Check] = {None: c.table(proto.heartbeat_fields)}
        for name in proto.services:
            self.heartbeat[name] = c.table(proto.heartbeat_fields_for(name))


def compile_checks(proto: Definition) -> Checks:
    return Checks(proto)


def validate_payload(proto: Definition, payload: Any, *, sender: str = "service", service: str | None = None) -> list[str]:
    """Errors of ``payload`` as sent by ``sender`` ("service" or "gateway"); [] when valid.

    ``service`` is the sending service type when known: it adds that type's heartbeat fields.
    Whether the type may *send* an event or a cache payload is ``permission_error``'s business.
    """
    if type(payload) is not dict:
        return [f"payload: expected object, {_got(payload)}"]
    errors: list[str] = []
    op = payload.get("op", _MISSING)
    if op is _MISSING:
        return ["op: missing (required integer)"]
    opcode = proto.opcode_by_code.get(op) if type(op) is int else None
    if opcode is None:
        known = ", ".join(f"{o.code} {o.name}" for o in proto.opcodes.values())
        return [f"op: unknown opcode {shown_value(op)} (known: {known})"]
    if sender not in opcode.sent_by:
        errors.append(f"op: {opcode.name} is sent by the {' or '.join(opcode.sent_by)}, not by a {sender}")
    d = payload.get("d", _MISSING)
    t = payload.get("t")
    if t is not None and opcode.name != "EVENT":
        errors.append(f"t: only {proto.op('EVENT')} EVENT payloads carry t")
    _validate_data(proto, opcode.name, payload, d, sender, service, errors)
    return errors


def _validate_data(
    proto: Definition, name: str, payload: dict[str, Any], d: Any, sender: str, service: str | None, errors: list[str]
) -> None:
    checks = proto.checks
    if name == "EVENT":
        t = payload.get("t", _MISSING)
        if t is _MISSING or t is None:
            errors.append("t: missing (EVENT payloads name their event)")
        elif type(t) is not str:
            errors.append(f"t: expected an event name (string), got {json_type(t)}")
        elif t not in proto.events:
            errors.append(f"t: unknown event {_got(t, 'event')[4:]} (known: {', '.join(proto.events)})")
        else:
            _need_d(d, errors) and checks.events[t](d, "d", errors)
    elif name == "CACHE":
        kind = payload.get("type", _MISSING)
        if kind is _MISSING:
            errors.append(f"type: missing (one of {', '.join(proto.cache_types)})")
        elif type(kind) is not str:
            errors.append(f"type: expected a cache type (string), got {json_type(kind)}")
        elif kind not in proto.cache_types:
            errors.append(f"type: unknown cache type {_got(kind, 'cache type')[4:]} (known: {', '.join(proto.cache_types)})")
        elif _need_d(d, errors):
            check = checks.entities[kind]
            if type(d) is list:
                if not d:
                    errors.append("d: expected an entity or a non-empty array of them, got empty array")
                for i, item in enumerate(d):
                    check(item, f"d[{i}]", errors)
            else:
                check(d, "d", errors)
    elif name == "IDENTIFY":
        _need_d(d, errors) and checks.identify(d, "d", errors)
    elif name == "HELLO":
        _need_d(d, errors) and checks.hello(d, "d", errors)
    elif name == "HEARTBEAT":
        if sender == "service":
            _need_d(d, errors) and checks.heartbeat.get(service, checks.heartbeat[None])(d, "d", errors)
        elif d is not _MISSING and type(d) is not dict:
            errors.append(f"d: expected object, {_got(d)}")
    elif d is not _MISSING and type(d) not in (dict, list):  # HEARTBEAT_ACK and opcodes users add
        errors.append(f"d: expected object or array, {_got(d)}")


_MISSING_D = "d: missing (required object)"


def _need_d(d: Any, errors: list[str]) -> bool:
    if d is _MISSING:
        errors.append(_MISSING_D)
        return False
    return True


def check_data(check: Check, payload: dict[str, Any]) -> tuple[Any, list[str]]:
    """A payload's ``d`` and the errors one compiled ``check`` finds in it (a missing ``d`` is one).

    The gateway's hot path: it already knows which check applies, so it skips validate_payload's
    dispatch on op and t.
    """
    d = payload.get("d", _MISSING)
    errors: list[str] = []
    if _need_d(d, errors):
        check(d, "d", errors)
    return d, errors


_PATH_ROOTS = ("payload", "op", "t", "type", "d")  # where the errors above start


def error_path(error: str) -> str:
    """The JSON path a validation error starts with (``d.ids.shard: expected …`` → ``d.ids.shard``),
    also inside a close reason quoting one; "" when it starts with none."""
    head, sep, _ = error.partition(": ")
    if not sep or " " in head:
        return ""
    return head if head.split(".", 1)[0].split("[", 1)[0] in _PATH_ROOTS else ""


def permission_error(proto: Definition, payload: dict[str, Any], service: str) -> str | None:
    """Why ``service`` may not send ``payload`` (an EVENT or a CACHE), or None when it may."""
    op = payload.get("op")
    if op == proto.op("EVENT"):
        t = payload.get("t")
        event = proto.events.get(t) if type(t) is str else None
        if event and not event.may_be_sent_by(service):
            allowed = ", ".join(event.sources)
            return f"{event.t} may not be sent by {service} (from: {allowed})"
    elif op == proto.op("CACHE"):
        known = proto.services.get(service)
        if known is not None and not known.cache:
            cachers = ", ".join(s.name for s in proto.services.values() if s.cache) or "no service type"
            return f"CACHE may not be sent by {service} (only {cachers})"
    return None
