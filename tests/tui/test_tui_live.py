"""Pilot tests of every interaction against the real embedded MockGateway (port 0, real websockets)."""

from __future__ import annotations

import asyncio

from textual.widgets import DataTable, Static, TabbedContent
from tui_testkit import plain, wait_for

from gwtool.client import GatewayClient
from gwtool.gateway import MockGateway
from gwtool.records import Notice, Record
from gwtool.tui.app import GwtoolApp, make_app
from gwtool.tui.session import Session
from gwtool.tui.widgets.cache_tree import CacheTree
from gwtool.tui.widgets.help import ConfirmScreen, HelpScreen
from gwtool.tui.widgets.status_bar import StatusBar
from gwtool.tui.widgets.stream import Stream

SIZE = (160, 48)


def live_app(proto, **options) -> GwtoolApp:
    """The embedded setup, with the simulated sharder sending every 0.2 s instead of 3 s."""
    return GwtoolApp(Session(proto, period=0.2, **options))


def records(app: GwtoolApp, side: str = "you"):
    return [e.item for e in app.feed.entries if e.side == side and isinstance(e.item, Record)]


def has_op(app: GwtoolApp, name: str, side: str = "you", t: str | None = None) -> bool:
    code = app.proto.op(name)
    return any(r.op == code and (t is None or r.t == t) for r in records(app, side))


def status_text(app: GwtoolApp) -> str:
    return plain(app.query_one(StatusBar))


async def test_first_run_shows_hello_identified_and_a_latency(proto):
    app = make_app(proto)  # the real defaults: embedded gateway, simulated sharder, --as commands
    async with app.run_test(size=SIZE) as pilot:
        identified = proto.event_with_routing("identified").t
        await wait_for(pilot, lambda: has_op(app, "HELLO") and has_op(app, "EVENT", t=identified), what="HELLO, IDENTIFIED")
        await wait_for(pilot, lambda: app.session.latency.last is not None, what="a heartbeat ACK")
        await pilot.pause(0.3)
        status = status_text(app)
        assert "identified" in status and " ms" in status and "commands" in status
        assert app.session.gateway is not None and app.session.url == app.session.gateway.url
        assert any(e.side == "gw" for e in app.feed.entries)  # the gateway's side is shown too
        stream = app.query_one(Stream)
        assert len(stream.view) == len(app.feed.entries)


async def test_select_a_line_shows_its_json_and_copies_it(proto):
    app = live_app(proto)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: has_op(app, "EVENT", t="EXECUTE_COMMAND"), what="a simulated event")
        app.action_toggle_pause()  # hold the view still while selecting
        stream = app.query_one(Stream)
        target = max(
            i for i, e in enumerate(stream.view)
            if isinstance(e.item, Record) and e.item.t == "EXECUTE_COMMAND" and i < len(stream.view) - 1
        )  # fmt: skip
        stream.focus()  # (not End: it resumes, and what came in meanwhile would move the target)
        await pilot.press(*["up"] * (len(stream.view) - target), "enter")  # the first up selects the newest
        assert stream.cursor == target and stream.follow is False
        assert app.query_one(TabbedContent).active == "detail"
        heading = plain(app.query_one("#detail-view .detail-heading", Static))
        assert "EVENT EXECUTE_COMMAND" in heading and "B on the wire" in heading
        await pilot.press("c")
        assert '"t": "EXECUTE_COMMAND"' in app.clipboard and '"command"' in app.clipboard
        await pilot.press("end")
        assert stream.follow is True and stream.cursor is None
        assert "EVENT EXECUTE_COMMAND" in plain(app.query_one("#detail-view .detail-heading", Static))  # kept


async def test_filter_side_and_pause(proto):
    app = live_app(proto)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: has_op(app, "EVENT", t="EXECUTE_COMMAND"), what="a simulated event")
        await pilot.press("slash", *"op:")
        app.filter_box.value += "heartbeat"  # typing each key works the same, only slower
        await pilot.press("enter")
        stream = app.query_one(Stream)
        assert stream.view and all(
            isinstance(e.item, Record) and proto.op_name(e.item.op).startswith("HEARTBEAT") for e in stream.view
        )
        await pilot.press("slash", "escape")  # Esc in the filter box clears it
        assert app.query_one("#filter").value == ""
        await pilot.press("g")  # both → our client only
        assert app.side == "you" and all(e.side == "you" for e in stream.view)
        await pilot.press("g")
        assert app.side == "gw" and all(e.side == "gw" for e in stream.view)
        await pilot.press("g", "p")
        assert app.paused and app.side is None
        shown = len(stream.view)
        await wait_for(pilot, lambda: app.unseen > 0, what="payloads arriving while paused")
        assert len(stream.view) == shown and "PAUSED" in stream.border_subtitle
        await pilot.press("p")
        await pilot.pause(0.1)
        assert not app.paused and len(stream.view) > shown


async def test_heartbeat_keys(proto):
    app = live_app(proto, quiet=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.session.latency and app.session.latency.count >= 1, what="the first ACK")
        await pilot.press("2")
        before = app.session.latency.count
        await pilot.press("h")
        await wait_for(pilot, lambda: app.session.latency.count > before, what="an ACK for the key's heartbeat")
        beat = proto.op("HEARTBEAT")
        asked = lambda: [r for r in records(app, "gw") if r.direction == "out" and r.op == beat]  # noqa: E731
        await pilot.press("H")
        await wait_for(pilot, lambda: asked(), what="the gateway's heartbeat request")
        assert asked()[0].service == "commands"
        numbers = plain(app.query_one("#latency-numbers", Static))
        assert "last" in numbers and "ms" in numbers


async def test_cache_and_services_panes_read_the_gateway(proto):
    app = live_app(proto)
    async with app.run_test(size=SIZE) as pilot:
        gw = app.session.gateway
        await wait_for(pilot, lambda: gw is not None and sum(gw.cache.counts().values()) >= 3, what="cache payloads")
        await pilot.press("3")
        tree = app.query_one(CacheTree)
        await wait_for(pilot, lambda: any(node.children for node in tree.root.children), what="the cache tree")
        assert {n.label.plain.split(" ")[0] for n in tree.root.children} == set(proto.cache_types)
        leaf = next(child for node in tree.root.children for child in node.children)
        tree.focus()
        tree.select_node(leaf)
        await pilot.pause(0.1)
        assert leaf.data[0] in plain(app.query_one("#cache-detail .detail-heading", Static))
        await pilot.press("5")
        table = app.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count >= 2, what="services rows")
        types = {str(table.get_row_at(i)[1]) for i in range(table.row_count)}
        assert {"commands", app.session.simulated_service()} <= types


async def test_compose_validates_live_and_sends(proto):
    app = live_app(proto, quiet=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.session.state and app.session.state.phase == "identified", what="identified")
        await pilot.press("4")
        problems = app.query_one("#compose-problems", Static)
        editor = app.query_one("#compose-editor")
        app.query_one("#compose-kind").value = "op:HEARTBEAT"
        await pilot.pause(0.1)
        assert "valid" in plain(problems)
        editor.text = '{"op": 1, "d": {"heapUsed": "lots"}}'
        await pilot.pause(0.1)
        assert "d.heapUsed: expected integer" in plain(problems)
        editor.text = '{"op": 1,'
        await pilot.pause(0.1)
        assert "line 1, column" in plain(problems)
        editor.text = '{"op": 1, "d": {"heapUsed": 1234}}'
        await pilot.pause(0.1)
        sent = app.session.client.sent_count
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.session.client.sent_count > sent, what="the composed heartbeat")
        composed = {"op": 1, "d": {"heapUsed": 1234}}
        await wait_for(
            pilot, lambda: any(r.direction == "out" and r.payload == composed for r in records(app)), what="its record"
        )


async def test_compose_asks_before_sending_what_the_service_may_not(proto):
    app = live_app(proto, quiet=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.session.state and app.session.state.phase == "identified", what="identified")
        await pilot.press("4")
        app.query_one("#compose-kind").value = "event:EXECUTE_COMMAND"  # commands may not send it
        problems = app.query_one("#compose-problems", Static)
        await wait_for(pilot, lambda: "may not be sent by commands" in plain(problems), what="the live check")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("n")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, ConfirmScreen) and not has_op(app, "EVENT", t="EXECUTE_COMMAND")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("y")
        code = proto.close("EVENT_NOT_ALLOWED").code
        await wait_for(pilot, lambda: app.session.state.close_code == code, what="the gateway's close")
        # the close's notice reaches the stream at the next drain of the feed: wait for it, not race it
        await wait_for(
            pilot,
            lambda: any(isinstance(e.item, Notice) and str(code) in e.item.text for e in app.feed.entries),
            what="the close in the stream",
        )
        # a refusal you cannot miss: an error toast, and the status bar keeps it after the reconnect
        await wait_for(pilot, lambda: app.last_close is not None, what="the close noted")
        assert app.last_close[0].startswith(f"{code} EVENT_NOT_ALLOWED: EXECUTE_COMMAND may not be sent by commands")
        await wait_for(pilot, lambda: app.session.state.phase == "identified", what="reconnected")
        app.refresh_status()
        assert f"last close {code} EVENT_NOT_ALLOWED" in status_text(app)


async def test_help_screen_palette_theme_and_zoom(proto):
    from textual.command import CommandPalette

    app = live_app(proto, quiet=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("z")
        assert app.screen.maximized is app.query_one("#left")
        await pilot.press("escape")
        assert app.screen.maximized is None
        await pilot.press("5", "z")  # 5 focuses the services table: the panes get the screen
        assert app.screen.maximized is app.query_one(TabbedContent)
        await pilot.press("z")
        assert app.screen.maximized is None
        app.query_one(Stream).focus()
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="the theme picker")
        await pilot.press("escape")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"pause")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.paused, what="the palette's pause")


async def test_layout_switches_with_the_terminal_width(proto):
    app = live_app(proto, quiet=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.1)
        assert app.screen.has_class("-narrow")
        stream = app.query_one(Stream)
        panes = app.query_one(TabbedContent)
        assert stream.region.y < panes.region.y  # stacked
    app = live_app(proto, quiet=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.1)
        assert app.screen.has_class("-wide")
        assert app.query_one(Stream).region.x < app.query_one(TabbedContent).region.x  # side by side


async def test_a_separate_gateway_over_its_url_and_rest_side(proto):
    """`gwtool tui --url … --as commands` sees an EXECUTE_COMMAND another client sends; panes use HTTP."""
    async with MockGateway(proto, port=0) as gw:
        app = make_app(proto, url=gw.url, service="commands")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.session.state and app.session.state.phase == "identified", what="identified")
            sender = proto.first_sender("EXECUTE_COMMAND")
            async with GatewayClient(gw.url, service=sender, proto=proto) as other:
                await other.wait_identified(timeout=5)
                await other.send_event("EXECUTE_COMMAND", proto.events["EXECUTE_COMMAND"].example)
                cache = next(iter(proto.cache_types.values()))
                await other.send_cache(cache.name, cache.example)
                await wait_for(pilot, lambda: has_op(app, "EVENT", t="EXECUTE_COMMAND"), what="the routed event")
                await pilot.press("5")
                table = app.query_one(DataTable)
                await wait_for(pilot, lambda: table.row_count >= 2, what="GET /services/ rows")
                await pilot.press("3")
                tree = app.query_one(CacheTree)
                await wait_for(
                    pilot,
                    lambda: "at the gateway" in " ".join(n.label.plain for n in tree.root.children),
                    what="GET /cache/ counts",
                )
                await pilot.press("g")  # no gateway side to switch to: says so, changes nothing
                assert app.side is None
            await asyncio.sleep(0)


async def test_compressed_payloads_are_marked_and_sized(proto):
    app = live_app(proto, quiet=True, compress=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: any(r.compressed for r in records(app)), what="a compressed frame")
        stream = app.query_one(Stream)
        index = max(i for i, e in enumerate(stream.view) if e.side == "you" and getattr(e.item, "compressed", False))
        stream.cursor = index
        await pilot.pause(0.1)
        line = "".join(segment.text for segment in stream.render_line(index - stream.scroll_offset.y))
        assert " z " in line
        assert "zlib" in plain(app.query_one("#detail-view .detail-heading", Static))


async def test_remote_cache_entity_is_fetched_over_http(proto):
    """As a cacher on a separate gateway: the tree holds what we sent; selecting GETs the gateway's copy."""
    cacher = proto.first_cacher()
    kind, structure = next(iter(proto.cache_types.items()))
    async with MockGateway(proto, port=0) as gw:
        app = make_app(proto, url=gw.url, service=cacher)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.session.state and app.session.state.phase == "identified", what="identified")
            await app.session.send({"op": proto.op("CACHE"), "type": kind, "d": structure.example})
            await pilot.press("3")
            tree = app.query_one(CacheTree)
            await wait_for(pilot, lambda: any(n.children for n in tree.root.children), what="the tree")
            leaf = next(child for node in tree.root.children for child in node.children if child.data[0] == kind)
            tree.focus()
            tree.select_node(leaf)
            heading = lambda: plain(app.query_one("#cache-detail .detail-heading", Static))  # noqa: E731
            await wait_for(pilot, lambda: "→ 200" in heading(), what="GET /cache/… answered")
            assert heading().startswith(f"GET /cache/{kind}/")


async def test_an_event_added_by_a_protocol_file_is_simulated_and_composable(tmp_path):
    from gwtool.protocol.definition import load_protocol

    extra = tmp_path / "extra.toml"
    extra.write_text(
        '[events.PING]\nfrom = ["sharder"]\nto = ["commands"]\nrouting = "round_robin"\n'
        'example = \'{"n": 1}\'\n[events.PING.fields]\nn = { type = "integer" }\n'
    )
    proto = load_protocol(extra, use_env=False)
    app = live_app(proto)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: has_op(app, "EVENT", t="PING"), what="the new event, routed to us")
        assert "event:PING" in app.composer.choices


async def test_log_records_our_clients_side_as_a_recording(proto, tmp_path):
    from gwtool.logfile import header, header_line, read_lines

    path = tmp_path / "tui.ndjson"
    with path.open("ab") as log:
        log.write(header_line(header(proto, side="client", command="tui", url="ws://x", service="commands")))
        app = make_app(proto, log=log)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.session.latency is not None and app.session.latency.last is not None, what="an ACK")
    lines = list(read_lines(path))
    assert lines[0].header["command"] == "tui"
    kinds = {(line.record["kind"], line.record.get("op")) for line in lines}
    assert ("identified", None) in kinds and ("payload", proto.op("HEARTBEAT_ACK")) in kinds
