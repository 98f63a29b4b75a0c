"""``gwtool check gateway --fuzz``: generated cases pass the mock gateway, catch gateways lenient
about one kind of field with a shrunk example naming it, and a seed draws the same cases."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import shlex
import subprocess
import sys
from typing import Any

import orjson
import pytest

from gwtool.check.cases import Report, run_suite, select
from gwtool.check.fuzz_gateway import GatewayFuzz
from gwtool.check.gateway_suite import GatewayContext, prepare
from gwtool.check.generate import Example, Expected, Generator, groups, kinds, reproducer, sample, search, targets
from gwtool.gateway import MockGateway
from gwtool.protocol.definition import load_protocol
from gwtool.protocol.validate import error_path, validate_payload
from gwtool.session.actions import Close
from gwtool.session.gateway import GatewayRules, GatewaySession

PROTO = load_protocol(use_env=False)
INTERVAL = 1000  # ms: reused connections must keep heartbeating through the run


async def fuzz(gw: MockGateway, budget: int, only: list[str] | None = None, seed: int = 7, proto: Any = PROTO) -> Report:
    ctx = GatewayContext(proto, gw.url)
    await prepare(ctx)
    plan = GatewayFuzz(proto, budget, seed)
    cases = select(plan.cases(), only, None)
    plan.select({c.id for c in cases})
    return await run_suite("gateway", gw.url, cases, ctx)


def failures(report: Report) -> str:
    return "\n".join(f"{r.id}: {r.got}" for r in report.results if r.status == "fail")


async def test_the_mock_gateway_passes_every_generated_case():
    async with MockGateway(PROTO, heartbeat_interval=INTERVAL) as gw:
        report = await fuzz(gw, 400)
    assert report.count("fail") == 0, failures(report)
    assert report.count("skip") == 0
    assert {r.id for r in report.results} == {f"fuzz.{kind.id}.{fault}" for kind, fault in groups(PROTO)}
    # each case's own time, not the batch's given to the first and 0 ms to the rest
    times = [r.ms for r in report.results]
    assert min(times) > 1 and max(times) < sum(times) / 2


MUSIC = """
[services.music]
doc = "plays music"
[events.PLAY_SONG]
from = ["commands"]
to = ["music"]
[events.PLAY_SONG.fields]
song = { type = "string", doc = "what to play" }
"volume?" = { type = "integer", doc = "0-100" }
"queue?" = { type = "snowflake[]", doc = "what comes next" }
"at?" = { type = "timestamp?", doc = "when" }
"""


async def test_a_protocol_file_adds_generated_cases_with_no_code_change(tmp_path):
    (tmp_path / "music.toml").write_text(MUSIC)
    proto = load_protocol(tmp_path / "music.toml", use_env=False)
    async with MockGateway(proto, heartbeat_interval=INTERVAL) as gw:
        report = await fuzz(gw, 300, only=["fuzz.event.*", "fuzz.heartbeat.music.*"], proto=proto)
    assert report.count("fail") == 0, failures(report)
    ids = {r.id for r in report.results}
    assert {"fuzz.event.PLAY_SONG.valid", "fuzz.event.PLAY_SONG.not-snowflake", "fuzz.event.PLAY_SONG.bad-format"} <= ids
    assert "fuzz.heartbeat.music.valid" in ids


# --- gateways lenient about one kind of field --------------------------------------------------------


def lenient(op: str, name: str, field: str, tolerated: Any, stand_in: Any) -> type[MockGateway]:
    """A gateway that takes ``field`` of one event / cache type / heartbeat when ``tolerated(value)``
    (or when it is missing, for ``tolerated`` None) by checking a stand-in in its place."""

    class Session(GatewaySession):
        def receive(self, payload: dict[str, Any], now: float) -> Any:
            if payload.get("op") == PROTO.op(op) and (payload.get("t") or payload.get("type") or name) == name:
                payload = copy.deepcopy(payload)
                d = payload.get("d")
                for entity in d if isinstance(d, list) else [d]:
                    if isinstance(entity, dict):
                        _tolerate(entity, field.split("."), tolerated, stand_in)
            return super().receive(payload, now)

    return type(f"Lenient_{field}", (MockGateway,), {"session_class": Session})


def _tolerate(d: dict[str, Any], parts: list[str], tolerated: Any, stand_in: Any) -> None:
    for part in parts[:-1]:
        d = d.get(part) if isinstance(d.get(part), dict) else {}
    last = parts[-1]
    if tolerated is None and last not in d or tolerated is not None and last in d and tolerated(d[last]):
        d[last] = stand_in


def past_64_bits(value: Any) -> bool:
    return type(value) is float and value.is_integer() and abs(value) >= 2**63


LENIENT = [
    pytest.param(lenient("EVENT", "EXECUTE_COMMAND", "ids.shard", lambda v: isinstance(v, str), 1),
                 "fuzz.event.EXECUTE_COMMAND.wrong-type", "d.ids.shard", "", id="string-as-integer"),
    pytest.param(lenient("EVENT", "EXECUTE_COMMAND", "ids.author", lambda v: isinstance(v, str), "1"),
                 "fuzz.event.EXECUTE_COMMAND.not-snowflake", "d.ids.author", "", id="any-string-as-snowflake"),
    pytest.param(lenient("CACHE", "user", "username", lambda v: v is None, "x"),
                 "fuzz.cache.user.null", "d.username", None, id="null-where-not-nullable"),
    pytest.param(lenient("CACHE", "voiceState", "channelID", None, "1"),
                 "fuzz.cache.voiceState.missing", "d.channelID", ..., id="missing-required-field"),
    pytest.param(lenient("HEARTBEAT", "", "heapUsed", past_64_bits, 1),
                 "fuzz.heartbeat.commands.int-range", "d.heapUsed", 2**64, id="integer-past-64-bits"),
    pytest.param(lenient("CACHE", "channel", "nsfw", lambda v: type(v) is not bool, False),
                 "fuzz.cache.channel.wrong-type", "d.nsfw", "", id="wrong-cache-field-type"),
]  # fmt: skip


@pytest.mark.parametrize(("gateway", "case", "field", "shrunk_value"), LENIENT)
async def test_a_gateway_lenient_about_one_field_is_caught_with_a_shrunk_example_naming_it(gateway, case, field, shrunk_value):
    kind = next(k for k, fault in groups(PROTO) if case == f"fuzz.{k.id}.{fault}")
    fault = case.rsplit(".", 1)[1]
    only = [case, f"fuzz.{kind.id}.valid"]
    budget = len(targets(PROTO, kind, fault)) * 2  # each field (with each wrong JSON type) once, and as many valid
    async with gateway(PROTO, heartbeat_interval=INTERVAL) as gw:
        report = await fuzz(gw, budget, only=only)
    result = next(r for r in report.results if r.id == case)
    assert result.status == "fail", result
    assert report.count("fail") == 1, failures(report)  # its valid payloads still pass
    detail = result.detail
    assert detail is not None and detail["field"] == field, detail
    assert detail["seed"] == 7 and "reproduce: " in result.got and f"{field} ({fault})" in result.got
    sent = json.loads(detail["payload"])
    value = _at(sent["d"], field)
    if shrunk_value is not ...:
        assert value == shrunk_value, sent  # shrunk to the simplest value that shows it
    assert len(detail["payload"]) < 400, detail["payload"]  # and the rest of the payload as small as it goes


class UnnamedRules(GatewayRules):
    """Closes with the right codes, but never says which field."""

    def close(self, name: str, text: str) -> Close:
        return super().close(name, "invalid payload" if name == "INVALID_PAYLOAD" else text)


class OneCodeRules(GatewayRules):
    """Closes everything it refuses with 4000."""

    def close(self, name: str, text: str) -> Close:
        return super().close("UNKNOWN_ERROR", text)


@pytest.mark.parametrize(
    ("rules", "got"),
    [(UnnamedRules, "(the reason does not name d."), (OneCodeRules, "got close 4000 UNKNOWN_ERROR")],
    ids=["reason-without-the-path", "another-close-code"],
)
async def test_a_close_is_judged_by_its_code_and_by_the_path_in_its_reason(rules, got):
    gateway = type("Gateway", (MockGateway,), {"rules_class": rules})
    async with gateway(PROTO, heartbeat_interval=INTERVAL) as gw:
        report = await fuzz(gw, 40, only=["fuzz.event.EXECUTE_COMMAND.null", "fuzz.event.EXECUTE_COMMAND.wrong-op"])
    null, wrong_op = report.results
    assert null.status == "fail" and got in null.got, null.got
    assert wrong_op.status == ("pass" if rules is UnnamedRules else "fail"), wrong_op.got  # 4001 need not name op


def _at(d: Any, field: str) -> Any:
    for part in field.split(".")[1:]:
        d = d.get(part, ...) if isinstance(d, dict) else ...
    return d


async def test_the_reproducer_sends_exactly_the_shrunk_payload():
    gateway = LENIENT[0].values[0]
    async with gateway(PROTO, heartbeat_interval=INTERVAL) as gw:
        report = await fuzz(gw, 40, only=["fuzz.event.EXECUTE_COMMAND.wrong-type"])
        detail = report.results[0].detail
        assert detail is not None
        command = detail["reproduce"]
        assert command.startswith("gwtool send EXECUTE_COMMAND ") and "\n" not in command
        seen: list[Any] = []
        gw.subscribe(lambda item: seen.append(getattr(item, "payload", None)))
        args = shlex.split(command)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gwtool", *args[1:], stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "COLUMNS": "200"},
        )  # fmt: skip
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()  # the lenient gateway takes it, as it did in the check
    assert orjson.loads(detail["payload"]) in seen


def test_a_validate_reproducer_gives_the_payload_exactly_under_sh():
    """sh's echo (dash here; zsh's too) turns the JSON's \\n and \\\\ into other bytes: printf does not."""
    heartbeat = next(kind for kind in kinds(PROTO) if kind.op == "HEARTBEAT")
    payload = {"op": PROTO.op("HEARTBEAT"), "d": {"x": "a\nb\\c 'q' $(id) `id`"}}
    example = Example(heartbeat, "wrong-type", heartbeat.senders[0], payload, Expected(("INVALID_PAYLOAD",)))
    command = reproducer(example, "ws://127.0.0.1:1", token_given=False)
    assert " | gwtool validate - " in command
    shown = subprocess.run(["sh", "-c", command.split(" | ")[0]], capture_output=True, check=True).stdout
    assert orjson.loads(shown) == payload


# --- the generator -----------------------------------------------------------------------------------


def test_the_same_seed_draws_the_same_payloads_and_another_seed_others():
    generator = Generator(PROTO, token="t")
    kind = next(k for k in kinds(PROTO) if k.id == "cache.guild")
    first = [e.text() for e in sample(generator.examples(kind, "valid"), 12, 11)]
    again = [e.text() for e in sample(Generator(PROTO, token="t").examples(kind, "valid"), 12, 11)]
    other = [e.text() for e in sample(generator.examples(kind, "valid"), 12, 12)]
    assert first == again and len(first) == 12
    assert first != other


def test_valid_examples_are_valid_and_each_mutant_breaks_one_rule_at_its_path():
    generator = Generator(PROTO, token="t")
    seen_faults = set()
    for kind, fault in groups(PROTO):
        for target in targets(PROTO, kind, fault)[:3]:
            for example in sample(generator.examples(kind, fault, target), 2, 5):
                seen_faults.add(fault)
                decoded = orjson.loads(example.text()) if fault != "int-range" else json.loads(example.text())
                errors = validate_payload(PROTO, orjson.loads(example.text()), service=example.sender)
                if fault == "valid":
                    assert not errors, (example.payload, errors)
                elif fault in ("not-allowed",):
                    assert not errors
                elif fault == "wrong-op":
                    assert any(error_path(e) == "op" for e in errors)
                else:
                    assert errors and {error_path(e) for e in errors} == {example.path}, (decoded, errors)
    assert seen_faults == {fault for _, fault in groups(PROTO)}


def test_generated_values_cover_the_boundaries():
    generator = Generator(PROTO, token="t")
    kind = next(k for k in kinds(PROTO) if k.id == "event.EXECUTE_COMMAND")
    drawn = sample(generator.examples(kind, "valid"), 300, 3)
    shards = {e.payload["d"]["ids"]["shard"] for e in drawn}
    messages = {e.payload["d"]["ids"]["message"] for e in drawn}
    assert {-(2**63), 2**64 - 1} <= shards
    assert {len(m) for m in messages} >= {1, 20}


# --- the command, as a user runs it ------------------------------------------------------------------


@pytest.fixture
def mock_gateway_url():
    import subprocess

    proc = subprocess.Popen(
        [sys.executable, "-m", "gwtool", "mock-gateway", "--port", "0", "--heartbeat-interval", str(INTERVAL), "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    yield proc.stdout.readline().split("listening on ", 1)[1].split()[0]
    proc.terminate()
    proc.wait(10)


def gwtool(*args: str) -> Any:
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "GWTOOL_URL"} | {"COLUMNS": "120"}
    return subprocess.run([sys.executable, "-m", "gwtool", *args], capture_output=True, text=True, timeout=300, env=env)


def test_check_gateway_fuzz_json_and_junit_and_the_same_seed_gives_the_same_cases(mock_gateway_url, tmp_path):
    junit = tmp_path / "fuzz.xml"
    args = ("check", "gateway", mock_gateway_url, "--fuzz", "83", "--seed", "99", "--only", "fuzz.*", "--json")
    first = gwtool(*args, "--junit", str(junit))
    assert first.returncode == 0, first.stdout + first.stderr
    report = orjson.loads(first.stdout)
    ids = [c["id"] for c in report["cases"]]
    assert ids == [f"fuzz.{kind.id}.{fault}" for kind, fault in groups(PROTO)] and report["failed"] == 0
    assert all("(seed 99)" in c["got"] for c in report["cases"])
    again = orjson.loads(gwtool(*args).stdout)
    assert [c["got"] for c in again["cases"]] == [c["got"] for c in report["cases"]]
    assert 'name="fuzz.identify.valid"' in junit.read_text()


def test_check_gateway_without_fuzz_has_no_generated_case_and_bad_values_are_usage_errors(mock_gateway_url):
    listed = gwtool("check", "gateway", mock_gateway_url, "--list")
    assert listed.returncode == 0 and "fuzz." not in listed.stdout
    for args, message in [
        (("--fuzz", "-1"), "--fuzz: must be ≥ 1"),
        (("--fuzz", "abc"), "--fuzz: expected an integer"),
        (("--fuzz", "5", "--seed", "x"), "--seed: expected an integer"),
        (("--seed", "5"), "--seed: needs --fuzz N"),
    ]:
        done = gwtool("check", "gateway", mock_gateway_url, *args)
        assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr, (args, done.stderr)
    done = gwtool("check", "service", "--as", "commands", "--fuzz", "abc", "--", "true")
    assert done.returncode == 1 and "--fuzz: expected an integer" in done.stderr


def test_a_failure_is_shrunk_to_the_smallest_payload_that_still_fails():
    generator = Generator(PROTO, token="t")
    kind = next(k for k in kinds(PROTO) if k.id == "event.EXECUTE_COMMAND")

    def judge(example: Any) -> str | None:  # a receiver that breaks on any non-ASCII character in raw
        return None if example.payload["d"]["raw"].isascii() else "broke"

    found = search(generator.examples(kind, "valid"), 200, 1, judge)
    assert found.failure is not None and found.got == "broke"
    d = found.failure.payload["d"]
    assert len(d["raw"]) == 1 and not d["raw"].isascii(), d  # one character is enough to show it
    assert d["command"] == "" and d["ids"] == {"message": "0", "author": "0", "channel": "0", "guild": "0", "shard": 0}, d
    assert found.tried > 1 and not found.flaky


def test_check_gateway_fuzz_leaves_no_hypothesis_directory_where_it_runs(mock_gateway_url, tmp_path):
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "HYPOTHESIS_STORAGE_DIRECTORY"} | {
        "XDG_CACHE_HOME": str(tmp_path / "cache")
    }
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "gwtool", "check", "gateway", mock_gateway_url, "--fuzz", "20", "--only", "fuzz.cache.user.*"],
        capture_output=True, text=True, timeout=120, env=env, cwd=work,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(work.iterdir()) == []  # its caches went to the user's cache directory
    assert (tmp_path / "cache" / "gwtool" / "hypothesis").is_dir()


async def test_a_search_that_breaks_fails_its_own_case_only(monkeypatch):
    import gwtool.check.fuzz_gateway as fuzz_gateway

    broken = "fuzz.heartbeat.sharder.null"
    real = fuzz_gateway._search

    def search_or_break(generator: Any, group: Any, *args: Any) -> Any:
        if group.id == broken:
            raise RuntimeError("a strategy that cannot draw")
        return real(generator, group, *args)

    monkeypatch.setattr(fuzz_gateway, "_search", search_or_break)
    async with MockGateway(PROTO, heartbeat_interval=INTERVAL) as gw:
        report = await fuzz(gw, 20, only=[broken, "fuzz.heartbeat.sharder.valid"])
    results = {r.id: r for r in report.results}
    assert results[broken].status == "fail" and "RuntimeError: a strategy that cannot draw" in results[broken].got
    assert results["fuzz.heartbeat.sharder.valid"].status == "pass"
