"""The `gwtool tui` command's options (the app itself is tested with Pilot)."""

from __future__ import annotations

import pytest

from gwtool.cli import main


def run(capsys, *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["tui", *argv])
    out = capsys.readouterr()
    return exit_info.value.code, out.out + out.err


def test_help_lists_the_options(capsys):
    code, text = run(capsys, "--help")
    assert code == 0
    for option in ("--url", "--as", "--token", "--compress", "--quiet", "--keep", "--protocol", "GWTOOL_URL"):
        assert option in text


def test_unknown_service_type_is_invalid_input(capsys):
    code, text = run(capsys, "--as", "nope")
    assert code == 1 and "unknown service type 'nope'" in text


def test_a_url_that_is_not_a_websocket_is_invalid_input(capsys):
    code, text = run(capsys, "--url", "http://127.0.0.1:1")
    assert code == 1 and "ws://" in text


def test_proxy_flags_are_checked_before_anything_listens(capsys):
    code, text = run(capsys, "--proxy", "ws://127.0.0.1:1", "--fault", "drop op:NOPE")
    assert code == 1 and "--fault: 'drop op:NOPE': op:NOPE matches no op of the protocol" in text
    code, text = run(capsys, "--proxy", "http://127.0.0.1:1")
    assert code == 1 and "--proxy: expected a ws:// or wss:// URL" in text
    code, text = run(capsys, "--fault", "drop")
    assert code == 1 and "add --proxy UPSTREAM" in text
    code, text = run(capsys, "--proxy", "ws://127.0.0.1:1", "--as", "sharder")
    assert code == 1 and "--as: does nothing with --proxy" in text
    code, text = run(capsys, "--proxy", "ws://127.0.0.1:1", "--open", "x.ndjson")
    assert code == 1 and "--open is another mode" in text


def test_proxy_port_in_use_exits_2_naming_it_before_the_screen_opens(capsys):
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code, text = run(capsys, "--proxy", "ws://127.0.0.1:1", "--port", str(port))
    assert code == 2 and f"--proxy: cannot listen on 127.0.0.1:{port}: address already in use (--port picks another" in text
