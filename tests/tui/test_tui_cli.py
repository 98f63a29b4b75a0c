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
