"""The gateway side's rules, without sockets: what it accepts, refuses (code and reason) and answers."""

from __future__ import annotations

import pytest

from gwtool.gateway.settings import GatewaySettings
from gwtool.gateway.shards import ShardPool
from gwtool.protocol.definition import load_protocol
from gwtool.session import Close, Send
from gwtool.session.actions import Joined, Route, Store
from gwtool.session.gateway import GatewayRules, GatewaySession

PROTO = load_protocol(use_env=False)
OP = {name: PROTO.op(name) for name in PROTO.opcodes}
EXAMPLE = PROTO.events["EXECUTE_COMMAND"].example


def session(**settings) -> GatewaySession:
    rules = GatewayRules(PROTO, GatewaySettings(**settings))
    return GatewaySession(rules, ShardPool(6, 3), conn=1, now=0.0)


def identify(s: GatewaySession, service="sharder", token="t", **d):
    return s.receive({"op": OP["IDENTIFY"], "d": {"type": service, "token": token, **d}}, 0.1)


def closed(actions) -> Close:
    (close,) = [a for a in actions if isinstance(a, Close)]
    return close


def test_hello_names_the_interval():
    assert session(heartbeat_interval=1234).hello().payload == {"op": OP["HELLO"], "d": {"heartbeatInterval": 1234}}


def test_identify_is_answered_with_identified_and_a_shard_block():
    s = session()
    send, joined = identify(s)
    assert isinstance(send, Send) and send.payload == {
        "op": OP["EVENT"],
        "t": "IDENTIFIED",
        "d": {"shards": [0, 1, 2], "maxShards": 6},
    }
    assert joined == Joined("sharder", [0, 1, 2], False) and s.phase == "identified"


def test_shards_go_back_to_the_pool_when_the_connection_ends():
    rules = GatewayRules(PROTO, GatewaySettings(max_shards=3))
    pool = ShardPool(3, 3)
    first = GatewaySession(rules, pool, 1, 0.0)
    identify(first)
    assert identify(GatewaySession(rules, pool, 2, 0.0))[1].shards == []
    first.ended()
    assert identify(GatewaySession(rules, pool, 3, 0.0))[1].shards == [0, 1, 2]


@pytest.mark.parametrize(
    ("payload", "name", "reason"),
    [
        (
            {"op": OP["EVENT"], "t": "EXECUTE_COMMAND", "d": EXAMPLE},
            "NOT_IDENTIFIED",
            "EVENT before IDENTIFY: only HEARTBEAT may come first",
        ),
        ({"op": 99, "d": {}}, "UNKNOWN_OPCODE", "op: unknown opcode 99"),
        ({"op": OP["HELLO"], "d": {}}, "UNKNOWN_OPCODE", "is sent by the gateway only"),
        ({"op": OP["IDENTIFY"], "d": {"type": "sharder"}}, "INVALID_PAYLOAD", "d.token: missing"),
        ({"op": OP["IDENTIFY"], "d": {"type": "music", "token": "x"}}, "INVALID_SERVICE", "unknown service type 'music'"),
        ({"op": OP["HEARTBEAT"], "t": "X", "d": {"heapUsed": 1}}, "INVALID_PAYLOAD", "t: only"),
    ],
)
def test_each_fault_before_identify_closes_with_its_code_and_reason(payload, name, reason):
    close = closed(session().receive(payload, 0.1))
    assert close.name == name and close.code == PROTO.close(name).code and reason in close.reason


def test_a_wrong_token_is_refused_before_an_unknown_service_is_named():
    s = session(token="secret")
    assert closed(identify(s, service="music", token="nope")).name == "AUTHENTICATION_FAILED"


def test_a_second_identify_is_refused():
    s = session()
    identify(s)
    assert closed(identify(s)).name == "ALREADY_IDENTIFIED"


def test_a_valid_event_is_routed_and_an_invalid_one_names_its_field():
    s = session()
    identify(s)
    (route,) = s.receive({"op": OP["EVENT"], "t": "EXECUTE_COMMAND", "d": EXAMPLE}, 0.2)
    assert isinstance(route, Route) and route.event.t == "EXECUTE_COMMAND"
    bad = {**EXAMPLE, "ids": {**EXAMPLE["ids"], "shard": "1"}}
    close = closed(s.receive({"op": OP["EVENT"], "t": "EXECUTE_COMMAND", "d": bad}, 0.3))
    assert close.name == "INVALID_PAYLOAD" and close.reason == "d.ids.shard: expected integer, got string"
    assert s.receive({"op": OP["EVENT"], "t": "EXECUTE_COMMAND", "d": EXAMPLE}, 0.4) == ()  # closed: nothing more


def test_an_event_the_type_may_not_send_is_event_not_allowed():
    s = session()
    identify(s, service="commands")
    close = closed(s.receive({"op": OP["EVENT"], "t": "EXECUTE_COMMAND", "d": EXAMPLE}, 0.2))
    assert close.name == "EVENT_NOT_ALLOWED" and "may not be sent by commands" in close.reason


def test_cache_from_a_caching_type_is_stored():
    s = session()
    identify(s)
    user = {"id": "155112606661607425", "username": "x", "discriminator": "0001", "avatar": None, "bot": False}
    actions = s.receive({"op": OP["CACHE"], "type": "user", "d": user}, 0.2)
    assert actions == (Store("user", user),)


@pytest.mark.parametrize(
    ("ack", "answer"),
    [("always", {"op": OP["HEARTBEAT_ACK"], "d": {}}), ("without_d", {"op": OP["HEARTBEAT_ACK"]}), ("never", None)],
)
def test_heartbeats_are_acked_as_the_ack_mode_says(ack, answer):
    s = session(ack=ack)
    actions = s.receive({"op": OP["HEARTBEAT"], "d": {"heapUsed": 1}}, 0.5)
    assert [a.payload for a in actions if isinstance(a, Send)] == ([answer] if answer else [])
    assert s.last_heartbeat == 0.5 and s.heartbeat == {"heapUsed": 1}


def test_no_identify_in_time_is_not_identified():
    s = session(identify_timeout=2.0, heartbeat_interval=60_000)
    assert s.tick(1.9) is None
    close = s.tick(2.1)
    assert close is not None and close.name == "NOT_IDENTIFIED" and "no IDENTIFY within 2 s" in close.reason


def test_silence_past_the_heartbeat_timeout_closes():
    s = session(heartbeat_interval=1000)
    identify(s)
    s.receive({"op": OP["HEARTBEAT"], "d": {"heapUsed": 1, "guilds": 0}}, 1.0)
    assert s.tick(2.4) is None
    close = s.tick(2.6)
    assert close is not None and close.name == "HEARTBEAT_TIMEOUT" and "since the last one" in close.reason


def test_the_rate_limit_counts_frames_in_a_window():
    s = session(rate_limit=(2, 1.0))
    assert s.admit(0.0) is None and s.admit(0.5) is None
    close = s.admit(0.6)
    assert close is not None and close.name == "RATE_LIMITED" and close.reason == "more than 2 payloads in 1 s"
    fresh = session(rate_limit=(1, 1.0))
    assert fresh.admit(0.0) is None and fresh.admit(1.5) is None  # a new window


def test_an_undecodable_frame_is_a_decode_error():
    assert session().undecodable("not JSON").name == "DECODE_ERROR"
