"""``gwtool tui --proxy UPSTREAM``: the dashboard over a proxy running in-process, with a real
MockGateway upstream and gwtool's own clients as the services, on 127.0.0.1 ephemeral ports."""

from __future__ import annotations

import contextlib
import socket

import orjson
import pytest
from textual.widgets import DataTable, Input, Static
from tui_testkit import plain, wait_for
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from gwtool.client import GatewayClient
from gwtool.gateway import MockGateway
from gwtool.proxy import ProxySettings
from gwtool.records import Notice, Record
from gwtool.tui.app import CANNOT_IN_A_RECORDING, CANNOT_THROUGH_A_PROXY, GwtoolApp
from gwtool.tui.demo import demo_app
from gwtool.tui.proxy_source import ProxySource
from gwtool.tui.recording_source import RecordingSource
from gwtool.tui.screenshots import settle
from gwtool.tui.widgets.faults import NO_PROXY
from gwtool.tui.widgets.stream import entry_parts

SIZE = (160, 48)
EVENT = "EXECUTE_COMMAND"


def proxy_app(proto, upstream: str, *faults: str) -> GwtoolApp:
    return GwtoolApp(ProxySource(proto, ProxySettings(upstream=upstream, port=0, faults=faults)))


def line(app: GwtoolApp, entry) -> str:
    return "".join(text for text, _ in entry_parts(entry, app.proto, app.stream.columns()))


def lines(app: GwtoolApp) -> list[str]:
    return [line(app, entry) for entry in app.stream.view]


def status(app: GwtoolApp) -> str:
    return app.status.shown.plain if app.status.shown is not None else ""


@contextlib.asynccontextmanager
async def services(proto, app: GwtoolApp, pilot):
    """A commands worker (#1), then a sharder (#2), identified through the app's proxy."""
    await wait_for(pilot, lambda: app.session.proxy.listen_url, what="the proxy listening")
    url = app.session.proxy.listen_url
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for kind in ("commands", "sharder"):  # one after the other: their connection numbers are known
            client = await stack.enter_async_context(GatewayClient(url, service=kind, proto=proto))
            await client.wait_identified(timeout=5)
            clients.append(client)
        yield clients


async def test_every_proxied_connection_shows_both_ways_with_its_number_and_type_and_conn_filters(proto):
    async with MockGateway(proto, port=0) as gw:
        app = proxy_app(proto, gw.url)
        async with app.run_test(size=SIZE) as pilot, services(proto, app, pilot) as (worker, sharder):
            sent = await sharder.send_event(EVENT, proto.events[EVENT].example)
            routed = lambda: [shown for shown in lines(app) if "→ #1 commands" in shown and EVENT in shown]  # noqa: E731
            await wait_for(pilot, routed, what="the event the gateway routed to the worker")
            assert any("← #2 sharder" in shown and EVENT in shown for shown in lines(app))  # what the sharder sent, on its way
            records = [e.item for e in app.stream.view if isinstance(e.item, Record)]
            assert {r.sender for r in records} == {"service", "gateway"}
            assert sent.size in {r.size for r in records if r.conn == 2 and r.t == EVENT}
            await wait_for(pilot, lambda: "2 connections" in status(app), what="the status bar's count")
            assert status(app).startswith(f" proxy {app.session.proxy.listen_url} → {gw.url}  2 connections")

            app.filter_box.value = "conn:2"
            await settle(pilot)
            shown = [e.item for e in app.stream.view]
            assert shown and {item.conn for item in shown} == {2}
            assert all("#2 sharder" in shown or "#2 ?" in shown for shown in lines(app))


async def test_a_violation_is_a_red_line_of_its_own_and_counts_in_the_status(proto):
    async with MockGateway(proto, port=0) as gw:
        app = proxy_app(proto, gw.url)
        async with app.run_test(size=SIZE) as pilot, services(proto, app, pilot) as (_, sharder):
            data = proto.events[EVENT].example
            broken = {**data, "ids": {**data["ids"], "shard": "1"}}
            with contextlib.suppress(Exception):  # the gateway closes the sharder for it
                await sharder.send_event(EVENT, broken, validate=False, force=True)
            found = lambda: [e for e in app.stream.view if isinstance(e.item, Notice) and e.item.kind == "violation"]  # noqa: E731
            await wait_for(pilot, found, what="the violation")
            entry = found()[0]
            parts = entry_parts(entry, proto, app.stream.columns())
            assert (" ✗ ", "bold red") in parts  # marked, unlike the other notices' ●
            assert "#2 sharder → gateway: EXECUTE_COMMAND d.ids.shard: expected integer, got string" in line(app, entry)
            await wait_for(pilot, lambda: "✗ 1 violation" in status(app), what="the status bar's count")


async def test_the_services_pane_lists_the_proxied_identities(proto):
    async with MockGateway(proto, port=0) as gw:
        app = proxy_app(proto, gw.url)
        async with app.run_test(size=SIZE) as pilot, services(proto, app, pilot) as (worker, sharder):
            await pilot.press("5")
            table = app.query_one("#services-table", DataTable)
            rows = lambda: [[c.plain for c in table.get_row_at(i)] for i in range(table.row_count)]  # noqa: E731
            await wait_for(pilot, lambda: len(rows()) == 2 and rows()[0][1] != "no service connected", what="two rows")
            by_type = {row[1]: row for row in rows()}
            assert set(by_type) == {"commands", "sharder"}
            assert by_type["sharder"][2] == "0-2 of 3"  # the shards IDENTIFIED gave it
            assert by_type["commands"][-1] == "{}:{}".format(*worker.local_address[:2])  # where it connects from
            assert table.border_subtitle == "the proxy's connections"


async def test_the_faults_pane_checks_a_rule_as_typed_adds_it_and_counts_how_often_it_fired(proto):
    async with MockGateway(proto, port=0) as gw:
        app = proxy_app(proto, gw.url)
        async with app.run_test(size=SIZE) as pilot, services(proto, app, pilot) as (worker, _):
            proxy = app.session.proxy
            await pilot.press("7")
            box = app.query_one("#fault-input", Input)
            assert app.focused is box
            await pilot.press(*"drop op:HEARTBEAT_ACK from:worker")
            check = app.query_one("#fault-check", Static)
            assert plain(check).startswith("✗ from:worker: expected from:service or from:gateway")
            assert box.has_class("-invalid")
            await pilot.press("enter")
            assert proxy.rules == []  # not added: it cannot work
            box.value = ""
            await pilot.press(*"drop op:HEARTBEAT_ACK service:commands")
            assert plain(check).startswith("✓ valid") and not box.has_class("-invalid")
            await pilot.press("enter")
            assert [r.text for r in proxy.rules] == ["drop op:HEARTBEAT_ACK service:commands"] and box.value == ""

            rule = proxy.rules[0]
            await worker.heartbeat_now()
            await wait_for(pilot, lambda: rule.applied == 1, what="the rule firing")
            table = app.query_one("#faults-table", DataTable)
            await wait_for(pilot, lambda: table.get_row_at(0)[2].plain == "1", what="the fired count in the table")
            await wait_for(pilot, lambda: any("dropped HEARTBEAT_ACK → #1 commands" in shown for shown in lines(app)), what="it")


async def test_a_rule_is_turned_off_and_on_and_removed_from_the_faults_pane(proto):
    async with MockGateway(proto, port=0) as gw:
        app = proxy_app(proto, gw.url, "delay 5 op:HELLO", "drop op:HEARTBEAT_ACK")
        async with app.run_test(size=SIZE) as pilot, services(proto, app, pilot) as (worker, _):
            proxy = app.session.proxy
            await pilot.press("7", "tab")  # from the rule's line to the rules
            table = app.query_one("#faults-table", DataTable)
            assert app.focused is table
            await pilot.press("down", "t")
            assert [r.enabled for r in proxy.rules] == [True, False]
            assert [c.plain for c in table.get_row_at(1)][1] == "off"
            await worker.round_trip(timeout=5)  # its ACK comes back: the rule is off
            await pilot.press("t")
            assert [r.enabled for r in proxy.rules] == [True, True]
            await pilot.press("x")
            assert [r.text for r in proxy.rules] == ["delay 5 op:HELLO"]
            assert table.row_count == 1
            await wait_for(pilot, lambda: any("fault rule 2 removed" in shown for shown in lines(app)), what="the notice")
            assert any("fault rule 2 disabled: drop op:HEARTBEAT_ACK" in shown for shown in lines(app))


async def test_keys_of_our_own_client_say_why_they_do_nothing_through_a_proxy(proto):
    assert CANNOT_THROUGH_A_PROXY.keys() == CANNOT_IN_A_RECORDING.keys()  # the same hidden twins explain both
    async with MockGateway(proto, port=0) as gw:
        app = proxy_app(proto, gw.url)
        said: list[str] = []
        notify = app.notify
        app.notify = lambda message, **options: (said.append(str(message)), notify(message, **options))[1]  # type: ignore[method-assign]
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.session.proxy.listen_url, what="the proxy listening")
            for key in ("h", "H", "R", "g", "ctrl+s"):
                await pilot.press(key)
            await settle(pilot)
    assert said == [CANNOT_THROUGH_A_PROXY[a] for a in ("heartbeat", "request_heartbeat", "reconnect", "cycle_side", "send")]


async def test_an_unreachable_upstream_is_said_in_the_status_bar_and_a_service_gets_1014(proto):
    with socket.create_server(("127.0.0.1", 0)) as held:
        port = held.getsockname()[1]  # closed when the block ends: nothing listens there after
    app = proxy_app(proto, f"ws://127.0.0.1:{port}")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "unreachable" in status(app), what="the status")
        assert f"→ upstream ws://127.0.0.1:{port} unreachable: connection refused · services get 1014" in status(app)
        async with connect(app.session.proxy.listen_url, proxy=None, compression=None) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1014
        refused = lambda: [shown for shown in lines(app) if "closing the service with 1014 BAD_GATEWAY" in shown]  # noqa: E731
        await wait_for(pilot, refused, what="the stream's line")
        assert f"upstream ws://127.0.0.1:{port}/ unreachable: connection refused" in refused()[0]


async def test_a_port_in_use_is_said_not_raised(proto):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        app = GwtoolApp(ProxySource(proto, ProxySettings(upstream="ws://127.0.0.1:1", port=port)))
        async with app.run_test(size=SIZE) as pilot:
            said = f"failed · cannot listen on 127.0.0.1:{port}: address already in use"
            await wait_for(pilot, lambda: status(app).strip() == said, what="the status bar saying so")  # refreshed every 0.2 s


async def test_the_faults_pane_without_a_proxy_says_how_to_get_one(proto):
    app = demo_app(proto)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("7")
        await settle(pilot)
        assert app.panes.active == "faults"
        assert "gwtool tui --proxy" in plain(app.query_one("#faults-none", Static)) == NO_PROXY
        assert not app.applies("toggle_rule") and not app.applies("remove_rule")


async def test_its_log_is_a_recording_the_viewer_calls_a_proxys_of_both_sides(proto, tmp_path):
    path = tmp_path / "wire.ndjson"
    async with MockGateway(proto, port=0) as gw:
        with path.open("ab") as log:
            app = GwtoolApp(ProxySource(proto, ProxySettings(upstream=gw.url, port=0), log=log))
            async with app.run_test(size=SIZE) as pilot, services(proto, app, pilot):
                url = app.session.proxy.listen_url
    recording = RecordingSource(proto, path, keep=100)
    assert recording.header["command"] == "proxy" and recording.header["upstream"] == gw.url
    assert recording.whose == "a proxy's recording of both sides (services ↔ gateway, through the proxy)"
    assert recording.url == f"wire.ndjson (through {url} to {gw.url})"
    senders = {line.get("from") for line in map(orjson.loads, path.read_bytes().splitlines()[1:])}
    assert {"service", "gateway"} <= senders


async def test_the_stats_pane_counts_every_proxied_connection(proto):
    async with MockGateway(proto, port=0) as gw:
        app = proxy_app(proto, gw.url)
        async with app.run_test(size=SIZE) as pilot, services(proto, app, pilot) as (_, sharder):
            await sharder.send_event(EVENT, proto.events[EVENT].example)
            await pilot.press("6")
            conversations = lambda: app.query_one("#stats-conversations", DataTable)  # noqa: E731
            seen = lambda: {conversations().get_row_at(i)[1].plain for i in range(conversations().row_count)}  # noqa: E731
            # the two services, and no conversation for the proxy's own start-up notice (conn 0)
            await wait_for(pilot, lambda: seen() == {"commands", "sharder"}, what="both proxied connections in the pane")
            assert conversations().row_count == 2
            # what the gateway wrote to the worker counts as forwarded; its hold is not in a proxy's sight
            delivery = lambda: [cell.plain for cell in app.query_one("#stats-delivery", DataTable).get_row_at(0)]  # noqa: E731
            await wait_for(pilot, lambda: delivery()[:3] == [EVENT, "1", "1"], what="the event read and forwarded")
            assert delivery()[3:6] == ["–", "–", "–"]
            assert "every proxied connection" in plain(app.query_one("#stats-summary", Static))


async def test_a_service_that_comes_before_the_stream_is_shown_and_logged(proto, tmp_path):
    """tui --proxy listens before the app runs: a service waiting to reconnect may come first."""
    import asyncio

    path = tmp_path / "wire.ndjson"
    async with MockGateway(proto, port=0) as gw:
        with path.open("ab") as log:
            source = ProxySource(proto, ProxySettings(upstream=gw.url, port=0), log=log)
            await source.start()
            async with GatewayClient(source.engine.url, service="sharder", proto=proto) as early:
                await early.wait_identified(timeout=5)
                shown: list = []
                running = asyncio.create_task(source.run(lambda side, item: shown.append(item)))
                await asyncio.sleep(0)  # run() takes what came before it at once
                assert any(isinstance(item, Record) and item.op == proto.op("IDENTIFY") for item in shown)
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()[1:]]
    assert any(line.get("op") == proto.op("IDENTIFY") for line in lines)  # logged from the start
