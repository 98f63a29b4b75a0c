"""What gwtool says is in the user's words: JSON's names, counts that agree, no Python, and usage
mistakes (options that cannot go together, a wait that cannot end) refused up front."""

from __future__ import annotations

import pytest
from test_cli_client_commands import closed_port

from gwtool.cli import main
from gwtool.text import plural


def run(capsys, *argv: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        import io
        import sys

        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out = capsys.readouterr()
    return exit_info.value.code, out.out, " ".join(out.err.split())


def test_plural_agrees_with_its_count():
    assert [plural(n, "payload") for n in (0, 1, 2, 1000)] == ["0 payloads", "1 payload", "2 payloads", "1,000 payloads"]


def test_a_payload_without_op_is_said_to_have_none(capsys, monkeypatch):
    code, out, _ = run(capsys, "validate", stdin='{"d":{}}', monkeypatch=monkeypatch)
    assert code == 1 and "op: missing" in out and "None" not in out and "invalid: no op" in out
    code, out, _ = run(capsys, "validate", stdin='{"op":true,"d":{}}', monkeypatch=monkeypatch)
    assert code == 1 and "unknown opcode true" in out and "True" not in out
    code, out, _ = run(capsys, "validate", stdin='{"op":2,"t":5,"d":{}}', monkeypatch=monkeypatch)
    assert code == 1 and "t: expected an event name (string), got integer" in out


def test_waiting_for_an_event_the_sender_never_receives_is_refused(capsys):
    url = f"ws://127.0.0.1:{closed_port()}"  # refused before connecting: nothing listens
    code, _, err = run(capsys, "send", "EXECUTE_COMMAND", "--wait-for", "EXECUTE_COMMAND", "--url", url)
    assert code == 1
    assert "--wait-for EXECUTE_COMMAND: a sharder never receives it (it goes to commands)" in err
    code, _, err = run(capsys, "send", "EXECUTE_COMMAND", "--wait-for", "IDENTIFIED", "--url", url)
    assert code == 1 and "it answers IDENTIFY, before anything is sent" in err


def test_options_that_cannot_go_together_are_refused(capsys, tmp_path):
    code, _, err = run(capsys, "send", "EXECUTE_COMMAND", "--data", "{}", "--data", '{"a":1}')
    assert code == 1 and "--data: given 2 times" in err
    recording = tmp_path / "rec.ndjson"
    recording.write_text('{"ts":1.0,"kind":"connected","conn":1,"service":"sharder","text":"connected"}\n')
    code, _, err = run(capsys, "replay", str(recording), "--asap", "--speed", "2")
    assert code == 1 and "--asap: cannot go with --speed" in err


def test_cache_timeout_help_does_not_mention_wait_for(capsys):
    code, out, _ = run(capsys, "cache", "--help")
    assert code == 0
    timeout_help = " ".join(out.replace("│", " ").split("--timeout", 1)[1].split("[default", 1)[0].split())
    assert "--wait-for" not in timeout_help and "final ACK" in timeout_help
