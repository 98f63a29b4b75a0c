"""The ``gwtool`` command itself: version, shell completion, and what it does with no command or a bad one."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from gwtool import __version__

INSTALLED = Path(sys.executable).with_name("gwtool")
GWTOOL = [str(INSTALLED)] if INSTALLED.exists() else [sys.executable, "-m", "gwtool"]


def gwtool(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "COLUMNS": "100", **(env or {})}
    environ.pop("GWTOOL_URL", None)
    return subprocess.run([*GWTOOL, *args], capture_output=True, text=True, timeout=60, env=environ)


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_and_its_short_alias(flag):
    done = gwtool(flag)
    assert done.returncode == 0 and done.stdout.strip() == f"gwtool {__version__}"


def in_bash(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run gwtool from bash (not exec'd by it), so that the shell it detects is bash."""
    line = " ".join(shlex.quote(word) for word in [*GWTOOL, *args]) + "; exit $?"
    return subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})


def test_show_completion_prints_the_bash_script_that_completes_gwtool():
    """Typer's --show-completion prints the script for the shell it runs from (here bash)."""
    done = in_bash("--show-completion")
    assert done.returncode == 0, done.stderr
    assert "_GWTOOL_COMPLETE=complete_bash" in done.stdout
    assert done.stdout.strip().endswith("complete -o default -F _gwtool_completion gwtool")


def test_install_completion_writes_the_script_and_sources_it(tmp_path):
    done = in_bash("--install-completion", env={"HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert "bash completion installed in" in done.stdout
    assert "_GWTOOL_COMPLETE=complete_bash" in (tmp_path / ".bash_completions" / "gwtool.sh").read_text()
    assert ".bash_completions/gwtool.sh" in (tmp_path / ".bashrc").read_text()


@pytest.mark.parametrize(
    ("words", "cword", "expected"),
    [("gwtool se", 1, {"send"}), ("gwtool check ", 2, {"gateway", "service"}), ("gwtool send --rep", 2, {"--repeat"})],
)
def test_the_completion_script_s_requests_are_answered(words, cword, expected):
    """What the installed script asks gwtool (via _GWTOOL_COMPLETE) when Tab is pressed."""
    done = gwtool(env={"_GWTOOL_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)})
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.split()) == expected


def test_root_help_lists_the_completion_options_without_type_noise():
    done = gwtool("--help")
    assert "--install-completion" in done.stdout and "--show-completion" in done.stdout
    assert "-V" in done.stdout and "<bool>" not in done.stdout


@pytest.mark.parametrize(
    ("args", "usage"), [((), "Usage: gwtool [OPTIONS] COMMAND"), (("check",), "Usage: gwtool check [OPTIONS]")]
)
def test_no_command_prints_the_help_and_exits_0(args, usage):
    done = gwtool(*args)
    assert done.returncode == 0, done.stderr
    assert usage in done.stdout and "Commands" in done.stdout
    assert done.stderr == ""  # no empty "error: " after it


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (("send", "EXECUTE_COMMAND", "--data"), "error: --data: needs a value", "gwtool send --help"),
        (("check", "gateway", "--only"), "error: --only: needs a value", "gwtool check gateway --help"),
        (("send", "--bogus"), "error: --bogus: no such option for gwtool send", "gwtool send --help"),
        (("check", "--bogus"), "error: --bogus: no such option for gwtool check", "gwtool check --help"),
    ],
)
def test_a_usage_error_names_the_subcommand_s_help(args, message, hint):
    done = gwtool(*args)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [message, f"({hint} lists the options)"]
