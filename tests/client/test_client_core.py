"""GatewayClient against small scripted gateways: identify, heartbeats, latency, sending."""

from __future__ import annotations

import asyncio
import socket

import pytest

from gwtool.client import Backoff, GatewayClient, NotAllowed
from gwtool.errors import ClosedByGateway, ConnectFailed, InvalidPayload
from gwtool.records import Notice, Record

FAST = Backoff(initial=0.01, maximum=0.05)


def collect(client: GatewayClient) -> list[Record | Notice]:
    items: list[Record | Notice] = []
    client.subscribe(items.append)
    return items


async def test_identifies_and_heartbeats_with_latency(fake_gateway, proto):
    async with fake_gateway(interval=50) as gw:
        client = GatewayClient(gw.url, service="sharder", proto=proto, guilds=42, backoff=FAST)
        items = collect(client)
        async with client:
            identified = await client.wait_identified(timeout=5)
            await gw.wait_until(lambda: len(gw.payloads("HEARTBEAT")) >= 3)
            await asyncio.sleep(0.02)
        assert identified == {"shards": [0, 1, 2], "maxShards": 3}
        assert client.state.shards == [0, 1, 2] and client.state.max_shards == 3
        assert gw.identifies == [{"type": "sharder", "token": "", "compress": False}]
        beat = gw.payloads("HEARTBEAT")[0]["d"]
        assert beat["guilds"] == 42 and beat["heapUsed"] > 1_000_000  # a real RSS, not a stand-in
        assert client.latency.count >= 2 and client.latency.p95 >= client.latency.p50 >= client.latency.min > 0
        assert client.latency.missed == 0
        kinds = [i.kind for i in items if isinstance(i, Notice)]
        assert kinds[:3] == ["connecting", "connected", "identified"] and kinds[-1] == "closed"
        beats = ("HEARTBEAT", "HEARTBEAT_ACK")  # the first beat may go before IDENTIFIED arrives (random offset)
        ops = [(r.direction, proto.op_name(r.op)) for r in items if isinstance(r, Record)]
        assert [op for op in ops if op[1] not in beats][:3] == [("in", "HELLO"), ("out", "IDENTIFY"), ("in", "EVENT")]
        assert client.state.phase == "closed"
        await gw.wait_until(lambda: gw.close_codes == [1000])


async def test_commands_heartbeat_has_no_sharder_fields(fake_gateway, proto):
    async with fake_gateway(interval=50) as gw:
        async with GatewayClient(gw.url, service="commands", proto=proto, guilds=7) as client:
            assert await client.wait_identified(timeout=5) == {}
            await gw.wait_until(lambda: len(gw.payloads("HEARTBEAT")) >= 1)
        assert set(gw.payloads("HEARTBEAT")[0]["d"]) == {"heapUsed"}


async def test_records_carry_size_and_every_frame(fake_gateway, proto):
    async with fake_gateway(interval=10_000) as gw:
        client = GatewayClient(gw.url, service="commands", proto=proto)
        items = collect(client)
        async with client:
            await client.wait_identified(timeout=5)
        records = [i for i in items if isinstance(i, Record)]
        hello = records[0]
        assert hello.direction == "in" and hello.size == len(b'{"op":3,"d":{"heartbeatInterval":10000}}')
        assert client.received_count == 2 and client.sent_count == 1


async def test_send_event_validates_and_checks_permission(fake_gateway, proto):
    async with fake_gateway(interval=10_000) as gw:
        async with GatewayClient(gw.url, service="commands", proto=proto) as client:
            await client.wait_identified(timeout=5)
            example = proto.events["EXECUTE_COMMAND"].example
            bad = {**example, "ids": {**example["ids"], "shard": "2"}}
            with pytest.raises(InvalidPayload) as invalid:
                await client.send_event("EXECUTE_COMMAND", bad)
            assert invalid.value.errors == ["d.ids.shard: expected integer, got string"]
            with pytest.raises(NotAllowed, match="EXECUTE_COMMAND may not be sent by commands"):
                await client.send_event("EXECUTE_COMMAND", example)
            record = await client.send_event("EXECUTE_COMMAND", example, force=True)
            await gw.wait_until(lambda: len(gw.payloads("EVENT")) == 1)
        assert gw.payloads("EVENT") == [{"op": 2, "t": "EXECUTE_COMMAND", "d": example}]
        assert record.direction == "out" and record.t == "EXECUTE_COMMAND"


async def test_send_cache_unvalidated_goes_out_as_is(fake_gateway, proto):
    async with fake_gateway(interval=10_000) as gw:
        async with GatewayClient(gw.url, service="sharder", proto=proto) as client:
            await client.wait_identified(timeout=5)
            with pytest.raises(InvalidPayload, match="d.id: missing"):
                await client.send_cache("user", {"username": "x"})
            await client.send_cache("user", {"username": "x"}, validate=False)
            await gw.wait_until(lambda: len(gw.payloads("CACHE")) == 1)
        assert gw.payloads("CACHE") == [{"op": 6, "type": "user", "d": {"username": "x"}}]


async def test_nothing_listening_is_connect_failed():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = GatewayClient(f"ws://127.0.0.1:{port}", service="commands")
    with pytest.raises(ConnectFailed, match="connection refused — is a gateway running") as raised:
        async with asyncio.timeout(5):
            await client.run()
    assert client.state.phase == "closed"
    assert raised.value.failure == "refused"


@pytest.mark.parametrize(
    ("exc", "failure", "text"),
    [
        (ConnectionRefusedError(111, "Connection refused"), "refused", "connection refused — is a gateway running?"),
        (TimeoutError(), "timeout", "no websocket handshake within 5 s"),
        (OSError(113, "No route to host"), "network", "no route to host"),
        # asyncio merges the errors of a name's several addresses into one OSError with no errno
        (OSError("Multiple exceptions: [Errno 111] Connect call failed"), "network", "Multiple exceptions: [Errno 111]"),
        (EOFError("connection closed while reading HTTP status line"), "handshake", "connection closed while reading"),
    ],
)
def test_a_failed_attempt_has_a_kind_besides_its_words(exc, failure, text):
    from gwtool.client.core import connect_failure

    kind, words = connect_failure(exc, 5)
    assert kind == failure and words.startswith(text), words


async def test_undecodable_frame_becomes_a_record_and_the_connection_lives(fake_gateway, proto):
    async def garbage(gw, link):
        await link.ws.send("not json {", text=True)
        await link.ws.send(b"\x78\x9c broken zlib")

    async with fake_gateway(interval=50, after_identify=garbage) as gw:
        client = GatewayClient(gw.url, service="commands", proto=proto)
        items = collect(client)
        async with client:
            await client.wait_identified(timeout=5)
            await client.wait_for_record(lambda r: r.op == proto.op("HEARTBEAT_ACK"), timeout=5)
        bad = [r for r in items if isinstance(r, Record) and r.payload is None]
        assert [r.raw for r in bad] == ["not json {", "78 9c 20 62 72 6f 6b 65 6e 20 7a 6c 69 62"]
        assert bad[0].error.startswith("not JSON") and bad[1].error.startswith("bad zlib data")
        assert bad[1].compressed


async def test_no_hello_closes_and_reports(fake_gateway, proto):
    async with fake_gateway(send_hello=False) as gw:
        client = GatewayClient(gw.url, service="commands", proto=proto, open_timeout=0.2, reconnect=False)
        items = collect(client)
        with pytest.raises(ConnectFailed, match="no HELLO within 0.2 s"):
            async with asyncio.timeout(5):
                await client.run()
        assert any(isinstance(i, Notice) and "sent no HELLO" in i.text for i in items)
        await gw.wait_until(lambda: gw.close_codes == [proto.close("UNKNOWN_ERROR").code])


async def test_round_trip_waits_for_its_own_ack(fake_gateway, proto):
    async with fake_gateway(interval=20) as gw:  # scheduled beats interleave with ours
        async with GatewayClient(gw.url, service="commands", proto=proto) as client:
            await client.wait_identified(timeout=5)
            latencies = [await client.round_trip(timeout=5) for _ in range(5)]
        assert all(ms > 0 for ms in latencies)
        assert client.latency.count >= 5 and client.latency.missed == 0


async def test_round_trip_times_out_without_ack(fake_gateway, proto):
    async with fake_gateway(interval=60_000, ack=False) as gw:
        async with GatewayClient(gw.url, service="commands", proto=proto, heartbeat=False) as client:
            await client.wait_identified(timeout=5)
            with pytest.raises(TimeoutError):
                await client.round_trip(timeout=0.1)


async def test_closing_mid_heartbeat_reports_no_error(fake_gateway, proto):
    async with fake_gateway(interval=2) as gw:  # a heartbeat is nearly always in flight
        for _ in range(5):
            client = GatewayClient(gw.url, service="commands", proto=proto)
            items = collect(client)
            async with client:
                await client.wait_identified(timeout=5)
                await asyncio.sleep(0.02)
            assert [i.text for i in items if isinstance(i, Notice) and i.kind == "error"] == []


async def test_closed_before_it_ran_ends_at_once(fake_gateway, proto):
    async with fake_gateway() as gw:
        async with asyncio.timeout(5):
            async with GatewayClient(gw.url, service="commands", proto=proto) as client:
                pass
        assert client.state.phase == "closed" and gw.connections == 0


async def test_gateway_closing_right_after_hello_is_reported_as_its_close(fake_gateway, proto):
    async with fake_gateway(close_after_hello=4000) as gw:
        client = GatewayClient(gw.url, service="commands", proto=proto, reconnect=False)
        with pytest.raises(ClosedByGateway, match="4000 UNKNOWN_ERROR — scripted close after HELLO"):
            async with asyncio.timeout(5):
                await client.run()  # not NotConnected from the IDENTIFY that could not go out


async def test_invalid_gateway_payload_is_kept_and_warned_about(fake_gateway, proto):
    async def bad_event(gw, link):
        await link.send({"op": proto.op("EVENT"), "t": "EXECUTE_COMMAND", "d": {"command": 1}})

    async with fake_gateway(interval=60_000, after_identify=bad_event) as gw:
        client = GatewayClient(gw.url, service="commands", proto=proto, heartbeat=False)
        items = collect(client)
        async with client:
            event = await client.wait_for_event("EXECUTE_COMMAND", timeout=5)
        assert event.payload["d"] == {"command": 1}  # delivered as received
        warning = next(i for i in items if isinstance(i, Notice) and i.kind == "warning")
        assert warning.text.startswith("the gateway sent an invalid payload: d.command: expected string, got integer")
        assert items.index(warning) == items.index(event) + 1
