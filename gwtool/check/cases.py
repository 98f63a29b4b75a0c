"""Cases, results and reports: what both suites of ``gwtool check`` are made of.

A case is a row of a suite's table (id, title, what it expects, why it matters) plus the coroutine
that runs it. The coroutine returns what it saw when the case passed and raises ``Failed`` or
``Skipped`` otherwise; the runner bounds each case in time and never lets one case's error stop
the suite. docs/check.md is generated from the same rows (``cases_markdown``).
"""

from __future__ import annotations

import asyncio
import fnmatch
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar
from xml.etree import ElementTree

Status = Literal["pass", "fail", "skip"]
C = TypeVar("C")  # what a suite hands each case: its context


class Failed(Exception):
    """The case saw something other than what it expected: the message says what came, ``detail``
    (JSON-ready) what a person needs to act on it (a generated case's seed, payload, reproducer)."""

    def __init__(self, got: str, detail: dict[str, Any] | None = None):
        super().__init__(got)
        self.detail = detail


class Skipped(Exception):
    """The case does not apply here (an optional feature the peer does not show): the message says why."""


def expect(condition: object, got: str) -> None:
    """Fail with ``got`` unless ``condition`` holds."""
    if not condition:
        raise Failed(got)


@dataclass(frozen=True)
class Case(Generic[C]):
    id: str  # dotted and stable: what --only / --skip match and a CI report names
    title: str
    expected: str
    why: str
    run: Callable[[C], Awaitable[str]]
    timeout: float = 10.0  # seconds; a case that takes longer fails
    # the case's own milliseconds, when it runs inside work shared with others (generated cases
    # run as one batch: the runner's clock would give the first the whole batch, the rest 0 ms)
    own_ms: Callable[[], float | None] | None = None

    def row(self) -> tuple[str, str, str, str]:
        return self.id, self.title, self.expected, self.why


@dataclass(frozen=True, slots=True)
class Result:
    id: str
    title: str
    status: Status
    expected: str
    got: str
    ms: float
    detail: dict[str, Any] | None = None  # a failed generated case's seed, payload, field, reproducer

    def to_json(self) -> dict[str, Any]:
        out = {
            "id": self.id, "title": self.title, "status": self.status, "expected": self.expected,
            "got": self.got, "ms": round(self.ms, 1),
        }  # fmt: skip
        if self.detail is not None:
            out["detail"] = self.detail
        return out


@dataclass(frozen=True)
class Report:
    suite: str  # "gateway" or "service"
    target: str  # the URL or the command line checked
    results: tuple[Result, ...]

    def count(self, status: Status) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def verdict(self) -> str:
        return f"{self.count('pass')} passed, {self.count('fail')} failed, {self.count('skip')} skipped"

    @property
    def exit_code(self) -> int:
        return 1 if self.count("fail") else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "target": self.target,
            "cases": [r.to_json() for r in self.results],
            "passed": self.count("pass"),
            "failed": self.count("fail"),
            "skipped": self.count("skip"),
        }

    def junit_xml(self) -> bytes:
        """JUnit XML (one testsuite, a testcase per case) for a CI that gates on it."""
        suite = ElementTree.Element(
            "testsuite",
            name=f"gwtool check {self.suite}",
            tests=str(len(self.results)),
            failures=str(self.count("fail")),
            skipped=str(self.count("skip")),
            errors="0",
            time=f"{sum(r.ms for r in self.results) / 1000:.3f}",
        )
        for r in self.results:
            case = ElementTree.SubElement(
                suite, "testcase", classname=f"gwtool.check.{self.suite}", name=r.id, time=f"{r.ms / 1000:.3f}"
            )
            if r.status == "fail":
                failure = ElementTree.SubElement(case, "failure", message=_xml_text(r.got)[:500])
                failure.text = _xml_text(f"{r.title}\nexpected: {r.expected}\ngot: {r.got}")
            elif r.status == "skip":
                ElementTree.SubElement(case, "skipped", message=_xml_text(r.got)[:500])
            else:
                ElementTree.SubElement(case, "system-out").text = _xml_text(r.got)
        ElementTree.indent(suite)
        xml: bytes = ElementTree.tostring(suite, encoding="utf-8", xml_declaration=True)
        return xml + b"\n"


def _xml_text(text: str) -> str:
    """XML 1.0 cannot carry most control characters, even escaped: a peer's bytes may hold any."""
    return "".join(ch if ch in "\t\n\r" or ch >= " " else f"\\x{ord(ch):02x}" for ch in text)


def select(cases: Iterable[Case[C]], only: list[str] | None, skip: list[str] | None) -> list[Case[C]]:
    """The cases whose id matches one ``only`` pattern (all when none) and no ``skip`` pattern.

    A pattern is a shell glob (``identify.*``) or a plain prefix (``identify`` for ``identify.*``)."""

    def matches(case_id: str, pattern: str) -> bool:
        return fnmatch.fnmatchcase(case_id, pattern) or case_id == pattern or case_id.startswith(pattern.rstrip(".") + ".")

    return [
        c for c in cases if (not only or any(matches(c.id, p) for p in only)) and not any(matches(c.id, p) for p in skip or ())
    ]


async def run_case(case: Case[C], context: C) -> Result:
    """Run one case within its time bound; whatever it raises becomes its result, never the suite's end."""
    started = time.perf_counter()
    status: Status
    detail = None
    try:
        async with asyncio.timeout(case.timeout):
            got = await case.run(context)
        status = "pass"
    except Failed as exc:
        status, got, detail = "fail", str(exc), exc.detail
    except Skipped as exc:
        status, got = "skip", str(exc)
    except TimeoutError:
        status, got = "fail", f"no verdict within {case.timeout:g} s"
    except Exception as exc:  # the peer did something no case foresaw: that is its result, not a crash
        status, got = "fail", f"{type(exc).__name__}: {exc}"
    ms = case.own_ms() if case.own_ms is not None else None
    ms = (time.perf_counter() - started) * 1000 if ms is None else ms
    return Result(case.id, case.title, status, case.expected, got, ms, detail)


async def run_suite(
    suite: str, target: str, cases: list[Case[C]], context: C, on_result: Callable[[Result], None] | None = None
) -> Report:
    results = []
    for case in cases:
        result = await run_case(case, context)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return Report(suite, target, tuple(results))


def cases_markdown(cases: Iterable[Case[Any]]) -> str:
    """A suite's table for docs/check.md: id, what it checks, why."""
    rows = ["| case | checks | expects | why |", "|---|---|---|---|"]
    for case_id, title, expected, why in (c.row() for c in cases):
        rows.append(f"| `{case_id}` | {_cell(title)} | {_cell(expected)} | {_cell(why)} |")
    return "\n".join(rows)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
