"""--set PATH=VALUE: JSON-typed values, string-typed fields kept as text, arrays and errors."""

from __future__ import annotations

import pytest

from gwtool.cli.data import build_data, parse_path
from gwtool.errors import GwtoolError


def event_data(proto, *sets: str):
    event = proto.events["EXECUTE_COMMAND"]
    return build_data(None, list(sets), event.example, event.fields, proto)


def cache_data(proto, cache_type: str, *sets: str, data: str | None = None):
    structure = proto.cache_types[cache_type]
    return build_data(data, list(sets), structure.example, structure.fields, proto)


def test_values_are_json_typed(proto):
    d = event_data(proto, "ids.shard=2", "command=kick", 'extra={"a": [1, true, null]}')
    assert d["ids"]["shard"] == 2 and d["command"] == "kick" and d["extra"] == {"a": [1, True, None]}


def test_string_typed_fields_keep_digits_as_text(proto):
    d = event_data(proto, "ids.guild=123", "command=2", "raw=true")
    assert d["ids"]["guild"] == "123" and d["command"] == "2" and d["raw"] == "true"
    d = cache_data(proto, "member", "user.id=42", "nickname=null", "roles[1]=99")
    assert d["user"]["id"] == "42" and d["nickname"] is None and d["roles"][1] == "99"


def test_a_json_string_stays_a_string_and_wrong_types_are_kept_for_validation(proto):
    assert event_data(proto, 'ids.shard="2"')["ids"]["shard"] == "2"


def test_example_is_not_modified(proto):
    event_data(proto, "ids.shard=9")
    assert proto.events["EXECUTE_COMMAND"].example["ids"]["shard"] == 1


def test_paths_into_arrays_and_new_objects(proto):
    d = cache_data(proto, "user", "[0].id=7", "[1].username=b", data='[{"id": "1"}]')
    assert d == [{"id": "7"}, {"username": "b"}]
    assert parse_path("a.b[2].c") == ["a", "b", 2, "c"]
    assert event_data(proto, "new.deep.x=1")["new"] == {"deep": {"x": 1}}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("ids.shard", "expected PATH=VALUE"),
        ("=1", "expected PATH=VALUE"),
        ("command[0]=x", "[0] needs an array, found the string 'ban'"),
        ("ids[0]=1", "[0] needs an array, found an object"),
        ("ids.shard.x=1", "'x' needs an object, found the integer 1"),
        ("ids.shard=1e400", "--set 'ids.shard=1e400': 1e400 is outside the range of a JSON number"),
        ("ids.shard=-1e400", "-1e400 is outside the range of a JSON number"),
        ("a..b=1", "bad path"),
    ],
)
def test_bad_set_items_are_clear_errors(proto, item, message):
    with pytest.raises(GwtoolError, match=message.replace("[", r"\[").replace("]", r"\]")):
        event_data(proto, item)


def test_index_past_the_end(proto):
    with pytest.raises(GwtoolError, match="index 5 is past the end \\(array of 1\\)"):
        cache_data(proto, "member", "roles[5]=1")
