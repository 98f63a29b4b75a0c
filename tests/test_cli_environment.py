"""Environment defaults (GWTOOL_URL, GWTOOL_TOKEN, GWTOOL_PROTOCOL) are defaults, never flags typed."""

from __future__ import annotations

from pathlib import Path

import pytest

from gwtool.cli import main


def run(capsys, *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out = capsys.readouterr()
    return exit_info.value.code, " ".join((out.out + out.err).split())


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    path = tmp_path / "wire.ndjson"
    path.write_text('{"ts":1.0,"kind":"connected","conn":1,"service":"commands","text":"connected"}\n')
    return path


@pytest.fixture
def opened(monkeypatch) -> list[dict]:
    """What `gwtool tui` asks the dashboard for, instead of running it in the test's terminal."""
    import gwtool.tui.app

    calls: list[dict] = []

    class Dashboard:
        def run(self) -> None:
            pass

    def make_app(proto, **options):
        calls.append(options)
        return Dashboard()

    monkeypatch.setattr(gwtool.tui.app, "make_app", make_app)
    return calls


def test_gwtool_url_does_not_stop_tui_open(capsys, monkeypatch, recording, opened):
    monkeypatch.setenv("GWTOOL_URL", "ws://127.0.0.1:9")
    with pytest.raises(SystemExit) as exit_info:  # the CLI exits 0 after the dashboard quits
        main(["tui", "--open", str(recording)])
    assert exit_info.value.code in (0, None), capsys.readouterr().err
    assert [o.get("recording") for o in opened] == [recording] and "url" not in opened[0]


def test_a_typed_url_with_tui_open_is_refused(capsys, monkeypatch, recording, opened):
    monkeypatch.setenv("GWTOOL_URL", "ws://127.0.0.1:9")
    for extra in ((), ("--web",)):
        code, text = run(capsys, "tui", "--open", str(recording), "--url", "ws://127.0.0.1:9", *extra)
        assert code == 1 and "drop --url" in text, text
    assert opened == []


def test_a_bad_gwtool_url_is_named_as_the_variable(capsys, monkeypatch, opened):
    monkeypatch.setenv("GWTOOL_URL", "localhost:1")
    code, text = run(capsys, "tui")
    assert code == 1 and "GWTOOL_URL: 'localhost:1': expected a ws:// or wss:// URL — did you mean ws://localhost:1?" in text
    code, text = run(capsys, "tui", "--url", "localhost:2")
    assert code == 1 and "--url: 'localhost:2'" in text
    for command in (["connect"], ["send", "EXECUTE_COMMAND"], ["cache", "user"]):
        code, text = run(capsys, *command)
        assert code == 1 and "error: GWTOOL_URL: invalid gateway URL 'localhost:1'" in text, text
    code, text = run(capsys, "send", "EXECUTE_COMMAND", "--url", "localhost:2")
    assert code == 1 and "error: invalid gateway URL 'localhost:2'" in text, text


async def test_a_token_from_gwtool_token_is_said_by_the_mock_gateway():
    import asyncio
    import os
    import signal
    import sys

    gateway = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gwtool", "mock-gateway", "--port", "0", "--json",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env={**os.environ, "GWTOOL_TOKEN": "s3cret"},
    )  # fmt: skip
    assert gateway.stderr is not None
    said = []
    try:
        async with asyncio.timeout(10):  # listening, how to connect, then what it says of the token
            while len(said) < 3:
                said.append((await gateway.stderr.readline()).decode())
    finally:
        gateway.send_signal(signal.SIGINT)
        said.append((await gateway.stderr.read()).decode())
        await gateway.wait()
    start = "".join(said).split("stopping:")[0]  # what it said before Ctrl-C
    assert "listening" in said[0] and "GWTOOL_TOKEN" in said[2] and "s3cret" not in start, start
