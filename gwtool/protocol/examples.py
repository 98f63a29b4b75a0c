"""Example payloads and data built from the definition: the one builder of "a valid value of this
type". The docs, the composer's templates, ``send``/``cache`` defaults, the client's heartbeat
fields and the load generator all take theirs from here. A field's own ``example`` wins; otherwise
a value of the field's type is made up.

Every payload built here passes ``validate_payload`` (the tests check it for the default protocol).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gwtool.protocol.definition import Definition, Field, TypeExpr

# a made-up valid value for each scalar type
SCALAR_EXAMPLES: dict[str, Any] = {
    "string": "text",
    "integer": 1,
    "boolean": False,
    "snowflake": "123456789012345678",
    "timestamp": "2020-01-01T00:00:00.000Z",
    "discriminator": "0001",
    "object": {},
    "any": None,
}


def example_value(proto: Definition, expr: TypeExpr) -> Any:
    """A valid value of type ``expr``: a structure's own example when it has one."""
    if expr.kind == "scalar":
        if expr.name == "service":
            return next(iter(proto.services))
        return SCALAR_EXAMPLES[expr.name]
    if expr.kind == "choice":
        return expr.choices[0]
    if expr.kind == "nullable":
        return example_value(proto, expr.item)  # type: ignore[arg-type]
    if expr.kind == "array":
        return [example_value(proto, expr.item)]  # type: ignore[arg-type]
    structure = proto.structures[expr.name]
    return structure.example if structure.example is not None else example_data(proto, structure.fields)


def example_data(proto: Definition, fields: tuple[Field, ...], *, optional: bool = False) -> dict[str, Any]:
    """An object for a field table: required fields, and optional ones that have an example
    (or all optional ones when ``optional``). Dotted fields fill the object field they belong to."""
    out: dict[str, Any] = {}
    depth = fields[0].path.count(".") if fields else 0
    for f in fields:
        if f.path.count(".") != depth or (f.optional and f.example is None and not optional):
            continue
        children = tuple(g for g in fields if g.path.startswith(f.path + "."))
        if f.example is not None:
            out[f.name] = f.example
        elif children:
            out[f.name] = example_data(proto, children, optional=optional)
        else:
            out[f.name] = example_value(proto, f.type)
    return out


# --- whole payloads ------------------------------------------------------------------------------


def hello_payload(proto: Definition) -> dict[str, Any]:
    d = example_data(proto, proto.hello_fields)
    return {"op": proto.op("HELLO"), "d": d}


def heartbeat_payload(proto: Definition, service: str | None = None) -> dict[str, Any]:
    """What ``service`` sends every heartbeatInterval (its own extra fields included)."""
    return {"op": proto.op("HEARTBEAT"), "d": example_data(proto, proto.heartbeat_fields_for(service))}


def heartbeat_request_payload(proto: Definition) -> dict[str, Any]:
    """The gateway asking for a heartbeat now."""
    return {"op": proto.op("HEARTBEAT"), "d": {}}


def heartbeat_ack_payload(proto: Definition) -> dict[str, Any]:
    return {"op": proto.op("HEARTBEAT_ACK"), "d": {}}


def identify_payload(
    proto: Definition, service: str, *, token: str | None = None, compress: bool | None = None
) -> dict[str, Any]:
    """IDENTIFY as ``service``; ``token`` and ``compress`` fill their fields (the definition's
    [roles]) when given, else those fields keep their examples."""
    d = example_data(proto, proto.identify_fields, optional=True)
    for f in proto.identify_fields:  # the field that names the service type speaks for ``service``
        if f.type.kind == "scalar" and f.type.name == "service":
            d[f.name] = service
    if token is not None:
        d[proto.roles.identify_token] = token
    if compress is not None:
        d[proto.roles.identify_compress] = compress
    return {"op": proto.op("IDENTIFY"), "d": d}


def identified_payload(proto: Definition, service: str) -> dict[str, Any] | None:
    """The gateway's answer to a good IDENTIFY: shard ids for a service type that gets them, else {}."""
    event = proto.event_with_routing("identified")
    if event is None:
        return None
    gets_shards = proto.services[service].shards if service in proto.services else False
    d = event_data(proto, event.t) if gets_shards else {}
    return {"op": proto.op("EVENT"), "t": event.t, "d": d}


def event_data(proto: Definition, t: str) -> Any:
    event = proto.events[t]
    return event.example if event.example is not None else example_data(proto, event.fields)


def event_payload(proto: Definition, t: str) -> dict[str, Any]:
    return {"op": proto.op("EVENT"), "t": t, "d": event_data(proto, t)}


def cache_data(proto: Definition, cache_type: str) -> Any:
    structure = proto.structures[cache_type]
    return structure.example if structure.example is not None else example_data(proto, structure.fields)


def cache_payload(proto: Definition, cache_type: str, *, array: bool = False) -> dict[str, Any]:
    entity = cache_data(proto, cache_type)
    return {"op": proto.op("CACHE"), "type": cache_type, "d": [entity] if array else entity}
