"""``gwtool protocol`` and ``gwtool validate`` through the real entry point (main())."""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from seed_payloads import SEED_EXECUTE_COMMAND as SEED

from gwtool.cli import main
from gwtool.protocol.docs import EXTENSION_EXAMPLE

PLAY = {"op": 2, "t": "PLAY_SONG", "d": {"guildID": "1", "channelID": "2", "query": "song"}}


def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str, stdin: str = "") -> tuple[int, str, str]:
    """Run the CLI in-process: (exit code, stdout, stderr)."""
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.delenv("GWTOOL_PROTOCOL", raising=False)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    with pytest.raises(SystemExit) as caught:
        main(list(args))
    out, err = capsys.readouterr()
    return caught.value.code, out, " ".join(err.split())  # error lines wrap at the terminal width


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    return lambda *args, stdin="": run(capsys, monkeypatch, *args, stdin=stdin)


def write(tmp_path: Path, name: str, data: object) -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), "utf-8")
    return str(path)


def test_protocol_shows_every_table(cli) -> None:
    code, out, _ = cli("protocol")
    assert code == 0
    for title in ("Opcodes", "Service types", "IDENTIFY d", "HEARTBEAT d", "Events (op EVENT)", "Close codes"):
        assert title in out
    for needle in (
        "HEARTBEAT_ACK",
        "sharder",
        "guilds",
        "EXECUTE_COMMAND",
        "ids.shard",
        "voiceState",
        "overwrite",
        "4007",
        "EVENT_NOT_ALLOWED",
    ):
        assert needle in out
    assert "CACHE type guild" in out and "structure overwrite" in out


def test_protocol_with_a_user_file(cli, tmp_path: Path) -> None:
    path = write(tmp_path, "music.toml", EXTENSION_EXAMPLE)
    code, out, _ = cli("protocol", "--protocol", path)
    assert code == 0
    assert "music" in out and "PLAY_SONG" in out and "Play Song" in out and "players" in out
    assert path in out.replace("\n", "")  # the header names the file


def test_protocol_renders_markup_in_a_file_as_plain_text(cli, tmp_path: Path) -> None:
    path = write(tmp_path, "m.toml", '[services.x]\ndoc = "[bold red]not markup[/] [/"\n')
    code, out, _ = cli("protocol", "--protocol", path)
    assert code == 0 and "[bold red]not markup[/] [/" in out


def test_protocol_json_is_a_loadable_definition(cli, tmp_path: Path) -> None:
    code, out, _ = cli("protocol", "--json", "--protocol", write(tmp_path, "music.toml", EXTENSION_EXAMPLE))
    assert code == 0
    data = json.loads(out)
    assert data["events"]["PLAY_SONG"]["to"] == ["music"]
    assert data["close_codes"]["EVENT_NOT_ALLOWED"]["code"] == 4007
    assert data["cache_types"]["guild"]["fields"]["members?"]["type"] == "member[]"
    code, out, _ = cli(
        "validate", "--protocol", write(tmp_path, "dump.json", out), "--as", "commands", write(tmp_path, "p.json", PLAY)
    )
    assert code == 0, out


def test_protocol_markdown(cli) -> None:
    code, out, _ = cli("protocol", "--markdown")
    assert code == 0 and out.startswith("# The gateway protocol")


def test_protocol_errors_are_clear(cli, tmp_path: Path) -> None:
    code, out, err = cli("protocol", "--protocol", str(tmp_path / "missing.toml"))
    assert code == 1 and "missing.toml: cannot read protocol file" in err and "Traceback" not in err + out
    code, _, err = cli("protocol", "--protocol", write(tmp_path, "bad.toml", '[events.X]\nfrom = ["dj"]\nto = ["all"]'))
    assert code == 1 and "bad.toml: events.X.from: unknown service type 'dj'" in err
    code, _, err = cli("protocol", "--wrong-flag")
    assert code == 1 and "no such option for" in err


def test_validate_accepts_the_seed_example(cli, tmp_path: Path) -> None:
    path = write(tmp_path, "seed.json", json.dumps(SEED, indent=2))  # pretty-printed: one payload
    code, out, _ = cli("validate", path)
    assert (code, out.strip()) == (0, "ok: EVENT EXECUTE_COMMAND as sent by a service")
    code, out, _ = cli("validate", "--as", "sharder", path)
    assert code == 0 and "as sent by a sharder service" in out


def test_validate_rejects_shard_as_a_string(cli, tmp_path: Path) -> None:
    bad = copy.deepcopy(SEED)
    bad["d"]["ids"]["shard"] = "1"
    code, out, _ = cli("validate", write(tmp_path, "bad.json", bad))
    assert code == 1
    assert out.splitlines() == [
        "d.ids.shard: expected integer, got string",
        "invalid: EVENT EXECUTE_COMMAND as sent by a service",
    ]


def test_validate_as_a_service_checks_permission_and_heartbeat(cli, tmp_path: Path) -> None:
    code, out, _ = cli("validate", "--as", "commands", write(tmp_path, "seed.json", SEED))
    assert code == 1 and "EXECUTE_COMMAND may not be sent by commands (from: sharder)" in out
    beat = write(tmp_path, "beat.json", {"op": 1, "d": {"heapUsed": 1}})
    assert cli("validate", "--as", "commands", beat)[0] == 0
    code, out, _ = cli("validate", "--as", "sharder", beat)
    assert code == 1 and "d.guilds: missing (required integer)" in out


def test_validate_as_gateway(cli, tmp_path: Path) -> None:
    hello = write(tmp_path, "hello.json", {"op": 3, "d": {"heartbeatInterval": 30000}})
    assert cli("validate", "--as", "gateway", hello)[0] == 0
    assert cli("validate", hello)[0] == 0  # HELLO is only sent by the gateway
    code, out, _ = cli("validate", "--as", "sharder", hello)
    assert code == 1 and "op: HELLO is sent by the gateway, not by a service" in out
    code, out, _ = cli(
        "validate", "--as", "gateway", write(tmp_path, "id.json", {"op": 5, "d": {"type": "sharder", "token": "x"}})
    )
    assert code == 1 and "op: IDENTIFY is sent by the service, not by a gateway" in out


def test_validate_ndjson_from_stdin_names_lines(cli) -> None:
    bad = copy.deepcopy(SEED)
    bad["d"]["ids"]["shard"] = "1"
    lines = [json.dumps(SEED), "", json.dumps(bad), "not json", json.dumps({"op": 6, "type": "user", "d": [{"id": "1"}]})]
    code, out, _ = cli("validate", "-", stdin="\n".join(lines) + "\n")
    assert code == 1
    assert "line 3: d.ids.shard: expected integer, got string" in out
    assert "line 4: not JSON" in out
    assert "line 5: d[0].username: missing (required string)" in out
    assert "line 1:" not in out
    assert out.strip().endswith("3 of 4 payloads invalid")
    code, out, _ = cli("validate", stdin=json.dumps(SEED) + "\n" + json.dumps(SEED) + "\n")
    assert code == 0 and "ok: 2 payloads valid" in out


def test_validate_with_a_user_protocol(cli, tmp_path: Path) -> None:
    music = write(tmp_path, "music.toml", EXTENSION_EXAMPLE)
    play = write(tmp_path, "play.json", PLAY)
    assert cli("validate", play)[0] == 1  # unknown event without the file
    code, out, _ = cli("validate", "--protocol", music, "--as", "commands", play)
    assert code == 0, out
    code, out, _ = cli("validate", "--protocol", music, "--as", "sharder", play)
    assert code == 1 and "PLAY_SONG may not be sent by sharder (from: commands)" in out
    assert (
        cli(
            "validate",
            "--protocol",
            music,
            "--as",
            "music",
            write(tmp_path, "b.json", {"op": 1, "d": {"heapUsed": 1, "players": 2}}),
        )[0]
        == 0
    )


def test_validate_input_errors(cli, tmp_path: Path) -> None:
    code, _, err = cli("validate", "--as", "dj", write(tmp_path, "s.json", SEED))
    assert code == 1 and "--as 'dj': unknown sender (use 'gateway' or a service type: sharder, commands)" in err
    code, _, err = cli("validate", str(tmp_path / "nope.json"))
    assert code == 1 and "nope.json: cannot read" in err
    code, _, err = cli("validate", stdin="  \n")
    assert code == 1 and "no payload to validate" in err
    code, out, _ = cli("validate", stdin="[1, 2]")
    assert code == 1 and "expected a JSON object, got array" in out
    code, _, err = cli("validate", "--bogus")
    assert code == 1 and "no such option for" in err


def test_validate_a_compressed_file(cli, tmp_path: Path) -> None:
    import zlib

    path = tmp_path / "frame.bin"
    path.write_bytes(zlib.compress(orjson.dumps(SEED)))
    assert cli("validate", str(path))[0] == 0


def test_installed_entry_point_runs(tmp_path: Path) -> None:
    """The real process: python -m gwtool, no traceback on a bad file."""
    path = tmp_path / "bad.json"
    path.write_text('{"op": 2, "t": "EXECUTE_COMMAND", "d": {"ids": {"shard": "1"}}}')
    done = subprocess.run([sys.executable, "-m", "gwtool", "validate", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "d.ids.shard: expected integer, got string" in done.stdout and "Traceback" not in done.stderr


def test_protocol_shows_one_table_by_name(cli) -> None:
    code, out, _ = cli("protocol", "guild")
    assert code == 0 and "CACHE type guild" in out and "voiceStates?" in out
    assert "Opcodes" not in out and "CACHE type member" not in out
    code, out, _ = cli("protocol", "execute_command")  # names match in any case
    assert code == 0 and "EVENT EXECUTE_COMMAND d" in out and "ids.shard" in out
    code, out, _ = cli("protocol", "events")
    assert code == 0 and "Events (op EVENT)" in out and "EVENT IDENTIFIED d" in out and "Close codes" not in out
    code, _, err = cli("protocol", "emoji")
    assert code == 1 and "no table 'emoji' in the protocol (choose from: opcodes, services" in err


TABLES = ["opcodes", "services", "hello", "identify", "heartbeat", "events", "EXECUTE_COMMAND", "cache", "guild",
          "overwrite", "close-codes"]  # fmt: skip


@pytest.mark.parametrize("table", TABLES)
def test_protocol_json_prints_one_table_as_a_loadable_part_of_the_definition(cli, tmp_path: Path, table: str) -> None:
    code, whole, _ = cli("protocol", "--json")
    code, out, _ = cli("protocol", table, "--json")
    assert code == 0
    part, full = json.loads(out), json.loads(whole)
    assert part != full and part  # the table's part, not the whole definition
    for section, entries in part.items():  # each under its own key, as in the whole definition
        assert entries == full[section] or all(entries[k] == full[section][k] for k in entries)
    code, again, _ = cli("protocol", "--json", "--protocol", write(tmp_path, "part.json", out))  # a valid --protocol file
    assert code == 0 and json.loads(again) == full


def test_protocol_json_of_an_event_is_that_event(cli) -> None:
    code, whole, _ = cli("protocol", "--json")
    code, out, _ = cli("protocol", "execute_command", "--json")  # names match in any case
    assert code == 0 and json.loads(out) == {"events": {"EXECUTE_COMMAND": json.loads(whole)["events"]["EXECUTE_COMMAND"]}}
    code, _, err = cli("protocol", "emoji", "--json")
    assert code == 1 and "no table 'emoji' in the protocol (choose from: opcodes, services" in err


def test_protocol_markdown_refuses_a_table_it_would_ignore(cli) -> None:
    code, out, err = cli("protocol", "events", "--markdown")
    assert code == 1 and out == "" and "--markdown writes up the whole protocol: drop 'events'" in err


def test_usage_errors_are_one_line_naming_the_option_and_the_allowed_values(capsys):
    from gwtool.cli import main

    cases = [
        (["send", "--bogus"], "error: --bogus: no such option for gwtool send"),
        (["send", "EXECUTE_COMMAND", "--repeat", "0"], "error: --repeat: must be ≥ 1"),
        (["mock-gateway", "--port", "99999"], "error: --port: expected a port 0…65535 (0 = any free one), got 99999"),
        (["send", "EXECUTE_COMMAND", "--rate", "abc"], "error: --rate: expected a number"),
        (["mock-gateway", "--port", "abc"], "error: --port: expected an integer"),
    ]
    for argv, first_line in cases:
        try:
            main(argv)
        except SystemExit as exit:
            assert exit.code == 1, argv
        err = capsys.readouterr().err
        assert err.splitlines()[0] == first_line, err
        assert "╭" not in err and "Traceback" not in err


def test_version(capsys):
    from gwtool import __version__
    from gwtool.cli import main

    try:
        main(["--version"])
    except SystemExit as exit:
        assert exit.code == 0
    assert capsys.readouterr().out == f"gwtool {__version__}\n"


def test_help_shows_metavars_a_person_reads(capsys, monkeypatch):
    import re

    from gwtool.cli import main

    monkeypatch.setenv("COLUMNS", "160")
    for command in ([], ["connect"], ["send"], ["cache"], ["tui"], ["bench"], ["mock-gateway"], ["protocol"], ["validate"]):
        try:
            main([*command, "--help"])
        except SystemExit:
            pass
        out = capsys.readouterr().out
        options = [line for line in out.splitlines() if re.match(r"│ --", line) and not line.startswith("│ --help")]
        assert options, command
        raw = [line for line in options if re.search(r"<(bool|str|int|float|path|file)", line)]
        assert not raw, f"gwtool {' '.join(command)} --help shows raw types: {raw}"
