"""The promises the README makes about setting up and testing hold for the files in the repo."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_quick_start_is_two_commands_and_ci_runs_the_test_one():
    commands = quick_start_commands()
    assert len(commands) == 2, commands
    run_dashboard, run_tests = commands
    assert run_dashboard.endswith("gwtool tui")
    assert "pytest" in run_tests
    ci_lines = (ROOT / ".ci" / "run").read_text("utf-8").splitlines()
    assert run_tests in ci_lines, "the README's test command must be the line .ci/run executes"


def test_default_protocol_ships_inside_the_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    assert "protocol/*.toml" in project["tool"]["setuptools"]["package-data"]["gwtool"]
    assert (ROOT / "gwtool" / "protocol" / "default.toml").is_file()
