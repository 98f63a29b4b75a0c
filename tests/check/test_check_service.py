"""``gwtool check service`` passes well-behaved services and catches each kind of misbehaviour.

The services under test are tests/check/sample_service.py: websockets alone, not gwtool's client."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from gwtool.check.cases import Report, run_suite, select
from gwtool.check.service_suite import ServiceContext, service_cases
from gwtool.protocol.definition import load_protocol

PROTO = load_protocol(use_env=False)
SAMPLE = str(Path(__file__).with_name("sample_service.py"))
INTERVAL = 300  # ms


async def check(kind: str, *args: str, only: list[str] | None = None) -> Report:
    command = [sys.executable, SAMPLE, "--as", kind, *args]
    ctx = ServiceContext(PROTO, kind, command, interval_ms=INTERVAL)
    return await run_suite("service", " ".join(command), select(service_cases(PROTO), only, None), ctx)


def failures(report: Report) -> str:
    return "\n".join(f"{r.id}: {r.got}" for r in report.results if r.status == "fail")


@pytest.mark.parametrize("kind", ["sharder", "commands"])
async def test_a_well_behaved_service_passes(kind):
    report = await check(kind)
    assert report.count("fail") == 0, failures(report)
    assert len(report.results) >= 10
    skipped = {r.id for r in report.results if r.status == "skip"}
    assert skipped <= {"compress.works", "events.received"}
    if kind == "commands":
        assert "events.received" not in skipped  # EXECUTE_COMMAND is routed to it


async def test_a_service_that_asks_for_compression_and_copes_passes_compress_works():
    report = await check("commands", "--compress", only=["compress.works", "events.received"])
    assert [r.status for r in report.results] == ["pass", "pass"], failures(report)


FAULTS = [
    pytest.param("no-heartbeats", ["heartbeat.first"], "heartbeat.first", id="no-heartbeats"),
    pytest.param("ignores-requests", ["heartbeat.request"], "heartbeat.request", id="ignores-heartbeat-requests"),
    pytest.param("reconnects-after-4004", ["final"], "final.after-4004", id="reconnects-after-4004"),
    pytest.param("no-backoff", ["reconnect.backoff"], "reconnect.backoff", id="reconnects-without-backoff"),
    pytest.param("no-guilds", ["heartbeat.data"], "heartbeat.data", id="sharder-heartbeat-without-guilds"),
    pytest.param("invalid-event", ["sends.valid"], "sends.valid", id="sends-invalid-event-data"),
    pytest.param("late-first-heartbeat", ["heartbeat.first"], "heartbeat.first", id="first-heartbeat-too-late"),
    pytest.param("no-compression-support", ["compress.works"], "compress.works", id="cannot-handle-compressed-frames"),
]


@pytest.mark.parametrize(("fault", "only", "caught_by"), FAULTS)
async def test_a_misbehaving_service_is_caught_by_a_named_failing_case(fault, only, caught_by):
    report = await check("sharder", "--fault", fault, only=only)
    result = next(r for r in report.results if r.id == caught_by)
    assert result.status == "fail", result
    assert "| stderr: " in result.got  # the service's own words, whatever they were
    assert report.exit_code == 1


async def test_a_service_identifying_as_another_type_fails_what_depends_on_its_type():
    command = [sys.executable, SAMPLE, "--as", "sharder"]  # checked as a commands worker
    ctx = ServiceContext(PROTO, "commands", command, interval_ms=INTERVAL)
    only = ["connect.identifies", "sends.valid", "events.received", "heartbeat.interval"]
    report = await run_suite("service", " ".join(command), select(service_cases(PROTO), only, None), ctx)
    results = {r.id: r for r in report.results}
    for case in ("connect.identifies", "sends.valid", "events.received"):
        assert results[case].status == "fail", results[case]
        assert "identified as sharder, not" in results[case].got
    assert results["heartbeat.interval"].status == "pass"  # what it names, it does


async def test_a_service_without_heartbeats_of_its_own_that_answers_requests_passes_heartbeat_request():
    report = await check("sharder", "--fault", "no-heartbeats", only=["heartbeat"])
    statuses = {r.id: r.status for r in report.results}
    assert statuses == {
        "heartbeat.first": "fail",
        "heartbeat.interval": "fail",
        "heartbeat.data": "skip",  # nothing to check
        "heartbeat.request": "pass",  # it does answer at once
        "heartbeat.zombie": "skip",  # nothing left unanswered
    }, failures(report)


def gwtool(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.run([sys.executable, "-m", "gwtool", *args], capture_output=True, text=True, timeout=120, env=env)


def test_check_service_command_json_report_and_exit_code_1_with_the_stderr_tail():
    done = gwtool("check", "service", "--as", "sharder", "--heartbeat-interval", str(INTERVAL), "--only", "compress", "--json",
                  "--", sys.executable, SAMPLE, "--as", "sharder", "--fault", "no-compression-support")  # fmt: skip
    assert done.returncode == 1, done.stderr
    report = orjson.loads(done.stdout)
    assert report["failed"] == 1 and report["cases"][0]["id"] == "compress.works"
    got, stderr = report["cases"][0]["got"].split(" | stderr: ")
    assert "1011" in got and "cannot read a binary frame" in stderr  # a service that exits slowly is let finish


def test_check_service_command_gives_url_and_token_in_args_and_passes():
    done = gwtool("check", "service", "--as", "commands", "--heartbeat-interval", str(INTERVAL), "--only", "connect",
                  "--", "env", "GWTOOL_URL={url}", "GWTOOL_TOKEN={token}", sys.executable, SAMPLE, "--as", "commands")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "connect.identifies" in done.stdout and "1 passed, 0 failed, 0 skipped" in done.stdout


def test_check_service_exit_2_when_the_command_cannot_start_and_1_for_bad_input():
    done = gwtool("check", "service", "--as", "commands", "--", "/nonexistent/worker")
    assert done.returncode == 2 and "/nonexistent/worker: no such file" in done.stderr
    done = gwtool("check", "service", "--as", "music", "--", "true")
    assert done.returncode == 1 and "unknown service type 'music'" in done.stderr
    done = gwtool("check", "service", "--as", "commands")
    assert done.returncode == 1 and "no command given" in done.stderr


# --- --fuzz: generated events of every shape ----------------------------------------------------------


async def fuzz_check(kind: str, *args: str, budget: int = 150) -> Report:
    from gwtool.check.fuzz_service import service_fuzz_cases

    command = [sys.executable, SAMPLE, "--as", kind, *args]
    ctx = ServiceContext(PROTO, kind, command, interval_ms=INTERVAL)
    return await run_suite("service", " ".join(command), service_fuzz_cases(PROTO, budget, 5), ctx)


async def test_the_sample_service_takes_generated_events_of_every_shape():
    report = await fuzz_check("commands")
    assert [(r.id, r.status) for r in report.results] == [("fuzz.event.EXECUTE_COMMAND.valid", "pass")], failures(report)
    assert (
        "152 EXECUTE_COMMAND events (seed 5" in report.results[0].got
    )  # its one optional-field combination, 150 drawn, a large one


async def test_a_service_that_dies_on_a_generated_event_fails_with_its_exit_status_and_stderr():
    report = await fuzz_check("commands", "--fault", "ascii-only")
    result = report.results[0]
    assert result.status == "fail"
    assert "exited with status 3" in result.got and "UnicodeEncodeError" in result.got, result.got
    assert "the last sent: {" in result.got


async def test_a_type_that_receives_no_event_has_the_generated_case_skipped():
    report = await fuzz_check("sharder", budget=5)
    assert [r.status for r in report.results] == ["skip"]
