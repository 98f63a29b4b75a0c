"""The dashboard against a separate gateway (the REST side over HTTP), and telling our connection
from the simulated service's when both are of one type. Real MockGateways on 127.0.0.1:0."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from textual.widgets import DataTable
from tui_testkit import wait_for

import gwtool.tui.session as session_module
from gwtool.client import GatewayClient
from gwtool.errors import GwtoolError
from gwtool.gateway import MockGateway, address_text
from gwtool.records import Record
from gwtool.tui.app import GwtoolApp, make_app
from gwtool.tui.session import Session
from gwtool.tui.widgets.cache_tree import CacheTree

SIZE = (160, 48)


def identified(app: GwtoolApp) -> bool:
    return bool(app.session.state and app.session.state.phase == "identified")


def labels(tree: CacheTree) -> dict[str, str]:
    """Type → its node's label."""
    return {node.label.plain.split(" ")[0]: node.label.plain for node in tree.root.children}


def leaves(tree: CacheTree, kind: str) -> list[tuple[str, ...]]:
    return [child.data[1] for node in tree.root.children for child in node.children if child.data[0] == kind]


async def test_the_services_pane_shows_the_last_heartbeat_a_remote_gateway_reports(proto):
    async with MockGateway(proto, port=0) as gw:
        app = make_app(proto, url=gw.url, service="commands")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: identified(app), what="identified")
            await wait_for(pilot, lambda: gw.services_json()[0]["lastHeartbeat"] is not None, what="a heartbeat")
            await pilot.press("5")
            table = app.query_one(DataTable)
            last = lambda: table.get_row_at(0)[-1].plain if table.row_count else ""  # noqa: E731
            await wait_for(pilot, lambda: last().endswith("s ago"), what="the ♥ last column")
            assert table.border_subtitle == "GET /services/"


async def test_a_remote_gateways_cache_tree_lists_what_other_services_cached(proto, monkeypatch):
    """As a service that never caches: the tree is the gateway's cache (GET /cache/{type}/), bounded."""
    monkeypatch.setattr(session_module, "REMOTE_LISTING_LIMIT", 2)
    cacher = proto.first_cacher()
    kind, structure = next(iter(proto.cache_types.items()))
    watcher = next(s for s in proto.services if s != cacher)
    entities = [{**structure.example, **{k: f"{n}{i}" for i, k in enumerate(structure.key)}} for n in range(1, 4)]
    async with MockGateway(proto, port=0) as gw:
        app = make_app(proto, url=gw.url, service=watcher)
        async with app.run_test(size=SIZE) as pilot, GatewayClient(gw.url, service=cacher, proto=proto) as other:
            await wait_for(pilot, lambda: identified(app), what="identified")
            await other.wait_identified(timeout=5)
            await other.send_cache(kind, entities[0])
            await pilot.press("3")
            tree = app.query_one(CacheTree)
            await wait_for(pilot, lambda: leaves(tree, kind), what="the other service's entity")
            assert leaves(tree, kind) == [tuple(str(entities[0][k]) for k in structure.key)]
            assert labels(tree)[kind] == f"{kind} (1 at the gateway)"
            assert tree.border_subtitle == "GET /cache/{type}/"
            assert app.session.seen_cache.count(kind) == 0  # nothing of it came from this session
            await other.send_cache(kind, entities[1:])
            await wait_for(pilot, lambda: labels(tree)[kind] == f"{kind} (2 of 3 at the gateway)", what="a cut listing")
            assert len(leaves(tree, kind)) == 2


async def test_an_unchanged_remote_listing_keeps_its_entities_and_the_tree(proto):
    cacher = proto.first_cacher()
    kind, structure = next(iter(proto.cache_types.items()))
    async with MockGateway(proto, port=0) as gw, GatewayClient(gw.url, service=cacher, proto=proto) as other:
        await other.wait_identified(timeout=5)
        await other.send_cache(kind, structure.example)
        await other.round_trip(timeout=5)  # the gateway handled the CACHE before this ACK
        session = Session(proto, url=gw.url)
        first = await session.cache_index()
        second = await session.cache_index()
        assert first[1][kind] == [structure.example]
        assert second[1][kind][0] is first[1][kind][0]  # same object: the tree's signature is unchanged
        assert first[3] == frozenset(proto.cache_types)


async def test_H_asks_for_a_heartbeat_from_our_connection_not_the_simulated_one_of_the_same_type(proto):
    sharder = next(s.name for s in proto.services.values() if s.shards)
    app = GwtoolApp(Session(proto, service=sharder, period=0.2))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await wait_for(pilot, lambda: identified(app) and session.simulated is not None, what="our client")
        await session.simulated.wait_identified(timeout=5)
        gw = session.gateway
        sharders = lambda: [c for c in gw.connections if c.service == sharder and c.identified]  # noqa: E731
        await wait_for(pilot, lambda: len(sharders()) == 2, what="two sharders")
        by_remote = {c.remote: c.conn for c in sharders()}
        ours = by_remote[address_text(session.client.local_address)]
        theirs = by_remote[address_text(session.simulated.local_address)]
        assert ours != theirs and session.our_connection() == ours
        requests: list[int] = []
        beat = proto.op("HEARTBEAT")
        asked = lambda i: isinstance(i, Record) and i.direction == "out" and i.op == beat  # noqa: E731
        unsubscribe = gw.subscribe(lambda i: asked(i) and requests.append(i.conn))
        try:
            await pilot.press("H")
            await wait_for(pilot, lambda: requests, what="the gateway's HEARTBEAT")
            await pilot.pause(0.2)
        finally:
            unsubscribe()
        assert requests == [ours]


async def test_our_connection_is_found_by_address_whichever_connected_first(proto):
    """The first connection of our type may be someone else's (here it is): the address decides."""
    sharder = next(s.name for s in proto.services.values() if s.shards)
    async with MockGateway(proto, port=0) as gw, GatewayClient(gw.url, service=sharder, proto=proto) as first:
        await first.wait_identified(timeout=5)
        async with GatewayClient(gw.url, service=sharder, proto=proto) as second:
            await second.wait_identified(timeout=5)
            session = Session(proto, service=sharder)
            session.gateway, session.client = gw, second
            conns = [c.conn for c in gw.connections if c.service == sharder]
            assert len(conns) == 2 and session.our_connection() == conns[1]
            beat = proto.op("HEARTBEAT")
            request = asyncio.ensure_future(second.wait_for_record(lambda r: r.direction == "in" and r.op == beat))
            await asyncio.sleep(0)
            await session.request_heartbeat()
            async with asyncio.timeout(5):
                await request
            session.client = first
            assert session.our_connection() == conns[0]
        session.client = second  # closed now: no connection to ask
        with pytest.raises(GwtoolError, match="no connection"):
            await session.request_heartbeat()


@pytest.mark.parametrize("hostile", [False, True])
async def test_a_gateway_without_listings_shows_the_cache_payloads_seen(proto, hostile):
    """Another gateway implementation may answer GET /cache/ but not GET /cache/{type}/; a count
    that is not a whole number is no count (the tree shows only what it has then)."""
    kind, structure = next(iter(proto.cache_types.items()))
    counts: dict[str, object] = {name: 5 for name in proto.cache_types}
    if hostile:
        counts |= dict(zip(proto.cache_types, ("lots", True, 2.5, None, "[/]")))

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        found = request.startswith(b"GET /cache/ ")
        body = orjson.dumps(counts if found else {"error": "no route"})
        status = b"200 OK" if found else b"404 Not Found"
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        session = Session(proto, url=f"ws://127.0.0.1:{port}")
        session.remember_cache({"op": proto.op("CACHE"), "type": kind, "d": structure.example})
        source, index, got, listed = await session.cache_index()
    whole = {name: n for name, n in counts.items() if type(n) is int}
    assert index[kind] == [structure.example] and got == whole and listed == frozenset()
    assert source.startswith("cache payloads seen")


async def test_actions_before_connecting_raise_not_connected_not_attribute_errors(proto):
    import pytest

    from gwtool.client import NotConnected

    session = Session(proto, url="ws://127.0.0.1:1")
    with pytest.raises(NotConnected):
        await session.heartbeat_now()
    with pytest.raises(NotConnected):
        await session.send({"op": proto.op("HEARTBEAT"), "d": {}})


async def test_the_embedded_gateway_takes_the_port_asked_or_says_it_took_another(proto):
    import socket

    from gwtool.tui.session import Session

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        seen: list = []
        session = Session(proto, port=busy, quiet=True)
        gw = await session._start_gateway(lambda side, item: seen.append(item))
        try:
            assert gw.port != busy
            assert any(f"127.0.0.1:{busy}" in item.text and gw.url in item.text for item in seen)
        finally:
            await gw.stop()
    free = Session(proto, port=0)
    gw = await free._start_gateway(lambda side, item: None)
    await gw.stop()


def test_no_gateway_is_said_in_plain_words_with_the_hint():
    from gwtool.client import ClientState
    from gwtool.tui.widgets.status_bar import describe_state

    state = ClientState(
        phase="reconnecting", retry_at=103.4, close_code=1006, close_name="ABNORMAL",
        close_reason="could not connect to ws://127.0.0.1:18799: connection refused — is a gateway running?", conn=1,
        connect_failure="refused",
    )  # fmt: skip
    text = describe_state(state, "commands", None, lambda: 100.0, "ws://127.0.0.1:18799").plain
    assert text == "no gateway at ws://127.0.0.1:18799 · retrying in 3.4 s · `gwtool mock-gateway` starts one"
