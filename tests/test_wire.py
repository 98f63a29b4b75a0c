"""gwtool.wire: who closed a connection, as the gateway, the proxy and the client tell it."""

from websockets.frames import Close

from gwtool.wire import close_of


def test_a_close_the_peer_started_is_the_peers() -> None:
    assert close_of(Close(4001, "bye"), None, None) == (4001, "bye", True)
    assert close_of(Close(4001, "bye"), Close(4001, "bye"), True) == (4001, "bye", True)


def test_a_close_we_started_stays_ours_once_the_peer_echoes_it() -> None:
    assert close_of(Close(1009, "echo"), Close(1009, "over max_size"), False) == (1009, "over max_size", False)
    assert close_of(None, Close(1001, "going away"), None) == (1001, "going away", False)


def test_no_close_frame_either_way_is_none() -> None:
    assert close_of(None, None, None) is None
