"""What the status bar reads from a client's state."""

from __future__ import annotations

from gwtool.client import ClientState
from gwtool.tui.widgets.status_bar import describe_state


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
