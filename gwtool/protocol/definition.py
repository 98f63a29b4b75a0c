"""Load the protocol definition (default.toml, merged with a user's file) into frozen objects.

Everything gwtool knows about opcodes, services, events, cache types and close codes comes from
here. Code refers to opcodes and close codes by name (``proto.op("HEARTBEAT")``); the numbers,
services, events and field tables are data.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gwtool.errors import ProtocolDefinitionError

if TYPE_CHECKING:
    from gwtool.protocol.validate import Checks

ENV_VAR = "GWTOOL_PROTOCOL"
SCALARS = ("string", "integer", "boolean", "snowflake", "timestamp", "discriminator", "object", "any", "service")
OPCODE_NAMES = ("HEARTBEAT", "EVENT", "HELLO", "HEARTBEAT_ACK", "IDENTIFY", "CACHE")
CLOSE_NAMES = (
    "UNKNOWN_ERROR", "UNKNOWN_OPCODE", "DECODE_ERROR", "NOT_IDENTIFIED", "AUTHENTICATION_FAILED",
    "ALREADY_IDENTIFIED", "INVALID_SERVICE", "EVENT_NOT_ALLOWED", "RATE_LIMITED", "HEARTBEAT_TIMEOUT",
    "INVALID_PAYLOAD", "MESSAGE_TOO_BIG",
)  # fmt: skip
ROUTINGS = ("round_robin", "broadcast", "identified")
# the keys each table may hold: anything else is a typo that would otherwise be silently ignored
SECTIONS = (
    "heartbeat", "hello", "identify", "roles", "opcodes", "services", "events", "cache_types", "structures", "close_codes",
)  # fmt: skip
KEYS = {
    "heartbeat": ("timeout_factor", "default_interval_ms", "fields"),
    "hello": ("fields",),
    "identify": ("fields",),
    "opcodes": ("code", "sent_by", "doc"),
    "services": ("doc", "shards", "cache", "heartbeat"),
    "events": ("name", "from", "to", "routing", "doc", "example", "fields"),
    "cache_types": ("key", "nested", "doc", "example", "fields"),
    "structures": ("key", "nested", "doc", "example", "fields"),
    "close_codes": ("code", "reconnect", "doc"),
    "field": ("type", "doc", "example"),
    "roles": (
        "hello_interval", "identify_service", "identify_token", "identify_compress", "heartbeat_memory",
        "identified_shards", "identified_max_shards",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Roles:
    """The field names behind the meanings gwtool's code relies on (the definition's [roles])."""

    hello_interval: str = "heartbeatInterval"
    identify_service: str = "type"
    identify_token: str = "token"
    identify_compress: str = "compress"
    heartbeat_memory: str = "heapUsed"
    identified_shards: str = "shards"
    identified_max_shards: str = "maxShards"


NOBODY, EVERYONE = "none", "all"


# --- types of fields -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TypeExpr:
    """A parsed field type: ``kind`` is scalar, ref (a structure), array, nullable or choice."""

    kind: str
    name: str = ""  # scalar or structure name
    item: TypeExpr | None = None  # array item / nullable inner type
    choices: tuple[str, ...] = ()

    @property
    def of(self) -> TypeExpr:
        """The item type of an array, or the type inside a nullable."""
        if self.item is None:
            raise ValueError(f"a {self.kind} type has no item type")
        return self.item

    def __str__(self) -> str:
        if self.kind == "array":
            return f"{self.item}[]"
        if self.kind == "nullable":
            return f"{self.item}?"
        if self.kind == "choice":
            return " | ".join(f'"{c}"' for c in self.choices)
        return self.name


def parse_type(text: str) -> TypeExpr:
    """Parse ``snowflake[]``, ``string?``, ``"role" | "member"``, ``user`` … (names unchecked)."""
    text = text.strip()
    if text.endswith("?"):
        return TypeExpr("nullable", item=parse_type(text[:-1]))
    if text.endswith("[]"):
        return TypeExpr("array", item=parse_type(text[:-2]))
    if text.startswith('"'):
        choices = tuple(part.strip().strip('"') for part in text.split("|"))
        if not all(choices):
            raise ValueError(f"bad choice list {text!r}")
        return TypeExpr("choice", choices=choices)
    if not text.replace("_", "").isalnum():
        raise ValueError(f"bad type {text!r}")
    return TypeExpr("scalar" if text in SCALARS else "ref", name=text)


@dataclass(frozen=True, slots=True)
class Field:
    """One row of a field table. ``path`` is dotted for fields of an object field (``ids.shard``)."""

    path: str
    type: TypeExpr
    optional: bool = False
    doc: str = ""
    example: Any = None

    @property
    def name(self) -> str:
        return self.path.rpartition(".")[2]

    @property
    def parent(self) -> str:
        return self.path.rpartition(".")[0]


# --- the tables --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Opcode:
    name: str
    code: int
    sent_by: tuple[str, ...]  # "service" and/or "gateway"
    doc: str = ""


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    doc: str = ""
    shards: bool = False  # gets a block of shard ids in IDENTIFIED
    cache: bool = False  # may send CACHE payloads
    heartbeat_fields: tuple[Field, ...] = ()  # besides the common heartbeat fields


@dataclass(frozen=True, slots=True)
class Event:
    t: str
    name: str
    sources: tuple[str, ...]  # the table's From: service types, or "none"
    targets: tuple[str, ...]  # the table's To: service types, or "all"
    routing: str
    fields: tuple[Field, ...]
    doc: str = ""
    example: Any = None

    def may_be_sent_by(self, service: str) -> bool:
        return service in self.sources or EVERYONE in self.sources

    def is_received_by(self, service: str) -> bool:
        return service in self.targets or EVERYONE in self.targets


@dataclass(frozen=True, slots=True)
class Structure:
    """An entity type: a cache type (has a key) or a structure used only inside others."""

    name: str
    fields: tuple[Field, ...]
    key: tuple[str, ...] = ()
    nested: tuple[str, ...] = ()  # array fields whose items are cached under their own type
    doc: str = ""
    example: Any = None

    @property
    def cacheable(self) -> bool:
        return bool(self.key)


@dataclass(frozen=True, slots=True)
class CloseCode:
    name: str
    code: int
    reconnect: bool
    doc: str = ""


# RFC 6455 §7.4.1 (and the IANA registry's 1012–1014): the websocket's own close codes, by name.
RFC6455_CLOSE_NAMES = {
    1000: "NORMAL", 1001: "GOING_AWAY", 1002: "PROTOCOL_ERROR", 1003: "UNSUPPORTED_DATA",
    1005: "NO_STATUS", 1006: "ABNORMAL", 1007: "INVALID_DATA", 1008: "POLICY_VIOLATION",
    1009: "MESSAGE_TOO_BIG", 1010: "MANDATORY_EXTENSION", 1011: "INTERNAL_ERROR",
    1012: "SERVICE_RESTART", 1013: "TRY_AGAIN_LATER", 1014: "BAD_GATEWAY", 1015: "TLS_HANDSHAKE",
}  # fmt: skip
# Closes that come from the websocket layer (websockets, RFC 6455) rather than the protocol's table.
WEBSOCKET_CLOSES = (
    (1002, "a frame that breaks RFC 6455 (bad opcode, bad masking, a control frame over 125 bytes …)"),
    (1007, "a text frame that is not valid UTF-8"),
    (1009, "a payload over the gateway's size limit (--max-size), or a message sent in more fragments than"
           " websockets accepts (reason: too many fragments)"),
)  # fmt: skip


@dataclass(frozen=True)
class Definition:
    """The active protocol: default.toml merged with any user file. Immutable."""

    opcodes: Mapping[str, Opcode]
    services: Mapping[str, Service]
    events: Mapping[str, Event]
    structures: Mapping[str, Structure]
    close_codes: Mapping[str, CloseCode]
    heartbeat_fields: tuple[Field, ...]
    hello_fields: tuple[Field, ...]
    identify_fields: tuple[Field, ...]
    heartbeat_timeout_factor: float = 1.5
    default_interval_ms: int = 30000
    roles: Roles = field(default_factory=Roles)
    sources: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    # lookups by name and by number
    def op(self, name: str) -> int:
        return self.opcodes[name].code

    def close(self, name: str) -> CloseCode:
        return self.close_codes[name]

    def unknown_service_text(self, name: str) -> str:
        """``unknown service type 'music' (known: sharder, commands)``: how gwtool refuses a service type
        the definition does not have (each caller adds its own prefix and exception)."""
        return f"unknown service type {name!r} (known: {', '.join(self.services)})"

    @cached_property
    def opcode_by_code(self) -> dict[int, Opcode]:
        return {o.code: o for o in self.opcodes.values()}

    @cached_property
    def close_by_code(self) -> dict[int, CloseCode]:
        return {c.code: c for c in self.close_codes.values()}

    @cached_property
    def cache_types(self) -> dict[str, Structure]:
        return {n: s for n, s in self.structures.items() if s.cacheable}

    def op_name(self, code: Any) -> str:
        """The opcode's name; for anything else from the wire, what it was, as JSON and short."""
        opcode = self.opcode_by_code.get(code) if type(code) is int else None
        if opcode is not None:
            return opcode.name
        return "no op" if code is None else f"op {shown_value(code)}"

    def close_name(self, code: int | None) -> str:
        known = self.close_by_code.get(code) if code is not None else None
        return known.name if known else RFC6455_CLOSE_NAMES.get(code, "")  # type: ignore[arg-type]

    # who may do what
    def events_sendable_by(self, service: str) -> list[Event]:
        return [e for e in self.events.values() if e.may_be_sent_by(service)]

    def first_sender(self, t: str) -> str | None:
        """The first service type allowed to send event ``t`` (the CLI's default ``--as``)."""
        return next((s for s in self.services if self.events[t].may_be_sent_by(s)), None)

    def first_receiver(self) -> str:
        """The first service type that routed events go to: the dashboard's default ``--as``."""
        routed = (e for e in self.events.values() if e.routing != "identified")
        targets = (t for e in routed for t in e.targets if t in self.services)
        return next(targets, next(iter(self.services)))

    def first_cacher(self) -> str | None:
        return next((s.name for s in self.services.values() if s.cache), None)

    def event_with_routing(self, routing: str) -> Event | None:
        return next((e for e in self.events.values() if e.routing == routing), None)

    def heartbeat_fields_for(self, service: str | None) -> tuple[Field, ...]:
        extra = self.services[service].heartbeat_fields if service is not None and service in self.services else ()
        return self.heartbeat_fields + extra

    def as_definition(self) -> dict[str, Any]:
        """This protocol in the definition file format: JSON-ready, and loadable back as a --protocol file."""
        return _as_definition(self)

    @cached_property
    def checks(self) -> Checks:  # compiled lazily, see validate.py
        from gwtool.protocol.validate import compile_checks

        return compile_checks(self)


# --- dumping (the inverse of loading) ---------------------------------------------------------


_KINDS = {str: "string", int: "integer", float: "float", bool: "boolean", list: "array", dict: "table", type(None): "null"}


def _kind(kind: type) -> str:
    """A definition value's type in TOML's words (a JSON file's object is a table here too)."""
    return _KINDS.get(kind, kind.__name__)


def shown_value(value: Any, limit: int = 24) -> str:
    """A decoded JSON value in a message: a string quoted as names are ('x'), anything else as
    JSON (null, true, [1]), cut at ``limit`` characters (a value from the wire can be huge)."""
    import orjson

    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = orjson.dumps(value).decode()
        except TypeError:
            text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _field_table(fields: tuple[Field, ...]) -> dict[str, Any]:
    out = {}
    for f in fields:
        spec: dict[str, Any] = {"type": str(f.type), "doc": f.doc}
        if f.example is not None:
            spec["example"] = f.example
        out[f.path + ("?" if f.optional else "")] = spec
    return out


def _with_example(spec: dict[str, Any], example: Any) -> dict[str, Any]:
    if example is not None:  # a bare string would be read back as JSON text, so it goes as JSON text
        spec["example"] = example if not isinstance(example, str) else _json_text(example)
    return spec


def _json_text(value: Any) -> str:
    import orjson

    return orjson.dumps(value).decode()


def _as_definition(proto: Definition) -> dict[str, Any]:
    structures = {n: s for n, s in proto.structures.items() if not s.cacheable}

    def structure(s: Structure) -> dict[str, Any]:
        spec: dict[str, Any] = {"doc": s.doc}
        if s.key:
            spec["key"] = list(s.key)
        if s.nested:
            spec["nested"] = list(s.nested)
        return _with_example(spec, s.example) | {"fields": _field_table(s.fields)}

    return {
        "heartbeat": {
            "timeout_factor": proto.heartbeat_timeout_factor,
            "default_interval_ms": proto.default_interval_ms,
            "fields": _field_table(proto.heartbeat_fields),
        },
        "hello": {"fields": _field_table(proto.hello_fields)},
        "identify": {"fields": _field_table(proto.identify_fields)},
        "opcodes": {n: {"code": o.code, "sent_by": list(o.sent_by), "doc": o.doc} for n, o in proto.opcodes.items()},
        "services": {
            n: {"doc": s.doc, "shards": s.shards, "cache": s.cache, "heartbeat": _field_table(s.heartbeat_fields)}
            for n, s in proto.services.items()
        },
        "events": {
            t: _with_example(
                {"name": e.name, "from": list(e.sources), "to": list(e.targets), "routing": e.routing, "doc": e.doc},
                e.example,
            )
            | {"fields": _field_table(e.fields)}
            for t, e in proto.events.items()
        },
        "cache_types": {n: structure(s) for n, s in proto.cache_types.items()},
        "structures": {n: structure(s) for n, s in structures.items()},
        "close_codes": {n: {"code": c.code, "reconnect": c.reconnect, "doc": c.doc} for n, c in proto.close_codes.items()},
        "roles": {role: f"{role.partition('_')[0]}.{name}" for role, name in vars(proto.roles).items()},
    }


# --- loading -----------------------------------------------------------------------------------


def load_protocol(path: str | os.PathLike[str] | None = None, *, use_env: bool = True) -> Definition:
    """The default definition, merged with ``path`` (or $GWTOOL_PROTOCOL) when given."""
    data = _read_default()
    origins: dict[str, str] = {}
    sources = ["default"]
    user_path = path or (os.environ.get(ENV_VAR) if use_env else None)
    if user_path:
        user = _read_file(Path(user_path))
        _merge(data, user, origins, str(user_path), "")
        sources.append(str(user_path))
    return _Builder(data, origins).build(tuple(sources))


_DEFAULT_CACHE: dict[str, Any] = {}


def _read_default() -> dict[str, Any]:
    if not _DEFAULT_CACHE:
        text = resources.files("gwtool.protocol").joinpath("default.toml").read_text("utf-8")
        _DEFAULT_CACHE.update(tomllib.loads(text))
    copy: dict[str, Any] = _deep_copy(_DEFAULT_CACHE)
    return copy


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ProtocolDefinitionError(f"{path}: cannot read protocol file: {exc.strerror or exc}") from None
    try:
        if path.suffix.lower() == ".json":
            import orjson

            data = orjson.loads(text)
        else:
            data = tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        raise ProtocolDefinitionError(f"{path}: not valid {kind}: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolDefinitionError(f"{path}: expected a table of protocol sections at the top level")
    return data


def _merge(base: dict[str, Any], over: dict[str, Any], origins: dict[str, str], source: str, prefix: str) -> None:
    """Merge ``over`` into ``base`` table by table; remember which file set each key."""
    for key, value in over.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value, origins, source, path)
        else:
            base[key] = value
            origins[path] = source


class _Builder:
    """Turns the merged tables into objects, naming file and key on every problem."""

    def __init__(self, data: dict[str, Any], origins: dict[str, str]):
        self.data = data
        self.origins = origins

    def fail(self, key: str, problem: str) -> ProtocolDefinitionError:
        source = "default protocol (gwtool/protocol/default.toml)"
        probe = key
        while probe:
            if probe in self.origins:
                source = self.origins[probe]
                break
            probe = probe.rpartition(".")[0]
        return ProtocolDefinitionError(f"{source}: {key}: {problem}")

    # helpers that read one value with a check
    def table(self, key: str, value: Any, allowed: tuple[str, ...] | None = None) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table, got {_kind(type(value))}")
        if allowed is not None and (unknown := [k for k in value if k not in allowed]):
            raise self.fail(f"{key}.{unknown[0]}" if key else unknown[0], f"unknown key (expected one of: {', '.join(allowed)})")
        return value

    def get(self, key: str, table: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if name not in table:
            if default is ...:
                raise self.fail(f"{key}.{name}", "missing")
            return default
        value = table[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            want = _kind(kind) if isinstance(kind, type) else " or ".join(_kind(k) for k in kind)
            raise self.fail(f"{key}.{name}", f"expected {want}, got {_kind(type(value))}")
        return value

    def names(self, key: str, table: dict[str, Any], name: str, default: Any = ...) -> tuple[str, ...]:
        value = self.get(key, table, name, list, default)
        if not all(isinstance(v, str) for v in value):
            raise self.fail(f"{key}.{name}", "expected a list of strings")
        return tuple(value)

    def example(self, key: str, spec: dict[str, Any]) -> Any:
        """Examples are JSON text (TOML has no null); a JSON file may give the value itself."""
        value = spec.get("example")
        if not isinstance(value, str):
            return value
        import orjson

        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise self.fail(f"{key}.example", f"not valid JSON: {exc.msg} at char {exc.pos}") from None

    def fields(self, key: str, value: Any) -> tuple[Field, ...]:
        rows = []
        for raw_name, spec in self.table(key, value).items():
            row_key = f"{key}.{raw_name}"
            if isinstance(spec, str):
                spec = {"type": spec}
            spec = self.table(row_key, spec, KEYS["field"])
            type_text = self.get(row_key, spec, "type", str)
            try:
                type_expr = parse_type(type_text)
            except ValueError as exc:
                raise self.fail(f"{row_key}.type", str(exc)) from None
            optional = raw_name.endswith("?")
            rows.append(Field(raw_name.rstrip("?"), type_expr, optional, spec.get("doc", ""), spec.get("example")))
        known = {f.path for f in rows}
        for f in rows:
            if f.parent and f.parent not in known:
                raise self.fail(f"{key}.{f.path}", f"no field {f.parent!r} for it to belong to")
        return tuple(rows)

    def build(self, sources: tuple[str, ...]) -> Definition:
        d = self.data
        self.table("", d, SECTIONS)
        heartbeat = self.table("heartbeat", d.get("heartbeat", {}), KEYS["heartbeat"])
        structures = {**self._structures("structures"), **self._structures("cache_types")}
        proto = Definition(
            opcodes=self._opcodes(),
            services=self._services(),
            events=self._events(),
            structures=structures,
            close_codes=self._close_codes(),
            heartbeat_fields=self.fields("heartbeat.fields", heartbeat.get("fields", {})),
            hello_fields=self.fields("hello.fields", self.table("hello", d.get("hello", {}), KEYS["hello"]).get("fields", {})),
            identify_fields=self.fields(
                "identify.fields", self.table("identify", d.get("identify", {}), KEYS["identify"]).get("fields", {})
            ),
            heartbeat_timeout_factor=float(self.get("heartbeat", heartbeat, "timeout_factor", (int, float), 1.5)),
            default_interval_ms=self.get("heartbeat", heartbeat, "default_interval_ms", int, 30000),
            roles=self._roles(),
            sources=sources,
            raw=d,
        )
        self._check_references(proto)
        self._check_roles(proto)
        return proto

    def _opcodes(self) -> dict[str, Opcode]:
        out: dict[str, Opcode] = {}
        for name, spec in self.table("opcodes", self.data.get("opcodes", {})).items():
            key = f"opcodes.{name}"
            spec = self.table(key, spec, KEYS["opcodes"])
            sent_by = self.names(key, spec, "sent_by")
            if bad := [s for s in sent_by if s not in ("service", "gateway")]:
                raise self.fail(f"{key}.sent_by", f'{bad[0]!r}: expected "service" or "gateway"')
            out[name] = Opcode(name, self.get(key, spec, "code", int), sent_by, spec.get("doc", ""))
        self._require("opcodes", out, OPCODE_NAMES)
        self._unique("opcodes", {n: o.code for n, o in out.items()})
        return out

    def _services(self) -> dict[str, Service]:
        out = {}
        for name, spec in self.table("services", self.data.get("services", {})).items():
            key = f"services.{name}"
            spec = self.table(key, spec, KEYS["services"])
            if name in (NOBODY, EVERYONE, "gateway"):
                raise self.fail(key, f"{name!r} is reserved and cannot name a service type")
            out[name] = Service(
                name,
                spec.get("doc", ""),
                self.get(key, spec, "shards", bool, False),
                self.get(key, spec, "cache", bool, False),
                self.fields(f"{key}.heartbeat", spec.get("heartbeat", {})),
            )
        if not out:
            raise self.fail("services", "at least one service type is needed")
        return out

    def _events(self) -> dict[str, Event]:
        out = {}
        for t, spec in self.table("events", self.data.get("events", {})).items():
            key = f"events.{t}"
            spec = self.table(key, spec, KEYS["events"])
            routing = self.get(key, spec, "routing", str, "round_robin")
            if routing not in ROUTINGS:
                raise self.fail(f"{key}.routing", f"{routing!r}: expected one of {', '.join(ROUTINGS)}")
            out[t] = Event(
                t,
                self.get(key, spec, "name", str, t),
                self.names(key, spec, "from"),
                self.names(key, spec, "to"),
                routing,
                self.fields(f"{key}.fields", spec.get("fields", {})),
                spec.get("doc", ""),
                self.example(key, spec),
            )
        return out

    def _structures(self, section: str) -> dict[str, Structure]:
        out = {}
        for name, spec in self.table(section, self.data.get(section, {})).items():
            key = f"{section}.{name}"
            spec = self.table(key, spec, KEYS[section])
            fields = self.fields(f"{key}.fields", spec.get("fields", {}))
            keys = self.names(key, spec, "key", [] if section == "structures" else ...)
            nested = self.names(key, spec, "nested", [])
            for k in keys + nested:
                if k not in {f.path for f in fields}:
                    raise self.fail(f"{key}.key" if k in keys else f"{key}.nested", f"no field {k!r}")
            out[name] = Structure(name, fields, keys, nested, spec.get("doc", ""), self.example(key, spec))
        return out

    def _close_codes(self) -> dict[str, CloseCode]:
        out = {}
        for name, spec in self.table("close_codes", self.data.get("close_codes", {})).items():
            key = f"close_codes.{name}"
            spec = self.table(key, spec, KEYS["close_codes"])
            code = self.get(key, spec, "code", int)
            if not (1000 <= code <= 4999):
                raise self.fail(f"{key}.code", f"{code} is not a websocket close code (1000-4999)")
            out[name] = CloseCode(name, code, self.get(key, spec, "reconnect", bool, True), spec.get("doc", ""))
        self._require("close_codes", out, CLOSE_NAMES)
        self._unique("close_codes", {n: c.code for n, c in out.items()})
        return out

    def _require(self, section: str, table: Mapping[str, Any], names: tuple[str, ...]) -> None:
        if missing := [n for n in names if n not in table]:
            raise self.fail(section, f"missing {', '.join(missing)} (gwtool needs every one of {', '.join(names)})")

    def _unique(self, section: str, codes: dict[str, int]) -> None:
        seen: dict[int, str] = {}
        for name, code in codes.items():
            if code in seen:
                raise self.fail(f"{section}.{name}.code", f"{code} is already used by {seen[code]}")
            seen[code] = name

    def _roles(self) -> Roles:
        table = self.table("roles", self.data.get("roles", {}), KEYS["roles"])
        names = {}
        for role in KEYS["roles"]:
            key = f"roles.{role}"
            where = self.get("roles", table, role, str)
            prefix, dot, name = where.partition(".")
            if prefix != role.partition("_")[0] or not dot or not name:
                raise self.fail(key, f"expected {role.partition('_')[0]}.FIELD, got {where!r}")
            names[role] = name
        return Roles(**names)

    def _check_roles(self, proto: Definition) -> None:
        """Each role names a field its table has: rename a field, and the role must follow."""
        identified = proto.event_with_routing("identified")
        tables = {
            "hello": proto.hello_fields, "identify": proto.identify_fields, "heartbeat": proto.heartbeat_fields,
            "identified": identified.fields if identified is not None else (),
        }  # fmt: skip
        for role, name in vars(proto.roles).items():
            table = role.partition("_")[0]
            if table == "identified" and identified is None:
                continue  # no IDENTIFIED event: IDENTIFY is all there is
            if name not in {f.name for f in tables[table]}:
                raise self.fail(
                    f"roles.{role}", f"{table} has no field {name!r} (fields: {', '.join(f.name for f in tables[table])})"
                )

    def _check_references(self, proto: Definition) -> None:
        parties = set(proto.services) | {NOBODY, EVERYONE}
        for t, event in proto.events.items():
            for side, names in (("from", event.sources), ("to", event.targets)):
                if bad := [n for n in names if n not in parties]:
                    raise self.fail(f"events.{t}.{side}", proto.unknown_service_text(bad[0]))
        tables = [(f"events.{t}.fields", e.fields) for t, e in proto.events.items()]
        tables += [
            (f"cache_types.{n}.fields" if s.cacheable else f"structures.{n}.fields", s.fields)
            for n, s in proto.structures.items()
        ]
        tables += [(f"services.{n}.heartbeat", s.heartbeat_fields) for n, s in proto.services.items()]
        tables += [("heartbeat.fields", proto.heartbeat_fields), ("identify.fields", proto.identify_fields)]
        for key, fields in tables:
            for f in fields:
                if (ref := _unknown_ref(f.type, proto.structures)) is not None:
                    raise self.fail(
                        f"{key}.{f.path}.type", f"unknown type {ref!r} (known: {', '.join((*SCALARS, *proto.structures))})"
                    )


def _unknown_ref(expr: TypeExpr, structures: Mapping[str, Structure]) -> str | None:
    if expr.item is not None:
        return _unknown_ref(expr.item, structures)
    if expr.kind == "ref" and expr.name not in structures:
        return expr.name
    return None
