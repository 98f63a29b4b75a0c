"""Every command's --help: readable metavars, examples that parse, and the protocol's valid names."""

from __future__ import annotations

import shlex

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from gwtool.cli import app
from gwtool.cli.help import EXAMPLES

GROUP = get_command(app)


def leaves(group, prefix=()):
    """(path, command) of every command a user runs: ``check gateway``, not ``check``."""
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from leaves(command, (*prefix, name))
        else:
            yield " ".join((*prefix, name)), command


LEAVES = dict(leaves(GROUP))
COMMANDS = sorted(LEAVES)


def help_text(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "120", "GWTOOL_PROTOCOL": ""})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_examples_and_no_type_noise(command):
    text = help_text(*command.split())
    assert "Examples" in text and f"gwtool {command}" in text
    for noise in ("<bool>", "<str>", "<int range>"):
        assert noise not in text.split("Examples")[0], (command, noise)
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage, usage  # Typer's {EVENT}: the usage line names arguments plainly


def test_every_command_has_examples():
    assert set(EXAMPLES) == set(COMMANDS)


@pytest.mark.parametrize(("command", "line"), [(c, line) for c, lines in EXAMPLES.items() for line in lines])
def test_each_example_parses(command, line):
    """The example's words are options and arguments the command takes (it is not run)."""
    words = shlex.split(line.split(" > ")[0].split(" < ")[0])
    path = command.split()
    assert words[: 1 + len(path)] == ["gwtool", *path]
    LEAVES[command].make_context(command, words[1 + len(path) :])  # raises a UsageError if not


def test_send_and_cache_list_the_valid_names_from_the_definition():
    from gwtool.protocol.definition import load_protocol

    proto = load_protocol(use_env=False)
    send, cache = help_text("send"), help_text("cache")
    assert all(t in send for t in proto.events) and "IDENTIFIED (from the gateway)" in send
    assert all(t in cache for t in proto.cache_types)
    assert all(s in help_text("connect") for s in proto.services)


def test_the_usage_line_names_arguments_plainly():
    assert "Usage: gwtool send [OPTIONS] EVENT" in help_text("send")
    assert "Usage: gwtool validate [OPTIONS] [FILE]" in help_text("validate")


def test_the_cached_names_are_generated_from_the_built_in_definition():
    from pathlib import Path

    from gwtool.cli import help_names
    from gwtool.cli.help import generated_names_block

    assert generated_names_block() in Path(help_names.__file__).read_text(), (
        "gwtool/cli/help_names.py is stale: run python -m gwtool.cli.help_names"
    )


def test_send_help_lists_the_names_without_loading_the_definition():
    """The names of the built-in definition come from help_names.py: no TOML parsed, no definition built."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom gwtool.cli import main\ntry:\n    main(['send', '--help'])\nexcept SystemExit:\n    pass\n"
        "print('LOADED', sorted({'tomllib', 'gwtool.protocol.definition'} & set(sys.modules)))"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "GWTOOL_PROTOCOL"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert "EXECUTE_COMMAND (from sharder)" in done.stdout
    assert done.stdout.splitlines()[-1] == "LOADED []"


def test_help_uses_the_cached_names_only_while_they_are_the_definition_s(monkeypatch):
    from gwtool.cli import help_names
    from gwtool.cli.help import epilog

    monkeypatch.delenv("GWTOOL_PROTOCOL", raising=False)
    monkeypatch.setitem(help_names.NAMES, "send", "Events: CACHED")
    assert "Events: CACHED" in epilog("send")  # what help shows comes from the cache
    monkeypatch.setattr(help_names, "DEFINITION_CRC32", help_names.DEFINITION_CRC32 ^ 1)  # default.toml edited since
    assert "Events: CACHED" not in epilog("send") and "EXECUTE_COMMAND (from sharder)" in epilog("send")


def test_help_lists_the_names_of_gwtool_protocol_s_file(tmp_path):
    music = tmp_path / "music.toml"
    music.write_text('[services.music]\ndoc = "plays music"\n')
    result = CliRunner().invoke(app, ["send", "--help"], env={"COLUMNS": "120", "GWTOOL_PROTOCOL": str(music)})
    assert "Service types: sharder, commands, music" in result.output


def test_every_command_s_annotations_are_resolved_once_when_declared():
    """Typer evaluates string annotations each time it reads a command (several times a start, for
    every command): the app resolves them when a command is declared instead."""
    typers = [app, *(group.typer_instance for group in app.registered_groups)]
    callbacks = [c.callback for t in typers for c in t.registered_commands]
    callbacks += [t.registered_callback.callback for t in typers if t.registered_callback is not None]
    assert len(callbacks) >= len(COMMANDS) + 1
    for callback in callbacks:
        strings = [name for name, value in callback.__annotations__.items() if isinstance(value, str)]
        assert not strings, (callback.__qualname__, strings)


GROUPS = ["", "check"]


@pytest.mark.parametrize("command", GROUPS + COMMANDS)
def test_each_help_states_its_own_exit_statuses_once(command):
    from gwtool.cli.help import EXIT_STATUS

    text = " ".join(help_text(*command.split()).split())  # unwrapped
    assert text.count("Exit status:") == 1, command
    own = LEAVES[command].help if command in LEAVES else None
    if own is None or "Exit status:" not in own:
        assert EXIT_STATUS[command] in text


@pytest.mark.parametrize(
    ("command", "absent"),
    [
        ("mock-gateway", "could not connect"),  # it listens: the port, not a connection, can fail
        ("protocol", "could not connect"),  # offline
        ("validate", "could not connect"),
        ("locustfile", "could not connect"),
        ("check gateway", "connection lost midway"),
        ("check service", "closed by the gateway"),
        ("check", "connection lost midway"),
        ("bench", "connection lost midway"),
    ],
)
def test_no_help_claims_an_exit_status_its_command_never_gives(command, absent):
    text = " ".join(help_text(*command.split()).split())
    assert absent not in text.partition("Exit status:")[2], command


def test_bench_json_is_described_as_the_one_object_it_prints():
    text = " ".join(help_text("bench").split())
    json_option = text.split("│ --json", 1)[1].split("│ --", 1)[0]
    assert "one JSON object" in json_option and "NDJSON" not in json_option
