"""The dashboard's sources (gwtool/tui/source.py) over definitions unlike the default one, and
what the status bar reads from a client's state."""

from __future__ import annotations

import pytest

from gwtool.client import ClientState
from gwtool.protocol.definition import load_protocol
from gwtool.records import Notice, Record
from gwtool.tui.demo import DemoSession, demo_app
from gwtool.tui.screenshots import settle
from gwtool.tui.widgets.status_bar import describe_state

NO_SHARDS = "[services.sharder]\nshards = false\n"  # the sharder still sends CACHE
NO_OTHER = "[services.sharder]\nshards = false\ncache = false\n"  # no service type shards or caches


def definition(tmp_path, text: str):
    path = tmp_path / "protocol.toml"
    path.write_text(text)
    return load_protocol(path, use_env=False)


@pytest.mark.parametrize(
    ("text", "types", "joined"),
    [(NO_SHARDS, ["commands", "sharder"], ["identified as sharder"]), (NO_OTHER, ["commands"], [])],
)
async def test_the_demo_of_a_definition_with_no_sharder_shows_no_service_of_type_none(tmp_path, text, types, joined):
    proto = definition(tmp_path, text)
    demo = DemoSession(proto)
    services = await demo.services()
    assert [s["type"] for s in services] == types
    assert not any("shards" in s for s in services)
    gateway_side = [item for side, item in demo.items if side == "gw"]
    assert [n.text for n in gateway_side if isinstance(n, Notice)] == joined
    identifies = [r.payload for r in gateway_side if isinstance(r, Record) and r.op == proto.op("IDENTIFY")]
    assert all(p is not None and p["d"]["type"] in proto.services for p in identifies), identifies
    app = demo_app(proto)
    async with app.run_test(size=(160, 48)) as pilot:
        for key in ("5", "3", "1"):  # services, cache, back
            await pilot.press(key)
            await settle(pilot)
        assert app.is_running and len(app.services.rows) == len(types)


def test_a_gateway_s_close_reason_that_says_connection_refused_is_not_taken_for_no_gateway():
    """The status bar reads why the last attempt failed from the state, not from the words of a
    close reason (which a gateway chooses)."""
    state = ClientState(phase="reconnecting", retry_at=103.4, close_code=4000, close_name="UNKNOWN_ERROR",
                        close_reason="connection refused", conn=2)  # fmt: skip
    text = describe_state(state, "commands", None, lambda: 100.0, "ws://127.0.0.1:8765").plain
    assert text == "reconnecting in 3.4 s (4000 UNKNOWN_ERROR: connection refused)"
    state.connect_failure, state.close_code, state.close_name = "refused", 1006, "ABNORMAL"
    text = describe_state(state, "commands", None, lambda: 100.0, "ws://127.0.0.1:8765").plain
    assert text.startswith("no gateway at ws://127.0.0.1:8765 · retrying in 3.4 s")


def test_an_attempt_that_failed_otherwise_is_said_as_it_failed():
    reason = "could not connect to ws://127.0.0.1:8765: no websocket handshake within 5 s"
    state = ClientState(phase="reconnecting", retry_at=103.4, close_code=1006, close_name="ABNORMAL",
                        close_reason=reason, connect_failure="timeout", conn=1)  # fmt: skip
    text = describe_state(state, "commands", None, lambda: 100.0, "ws://127.0.0.1:8765").plain
    assert text.startswith("reconnecting in 3.4 s (1006 ABNORMAL: could not connect")


async def test_a_dashboard_with_nothing_listening_says_there_is_no_gateway(proto):
    import socket

    from tui_testkit import wait_for

    from gwtool.tui.app import make_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"ws://127.0.0.1:{sock.getsockname()[1]}"
    app = make_app(proto, url=url)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.session.state is not None and app.session.state.phase == "reconnecting", what="a retry")
        app.refresh_status()
        assert app.status.shown is not None and app.status.shown.plain.startswith(f" no gateway at {url} · retrying"), (
            app.status.shown
        )
