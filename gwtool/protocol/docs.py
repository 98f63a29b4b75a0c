"""The user-facing protocol write-up (docs/protocol.md), generated from a Definition plus fixed prose.

Every table and example comes from the definition, so the document cannot disagree with it;
example close reasons come from running the validator and the codec on broken payloads.

    python -m gwtool.protocol.docs [--protocol FILE] > docs/protocol.md
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from gwtool.protocol import examples as ex
from gwtool.protocol.codec import MAX_DEPTH
from gwtool.protocol.definition import RFC6455_CLOSE_NAMES, WEBSOCKET_CLOSES

if TYPE_CHECKING:
    from gwtool.protocol.definition import Definition, Event, Field, Structure

REGENERATE = "python -m gwtool.protocol.docs > docs/protocol.md"

TYPE_HELP = (
    "Types: a name ending in ? may be null; T[] is an array of T; snowflake = string of digits; "
    "timestamp = ISO 8601; discriminator = 4 digits. A field ending in ? is optional."
)
ROUTING_HELP = {
    "round_robin": "one receiving service, taking turns; held (bounded) while none is connected",
    "broadcast": "every connected receiving service",
    "identified": "the gateway's answer to a good IDENTIFY, to that connection only",
}
TYPE_NAMES = {
    "string": "a JSON string",
    "integer": "a JSON integer (no fraction)",
    "boolean": "true or false",
    "snowflake": 'a Discord id: a string of ASCII digits, e.g. "254768930223161344"',
    "timestamp": 'an ISO 8601 date and time, e.g. "2016-12-05T17:26:18.000Z"',
    "discriminator": 'exactly 4 ASCII digits, e.g. "0001"',
    "object": "any JSON object",
    "any": "any JSON value",
    "service": "the name of a service type",
}

EXTENSION_EXAMPLE = """\
# music.toml — a new service type and an event for it
[services.music]
doc = "plays music in voice channels"
heartbeat.players = { type = "integer", doc = "voice connections playing right now", example = 2 }

[events.PLAY_SONG]
name = "Play Song"
from = ["commands"]
to = ["music"]
routing = "round_robin"
doc = "Asks a music service to play a song in a voice channel."
example = '{"guildID": "254768930223161344", "channelID": "254770965018443777", "query": "never gonna give you up"}'

[events.PLAY_SONG.fields]
guildID = { type = "snowflake", doc = "the guild to play in" }
channelID = { type = "snowflake", doc = "the voice channel to join" }
query = { type = "string", doc = "what to search for" }
"volume?" = { type = "integer", doc = "0-100" }
"""

SEED_NOTES = [
    "**Where a CACHE payload's `type` goes.** The seed says each cache payload has a `type` field but not "
    "where. It sits at the top level beside `op` and `d`, because a channel has its own integer `type` "
    "inside `d`.",
    "**One entity or many.** The seed does not say whether `d` of a CACHE payload is one entity or a list. "
    "Both are accepted: an object, or a non-empty array of objects of the payload's `type`.",
    '**Ids typed "string".** Every id the seed types as string is checked as a snowflake (a string of '
    "ASCII digits); names, hashes and nicknames stay plain strings.",
    '**"4 digit discriminator"** is checked as exactly four ASCII digits in a string (`"0001"`).',
    '**"ISO8601 timestamp"** accepts date and time with optional seconds, fraction and zone '
    "(`2016-12-05T17:26:18.000Z`, `2016-12-05 17:26+01:00`), not a bare date.",
    '**`parentID?` is typed "string" but described "or null".** It is optional *and* nullable. `nickname`, '
    '`avatar` and `icon` ("string?") are required but nullable.',
    "**The channel table says \"id of the role\"** for the channel's `id`: a copy-paste slip, read as the channel's id.",
    "**Optional fields of a guild.** `roles` is required; `members`, `voiceStates` and `channels` are optional "
    "(marked `?` in the seed). A nested role, member, channel or voice state still carries its own `guildID`.",
    "**What caching a guild caches.** Its nested `roles`, `members`, `channels` and `voiceStates` are also "
    "cached under their own types. A member's `user` is not cached as a user on its own (the seed does not "
    "say it is); send it as a `user` CACHE payload for `GET /cache/user/{id}`.",
    "**A voice state's `channelID`** is required and not nullable, as in the seed, so a user leaving a "
    "voice channel cannot be expressed; a real gateway may want `snowflake?` (change it with `--protocol`).",
    "**`t` is `string?`, present only for opcode 2.** A `t` on any other opcode is an error; `t: null` there is accepted.",
    "**Heartbeat data types.** The seed gives `heapUsed` only by example; it is an integer, as is a "
    "sharder's `guilds`. Other extra fields are allowed.",
    '**HEARTBEAT_ACK has "no data".** The gateway sends `d: {}`; clients also accept a missing `d`.',
    "**IDENTIFIED's data** is given only for sharders (`shards`). `maxShards` was added so a sharder knows "
    "the total; other services get `{}`.",
    '**Events table, "where the event cant be sent from"** reads as *can*: From lists who may send, and '
    '"none" means only the gateway sends it; To "all" means every service type.',
    "**The lost pages** (identify, opcodes, close codes) are filled by the decisions in this document: "
    "opcode numbers, the IDENTIFY fields, close codes 4000-4010 and the REST routes.",
]


# --- Markdown helpers -----------------------------------------------------------------------------


def _cell(value: Any) -> str:
    return str(value).replace("\n", " ").replace("|", "\\|")


def _table(headers: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    headers = list(headers)
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _json(value: Any) -> str:
    return "```json\n" + _pretty(value) + "\n```"


def _pretty(value: Any, indent: str = "", width: int = 72) -> str:
    """Indented JSON that keeps small objects and arrays on one line."""
    line = _one_line(value)
    if not isinstance(value, (dict, list)) or not value or len(indent) + len(line) <= width:
        return line
    inner = indent + "  "
    if isinstance(value, dict):
        items = [f"{inner}{_compact(k)}: {_pretty(v, inner, width)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    items = [f"{inner}{_pretty(v, inner, width)}" for v in value]
    return "[\n" + ",\n".join(items) + "\n" + indent + "]"


def _one_line(value: Any) -> str:
    """JSON on one line with a space after each colon and comma, as people write it."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_compact(k)}: {_one_line(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_one_line(v) for v in value) + "]"
    return _compact(value)


def _compact(value: Any) -> str:
    import orjson

    return orjson.dumps(value).decode()


def _code(text: Any) -> str:
    text = str(text)
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _names(names: Iterable[str]) -> str:
    names = list(names)
    return ", ".join(f"`{n}`" for n in names) if names else "—"


def _anchor(title: str) -> str:
    return "".join(c for c in title.lower().replace(" ", "-") if c.isalnum() or c in "-_")


def _fields(fields: tuple[Field, ...]) -> str:
    if not fields:
        return "No fields."
    rows = [(_code(f.path), _code(f.type), "no" if f.optional else "yes", f.doc) for f in fields]
    return _table(["Field", "Type", "Required", "Description"], rows)


# --- sections ------------------------------------------------------------------------------------


def render(proto: Definition) -> str:
    """The whole document as Markdown."""
    sections = [
        _intro(proto),
        _structure(proto),
        _opcodes(proto),
        _sending(proto),
        _hello(proto),
        _heartbeats(proto),
        _identify(proto),
        _identified(proto),
        _events(proto),
        _caching(proto),
        _close_codes(proto),
        _rest(proto),
        _extending(proto),
        _seed_notes(),
    ]
    return "\n\n".join(s.strip("\n") for s in sections) + "\n"


def _intro(proto: Definition) -> str:
    extra = [s for s in proto.sources if s != "default"]
    source = f" merged with `{'`, `'.join(extra)}`" if extra else ""
    titles = [
        "Payload structure", "Opcodes", "Sending and receiving", "Hello", "Heartbeats", "Identify",
        "Identified and shard assignment", "Events", "Caching", "Close codes", "REST: reading the cache",
        "Extending the protocol", "Notes on the seed",
    ]  # fmt: skip
    toc = "\n".join(f"- [{t}](#{_anchor(t)})" for t in titles)
    return f"""\
# The gateway protocol

<!-- Generated from gwtool's protocol definition{source}. Do not edit: run `{REGENERATE}`. -->

Microservices of a bot platform ({_names(proto.services)}, …) all connect to one central **gateway**
over websockets. They send it heartbeats, events and cache data; it routes events between them and
serves the cache over HTTP. This page is the whole protocol: every table below is generated from
gwtool's protocol definition (`gwtool protocol` prints the same tables), and every example payload
passes `gwtool validate`.

{toc}"""


def _structure(proto: Definition) -> str:
    event, cache = proto.op("EVENT"), proto.op("CACHE")
    rows = [
        ("`op`", "integer", "the [opcode](#opcodes) of the payload"),
        ("`d`", "object or array", "the payload's data"),
        ("`t`", "string?", f"the event name; only on opcode {event} (EVENT)"),
        ("`type`", "string", f"the cache type; only on opcode {cache} (CACHE)"),
    ]
    return f"""\
## Payload structure

Every payload is a JSON object:

{_table(["Field", "Type", "Description"], rows)}

Other top-level fields are ignored. `d` may be left out only where its table says so."""


def _opcodes(proto: Definition) -> str:
    rows = [(o.code, f"`{o.name}`", " and ".join(o.sent_by), o.doc) for o in sorted(proto.opcodes.values(), key=lambda o: o.code)]
    return f"""\
## Opcodes

{_table(["op", "Name", "Sent by", "Description"], rows)}"""


def _sending(proto: Definition) -> str:
    decode = proto.close("DECODE_ERROR")
    return f"""\
## Sending and receiving

Payloads are JSON (UTF-8). A service always sends plain JSON in **text** frames; a binary frame from a
service closes the connection with {decode.code} `{decode.name}`.

**Compression** is chosen by `compress: true` in [IDENTIFY](#identify). From the IDENTIFIED payload on,
every payload the gateway sends is zlib-compressed JSON (RFC 1950, one complete stream per message, no
shared context) in a **binary** frame. Everything before it (HELLO, heartbeat acknowledgements) is plain
JSON in text frames, and services never compress what they send.

A client must detect compression before parsing: a binary frame is compressed; as a fallback, data that
starts with the zlib header byte `0x78` is compressed (JSON never starts with `x`). In Python:

```python
import json, zlib

def decode(frame: str | bytes) -> dict:
    if isinstance(frame, bytes) and frame[:1] == b"\\x78":
        frame = zlib.decompress(frame)
    return json.loads(frame)
```"""


def _hello(proto: Definition) -> str:
    return f"""\
## Hello

The first payload on every connection comes from the gateway:

{_json(ex.hello_payload(proto))}

{_fields(proto.hello_fields)}"""


def _heartbeats(proto: Definition) -> str:
    factor, interval = proto.heartbeat_timeout_factor, proto.default_interval_ms
    timeout = proto.close("HEARTBEAT_TIMEOUT")
    rows = [(_code(f.path), _code(f.type), "every service", f.doc, _example_cell(f)) for f in proto.heartbeat_fields]
    for service in proto.services.values():
        rows += [(_code(f.path), _code(f.type), f"`{service.name}`", f.doc, _example_cell(f)) for f in service.heartbeat_fields]
    examples = "\n\n".join(f"A `{s}` service sends:\n\n{_json(ex.heartbeat_payload(proto, s))}" for s in proto.services)
    ack = ex.heartbeat_ack_payload(proto)
    return f"""\
## Heartbeats

After HELLO, a service sends a HEARTBEAT (op {proto.op("HEARTBEAT")}) every `heartbeatInterval`
milliseconds until the connection closes: the first one soon after HELLO (a random fraction of the
interval is fine), then every interval. Heartbeats are allowed before IDENTIFY. Each carries data
about the service:

{_table(["Field", "Type", "Sent by", "Description", "Example"], rows)}

{examples}

The gateway answers every heartbeat at once with a HEARTBEAT_ACK (a missing `d` is accepted too):

{_json(ack)}

Latency is the time from sending a heartbeat to its acknowledgement, on a monotonic clock; an
acknowledgement nobody asked for is ignored. The gateway may also **request** a heartbeat by sending
{_code(_compact(ex.heartbeat_request_payload(proto)))}; the service answers with a heartbeat at once.

**Zombie connections.** The gateway closes a connection that has sent no heartbeat for
{factor:g} × `heartbeatInterval` ({factor * interval:g} ms at the default {interval} ms) with
{timeout.code} `{timeout.name}`. A service whose previous heartbeat got no acknowledgement by the time
the next one is due treats the connection as dead: it closes it (with a code other than 1000) and
reconnects."""


def _example_cell(f: Field) -> str:
    return _code(_compact(f.example)) if f.example is not None else ""


def _identify(proto: Definition) -> str:
    not_identified, already = proto.close("NOT_IDENTIFIED"), proto.close("ALREADY_IDENTIFIED")
    auth, invalid = proto.close("AUTHENTICATION_FAILED"), proto.close("INVALID_SERVICE")
    first = next(iter(proto.services))
    return f"""\
## Identify

Once per connection, a service says what it is with IDENTIFY (op {proto.op("IDENTIFY")}):

{_json(ex.identify_payload(proto, first))}

{_fields(proto.identify_fields)}

Service types: {_names(proto.services)}. Anything but a heartbeat before IDENTIFY closes with
{not_identified.code} `{not_identified.name}`; a second IDENTIFY with {already.code} `{already.name}`;
a wrong token with {auth.code} `{auth.name}` and an unknown service type with {invalid.code}
`{invalid.name}` (do not reconnect after these two)."""


def _identified(proto: Definition) -> str:
    event = proto.event_with_routing("identified")
    if event is None:
        return "## Identified and shard assignment\n\nThis protocol defines no event the gateway sends on identify."
    with_shards = [s.name for s in proto.services.values() if s.shards]
    examples = "\n\n".join(f"To a `{s}` service:\n\n{_json(ex.identified_payload(proto, s))}" for s in proto.services)
    return f"""\
## Identified and shard assignment

The gateway answers a good IDENTIFY with the event `{event.t}` (op {proto.op("EVENT")}), to that
connection only. From then on, the connection may send events and cache data.

{_fields(event.fields)}

Service types that get shards: {_names(with_shards)}. The gateway hands each of them the lowest free
block of *shards-per-sharder* shard ids out of `0 … maxShards-1` and takes the block back when the
connection closes. One that finds no free block gets an empty list. Other services get `{{}}`.

{examples}"""


def _events(proto: Definition) -> str:
    rows = [(f"`{e.t}`", e.name, _names(e.sources), _names(e.targets), f"`{e.routing}`", e.doc) for e in proto.events.values()]
    routing = "\n".join(f"- `{name}`: {text}" for name, text in ROUTING_HELP.items())
    not_allowed, invalid = proto.close("EVENT_NOT_ALLOWED"), proto.close("INVALID_PAYLOAD")
    parts = [
        f"""\
## Events

Events are payloads with op {proto.op("EVENT")}: `t` names the event, `d` holds its data. **From**
lists the service types that may send it (`none`: only the gateway); **To** lists who receives it
(`all`: every service type).

{_table(["t", "Name", "From", "To", "Routing", "Description"], rows)}

Routing:

{routing}

Sending an event your service type may not send closes with {not_allowed.code} `{not_allowed.name}`,
the reason naming the event and your type. Event data is checked against its field table; a wrong
field closes with {invalid.code} `{invalid.name}`, the reason naming the field's path. Extra fields
are allowed."""
    ]
    for event in proto.events.values():
        parts.append(_event(proto, event))
    return "\n\n".join(parts)


def _event(proto: Definition, event: Event) -> str:
    return f"""\
### {event.name} (`{event.t}`)

{event.doc}

{_fields(event.fields)}

{_json(ex.event_payload(proto, event.t))}"""


def _caching(proto: Definition) -> str:
    cachers = [s.name for s in proto.services.values() if s.cache]
    not_allowed = proto.close("EVENT_NOT_ALLOWED")
    rows = [(f"`{s.name}`", _names(s.key), _names(s.nested), _code(_rest_path(s)), s.doc) for s in proto.cache_types.values()]
    types = "\n".join(f"- `{name}`: {text}" for name, text in TYPE_NAMES.items())
    first = next(iter(proto.cache_types), None)
    array = (
        f"Several entities of one type go in an array:\n\n{_json(ex.cache_payload(proto, first, array=True))}" if first else ""
    )
    parts = [
        f"""\
## Caching

The gateway caches data for the REST side. A CACHE payload (op {proto.op("CACHE")}) names its cache type
in a top-level `type` and carries one entity, or a non-empty array of entities of that type, in `d`.
Service types that may send CACHE: {_names(cachers)}; any other closes with {not_allowed.code}
`{not_allowed.name}`.

{_table(["Type", "Key", "Nested", "REST path", "Description"], rows)}

**Key** fields name one entity; a CACHE payload for the same key replaces it. **Nested** array
fields are also cached under their own types.

Field types:

{types}
- `T?`: a `T` or `null`; `T[]`: an array of `T`; `"a" | "b"`: one of these strings; a cache type's
  or structure's name: an object with its fields. A field that is not required may be left out.

{array}"""
    ]
    for structure in proto.cache_types.values():
        parts.append(_cache_type(proto, structure))
    others = [s for s in proto.structures.values() if not s.cacheable]
    if others:
        parts.append("### Structures\n\nThese appear only inside cache types; they are not cached on their own.")
        parts += [f"#### {s.name}\n\n{s.doc}\n\n{_fields(s.fields)}" for s in others]
    return "\n\n".join(parts)


def _cache_type(proto: Definition, structure: Structure) -> str:
    return f"""\
### {structure.name}

{structure.doc}

{_fields(structure.fields)}

{_json(ex.cache_payload(proto, structure.name))}"""


def _rest_path(structure: Structure) -> str:
    return f"/cache/{structure.name}/" + "/".join(f"{{{k}}}" for k in structure.key)


# --- close codes with example reasons ----------------------------------------------------------------


def close_examples(proto: Definition) -> dict[str, tuple[str, str]]:
    """Close code name → (what triggers it, an example reason ≤ 123 bytes). Validation and decoding
    reasons are the validator's and codec's own messages; the others show the mock gateway's kind."""
    from gwtool.errors import DecodeError, clip_reason
    from gwtool.protocol.codec import decode
    from gwtool.protocol.validate import permission_error

    out: dict[str, tuple[str, str]] = {}
    factor, interval = proto.heartbeat_timeout_factor, proto.default_interval_ms
    services = list(proto.services)
    out["UNKNOWN_ERROR"] = ("the gateway itself failed", "gateway error: …")
    unused = max(proto.opcode_by_code) + 1
    service_ops = ", ".join(f"{o.code} {o.name}" for o in proto.opcodes.values() if "service" in o.sent_by)
    out["UNKNOWN_OPCODE"] = (_compact({"op": unused, "d": {}}), f"op: unknown opcode {unused} (services send {service_ops})")
    frame = '{op: 1, "d": {}}'
    try:
        decode(frame)
    except DecodeError as exc:
        out["DECODE_ERROR"] = (frame, exc.reason)
    if proto.events:
        out["NOT_IDENTIFIED"] = (
            "an EVENT before IDENTIFY",
            "EVENT before IDENTIFY: only HEARTBEAT may come first",
        )
    out["AUTHENTICATION_FAILED"] = ("IDENTIFY with another token", "token does not match the gateway's token")
    out["ALREADY_IDENTIFIED"] = (
        "a second IDENTIFY",
        f"already identified as {services[0]}: IDENTIFY once per connection",
    )
    out["INVALID_SERVICE"] = (
        'IDENTIFY with `"type": "unknown"`',
        f"unknown service type 'unknown' (known: {', '.join(services)})",
    )
    for event in proto.events.values():
        refused = next((s for s in services if not event.may_be_sent_by(s)), None)
        if refused is not None and any(event.may_be_sent_by(s) for s in services):
            denied = permission_error(proto, ex.event_payload(proto, event.t), refused) or ""
            out["EVENT_NOT_ALLOWED"] = (f"a {refused} service sends {event.t}", denied)
            break
    out["RATE_LIMITED"] = ("too many payloads (mock-gateway --rate-limit 120/60)", "more than 120 payloads in 60 s")
    out["HEARTBEAT_TIMEOUT"] = (
        "no heartbeat in time",
        f"no heartbeat for {factor * interval + 12:.0f} ms (timeout {factor:g} × {interval} ms)",
    )
    broken = _broken_event(proto)
    if broken is not None:
        out["INVALID_PAYLOAD"] = broken
    out["MESSAGE_TOO_BIG"] = ("a frame over the gateway's size limit (mock-gateway --max-size)", "")
    return {name: (trigger, clip_reason(reason)) for name, (trigger, reason) in out.items()}


def _broken_event(proto: Definition) -> tuple[str, str] | None:
    """(trigger, reason) for an event example with one integer field sent as a string, or with a
    required field left out."""
    from gwtool.protocol.validate import validate_payload

    for event in proto.events.values():
        if not any(event.may_be_sent_by(s) for s in proto.services):
            continue
        payload = copy.deepcopy(ex.event_payload(proto, event.t))
        for f in event.fields:
            parent = _lookup(payload["d"], f.parent)
            if isinstance(parent, dict) and f.type.kind == "scalar" and f.type.name == "integer" and f.name in parent:
                parent[f.name] = str(parent[f.name])
                trigger = f"{event.t} with `d.{f.path}` = `{_compact(parent[f.name])}`"
                return trigger, validate_payload(proto, payload)[0]
        required = next((f for f in event.fields if not f.optional and not f.parent), None)
        if required is not None and isinstance(payload["d"], dict):
            payload["d"].pop(required.name, None)
            return f"{event.t} without `d.{required.name}`", validate_payload(proto, payload)[0]
    return None


def _lookup(data: Any, path: str) -> Any:
    for part in path.split(".") if path else ():
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _trigger(text: str) -> str:
    return _code(text) if text.startswith("{") else text


def _close_codes(proto: Definition) -> str:
    rows = [(c.code, f"`{c.name}`", "yes" if c.reconnect else "**no**", c.doc) for c in proto.close_codes.values()]
    samples = close_examples(proto)
    example_rows = [
        (c.code, f"`{c.name}`", _trigger(samples[c.name][0]), _code(samples[c.name][1]) if samples[c.name][1] else "")
        for c in proto.close_codes.values()
        if c.name in samples
    ]
    return f"""\
## Close codes

{_table(["Code", "Name", "Reconnect", "When"], rows)}

Every close carries a human reason (at most 123 bytes of UTF-8, RFC 6455) naming what was wrong.
Services reconnect with exponential backoff and jitter, reset after a successful IDENTIFIED, unless
the table says no. Examples, as gwtool's mock gateway gives them (validation and decoding reasons
come straight from gwtool's validator and codec):

{_table(["Code", "Name", "Example trigger", "Example reason"], example_rows)}

The websocket layer (RFC 6455) closes on its own for what never reaches the protocol:

{_table(["Code", "Name", "When"], [(code, f"`{RFC6455_CLOSE_NAMES[code]}`", when) for code, when in WEBSOCKET_CLOSES])}

Payloads nest objects and arrays at most {MAX_DEPTH} levels deep (the payload itself is level 1);
deeper is 4002 `DECODE_ERROR` (`nested deeper than {MAX_DEPTH} levels`). gwtool's mock gateway adds
bounds of its own (an IDENTIFY deadline, a slow-receiver bound, the hold's count and bytes, browser
origins), each with its number and close code in [gateway.md](gateway.md#limits). Numbers are JSON numbers as 64-bit integers or doubles: an integer outside −2^63 … 2^64−1 is read as a
double (so an `integer` field refuses it: `expected integer, got a number outside the 64-bit integer
range`), and a number too large for a double is `not JSON` (4002)."""


def _rest(proto: Definition) -> str:
    routes = [
        ("`GET /services/`", "every identified connection"),
        ("`GET /cache/`", "how many entities of each cache type are cached"),
        ("`GET /cache/{type}/?limit=N`", "the cached entities of one type, at most `limit`"),
    ]
    routes += [(f"`GET {_rest_path(s)}`", f"one cached `{s.name}`") for s in proto.cache_types.values()]
    services = []
    for conn, name in enumerate(proto.services, 1):
        start = 1764320000000 + conn * 1000
        entry = {"conn": conn, "type": name, "startTime": start, "lastHeartbeat": start + 20000}
        entry |= ex.heartbeat_payload(proto, name)["d"]
        if proto.services[name].shards and (identified := ex.identified_payload(proto, name)):
            entry |= identified["d"]
        services.append(entry)
    counts = {name: 1 for name in proto.cache_types}
    parts = [
        f"""\
## REST: reading the cache

The gateway serves plain HTTP GET on the same host and port as the websocket. Answers are JSON
(`Content-Type: application/json`); errors are JSON too, `{{"error": "…"}}`, with 404 for an
unknown route, cache type or entity, 400 for a wrong number of key parts or a bad query, and 405 for
anything but GET.

{_table(["Route", "Answer"], routes)}

`GET /services/` lists every identified connection with its service type, when it connected
(`startTime`) and when its last heartbeat came (`lastHeartbeat`, `null` before the first), both in
ms since the epoch, the fields of its last heartbeat, and the shard ids of a service type that gets
them. A heartbeat field never replaces one of the gateway's own:

{_json(services)}

`GET /cache/` counts the cached entities of each type (here after caching each example below once):

{_json(counts)}

Caching a guild with nested arrays also makes each nested entity readable under its own type."""
    ]
    example = next(iter(proto.cache_types.values()), None)
    if example is not None:
        entity = ex.cache_payload(proto, example.name)["d"]
        listing = {"type": example.name, "count": 1, "limit": 100, "truncated": False, "entities": [entity]}
        nowhere = next(n for n in ("planet", "planet2", "planet3") if n not in proto.cache_types)
        known = list(proto.cache_types)
        unknown = {"error": f"unknown cache type {nowhere!r} (known: {', '.join(known)})", "types": known}
        parts.append(
            f"""\
`GET /cache/{{type}}/` (`?limit=N`, 0 to 1000, default 100) lists the cached entities of one type:
`count` is how many are cached, `entities` the first `limit` of them in the order they were first
cached, and `truncated` says whether some were left out. `GET /cache/{example.name}/` after caching the
[{example.name} example](#{_anchor(example.name)}) once:

{_json(listing)}

An unknown cache type answers 404 and names the known ones (`GET /cache/{nowhere}/`):

{_json(unknown)}"""
        )
        path = "/cache/" + example.name + "/" + "/".join(str(entity.get(k, "")) for k in example.key)
        missing = "/cache/" + example.name + "/" + "/".join("1" for _ in example.key)
        named = ", ".join(f"{k}=1" for k in example.key)
        parts.append(
            f"`GET {path}` after caching the [{example.name} example](#{_anchor(example.name)}) answers "
            f"with that entity as JSON; `GET {missing}`, where nothing is cached, answers 404:\n\n"
            + _json({"error": f"no {example.name} cached with {named}"})
        )
    return "\n\n".join(parts)


def _extending(proto: Definition) -> str:
    from gwtool.protocol.definition import SCALARS

    return f"""\
## Extending the protocol

Every gwtool command takes `--protocol FILE` (or the environment variable `GWTOOL_PROTOCOL`): a TOML or
JSON file merged over the built-in definition table by table. Add a service type, an event, a cache
type or a close code, or change any value, with no code change. For example:

```toml
{EXTENSION_EXAMPLE.rstrip()}
```

```console
$ gwtool protocol --protocol music.toml          # the new service and event in every table
$ gwtool validate --protocol music.toml --as commands play.json
```

Rules of the file:

- A field key ending in `?` is optional; a type ending in `?` may be null; `T[]` is an array of `T`;
  `"a" | "b"` is one of some strings. Types: {", ".join(f"`{s}`" for s in SCALARS)}, or the name of a
  cache type or structure. A dotted key (`ids.shard`) is a field of the object field before the dot.
- `example` is JSON text in TOML (TOML has no null); a JSON file may give the value itself.
- `from` / `to` name service types (`none`: only the gateway; `all`: every service type);
  `routing` is one of {", ".join(f"`{r}`" for r in ROUTING_HELP)}.
- Opcodes and close codes are referred to by name; their numbers are yours to change, but every
  built-in name must stay defined.
- `gwtool protocol --json` prints the whole active definition in this format, ready to edit;
  `gwtool protocol TABLE --json` one table or entry of it (`gwtool protocol EXECUTE_COMMAND --json`).

A broken file is refused with its name and the key, e.g. with `to = ["musik"]`:
{_code(_broken_file_error())}"""


def _broken_file_error() -> str:
    """The real error for the example file with a typo in ``to``."""
    import tempfile
    from pathlib import Path

    from gwtool.errors import ProtocolDefinitionError
    from gwtool.protocol.definition import load_protocol

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "music.toml")
        path.write_text(EXTENSION_EXAMPLE.replace('to = ["music"]', 'to = ["musik"]'), "utf-8")
        try:
            load_protocol(path, use_env=False)
        except ProtocolDefinitionError as exc:
            return str(exc).replace(str(path), path.name)
    return ""


def _seed_notes() -> str:
    notes = "\n".join(f"- {note}" for note in SEED_NOTES)
    return f"""\
## Notes on the seed

gwtool's built-in definition follows the seed protocol page word for word where it speaks. Where it
was ambiguous, this is how it was read:

{notes}"""


def main(argv: list[str] | None = None) -> int:
    """``python -m gwtool.protocol.docs [--protocol FILE]``: print the Markdown."""
    from gwtool.errors import GwtoolError
    from gwtool.protocol.definition import load_protocol

    args = sys.argv[1:] if argv is None else argv
    path = args[1] if len(args) == 2 and args[0] == "--protocol" else None
    if args and path is None:
        sys.stderr.write("usage: python -m gwtool.protocol.docs [--protocol FILE]\n")
        return 1
    try:
        proto = load_protocol(path, use_env=False)
    except GwtoolError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    sys.stdout.write(render(proto))
    return 0


if __name__ == "__main__":
    sys.exit(main())
