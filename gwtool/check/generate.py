"""Payloads generated from the definition's field tables, valid ones and mutants, as Hypothesis
strategies: what ``gwtool check gateway --fuzz`` sends and ``check service --fuzz`` delivers.

A *kind* is one payload a service may send: a heartbeat per service type, IDENTIFY, each event,
each cache type. Its valid payloads come from its table: optional fields present and absent,
nullable ones null, empty and long arrays, any unicode, the 64-bit limits, 1- to 20-digit
snowflakes, long strings within the size limit. A *mutant* breaks exactly one rule of a valid
payload, of one *fault class* (``FAULTS``): every mutant is checked against gwtool's own
validator before it is used, so it breaks that rule at that path and nothing else.

Hypothesis is imported with this module: only ``--fuzz`` loads it (start-up time).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import orjson
from hypothesis import assume
from hypothesis import strategies as st

from gwtool.protocol.definition import Definition, Field, TypeExpr
from gwtool.protocol.validate import error_path, permission_error, validate_payload
from gwtool.session.reasons import INVALID, NOT_ALLOWED

INT_MIN, INT_MAX = -(2**63), 2**64 - 1  # what the protocol's integers span (validate.INT64_RANGE)
INT_BOUNDS = (INT_MIN, INT_MIN + 1, -1, 0, 1, 2**31 - 1, 2**32, 2**63 - 1, 2**63, INT_MAX)
SNOWFLAKE_BOUNDS = ("0", "1", "9", "1" + "0" * 19, "9" * 20)
NOT_SNOWFLAKES = ("", "12a", "-1", " 1", "1 ", "1.5", "1e5", "0x1f", "١٢٣", "１２３")  # Arabic-Indic, fullwidth digits
BAD_TIMESTAMPS = ("", "yesterday", "2020-13-01T00:00:00Z", "2020-02-30T00:00:00Z", "2020-01-01", "01/02/2020 10:00")
BAD_DISCRIMINATORS = ("", "1", "12345", "abcd", "１２３４", "12 4")
MAX_ITEMS = 3  # items of an array of entities (a guild of 3 members of 3 roles …); arrays of scalars may be longer
MAX_SCALAR_ITEMS = 24

# fault class → what it breaks (the case titles say it)
FAULTS = {
    "valid": "valid payloads",
    "missing": "a required field missing",
    "wrong-type": "a field of the wrong JSON type",
    "null": "null where the field is not nullable",
    "int-range": "an integer outside 64 bits",
    "not-snowflake": "a snowflake that is not a string of digits",
    "bad-format": "a string of the wrong form (timestamp, discriminator, choice, service type)",
    "unknown-type": "an unknown event or cache type",
    "not-allowed": "a payload its sender's type may not send",
    "wrong-op": "a wrong op",
}
FIELD_FAULTS = ("missing", "wrong-type", "null", "int-range", "not-snowflake", "bad-format")


@dataclass(frozen=True)
class Kind:
    """One payload a service may send: ``id`` is heartbeat.SERVICE, identify, event.T or cache.TYPE."""

    id: str
    op: str  # the opcode's name
    fields: tuple[Field, ...]  # the table of d (of one entity, for a cache type)
    senders: tuple[str, ...]  # the service types that may send it
    strangers: tuple[str, ...] = ()  # the service types that may not (events and CACHE)
    t: str | None = None  # the event
    cache_type: str | None = None

    @property
    def key(self) -> str | None:
        """What names it in the payload besides op: ``t`` or ``type``."""
        return "t" if self.t is not None else "type" if self.cache_type is not None else None


def kinds(proto: Definition) -> list[Kind]:
    """Every payload a service may send, from the definition."""
    services = tuple(proto.services)
    cachers = tuple(s.name for s in proto.services.values() if s.cache)
    out = [Kind(f"heartbeat.{s}", "HEARTBEAT", proto.heartbeat_fields_for(s), (s,)) for s in services]
    out.append(Kind("identify", "IDENTIFY", proto.identify_fields, services))
    for event in proto.events.values():
        senders = tuple(s for s in services if event.may_be_sent_by(s))
        strangers = tuple(s for s in services if s not in senders)
        out.append(Kind(f"event.{event.t}", "EVENT", event.fields, senders, strangers, t=event.t))
    for name, structure in proto.cache_types.items():
        strangers = tuple(s for s in services if s not in cachers)
        out.append(Kind(f"cache.{name}", "CACHE", structure.fields, cachers, strangers, cache_type=name))
    return out


def fault_closes(fault: str, *, service_field: bool = False) -> tuple[str, ...]:
    """The closes (by name, from the definition's close table) the oracle accepts for a mutant of
    ``fault``; a bad service type may get its own close besides 4010."""
    if fault == "not-allowed":
        return (NOT_ALLOWED,)
    if fault == "wrong-op":
        return ("UNKNOWN_OPCODE",)
    return ("INVALID_SERVICE", INVALID) if service_field else (INVALID,)


@dataclass(frozen=True)
class Expected:
    """The acceptable outcomes of one payload: accepted, or closed with one of ``codes`` (by
    name), the reason naming ``path`` when it is given."""

    closes: tuple[str, ...] = ()
    path: str | None = None  # 4010's reason must name it
    path_closes: tuple[str, ...] = ()  # the closes whose reason must name ``path``
    accepted: bool = False

    def describe(self, proto: Definition) -> str:
        if self.accepted:
            return "accepted"
        parts = []
        for name in self.closes:
            text = f"close {proto.close(name).code} {name}"
            if self.path is not None and name in self.path_closes:
                text += f" naming {self.path}"
            parts.append(text)
        return " or ".join(parts)


@dataclass(frozen=True)
class Example:
    """One generated payload: who sends it, what it breaks (``fault`` and ``path``) and what must come of it."""

    kind: Kind
    fault: str
    sender: str
    payload: dict[str, Any]
    expected: Expected
    path: str | None = None  # the broken field

    def text(self) -> str:
        """The payload as it goes on the wire: compact JSON (integers past 64 bits too)."""
        return wire_text(self.payload)


def wire_text(payload: Any) -> str:
    try:
        return orjson.dumps(payload).decode()
    except orjson.JSONEncodeError:  # an integer past 64 bits: only the standard library writes it
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


# --- valid values ------------------------------------------------------------------------------


class Generator:
    """Strategies for one definition. ``max_size`` bounds the long strings (the gateway's limit)."""

    def __init__(self, proto: Definition, max_size: int = 1 << 20, token: str = ""):
        self.proto, self.token = proto, token
        self.long_text = max(64, max_size // 512)  # a long string: many fit in one payload
        self.max_size = max_size
        self._refs: dict[str, st.SearchStrategy[Any]] = {}
        self._data: dict[tuple[str, str], st.SearchStrategy[Any]] = {}

    def text(self) -> st.SearchStrategy[str]:
        short = st.text(max_size=24)
        long = st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=4), st.integers(1, self.long_text // 4))
        return st.one_of(short, long)

    def integer(self) -> st.SearchStrategy[int]:
        return st.one_of(st.integers(-1000, 1000), st.sampled_from(INT_BOUNDS), st.integers(INT_MIN, INT_MAX))

    def snowflake(self) -> st.SearchStrategy[str]:
        return st.one_of(st.from_regex(r"[0-9]{1,20}", fullmatch=True), st.sampled_from(SNOWFLAKE_BOUNDS))

    def scalar(self, name: str) -> st.SearchStrategy[Any]:
        if name == "string":
            return self.text()
        if name == "integer":
            return self.integer()
        if name == "boolean":
            return st.booleans()
        if name == "snowflake":
            return self.snowflake()
        if name == "discriminator":
            return st.from_regex(r"[0-9]{4}", fullmatch=True)
        if name == "timestamp":
            return st.builds(
                _timestamp, st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30)), st.sampled_from(["Z", "+00:00", ""])
            )
        if name == "service":
            return st.sampled_from(tuple(self.proto.services))
        if name == "object":
            return st.dictionaries(st.text(max_size=8), _json_scalars(), max_size=3)
        return _json_values()  # any

    def value(self, expr: TypeExpr, force: tuple[str, ...] = ()) -> st.SearchStrategy[Any]:
        """Values of ``expr``; ``force`` is a path below it that must be there (``("[]", "id")``:
        a non-empty array whose items have an id), for a mutant that breaks it."""
        if expr.kind == "scalar":
            return self.scalar(expr.name)
        if expr.kind == "choice":
            return st.sampled_from(expr.choices)
        if expr.kind == "nullable":
            return self.value(expr.of, force) if force else st.one_of(st.none(), self.value(expr.of))
        if expr.kind == "array":
            item = expr.of
            most = MAX_SCALAR_ITEMS if item.kind in ("scalar", "choice") else MAX_ITEMS
            if force[:1] == ("[]",):
                return st.lists(self.value(item, force[1:]), min_size=1, max_size=most)
            return st.lists(self.value(item), max_size=most)
        structure = self.proto.structures[expr.name]
        if force:
            return self.table(structure.fields, force)
        if expr.name not in self._refs:  # perhaps a structure that contains itself
            self._refs[expr.name] = st.deferred(lambda: self.table(structure.fields))
        return self._refs[expr.name]

    def table(self, fields: tuple[Field, ...], force: tuple[str, ...] = ()) -> st.SearchStrategy[dict[str, Any]]:
        """Objects of a field table: dotted fields fill the object field they belong to."""
        depth = fields[0].path.count(".") if fields else 0
        required: dict[str, st.SearchStrategy[Any]] = {}
        optional: dict[str, st.SearchStrategy[Any]] = {}
        for f in fields:
            if f.path.count(".") != depth:
                continue
            below = force[1:] if force[:1] == (f.name,) else ()
            children = tuple(g for g in fields if g.path.startswith(f.path + "."))
            value = self.table(children, below) if children else self.value(f.type, below)
            if children and f.type.kind == "nullable" and not below:
                value = st.one_of(st.none(), value)
            (optional if f.optional and force[:1] != (f.name,) else required)[f.name] = value
        return st.fixed_dictionaries(required, optional=optional)

    def data(self, kind: Kind, target: str = "") -> st.SearchStrategy[Any]:
        """A kind's d, with the field ``target`` (a schema path: ``roles[].id``) surely in it."""
        key = (kind.id, target)
        if key not in self._data:
            force = tuple(re.findall(r"\[\]|[^.\[\]]+", target))
            entity = self.table(kind.fields, force)
            if kind.cache_type is not None:
                entity = st.one_of(entity, st.lists(entity, min_size=1, max_size=MAX_ITEMS))
            self._data[key] = entity
        return self._data[key]

    def payload(self, kind: Kind, d: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {"op": self.proto.op(kind.op)}
        if kind.t is not None:
            payload["t"] = kind.t
        if kind.cache_type is not None:
            payload["type"] = kind.cache_type
        if kind.op == "IDENTIFY" and isinstance(d, dict):
            d[self.proto.roles.identify_token] = self.token  # the gateway's, or it answers 4004 instead
        payload["d"] = d
        return payload

    # --- examples of each fault class ---------------------------------------------------------

    def examples(self, kind: Kind, fault: str, target: Target = ("", None)) -> st.SearchStrategy[Example]:
        """The examples of one group (``fuzz.<kind>.<fault>``) that break ``target`` (``targets``)."""
        return st.composite(lambda draw: self._draw(draw, kind, fault, target))()

    def _draw(self, draw: Callable[[st.SearchStrategy[Any]], Any], kind: Kind, fault: str, target: Target) -> Example:
        senders = kind.strangers if fault == "not-allowed" else kind.senders
        sender = draw(st.sampled_from(senders))
        payload = self.payload(kind, draw(self.data(kind, target[0])))
        assume(len(wire_text(payload)) <= self.max_size - 1024)
        if fault == "valid":
            assume(not validate_payload(self.proto, payload, service=sender))  # a table the generator misread fails here
            return Example(kind, fault, sender, payload, Expected(accepted=True))
        if fault == "not-allowed":
            assume(permission_error(self.proto, payload, sender) is not None)
            named_closes = (NOT_ALLOWED,) if kind.t is not None else ()  # 4007 for an event names it
            return Example(kind, fault, sender, payload, Expected(fault_closes(fault), kind.t, named_closes), kind.key)
        if fault == "wrong-op":
            payload["op"] = draw(self._wrong_op())
            assume(any(error_path(e) == "op" for e in validate_payload(self.proto, payload, service=sender)))
            return Example(kind, fault, sender, payload, Expected(closes=fault_closes(fault)), "op")
        if fault == "unknown-type":
            known = self.proto.events if kind.t is not None else self.proto.cache_types
            key = kind.key or "t"
            payload[key] = draw(st.text(min_size=1, max_size=24).filter(lambda s: s not in known))
            return self._checked(payload, sender, kind, fault, key, Expected(fault_closes(fault), key, (INVALID,)))
        sites = [
            s for s in _sites(self.proto, payload["d"], kind.fields) if _applies(s, fault) and schema_path(s.path) == target[0]
        ]
        assume(sites)
        site = draw(st.sampled_from(sites))
        if fault == "missing":
            del site.container[site.key]
        else:
            site.container[site.key] = draw(self._bad_value(site.type, fault, target[1]))
        service_field = fault == "bad-format" and _base(site.type).name == "service"
        expected = Expected(fault_closes(fault, service_field=service_field), site.path, (INVALID,))
        return self._checked(payload, sender, kind, fault, site.path, expected)

    def _checked(self, payload: dict[str, Any], sender: str, kind: Kind, fault: str, path: str, expected: Expected) -> Example:
        """The mutant, if gwtool's validator finds exactly the one fault at ``path`` in it."""
        errors = validate_payload(self.proto, orjson.loads(wire_text(payload)), service=sender)  # as a gateway reads it
        assume(errors and all(error_path(e) == path for e in errors))
        return Example(kind, fault, sender, payload, expected, path)

    def _wrong_op(self) -> st.SearchStrategy[Any]:
        service_ops = {o.code for o in self.proto.opcodes.values() if "service" in o.sent_by}
        gateway_only = sorted(o.code for o in self.proto.opcodes.values() if "service" not in o.sent_by)
        return st.one_of(
            st.sampled_from(gateway_only) if gateway_only else st.nothing(),
            st.integers(-(2**70), 2**70).filter(lambda n: n not in service_ops),
            st.sampled_from([None, "1", True, 0.5, [], {}]),
        )

    def _bad_value(self, expr: TypeExpr, fault: str, json_type: str | None) -> st.SearchStrategy[Any]:
        base = _base(expr)
        if fault == "null":
            return st.none()
        if fault == "int-range":
            return st.one_of(st.integers(min_value=INT_MAX + 1), st.integers(max_value=INT_MIN - 1))
        if fault == "not-snowflake":
            return st.one_of(
                st.sampled_from(NOT_SNOWFLAKES), st.text(max_size=20).filter(lambda s: not (s.isascii() and s.isdigit()))
            )
        if fault == "bad-format":
            if base.kind == "choice":
                return st.text(max_size=12).filter(lambda s: s not in base.choices)
            if base.name == "service":
                return st.text(max_size=24).filter(lambda s: s not in self.proto.services)
            bad = BAD_TIMESTAMPS if base.name == "timestamp" else BAD_DISCRIMINATORS
            return st.one_of(st.sampled_from(bad), st.text(max_size=24))  # the validator check drops good ones
        return _OTHER_JSON[json_type or next(t for t in _OTHER_JSON if t not in _json_types(base))]


def _timestamp(moment: datetime, zone: str) -> str:
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}{zone}"


def _json_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.booleans(), st.integers(INT_MIN, INT_MAX), st.text(max_size=12))


def _json_values() -> st.SearchStrategy[Any]:
    return st.recursive(
        _json_scalars(), lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
        max_leaves=6,
    )  # fmt: skip


# a value of each JSON type, for a field that takes another
_OTHER_JSON: dict[str, st.SearchStrategy[Any]] = {
    "string": st.text(max_size=12),
    "integer": st.integers(-1000, 1000),
    "boolean": st.booleans(),
    "number": st.sampled_from([0.5, -1.25, 1e-3]),  # never a whole number: 1.0 is an integer to some readers
    "object": st.dictionaries(st.text(max_size=4), st.integers(0, 9), max_size=2),
    "array": st.lists(st.integers(0, 9), max_size=2),
}


def _json_types(expr: TypeExpr) -> set[str]:
    """The JSON types a (non-null) value of ``expr`` may have."""
    if expr.kind == "choice" or (
        expr.kind == "scalar" and expr.name in ("string", "snowflake", "discriminator", "timestamp", "service")
    ):
        return {"string"}
    if expr.kind == "array":
        return {"array"}
    if expr.kind == "ref" or expr.name == "object":
        return {"object"}
    if expr.name == "any":
        return set(_OTHER_JSON)
    return {expr.name}  # integer, boolean


def _base(expr: TypeExpr) -> TypeExpr:
    return expr.of if expr.kind == "nullable" else expr


# --- where a value can be broken ------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """A place in a payload's d: ``container[key]`` at JSON path ``path``, of type ``type``."""

    path: str
    container: Any  # the dict or list holding it
    key: Any
    type: TypeExpr
    required: bool  # a field that must be present (array items are not fields)
    is_table: bool = False  # an object field with its own dotted fields


def _sites(proto: Definition, d: Any, fields: tuple[Field, ...]) -> list[Site]:
    out: list[Site] = []
    if isinstance(d, list):  # a CACHE of an array of entities
        for i, item in enumerate(d):
            out += _table_sites(proto, item, fields, f"d[{i}]")
    else:
        out += _table_sites(proto, d, fields, "d")
    return out


def _table_sites(proto: Definition, value: Any, fields: tuple[Field, ...], path: str) -> list[Site]:
    if not isinstance(value, dict):
        return []
    depth = fields[0].path.count(".") if fields else 0
    out: list[Site] = []
    for f in fields:
        if f.path.count(".") != depth or f.name not in value:
            continue
        here = f"{path}.{f.name}"
        children = tuple(g for g in fields if g.path.startswith(f.path + "."))
        out.append(Site(here, value, f.name, f.type, not f.optional, bool(children)))
        if children:
            out += _table_sites(proto, value[f.name], children, here)
        else:
            out += _type_sites(proto, value[f.name], f.type, here)
    return out


def _type_sites(proto: Definition, value: Any, expr: TypeExpr, path: str) -> list[Site]:
    if expr.kind == "nullable":
        return [] if value is None else _type_sites(proto, value, expr.of, path)
    if expr.kind == "array" and isinstance(value, list):
        out: list[Site] = []
        for i, item in enumerate(value):
            out.append(Site(f"{path}[{i}]", value, i, expr.of, False))
            out += _type_sites(proto, item, expr.of, f"{path}[{i}]")
        return out
    if expr.kind == "ref":
        return _table_sites(proto, value, proto.structures[expr.name].fields, path)
    return []


def _applies(site: Site, fault: str) -> bool:
    base = _base(site.type)
    if fault == "missing":
        return site.required
    if base.kind == "scalar" and base.name == "any":
        return False
    if fault == "wrong-type":
        return True
    if fault == "null":
        return site.type.kind != "nullable"
    if fault == "int-range":
        return base.name == "integer" and not site.is_table
    if fault == "not-snowflake":
        return base.name == "snowflake"
    if fault == "bad-format":
        return base.kind == "choice" or base.name in ("timestamp", "discriminator", "service")
    return False


def faults(proto: Definition, kind: Kind) -> list[str]:
    """The fault classes that can break ``kind``, judged from its table (refs followed once)."""
    out = []
    if kind.senders:
        out.append("valid")
        out += [fault for fault in FIELD_FAULTS if targets(proto, kind, fault)]
        if kind.key is not None:
            out.append("unknown-type")
    if kind.strangers:
        out.append("not-allowed")
    if kind.senders:
        out.append("wrong-op")
    return out


Target = tuple[str, str | None]  # (a schema path such as roles[].id, or "": the payload; the wrong JSON type)


def schema_path(path: str) -> str:
    """``d.members[2].user.id`` → ``members[].user.id``: where a field is in its table."""
    return re.sub(r"\[\d+\]", "[]", re.sub(r"^d(\[\d+\])?\.?", "", path))


def targets(proto: Definition, kind: Kind, fault: str) -> list[Target]:
    """What a group's examples break, one search each: every field the fault applies to (and,
    for wrong-type, each JSON type it does not take, every field's first type before any's second)."""
    if fault not in FIELD_FAULTS:
        return [("", None)]
    paths = [(path, expr) for path, expr, required, table in _schema_sites(proto, kind.fields, "", frozenset())
             if _applies(Site(path, None, None, expr, required, table), fault)]  # fmt: skip
    if fault != "wrong-type":
        return [(path, None) for path, _ in paths]
    others = [(path, [t for t in _OTHER_JSON if t not in _json_types(_base(expr))]) for path, expr in paths]
    return [(path, kinds[rank]) for rank in range(len(_OTHER_JSON)) for path, kinds in others if rank < len(kinds)]


def _schema_sites(
    proto: Definition, fields: tuple[Field, ...], prefix: str, seen: frozenset[str]
) -> Iterator[tuple[str, TypeExpr, bool, bool]]:
    """(schema path, type, required, has dotted fields) of every field and array item below ``fields``."""
    depth = fields[0].path.count(".") if fields else 0
    for f in fields:
        if f.path.count(".") != depth:
            continue
        path = prefix + f.name
        children = tuple(g for g in fields if g.path.startswith(f.path + "."))
        yield path, f.type, not f.optional, bool(children)
        if children:
            yield from _schema_sites(proto, children, path + ".", seen)
        else:
            yield from _schema_type_sites(proto, f.type, path, seen)


def _schema_type_sites(
    proto: Definition, expr: TypeExpr, path: str, seen: frozenset[str]
) -> Iterator[tuple[str, TypeExpr, bool, bool]]:
    if expr.kind == "nullable":
        yield from _schema_type_sites(proto, expr.of, path, seen)
    elif expr.kind == "array":
        yield path + "[]", expr.of, False, False
        yield from _schema_type_sites(proto, expr.of, path + "[]", seen)
    elif expr.kind == "ref" and expr.name not in seen:
        yield from _schema_sites(proto, proto.structures[expr.name].fields, path + ".", seen | {expr.name})


def groups(proto: Definition) -> list[tuple[Kind, str]]:
    """Every (kind, fault class) of the definition: a case ``fuzz.<kind>.<fault>`` each."""
    return [(kind, fault) for kind in kinds(proto) for fault in faults(proto, kind)]


def shares(total: int, count: int) -> list[int]:
    """``total`` spread over ``count``: the first ones get one more when it does not divide (and
    the last none when ``total`` < ``count``)."""
    return [total // count + (i < total % count) for i in range(count)]


# --- what a person runs to see it again ----------------------------------------------------------


def reproducer(example: Example, url: str, token_given: bool) -> str:
    """A command line that sends exactly this payload (``gwtool send`` / ``gwtool cache``), or one
    that shows what gwtool's validator says of it (``gwtool validate``) when no command sends it."""
    import shlex

    payload, kind = example.payload, example.kind
    d_text = json.dumps(payload.get("d"), ensure_ascii=True, separators=(",", ":"))  # ASCII: safe to print and paste
    try:  # what `--data` reads is what goes on the wire (an integer past 64 bits is read as a double)
        exact = "d" in payload and orjson.dumps(orjson.loads(d_text)) == orjson.dumps(payload["d"])
    except orjson.JSONEncodeError:
        exact = False
    known = (kind.t is not None and payload.get("t") == kind.t) or (
        kind.cache_type is not None and payload.get("type") == kind.cache_type
    )
    token = ' --token "$GWTOOL_TOKEN"' if token_given else ""
    if exact and example.fault != "wrong-op" and known and set(payload) <= {"op", "t", "type", "d"}:
        command = "send" if kind.t is not None else "cache"
        name = kind.t if kind.t is not None else kind.cache_type
        force = " --force" if example.fault == "not-allowed" else ""
        return f"gwtool {command} {name} --url {shlex.quote(url)} --as {shlex.quote(example.sender)}{token} --no-validate{force} --data {shlex.quote(d_text)}"
    text = json.dumps(payload, ensure_ascii=True, separators=(",", ":"))
    # printf, not echo: sh's and zsh's echo interpret the backslashes of the JSON's escapes
    return f"printf '%s\\n' {shlex.quote(text)} | gwtool validate - --as {shlex.quote(example.sender)}"


def rest_path(cache_type: str, entity: dict[str, Any], key: tuple[str, ...]) -> str:
    return f"/cache/{cache_type}/" + "/".join(quote(str(entity.get(k)), safe="") for k in key)


def named(reason: str, path: str) -> bool:
    """Whether a close reason names the JSON path ``path`` (as a whole path, not a part of a longer one)."""
    return re.search(r"(?:^|[\s;,(])" + re.escape(path) + r"(?=[:\s;,)]|$)", reason) is not None


# --- running a search --------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """What one group's search came to: how many examples ran, and the smallest failing one."""

    tried: int
    failure: Example | None = None
    got: str = ""  # what came of the failing example
    flaky: bool = False  # the failure did not happen again when re-run


class _Refuted(Exception):
    """An example's outcome was not among the acceptable ones (Hypothesis shrinks it)."""


def search(strategy: st.SearchStrategy[Example], budget: int, seed: int, judge: Callable[[Example], str | None]) -> Found:
    """Run ``judge`` (None: as expected; else what came instead) on up to ``budget`` examples drawn
    with ``seed``; a failure is shrunk to the smallest example that still fails. Blocking: call it
    in a thread when ``judge`` waits on the network. No example database is written."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as with_seed
    from hypothesis.errors import Flaky, Unsatisfiable

    tried = 0
    last: tuple[Example, str] | None = None

    @settings(
        max_examples=budget, database=None, deadline=None, phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, report_multiple_bugs=False,
    )  # fmt: skip
    @with_seed(seed)
    @given(strategy)
    def run(example: Example) -> None:
        nonlocal tried, last
        tried += 1
        got = judge(example)
        if got is not None:
            last = (example, got)
            raise _Refuted(got)

    try:
        run()
    except _Refuted:
        assert last is not None
        return Found(tried, last[0], last[1])
    except (Flaky, Unsatisfiable) as exc:  # a failure that did not happen again; too few examples drawn
        if last is not None:
            return Found(tried, last[0], last[1], flaky=isinstance(exc, Flaky))
    return Found(tried)


def warm_up(generator: Generator) -> None:
    """Draw one example of each kind and each fault class on this thread, before searches run in
    threads of their own: what Hypothesis does once per process (import a strategy's module, read
    constants from the loaded modules' source) is then done, once. CPython 3.11's ``ast`` may
    fail (SystemError) when two threads parse at once, and an import hook may parse."""
    proto, seen = generator.proto, set()
    for kind, fault in groups(proto):
        if kind.id in seen and fault in seen:
            continue
        seen |= {kind.id, fault}
        search(generator.examples(kind, fault, targets(proto, kind, fault)[0]), 1, 0, lambda _: None)
    many_integers: Any = st.lists(st.integers(), min_size=200, max_size=200)  # one draws a constant
    search(many_integers, 1, 0, lambda _: None)


def sample(strategy: st.SearchStrategy[Example], budget: int, seed: int) -> list[Example]:
    """The examples ``search`` would try with this seed when every one passes, in order."""
    seen: list[Example] = []
    search(strategy, budget, seed, lambda example: seen.append(example))
    return seen
