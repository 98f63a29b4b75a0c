"""`gwtool locustfile` (no Locust needed): the event data it writes passes the definition."""

from __future__ import annotations

import pytest

from gwtool.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["locustfile", *argv])
    out = capsys.readouterr()
    return exit_info.value.code, out.out, " ".join(out.err.split())


def test_data_the_event_refuses_is_refused_naming_the_path(capsys):
    code, out, err = run(capsys, "--set", "ids.shard=abc")
    assert code == 1 and out == ""
    assert "invalid EXECUTE_COMMAND data: d.ids.shard: expected integer, got string" in err


def test_valid_data_is_written(capsys):
    code, out, err = run(capsys, "--set", "command=kick", "--set", "ids.shard=2")
    assert code in (0, None), err
    assert "'command': 'kick'" in out and "'shard': 2" in out
