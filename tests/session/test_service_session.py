"""The service side's rules, without sockets: fed payloads and a clock, checked by its actions."""

from __future__ import annotations

import pytest

from gwtool.protocol.definition import load_protocol
from gwtool.session import Ack, Close, Hello, Identified, Problem, Send, ServiceSession, Stalled, Zombie

PROTO = load_protocol(use_env=False)
OP = {name: PROTO.op(name) for name in PROTO.opcodes}


def hello(interval=1000):
    return {"op": OP["HELLO"], "d": {PROTO.roles.hello_interval: interval}}


def identified(**d):
    return {"op": OP["EVENT"], "t": "IDENTIFIED", "d": d}


def ack():
    return {"op": OP["HEARTBEAT_ACK"], "d": {}}


def session(service="commands", **kw) -> ServiceSession:
    s = ServiceSession(PROTO, service, token="tok", first_beat=lambda: 0.5, heartbeat_data=lambda: {"heapUsed": 1}, **kw)
    s.connected(now=0.0)
    return s


def of(actions, kind):
    return [a for a in actions if isinstance(a, kind)]


def identify(s: ServiceSession, now=0.1, **d):
    s.receive(hello(), now)
    return s.receive(identified(**d), now)


def test_hello_is_answered_with_identify_and_names_the_interval():
    s = session()
    actions = s.receive(hello(2000), 0.1)
    assert of(actions, Hello) == [Hello(2000)]
    (send,) = of(actions, Send)
    assert send.payload == {"op": OP["IDENTIFY"], "d": {"type": "commands", "token": "tok", "compress": False}}
    assert s.phase == "identifying" and s.interval_ms == 2000


@pytest.mark.parametrize("d", [{}, {"heartbeatInterval": "1000"}, {"heartbeatInterval": 0}, []])
def test_a_hello_without_a_usable_interval_uses_the_default_and_says_so(d):
    s = session()
    actions = s.receive({"op": OP["HELLO"], "d": d}, 0.1)
    assert s.interval_ms == PROTO.default_interval_ms
    assert any("heartbeatInterval" in p.text for p in of(actions, Problem))


def test_something_other_than_hello_first_is_a_problem():
    s = session()
    problems = of(s.receive(ack(), 0.1), Problem)
    assert problems and problems[0].text == f"expected HELLO first, got {OP['HEARTBEAT_ACK']} HEARTBEAT_ACK"


def test_identified_carries_the_shards_of_a_sharder():
    s = session("sharder")
    (done,) = of(identify(s, shards=[0, 1, 2], maxShards=3), Identified)
    assert done.shards == [0, 1, 2] and done.max_shards == 3 and s.phase == "identified"


def test_identified_without_shards_for_a_sharder_is_a_problem():
    s = session("sharder")
    actions = identify(s)
    assert of(actions, Identified) and any("shards" in p.text for p in of(actions, Problem))


def test_no_hello_within_the_handshake_timeout_stalls_and_closes():
    s = session(handshake_timeout=2.0)
    assert s.deadline() == 2.0 and s.tick(1.9) == []
    actions = s.tick(2.0)
    assert actions[0] == Stalled("HELLO", 2.0)
    close = actions[1]
    assert isinstance(close, Close) and close.code == PROTO.close("UNKNOWN_ERROR").code
    assert close.reason == "no HELLO within 2 s of connecting"


def test_no_identified_within_the_handshake_timeout_of_identify_stalls():
    s = session(handshake_timeout=2.0)
    s.receive(hello(10_000), 1.0)
    actions = s.tick(3.0)
    assert of(actions, Stalled) == [Stalled("IDENTIFIED", 2.0)]
    assert of(actions, Close)[0].reason == Stalled("IDENTIFIED", 2.0).reason == "no IDENTIFIED within 2 s of IDENTIFY"


def test_heartbeats_go_every_interval_after_a_random_first_fraction():
    s = session()
    identify(s, now=0.0)
    assert s.deadline() == pytest.approx(0.5)
    (beat,) = s.tick(0.5)
    assert isinstance(beat, Send) and beat.payload == {"op": OP["HEARTBEAT"], "d": {"heapUsed": 1}}
    (got,) = s.receive(ack(), 0.502)
    assert isinstance(got, Ack) and got.latency_ms == pytest.approx(2.0)
    assert s.deadline() == pytest.approx(1.5)


def test_a_scheduled_beat_that_finds_the_last_one_unacked_closes_a_zombie():
    s = session()
    identify(s, now=0.0)
    s.tick(0.5)
    actions = s.tick(1.5)
    assert actions[0] == Zombie(missed=1, interval_ms=1000)
    assert isinstance(actions[1], Close) and actions[1].reason == "no heartbeat ACK"
    assert s.phase == "closed" and s.beats_settled == s.beats_sent == 1


def test_a_requested_heartbeat_is_answered_at_once_and_not_taken_for_a_zombie():
    s = session()
    identify(s, now=0.0)
    s.tick(0.5)
    s.receive(ack(), 0.51)
    (answer,) = of(s.receive({"op": OP["HEARTBEAT"], "d": {}}, 1.4), Send)
    assert answer.payload["op"] == OP["HEARTBEAT"]
    assert of(s.tick(1.5), Send)  # the request's beat is 0.1 s old: not a missed scheduled one


def test_without_scheduled_beats_nothing_is_due_after_identified():
    s = session(heartbeat=False)
    identify(s)
    assert s.deadline() is None


def test_an_ack_confirms_the_payloads_sent_before_its_heartbeat():
    s = session()
    identify(s, now=0.0)
    s.sent_data()
    s.sent_data()
    s.heartbeat(1.0)
    s.sent_data()
    (got,) = s.receive(ack(), 1.001)
    assert got.confirmed == 2 and s.data_sent == 3


def test_an_ack_nobody_asked_for_is_counted_not_measured():
    s = session()
    identify(s)
    (got,) = s.receive(ack(), 0.2)
    assert got.latency_ms is None and s.unsolicited_acks == 1


def test_an_event_this_type_does_not_receive_is_a_problem_with_its_path():
    s = session("sharder")
    identify(s, shards=[0], maxShards=1)
    event = {"op": OP["EVENT"], "t": "EXECUTE_COMMAND", "d": PROTO.events["EXECUTE_COMMAND"].example}
    (problem,) = of(s.receive(event, 0.2), Problem)
    assert problem == Problem("t: sharder does not receive EXECUTE_COMMAND", "t")


def test_invalid_event_data_from_the_gateway_names_the_field():
    s = session()
    identify(s)
    d = {**PROTO.events["EXECUTE_COMMAND"].example, "ids": {**PROTO.events["EXECUTE_COMMAND"].example["ids"], "shard": "1"}}
    (problem,) = of(s.receive({"op": OP["EVENT"], "t": "EXECUTE_COMMAND", "d": d}, 0.2), Problem)
    assert problem.path == "d.ids.shard" and "expected integer" in problem.text


def test_compression_nobody_asked_for_is_a_problem():
    s = session()
    identify(s)
    assert of(s.receive(ack(), 0.2, compressed=True), Problem)


def test_a_second_hello_is_ignored_with_a_problem():
    s = session()
    s.receive(hello(), 0.1)
    actions = s.receive(hello(5), 0.2)
    assert not of(actions, Send) and s.interval_ms == 1000 and of(actions, Problem)


@pytest.mark.parametrize(
    ("code", "by_gateway", "expected"), [(4004, True, False), (4009, True, True), (4004, False, True), (1006, False, True)]
)
def test_reconnects_after_every_close_but_a_final_one_from_the_gateway(code, by_gateway, expected):
    assert PROTO.close_by_code[4004].reconnect is False
    assert session().reconnects(code, by_gateway) is expected


def test_a_lost_connection_settles_its_pending_heartbeats():
    s = session()
    identify(s)
    s.heartbeat(0.2)
    s.lost()
    assert s.beats_settled == s.beats_sent and s.deadline() is None and s.receive(ack(), 0.3) == []


def test_an_unknown_service_type_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown service type 'music'"):
        ServiceSession(PROTO, "music")


def test_a_watched_session_takes_the_type_and_the_identify_time_it_is_told():
    s = session("commands", heartbeat=False, handshake_timeout=5.0)
    s.receive(hello(), 0.0)
    s.identifying("sharder", compress=True, now=4.0)  # the service chose to identify late
    assert s.tick(8.0) == []  # not 5 s after HELLO: 5 s after IDENTIFY
    actions = s.receive(identified(), 8.5, compressed=True)
    assert [p.text for p in of(actions, Problem)] == ["IDENTIFIED has no shards for a sharder"]  # the sharder's rule
    assert of(s.receive({"op": OP["EVENT"], "t": "EXECUTE_COMMAND", "d": {}}, 9.0, compressed=True), Problem)
    with pytest.raises(ValueError, match="unknown service type 'music'"):
        s.identifying("music", compress=False, now=9.0)
