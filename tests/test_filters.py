"""The filter language (gwtool/filters.py): the dashboard's / filter and the console's --filter."""

from __future__ import annotations

import pytest

from gwtool.filters import Filter, FilterError
from gwtool.protocol.definition import load_protocol
from gwtool.records import Notice, Record


@pytest.fixture(scope="module")
def proto():
    return load_protocol(use_env=False)


def beat(proto, conn: int = 1) -> Record:
    return Record("out", 34, {"op": proto.op("HEARTBEAT"), "d": {"heapUsed": 1}}, conn=conn)


def event(proto, text: str = "ban", conn: int = 2, service: str = "sharder") -> Record:
    payload = {"op": proto.op("EVENT"), "t": "EXECUTE_COMMAND", "d": {"command": text}}
    return Record("in", 200, payload, conn=conn, service=service)


def test_each_kind_of_term_and_negation(proto):
    items = [
        ("you", beat(proto)),
        ("gw", event(proto)),
        ("you", event(proto, "kick", conn=3, service="commands")),
        ("you", Notice("closed", "closed 4009", conn=3)),
        ("gw", Record("in", 5, None, conn=4, error="not JSON", raw="{")),
    ]

    def shown(text: str, side=None) -> list[int]:
        f = Filter.parse(text, side)
        return [i for i, (recorded_on, item) in enumerate(items) if f.matches(item, proto, recorded_on)]

    assert shown("op:heart") == [0]
    assert shown("OP:HEART") == [0]  # keys and values ignore case
    assert shown("t:execute") == shown("type:EXEC") == [1, 2]
    assert shown("dir:in") == [1, 2, 4]
    assert shown("side:gw") == shown("side:gateway") == [1, 4]
    assert shown("", side="you") == [0, 2, 3]
    assert shown("conn:3") == [2, 3]  # a connection's payloads and what happened to it
    assert shown("-conn:3") == [0, 1, 4]
    assert shown("conn:3 t:EXECUTE_COMMAND") == [2]
    assert shown("kick") == [2]
    assert shown("sharder") == [1]  # free words search the service too
    assert shown("-op:heartbeat") == [1, 2, 3, 4]  # notices stay when a negated op term hides heartbeats
    assert shown("t:execute -kick") == [1]
    assert shown("4009") == [3]
    assert shown("undecodable") == [4]


def test_a_caller_may_keep_the_search_text(proto):
    asked: list[str] = []

    def text(proto) -> str:
        asked.append("asked")
        return "kept text"

    assert Filter.parse("op:EVENT").matches(event(proto), proto, "gw", text)
    assert asked == []  # no free word: the search text is never made
    assert Filter.parse("kept").matches(event(proto), proto, "gw", text) and asked == ["asked"]


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        ("conn:x", "conn:x is not a connection number (e.g. conn:3)"),
        ("op:NOPE", "op:NOPE matches no op of the protocol (HEARTBEAT"),
        ("-t:NOTHING", "-t:NOTHING matches no event or cache type of the protocol"),
        ("dir:sideways", "dir:sideways is neither dir:in nor dir:out"),
        ("side:left", "side:left is neither side:you nor side:gw"),
        ("t:EXEC op:", "op: needs a value (e.g. op:HEARTBEAT)"),
    ],
)
def test_a_term_that_cannot_match_is_named_with_why(proto, terms, message):
    with pytest.raises(FilterError) as raised:
        Filter.parse_strict(terms, proto)
    assert str(raised.value).startswith(message)
    assert Filter.parse(terms).problems(proto)  # parse itself never fails: the dashboard parses as you type


def test_good_terms_have_no_problems(proto):
    text = "conn:12 op:heartbeat_ack t:guild dir:out side:y -op:heartbeat free:words [/] ban"
    assert Filter.parse(text).problems(proto) == []
    assert Filter.parse_strict(text, proto).text == text


def test_a_connection_number_must_be_ascii_digits():
    from gwtool.filters import Filter
    from gwtool.protocol.definition import load_protocol
    from gwtool.records import Record

    proto = load_protocol(use_env=False)
    wanted = Filter.parse("conn:²", proto)
    assert wanted.problems(proto) and not wanted.matches(Record("in", 1, {"op": 1}, conn=2), proto, "gw")
