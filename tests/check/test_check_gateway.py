"""``gwtool check gateway`` passes our mock gateway and catches each kind of broken gateway."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any
from xml.etree import ElementTree

import orjson
import pytest

from gwtool.check.cases import Report, run_suite, select
from gwtool.check.gateway_suite import GatewayContext, gateway_cases, prepare
from gwtool.errors import Unreachable
from gwtool.gateway import MockGateway
from gwtool.protocol.definition import load_protocol
from gwtool.session.actions import Close
from gwtool.session.gateway import GatewayRules, GatewaySession

PROTO = load_protocol(use_env=False)
INTERVAL = 400  # ms: short, so that heartbeat.timeout runs without --slow


async def check(gw: MockGateway, only: list[str] | None = None, **ctx: Any) -> Report:
    context = GatewayContext(PROTO, gw.url, **ctx)
    await prepare(context)
    return await run_suite("gateway", gw.url, select(gateway_cases(PROTO), only, None), context)


def statuses(report: Report) -> dict[str, str]:
    return {r.id: r.status for r in report.results}


def failures(report: Report) -> str:
    return "\n".join(f"{r.id}: {r.got}" for r in report.results if r.status == "fail")


async def test_the_mock_gateway_passes_every_case_or_skips_it_with_a_reason():
    async with MockGateway(PROTO, heartbeat_interval=INTERVAL) as gw:
        report = await check(gw)
    assert report.count("fail") == 0, failures(report)
    assert len(report.results) >= 30
    skipped = {r.id: r.got for r in report.results if r.status == "skip"}
    assert set(skipped) <= {"identify.bad-token", "limits.rate", "heartbeat.request"}, skipped
    assert all(reason for reason in skipped.values())


async def test_with_a_token_and_a_rate_limit_those_cases_pass_instead_of_skipping():
    async with MockGateway(PROTO, heartbeat_interval=INTERVAL, token="s3cret", rate_limit=(200, 60.0)) as gw:
        report = await check(gw, only=["identify", "limits", "hello"], token="s3cret")
    assert statuses(report)["identify.bad-token"] == "pass"
    assert statuses(report)["limits.rate"] == "pass"
    assert statuses(report)["limits.size"] == "pass", failures(report)


async def test_a_wrong_or_missing_token_is_a_clear_exit_2_not_a_wall_of_failures():
    async with MockGateway(PROTO, token="s3cret") as gw:
        with pytest.raises(Unreachable, match="4004 AUTHENTICATION_FAILED.*--token"):
            await check(gw)
        with pytest.raises(Unreachable, match="not its token"):
            await check(gw, token="wrong")


async def test_nothing_listening_is_unreachable():
    with pytest.raises(Unreachable, match="connection refused"):
        await prepare(GatewayContext(PROTO, "ws://127.0.0.1:9"))


# --- broken gateways: each caught by a named case ---------------------------------------------------


class NoHello(MockGateway):
    async def _send_own(self, conn: Any, send: Any) -> None:
        if send is not self.rules.hello:
            await super()._send_own(conn, send)


class NoIdentifiedRules(GatewayRules):
    def __init__(self, *args: Any):
        super().__init__(*args)
        self.identified_event = None


class NoIdentified(MockGateway):
    rules_class = NoIdentifiedRules


class NoHeartbeatTimeout(MockGateway):
    async def _sweep_heartbeats(self) -> None:
        await asyncio.Event().wait()


class IgnoresCompressSession(GatewaySession):
    def _identify(self, service: str, compress: bool) -> Any:
        return super()._identify(service, False)


class IgnoresCompress(MockGateway):
    session_class = IgnoresCompressSession


class CompressesUnaskedSession(GatewaySession):
    def _identify(self, service: str, compress: bool) -> Any:
        return super()._identify(service, True)


class CompressesUnasked(MockGateway):
    session_class = CompressesUnaskedSession


class WrongCloseCodeRules(GatewayRules):
    def close(self, name: str, text: str) -> Close:
        return super().close("UNKNOWN_ERROR", text)


class WrongCloseCodes(MockGateway):
    rules_class = WrongCloseCodeRules


class NoRoundRobin(MockGateway):
    async def start(self) -> None:
        await super().start()
        router = self.router
        router.next_receiver = lambda event: (router.receivers(event) or [None])[0]  # type: ignore[method-assign]


BROKEN = [
    pytest.param(MockGateway, {"ack": "never"}, ["heartbeat.ack"], "heartbeat.ack", id="never-acks"),
    pytest.param(NoHello, {}, ["hello"], "hello.first", id="no-hello"),
    pytest.param(NoIdentified, {}, ["identified"], "identified.sharder", id="no-identified"),
    pytest.param(NoHeartbeatTimeout, {}, ["heartbeat.timeout"], "heartbeat.timeout", id="no-heartbeat-timeout"),
    pytest.param(IgnoresCompress, {}, ["compress"], "compress.from-identified", id="ignores-compress"),
    pytest.param(CompressesUnasked, {}, ["compress"], "compress.not-asked", id="compresses-unasked"),
    pytest.param(WrongCloseCodes, {}, ["decode", "invalid"], "invalid.event.EXECUTE_COMMAND", id="wrong-close-code"),
    pytest.param(NoRoundRobin, {}, ["routing"], "routing.round-robin.EXECUTE_COMMAND", id="no-round-robin"),
]


@pytest.mark.parametrize(("kind", "options", "only", "caught_by"), BROKEN)
async def test_a_broken_gateway_is_caught_by_a_named_failing_case(kind, options, only, caught_by):
    async with kind(PROTO, heartbeat_interval=INTERVAL, **options) as gw:
        report = await check(gw, only=only)
    result = next(r for r in report.results if r.id == caught_by)
    assert result.status == "fail", result
    assert result.got and result.expected
    assert report.exit_code == 1


# --- the command, as a user runs it ------------------------------------------------------------------


@pytest.fixture
def mock_gateway_process():
    proc = subprocess.Popen(
        [sys.executable, "-m", "gwtool", "mock-gateway", "--port", "0", "--heartbeat-interval", str(INTERVAL), "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    url = line.split("listening on ", 1)[1].split()[0]
    yield url
    proc.terminate()
    proc.wait(10)


def gwtool(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-m", "gwtool", *args], capture_output=True, text=True, timeout=120, env=env)


def test_check_gateway_command_prints_a_table_and_a_verdict_and_writes_junit(mock_gateway_process, tmp_path):
    junit = tmp_path / "gateway.xml"
    done = gwtool("check", "gateway", mock_gateway_process, "--junit", str(junit))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "hello.first" in done.stdout and "routing.round-robin.EXECUTE_COMMAND" in done.stdout
    assert done.stdout.rstrip().splitlines()[-1].endswith("0 failed, 3 skipped")
    suite = ElementTree.parse(junit).getroot()
    assert suite.get("failures") == "0" and int(suite.get("tests", "0")) >= 30
    assert suite.find("testcase[@name='identify.bad-token']/skipped") is not None


def test_check_gateway_in_a_pipe_prints_one_unwrapped_line_per_case(mock_gateway_process):
    import re

    done = gwtool_with({"COLUMNS": "80"}, "check", "gateway", mock_gateway_process)
    lines = done.stdout.splitlines()
    assert lines[0] == f"gwtool check gateway: {mock_gateway_process}" and lines[-1].endswith("0 failed, 3 skipped")
    rows = [re.fullmatch(r"(\S+) +(pass|fail|skip) +\d+ ms  (.+)", line) for line in lines[1:-1]]
    assert all(rows), [line for line, row in zip(lines[1:-1], rows) if not row]
    ids = {r["id"] for r in orjson.loads(gwtool("check", "gateway", mock_gateway_process, "--json").stdout)["cases"]}
    in_pipe = [row[1] for row in rows if row]
    assert len(in_pipe) == len(set(in_pipe)) and set(in_pipe) == ids  # each case once, its id whole
    assert any(len(line) > 80 for line in lines)  # not wrapped at the 80 columns a pipe gets


def test_check_gateway_json_is_one_document_with_the_counts(mock_gateway_process):
    done = gwtool("check", "gateway", mock_gateway_process, "--only", "identify.*", "--skip", "identify.twice", "--json")
    assert done.returncode == 0, done.stderr
    report = orjson.loads(done.stdout)
    ids = [c["id"] for c in report["cases"]]
    assert ids and all(i.startswith("identify.") for i in ids) and "identify.twice" not in ids
    assert set(report["cases"][0]) == {"id", "title", "status", "expected", "got", "ms"}
    assert report["passed"] + report["skipped"] == len(ids) and report["failed"] == 0


def test_check_gateway_exit_codes_for_no_gateway_and_for_no_matching_case():
    done = gwtool("check", "gateway", "ws://127.0.0.1:9")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "connection refused — is a gateway running? `gwtool mock-gateway` starts one" in done.stderr
    done = gwtool("check", "gateway", "--only", "nope.*")
    assert done.returncode == 1 and "no case matches" in done.stderr


def gwtool_with(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "GWTOOL_URL"} | {"COLUMNS": "120", **env}
    return subprocess.run([sys.executable, "-m", "gwtool", *args], capture_output=True, text=True, timeout=120, env=environ)


def test_check_gateway_takes_its_url_as_argument_or_url_or_gwtool_url(mock_gateway_process):
    url, only = mock_gateway_process, ("--only", "hello.first", "--json")
    for env, args in [({}, (url,)), ({}, ("--url", url)), ({"GWTOOL_URL": url}, ()), ({}, (url, "--url", url))]:
        done = gwtool_with(env, "check", "gateway", *args, *only)
        assert done.returncode == 0, (env, args, done.stderr)
        assert orjson.loads(done.stdout)["passed"] == 1
    # GWTOOL_URL is a default, not a --url typed: the argument wins over it, with no complaint
    done = gwtool_with({"GWTOOL_URL": "ws://127.0.0.1:9"}, "check", "gateway", url, *only)
    assert done.returncode == 0, done.stderr
    done = gwtool_with({}, "check", "gateway", url, "--url", "ws://127.0.0.1:9", *only)
    assert done.returncode == 1
    assert done.stderr.strip() == f"error: two gateway URLs given, {url} and --url ws://127.0.0.1:9: give one"


@pytest.mark.parametrize("args", [("127.0.0.1:19006",), ("--url", "127.0.0.1:19006")])
def test_check_gateway_refuses_a_url_without_ws_like_every_command(args):
    done = gwtool_with({}, "check", "gateway", *args)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: invalid gateway URL '127.0.0.1:19006': expected ws://HOST:PORT or wss://HOST:PORT"
        " — did you mean ws://127.0.0.1:19006?"
    )


def test_mock_gateway_ack_flag_is_what_check_gateway_sees():
    proc = subprocess.Popen(
        [sys.executable, "-m", "gwtool", "mock-gateway", "--port", "0", "--ack", "without-d", "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split("listening on ", 1)[1].split()[0]
        lines = [proc.stdout.readline() for _ in range(3)]
        assert any("--ack without-d: heartbeats are answered without d" in line for line in lines), lines
        done = gwtool("check", "gateway", url, "--only", "heartbeat.ack*", "--json")
        report = orjson.loads(done.stdout)
        assert report["passed"] == 2, report  # an ACK without d is valid: clients accept it
    finally:
        proc.terminate()
        proc.wait(10)
