"""The control API: a service's test suite lists, adds, removes and resets fault rules over HTTP."""

from __future__ import annotations

import time

import orjson
from proxy_testkit import OP, heartbeat, http, recv, send, service, until

from gwtool.gateway import MockGateway
from gwtool.proxy import Proxy


async def test_rules_are_listed_added_removed_and_reset_over_http():
    async with MockGateway() as gw, Proxy(upstream=gw.url, control_port=0, faults=("delay 5 op:HELLO",)) as proxy:
        host, port = proxy.host, proxy.control.port
        status, _, body = await http(host, port, "/rules")
        assert status == 200 and body == {
            "rules": [{"id": 1, "rule": "delay 5 op:HELLO", "action": "delay", "applied": 0, "enabled": True}]
        }

        status, _, body = await http(host, port, "/rules", "POST", orjson.dumps({"rule": "drop op:HEARTBEAT_ACK"}),
                                     {"Content-Type": "application/json"})  # fmt: skip
        assert status == 201 and body["rule"]["id"] == 2
        worker, _ = await service(proxy.url, "commands")
        await send(worker, heartbeat())
        await until(lambda: proxy.counts.injected == 2)
        status, _, body = await http(host, port, "/rules")
        assert [r["applied"] for r in body["rules"]] == [1, 1]  # HELLO delayed, the ACK dropped

        assert (await http(host, port, "/rules/2", "DELETE"))[0] == 200
        await send(worker, heartbeat())
        assert (await recv(worker))["op"] == OP["HEARTBEAT_ACK"]  # ACKs go through again

        status, _, body = await http(host, port, "/rules", "POST", b"stall from:gateway")  # the rule as plain text
        assert status == 201 and body["rule"]["rule"] == "stall from:gateway"
        status, _, body = await http(host, port, "/rules/reset", "POST")
        assert status == 200 and [r["rule"] for r in body["rules"]] == ["delay 5 op:HELLO"]
        status, _, body = await http(host, port, "/rules", "DELETE")
        assert status == 200 and len(body["removed"]) == 1 and proxy.rules == []

        status, _, body = await http(host, port, "/stats")
        assert status == 200 and body["payloads"]["service"] >= 3 and body["injected"] == 2 and "verdict" in body
        status, _, body = await http(host, port, "/connections")
        assert [(c["conn"], c["service"]) for c in body["connections"]] == [(1, "commands")]
        await worker.close()


async def test_a_rule_is_disabled_and_enabled_over_http():
    async with MockGateway() as gw, Proxy(upstream=gw.url, control_port=0, faults=("drop op:HEARTBEAT_ACK",)) as proxy:
        host, port = proxy.host, proxy.control.port
        worker, _ = await service(proxy.url, "commands")
        await send(worker, heartbeat())
        await until(lambda: proxy.counts.injected == 1)
        status, _, body = await http(host, port, "/rules/1/disable", "POST")
        assert status == 200 and body["rule"]["enabled"] is False and body["rule"]["applied"] == 1
        await send(worker, heartbeat())
        assert (await recv(worker))["op"] == OP["HEARTBEAT_ACK"]  # off: forwarded
        status, _, body = await http(host, port, "/rules")
        assert [(r["id"], r["enabled"]) for r in body["rules"]] == [(1, False)]  # listed still
        status, _, body = await http(host, port, "/rules/1/enable", "POST")
        assert status == 200 and body["rule"]["enabled"] is True
        await send(worker, heartbeat())
        await until(lambda: proxy.counts.injected == 2)
        assert (await http(host, port, "/rules/9/disable", "POST"))[0] == 404
        assert (await http(host, port, "/rules/x/enable", "POST"))[0] == 400
        assert (await http(host, port, "/rules/1/enable"))[0] == 405  # GET
        await worker.close()


async def test_connections_say_when_each_service_connected_and_its_shards():
    async with MockGateway() as gw, Proxy(upstream=gw.url, control_port=0) as proxy:
        before = time.time()
        sharder, identified = await service(proxy.url, "sharder")
        worker, _ = await service(proxy.url, "commands")
        status, _, body = await http(proxy.host, proxy.control.port, "/connections")
        assert status == 200
        first, second = body["connections"]
        assert (first["service"], first["shards"], first["max_shards"]) == ("sharder", identified["shards"], 3)
        assert (second["service"], second["shards"]) == ("commands", None)  # a type that holds no shards
        assert before <= first["since"] <= second["since"] <= time.time()
        await sharder.close()
        await worker.close()


async def test_mistakes_get_a_json_error_naming_them():
    async with MockGateway() as gw, Proxy(upstream=gw.url, control_port=0) as proxy:
        host, port = proxy.host, proxy.control.port
        status, _, body = await http(host, port, "/rules", "POST", b'{"rule": "drop op:NOPE"}')
        assert status == 400 and "op:NOPE matches no op of the protocol" in body["error"]
        status, _, body = await http(host, port, "/rules", "POST", b'{"rules": 1}')
        assert status == 400 and '{"rule": "drop op:HEARTBEAT_ACK"}' in body["error"]
        assert (await http(host, port, "/rules/9", "DELETE"))[0] == 404
        assert (await http(host, port, "/rules/x", "DELETE"))[0] == 400
        assert (await http(host, port, "/stats", "POST"))[0] == 405
        status, _, body = await http(host, port, "/nope")
        assert status == 404 and "GET /rules" in body["error"]
        status, _, body = await http(host, port, "/rules", headers={"Origin": "http://evil.example"})
        assert status == 403 and "--allow-origin" in body["error"]
