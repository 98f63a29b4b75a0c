"""validate_payload / permission_error against the default definition: paths and expectations."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from seed_payloads import SEED_EXECUTE_COMMAND

from gwtool.protocol import examples
from gwtool.protocol.definition import Definition, load_protocol
from gwtool.protocol.validate import error_path, permission_error, validate_payload

PROTO = load_protocol(use_env=False)


def cache(kind: str, d: Any) -> dict[str, Any]:
    return {"op": 6, "type": kind, "d": d}


def entity(kind: str) -> dict[str, Any]:
    return copy.deepcopy(PROTO.cache_types[kind].example)


def test_seed_execute_command_is_valid_and_shard_as_string_is_not() -> None:
    assert validate_payload(PROTO, SEED_EXECUTE_COMMAND) == []
    bad = copy.deepcopy(SEED_EXECUTE_COMMAND)
    bad["d"]["ids"]["shard"] = "1"
    assert validate_payload(PROTO, bad) == ["d.ids.shard: expected integer, got string"]


@pytest.mark.parametrize("kind", list(PROTO.cache_types))
def test_every_cache_type_example_is_valid_alone_and_in_an_array(kind: str) -> None:
    assert validate_payload(PROTO, cache(kind, entity(kind))) == []
    assert validate_payload(PROTO, cache(kind, [entity(kind), entity(kind)])) == []


def test_guild_with_every_nested_array() -> None:
    guild = entity("guild")
    guild["members"] = [entity("member")]
    guild["voiceStates"] = [entity("voiceState")]
    assert validate_payload(PROTO, cache("guild", guild)) == []
    guild["members"][0]["joinedAt"] = "yesterday"
    guild["members"][0]["user"]["discriminator"] = "1"
    guild["channels"][0]["overwrites"] = [{"id": "1", "type": "everyone", "allow": 0, "deny": 0}]
    guild["roles"].append("254769100000000001")
    assert validate_payload(PROTO, cache("guild", guild)) == [
        "d.roles[1]: expected object, got string",
        "d.members[0].joinedAt: expected ISO 8601 timestamp, got 'yesterday'",
        "d.members[0].user.discriminator: expected 4 digits, got '1'",
        'd.channels[0].overwrites[0].type: expected "role" or "member", got \'everyone\'',
    ]


def test_array_paths_name_the_item_and_its_field() -> None:
    members = [entity("member") for _ in range(4)]
    members[3]["roles"] = [12, "1"]
    assert validate_payload(PROTO, cache("member", members)) == [
        "d[3].roles[0]: expected snowflake id (string of digits), got integer"
    ]


def test_missing_fields_fail_extra_fields_pass() -> None:
    user = entity("user")
    del user["username"]
    user["locale"] = "en-US"  # unknown extra field: forward compatible
    assert validate_payload(PROTO, cache("user", user)) == ["d.username: missing (required string)"]


@pytest.mark.parametrize(
    ("kind", "field", "value", "error"),
    [
        ("user", "avatar", None, None),  # string? : nullable, required
        ("member", "nickname", None, None),
        ("channel", "parentID", None, None),  # optional and nullable
        ("guild", "icon", 5, "d.icon: expected string or null, got integer"),
        ("channel", "userLimit", None, "d.userLimit: expected integer, got null"),  # optional, not nullable
        ("user", "bot", "false", "d.bot: expected boolean, got string"),
        ("role", "color", 1.5, "d.color: expected integer, got number"),
        ("role", "position", True, "d.position: expected integer, got boolean"),
    ],
)
def test_nullable_and_optional(kind: str, field: str, value: Any, error: str | None) -> None:
    item = entity(kind)
    item[field] = value
    assert validate_payload(PROTO, cache(kind, item)) == ([error] if error else [])


def test_optional_fields_may_be_left_out_required_nullable_may_not() -> None:
    channel = entity("channel")
    for name in ("overwrites", "parentID", "userLimit"):
        channel.pop(name, None)
    assert validate_payload(PROTO, cache("channel", channel)) == []
    user = entity("user")
    del user["avatar"]
    assert validate_payload(PROTO, cache("user", user)) == ["d.avatar: missing (required string?)"]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2016-12-05T17:26:18.000Z", True),
        ("2016-12-05T17:26:18+01:00", True),
        ("2016-12-05 17:26", True),
        ("2016-12-05", False),
        ("2016-13-05T17:26:18Z", False),
        ("yesterday", False),
        (20161205, False),
    ],
)
def test_timestamps(value: Any, ok: bool) -> None:
    member = entity("member")
    member["joinedAt"] = value
    assert (validate_payload(PROTO, cache("member", member)) == []) is ok


def test_heartbeat_fields_per_service_type() -> None:
    beat = {"op": 1, "d": {"heapUsed": 102292113}}
    assert validate_payload(PROTO, beat, service="commands") == []
    assert validate_payload(PROTO, beat) == []
    assert validate_payload(PROTO, beat, service="sharder") == ["d.guilds: missing (required integer)"]
    assert validate_payload(PROTO, {"op": 1, "d": {"heapUsed": 1, "guilds": 3000}}, service="sharder") == []
    assert validate_payload(PROTO, {"op": 1, "d": {"heapUsed": "1"}}) == ["d.heapUsed: expected integer, got string"]
    assert validate_payload(PROTO, {"op": 1}) == ["d: missing (required object)"]
    # the gateway's heartbeat request carries {} (or nothing)
    assert validate_payload(PROTO, {"op": 1, "d": {}}, sender="gateway") == []
    assert validate_payload(PROTO, {"op": 1}, sender="gateway") == []


def test_identify() -> None:
    good = {"op": 5, "d": {"type": "commands", "token": "t"}}
    assert validate_payload(PROTO, good) == []
    assert validate_payload(PROTO, {"op": 5, "d": {"type": "music", "token": 1, "compress": "yes"}}) == [
        "d.type: expected a service type (sharder, commands), got 'music'",
        "d.token: expected string, got integer",
        "d.compress: expected boolean, got string",
    ]
    assert validate_payload(PROTO, good, sender="gateway") == ["op: IDENTIFY is sent by the service, not by a gateway"]


def test_unknown_op_t_and_type() -> None:
    assert validate_payload(PROTO, {"op": 99, "d": {}})[0].startswith("op: unknown opcode 99 (known: 1 HEARTBEAT")
    assert validate_payload(PROTO, {"op": "1", "d": {}})[0].startswith("op: unknown opcode '1'")
    assert validate_payload(PROTO, {"d": {}}) == ["op: missing (required integer)"]
    assert validate_payload(PROTO, {"op": 2, "t": "NOPE", "d": {}}) == [
        "t: unknown event 'NOPE' (known: EXECUTE_COMMAND, IDENTIFIED)"
    ]
    assert validate_payload(PROTO, {"op": 2, "d": {}}) == ["t: missing (EVENT payloads name their event)"]
    assert validate_payload(PROTO, {"op": 6, "type": "emoji", "d": {}}) == [
        "type: unknown cache type 'emoji' (known: member, role, user, guild, channel, voiceState)"
    ]
    assert validate_payload(PROTO, {"op": 6, "d": {}}) == [
        "type: missing (one of member, role, user, guild, channel, voiceState)"
    ]
    assert validate_payload(PROTO, {"op": 6, "type": "user", "d": []}) == [
        "d: expected an entity or a non-empty array of them, got empty array"
    ]
    assert validate_payload(PROTO, {"op": 1, "t": "X", "d": {"heapUsed": 1}}) == ["t: only 2 EVENT payloads carry t"]
    assert validate_payload(PROTO, [1]) == ["payload: expected object, got array"]


def test_permissions_follow_the_from_table_and_cache_flag() -> None:
    assert permission_error(PROTO, SEED_EXECUTE_COMMAND, "sharder") is None
    assert permission_error(PROTO, SEED_EXECUTE_COMMAND, "commands") == (
        "EXECUTE_COMMAND may not be sent by commands (from: sharder)"
    )
    identified = {"op": 2, "t": "IDENTIFIED", "d": {}}
    assert permission_error(PROTO, identified, "sharder") == "IDENTIFIED may not be sent by sharder (from: none)"
    user = cache("user", entity("user"))
    assert permission_error(PROTO, user, "sharder") is None
    assert permission_error(PROTO, user, "commands") == "CACHE may not be sent by commands (only sharder)"
    assert permission_error(PROTO, {"op": 2, "t": ["x"]}, "sharder") is None  # validate_payload reports t
    assert permission_error(PROTO, {"op": 1, "d": {}}, "commands") is None


def all_examples(proto: Definition) -> list[tuple[dict[str, Any], str, str | None]]:
    """(payload, sender, service) for every example payload the definition yields."""
    out: list[tuple[dict[str, Any], str, str | None]] = [
        (examples.hello_payload(proto), "gateway", None),
        (examples.heartbeat_request_payload(proto), "gateway", None),
        (examples.heartbeat_ack_payload(proto), "gateway", None),
    ]
    for service in proto.services:
        out.append((examples.heartbeat_payload(proto, service), "service", service))
        out.append((examples.identify_payload(proto, service), "service", service))
        out.append((examples.identified_payload(proto, service), "gateway", None))  # type: ignore[arg-type]
    for t, event in proto.events.items():
        sender = next((s for s in proto.services if event.may_be_sent_by(s)), None)
        out.append((examples.event_payload(proto, t), "service" if sender else "gateway", sender))
    for kind in proto.cache_types:
        out.append((examples.cache_payload(proto, kind), "service", proto.first_cacher()))
        out.append((examples.cache_payload(proto, kind, array=True), "service", proto.first_cacher()))
    return out


@pytest.mark.parametrize(("payload", "sender", "service"), all_examples(PROTO))
def test_every_example_payload_is_valid(payload: dict[str, Any], sender: str, service: str | None) -> None:
    assert validate_payload(PROTO, payload, sender=sender, service=service) == []
    if service is not None and sender == "service":
        assert permission_error(PROTO, payload, service) is None


def test_made_up_examples_for_fields_without_one(tmp_path) -> None:
    """A user's event with no example still gets a valid one, nested objects included."""
    path = tmp_path / "p.toml"
    path.write_text(
        '[events.PING]\nfrom = ["all"]\nto = ["all"]\nrouting = "broadcast"\n'
        '[events.PING.fields]\nwhen = "timestamp"\nwho = "user"\nmeta = "object"\n"meta.tags" = "string[]"\n'
        '"meta.kind" = \'"a" | "b"\'\n"note?" = "string"\nfrom = "service"\nlevel = "integer?"\n',
        "utf-8",
    )
    proto = load_protocol(path, use_env=False)
    payload = examples.event_payload(proto, "PING")
    assert set(payload["d"]) == {"when", "who", "meta", "from", "level"}
    assert payload["d"]["meta"] == {"tags": ["text"], "kind": "a"}
    assert validate_payload(proto, payload) == []


def test_field_names_that_look_like_code_are_only_names(tmp_path) -> None:
    """The checks are generated; a user's field names reach them as values, never as source."""
    path = tmp_path / "p.toml"
    path.write_text(
        '[events.ODD]\nfrom = ["all"]\nto = ["all"]\nrouting = "broadcast"\n'
        "[events.ODD.fields]\n"
        '"a\\"{__import__(\'os\')}\\"\\n{path}" = "integer"\n'
        '"b\') or True or (\'" = "snowflake"\n',
        "utf-8",
    )
    proto = load_protocol(path, use_env=False)
    quote_name = "a\"{__import__('os')}\"\n{path}"
    paren_name = "b') or True or ('"
    payload = {"op": proto.op("EVENT"), "t": "ODD", "d": {quote_name: "x", paren_name: 5}}
    assert validate_payload(proto, payload) == [
        f"d.{quote_name}: expected integer, got string",
        f"d.{paren_name}: expected snowflake id (string of digits), got integer",
    ]
    assert validate_payload(proto, {**payload, "d": {}}) == [
        f"d.{quote_name}: missing (required integer)",
        f"d.{paren_name}: missing (required snowflake)",
    ]


@pytest.mark.parametrize(
    ("error", "path"),
    [
        ("d.ids.shard: expected integer, got string", "d.ids.shard"),
        ("d[2].id: missing (required string)", "d[2].id"),
        ("t: unknown event 'NOPE'", "t"),
        ("op: unknown opcode 99", "op"),
        ("type: missing (one of guild)", "type"),
        ("payload: expected object, got array", "payload"),
        ("EVENT before IDENTIFY: only HEARTBEAT may come first", ""),  # a reason that names no field
        ("timeout: something", ""),
        ("no colon here", ""),
    ],
)
def test_error_path_is_the_field_an_error_starts_with(error: str, path: str) -> None:
    assert error_path(error) == path
