"""Loading the definition: the default, user files merged over it, and broken files."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from gwtool.errors import ProtocolDefinitionError
from gwtool.protocol.definition import ENV_VAR, load_protocol
from gwtool.protocol.docs import EXTENSION_EXAMPLE
from gwtool.protocol.validate import permission_error, validate_payload

MUSIC_JSON = {
    "services": {"music": {"doc": "plays music", "heartbeat": {"players": {"type": "integer", "doc": "playing now"}}}},
    "events": {
        "PLAY_SONG": {
            "name": "Play Song",
            "from": ["commands"],
            "to": ["music"],
            "routing": "round_robin",
            "example": {"guildID": "1", "channelID": "2", "query": "song"},
            "fields": {"guildID": "snowflake", "channelID": "snowflake", "query": "string", "volume?": "integer"},
        }
    },
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def test_default_has_every_table_of_the_seed() -> None:
    proto = load_protocol(use_env=False)
    assert proto.op("HEARTBEAT") == 1 and proto.op("CACHE") == 6
    assert list(proto.services) == ["sharder", "commands"]
    assert proto.services["sharder"].shards and proto.services["sharder"].cache
    assert not proto.services["commands"].cache
    assert set(proto.cache_types) == {"member", "role", "user", "guild", "channel", "voiceState"}
    assert "overwrite" in proto.structures and not proto.structures["overwrite"].cacheable
    assert proto.cache_types["member"].key == ("guildID", "id")
    assert proto.cache_types["guild"].nested == ("roles", "members", "voiceStates", "channels")
    event = proto.events["EXECUTE_COMMAND"]
    assert event.may_be_sent_by("sharder") and not event.may_be_sent_by("commands")
    assert event.is_received_by("commands") and event.routing == "round_robin"
    assert proto.events["IDENTIFIED"].is_received_by("commands")
    assert proto.close("EVENT_NOT_ALLOWED").code == 4007
    assert proto.close("AUTHENTICATION_FAILED").reconnect is False
    assert proto.close_by_code[1009].name == "MESSAGE_TOO_BIG"
    assert [f.name for f in proto.heartbeat_fields_for("sharder")] == ["heapUsed", "guilds"]
    assert proto.first_sender("EXECUTE_COMMAND") == "sharder" and proto.first_cacher() == "sharder"
    assert proto.event_with_routing("identified").t == "IDENTIFIED"  # type: ignore[union-attr]
    assert proto.heartbeat_timeout_factor == 1.5 and proto.default_interval_ms == 30000


def check_music(proto) -> None:
    assert "music" in proto.services and "PLAY_SONG" in proto.events
    assert "EXECUTE_COMMAND" in proto.events and "sharder" in proto.services  # merged, not replaced
    play = {"op": 2, "t": "PLAY_SONG", "d": {"guildID": "1", "channelID": "2", "query": "x"}}
    assert validate_payload(proto, play) == []
    assert permission_error(proto, play, "commands") is None
    assert "PLAY_SONG may not be sent by sharder" in (permission_error(proto, play, "sharder") or "")
    assert validate_payload(proto, {**play, "d": {"guildID": 1, "query": "x"}}) == [
        "d.guildID: expected snowflake id (string of digits), got integer",
        "d.channelID: missing (required snowflake)",
    ]
    beat = {"op": 1, "d": {"heapUsed": 1}}
    assert validate_payload(proto, beat, service="music") == ["d.players: missing (required integer)"]


def test_toml_file_adds_a_service_and_an_event(tmp_path: Path) -> None:
    proto = load_protocol(write(tmp_path, "music.toml", EXTENSION_EXAMPLE), use_env=False)
    check_music(proto)
    assert proto.sources == ("default", str(tmp_path / "music.toml"))


def test_json_file_adds_a_service_and_an_event(tmp_path: Path) -> None:
    check_music(load_protocol(write(tmp_path, "music.json", json.dumps(MUSIC_JSON)), use_env=False))


def test_env_var_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(write(tmp_path, "music.json", json.dumps(MUSIC_JSON))))
    assert "music" in load_protocol().services
    assert "music" not in load_protocol(use_env=False).services


def test_a_file_changes_values_without_code(tmp_path: Path) -> None:
    text = "[close_codes.EVENT_NOT_ALLOWED]\ncode = 4100\n[heartbeat]\ntimeout_factor = 2\n[services.commands]\ncache = true\n"
    proto = load_protocol(write(tmp_path, "p.toml", text), use_env=False)
    assert proto.close("EVENT_NOT_ALLOWED").code == 4100 and proto.close("EVENT_NOT_ALLOWED").reconnect
    assert proto.heartbeat_timeout_factor == 2.0
    assert permission_error(proto, {"op": 6, "type": "user", "d": {}}, "commands") is None


def test_definition_dump_loads_back_the_same(tmp_path: Path) -> None:
    proto = load_protocol(write(tmp_path, "music.toml", EXTENSION_EXAMPLE), use_env=False)
    again = load_protocol(write(tmp_path, "dump.json", orjson.dumps(proto.as_definition()).decode()), use_env=False)
    for table in ("opcodes", "services", "events", "structures", "close_codes"):
        assert dict(getattr(again, table)) == dict(getattr(proto, table)), table
    assert again.heartbeat_fields == proto.heartbeat_fields and again.identify_fields == proto.identify_fields


BROKEN = [
    ("bad.toml", "[events.X\nfrom = 1", "bad.toml: not valid TOML"),
    ("bad.json", "{nope", "bad.json: not valid JSON"),
    ("list.json", "[1, 2]", "list.json: expected a table of protocol sections"),
    (
        "type.toml",
        '[cache_types.user.fields]\nfriend = "usr"',
        "type.toml: cache_types.user.fields.friend.type: unknown type 'usr'",
    ),
    (
        "type2.toml",
        '[events.EXECUTE_COMMAND.fields]\n"ids.x" = "integer[]?[]x"',
        "type2.toml: events.EXECUTE_COMMAND.fields.ids.x.type: bad type",
    ),
    (
        "from.toml",
        '[events.PLAY]\nfrom = ["musik"]\nto = ["all"]',
        "from.toml: events.PLAY.from: unknown service type 'musik' (known: sharder, commands)",
    ),
    ("to.toml", '[events.PLAY]\nfrom = ["none"]\nto = ["dj"]', "to.toml: events.PLAY.to: unknown service type 'dj'"),
    ("nofrom.toml", '[events.PLAY]\nto = ["all"]', "nofrom.toml: events.PLAY.from: missing"),
    (
        "code.toml",
        '[close_codes.RATE_LIMITED]\ncode = "4008"',
        "code.toml: close_codes.RATE_LIMITED.code: expected integer, got string",
    ),
    ("bool.toml", "[services.sharder]\nshards = 1", "bool.toml: services.sharder.shards: expected boolean, got integer"),
    (
        "range.toml",
        "[close_codes.RATE_LIMITED]\ncode = 99",
        "range.toml: close_codes.RATE_LIMITED.code: 99 is not a websocket close code",
    ),
    (
        "dup.toml",
        "[close_codes.RATE_LIMITED]\ncode = 4007",
        "dup.toml: close_codes.RATE_LIMITED.code: 4007 is already used by EVENT_NOT_ALLOWED",
    ),
    ("newclose.toml", "[close_codes.TEAPOT]\nreconnect = true", "newclose.toml: close_codes.TEAPOT.code: missing"),
    (
        "routing.toml",
        '[events.EXECUTE_COMMAND]\nrouting = "anycast"',
        "routing.toml: events.EXECUTE_COMMAND.routing: 'anycast': expected one of",
    ),
    ("key.toml", '[cache_types.user]\nkey = ["uid"]', "key.toml: cache_types.user.key: no field 'uid'"),
    (
        "example.toml",
        "[events.EXECUTE_COMMAND]\nexample = '{nope'",
        "example.toml: events.EXECUTE_COMMAND.example: not valid JSON",
    ),
    ("section.toml", '[event.PLAY]\nfrom = ["none"]', "section.toml: event: unknown key (expected one of: heartbeat"),
    ("typo.toml", '[events.EXECUTE_COMMAND]\nform = ["none"]', "typo.toml: events.EXECUTE_COMMAND.form: unknown key"),
    (
        "parent.toml",
        '[events.EXECUTE_COMMAND.fields]\n"meta.x" = "integer"',
        "parent.toml: events.EXECUTE_COMMAND.fields.meta.x: no field 'meta'",
    ),
    ("reserved.toml", "[services.all]\ndoc = 'x'", "reserved.toml: services.all: 'all' is reserved"),
    ("sentby.toml", '[opcodes.HELLO]\nsent_by = ["server"]', "sentby.toml: opcodes.HELLO.sent_by: 'server'"),
    ("table.toml", "events = 3", "table.toml: events: expected a table, got integer"),
]


@pytest.mark.parametrize(("name", "text", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_file_names_file_and_key(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(ProtocolDefinitionError) as caught:
        load_protocol(path, use_env=False)
    assert str(caught.value).startswith(str(tmp_path) + "/"), caught.value
    assert message in str(caught.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ProtocolDefinitionError, match="nope.toml: cannot read protocol file"):
        load_protocol(tmp_path / "nope.toml", use_env=False)


def test_removing_a_required_close_code_is_refused(tmp_path: Path) -> None:
    """A file cannot delete a table entry, but a JSON dump edited by hand can leave one out."""
    data = load_protocol(use_env=False).as_definition()
    del data["close_codes"]["HEARTBEAT_TIMEOUT"]
    from gwtool.protocol.definition import _Builder

    with pytest.raises(ProtocolDefinitionError, match="close_codes: missing HEARTBEAT_TIMEOUT"):
        _Builder(data, {}).build(("default",))
