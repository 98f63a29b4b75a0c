"""Faults the proxy injects: a rule is an action, then a selection of payloads.

    drop op:HEARTBEAT_ACK service:sharder
    delay 200±50 t:EXECUTE_COMMAND
    close 4009 after 100 from:gateway

The selection is the dashboard's filter language (gwtool/filters.py: ``op:``, ``t:``, ``dir:``,
``conn:N``, free words, ``-`` negates), extended with ``from:service|gateway`` and
``service:TYPE``; an empty one selects every payload. Counts (``first N``, ``every N``,
``after N``) are per connection. The actions, and what each does to a selected payload:

    delay MS[±JITTER]          forwarded MS later (± a uniform jitter); what follows it waits behind it
    drop [P%|first N|every N]  not forwarded (every one, P % of them, the first N, or every Nth)
    duplicate [P%]             forwarded twice
    reorder WINDOW             held until WINDOW are held (or REORDER_WAIT passed), then sent newest first
    corrupt [P%]               its last byte cut: JSON that does not parse, a zlib stream cut short
    throttle BYTES/S           what its direction forwards from it on goes at most BYTES a second
    stall                      its direction stops: it and everything after wait until the rule is removed
    close CODE [REASON] [after N]
                               after N selected payloads went through, both sides are closed with
                               CODE and REASON instead of forwarding the next one

A rule that cannot work is refused when it is made (``RuleError``), naming the word at fault.
"""

from __future__ import annotations

import asyncio
import random
import shlex
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from gwtool.filters import Filter, FilterError

if TYPE_CHECKING:
    from websockets.asyncio.connection import Connection

    from gwtool.protocol.definition import Definition
    from gwtool.records import Record

Sender = Literal["service", "gateway"]
ACTIONS = ("delay", "drop", "duplicate", "reorder", "corrupt", "throttle", "stall", "close")
REORDER_WAIT = 0.5  # seconds a partly filled reorder window waits before it is sent as it is
EXTRA_KEYS = ("from", "service")  # the proxy's own selection keys, beside the filter language's
SENDERS: tuple[Sender, ...] = ("service", "gateway")  # from:
SELECTION = f"op: t: conn: from:{'|'.join(SENDERS)} service:TYPE"  # which payloads a rule acts on, in short
GRAMMAR = {
    "delay": "delay MS[±JITTER] (e.g. delay 300, delay 200±50)",
    "drop": "drop [P%|first N|every N] (e.g. drop, drop 10%, drop first 3, drop every 5)",
    "duplicate": "duplicate [P%] (e.g. duplicate, duplicate 5%)",
    "reorder": "reorder WINDOW (e.g. reorder 3)",
    "corrupt": "corrupt [P%] (e.g. corrupt, corrupt 1%)",
    "throttle": "throttle BYTES/S (e.g. throttle 2048/s)",
    "stall": "stall",
    "close": "close CODE [REASON] [after N] (e.g. close 1011, close 4009 'no heartbeat' after 100)",
}


class RuleError(ValueError):
    """A rule that cannot work: the message names the word at fault and shows the form."""


@dataclass(frozen=True, slots=True)
class Selection:
    """Which payloads a rule acts on: the filter language's terms, ``from:`` and ``service:``."""

    filter: Filter
    senders: frozenset[str] | None = None  # from: (None: both)
    not_senders: frozenset[str] = frozenset()
    services: frozenset[str] | None = None  # service: (None: any)
    not_services: frozenset[str] = frozenset()

    def matches(self, record: Record, service: str | None, proto: Definition) -> bool:
        sender = record.sender
        if (self.senders is not None and sender not in self.senders) or sender in self.not_senders:
            return False
        if (self.services is not None and service not in self.services) or service in self.not_services:
            return False
        return not self.filter or self.filter.matches(record, proto)


@dataclass(slots=True)
class Rule:
    id: int
    text: str
    action: str
    selection: Selection
    ms: float = 0.0  # delay
    jitter: float = 0.0  # delay
    percent: float | None = None  # drop, duplicate, corrupt: P % of the selected (None: every one)
    first: int | None = None  # drop first N
    every: int | None = None  # drop every N
    window: int = 0  # reorder
    rate: float = 0.0  # throttle, bytes a second
    code: int = 0  # close
    reason: str = ""  # close
    after: int = 0  # close
    applied: int = 0  # how many times it acted
    enabled: bool = True  # a disabled rule stays listed (with its count) and acts on nothing

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "rule": self.text, "action": self.action, "applied": self.applied, "enabled": self.enabled}


def check_rules(rules: tuple[str, ...] | list[str], proto: Definition) -> None:
    """Each rule parsed: InvalidSetting ``faults`` naming the first that is wrong, and why."""
    from gwtool.errors import InvalidSetting

    for text in rules:
        try:
            parse_rule(text, proto)
        except RuleError as exc:
            raise InvalidSetting("faults", f"{text!r}: {exc}") from None


def parse_rule(text: str, proto: Definition, rule_id: int = 0) -> Rule:
    """``text`` as a Rule, or RuleError naming what is wrong."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise RuleError(f"{text!r}: {exc}") from None
    if not words:
        raise RuleError("an empty rule: it starts with an action (" + ", ".join(ACTIONS) + ")")
    action, rest = words[0].lower(), words[1:]
    if action not in ACTIONS:
        raise RuleError(f"{words[0]!r} is not an action (one of {', '.join(ACTIONS)})")
    rule = Rule(rule_id, " ".join(shlex.quote(w) if " " in w else w for w in words), action, Selection(Filter()))
    try:
        rest = _ARGUMENTS[action](rule, rest)
    except (ValueError, IndexError) as exc:
        raise RuleError(f"{action}: {exc}; expected {GRAMMAR[action]}") from None
    rule.selection = parse_selection(rest, proto)
    return rule


def parse_selection(words: list[str], proto: Definition) -> Selection:
    own: dict[str, set[str]] = {"from": set(), "-from": set(), "service": set(), "-service": set()}
    terms = []
    for word in words:
        negated = word.startswith("-") and len(word) > 1
        key, sep, value = (word[1:] if negated else word).partition(":")
        if sep and key.lower() == "side":
            raise RuleError(f"{word}: side: is the dashboard's; the proxy selects with from:service or from:gateway")
        if not (sep and key.lower() in EXTRA_KEYS):
            terms.append(word)
            continue
        key, value = key.lower(), value.lower() if key.lower() == "from" else value
        if key == "from" and value not in SENDERS:
            raise RuleError(f"{word}: expected " + " or ".join(f"from:{sender}" for sender in SENDERS))
        if key == "service" and value not in proto.services:
            raise RuleError(f"{word}: {proto.unknown_service_text(value)}")
        own[("-" if negated else "") + key].add(value)
    try:
        parsed = Filter.parse_strict(" ".join(terms), proto) if terms else Filter()
    except FilterError as exc:
        raise RuleError(str(exc)) from None
    return Selection(
        parsed, frozenset(own["from"]) or None, frozenset(own["-from"]), frozenset(own["service"]) or None,
        frozenset(own["-service"]),
    )  # fmt: skip


# --- each action's arguments: they take theirs off the front of the words and leave the selection ---


def _delay(rule: Rule, words: list[str]) -> list[str]:
    if not words:
        raise ValueError("needs a time in ms")
    ms, sep, jitter = words[0].replace("+-", "±").partition("±")
    rule.ms, rule.jitter = _number(ms, "MS"), _number(jitter, "JITTER") if sep else 0.0
    return words[1:]


def _drop(rule: Rule, words: list[str]) -> list[str]:
    if words and words[0].lower() in ("first", "every"):
        if len(words) < 2:
            raise ValueError(f"{words[0]} needs a count")
        count = _count(words[1], "N", low=1)
        if words[0].lower() == "first":
            rule.first = count
        else:
            rule.every = count
        return words[2:]
    return _percent(rule, words)


def _percent(rule: Rule, words: list[str]) -> list[str]:
    if words and words[0].endswith("%"):
        percent = _number(words[0][:-1], "P%")
        if not 0 < percent <= 100:
            raise ValueError(f"{words[0]}: a percentage is over 0 and at most 100")
        rule.percent = percent
        return words[1:]
    return words


def _reorder(rule: Rule, words: list[str]) -> list[str]:
    if not words:
        raise ValueError("needs a window")
    rule.window = _count(words[0], "WINDOW", low=2)
    return words[1:]


def _throttle(rule: Rule, words: list[str]) -> list[str]:
    if not words or not words[0].lower().endswith("/s"):
        raise ValueError("needs a rate in bytes a second")
    rule.rate = _number(words[0][:-2], "BYTES/S")
    if rule.rate <= 0:
        raise ValueError(f"{words[0]}: a rate is over 0")
    return words[1:]


def _stall(rule: Rule, words: list[str]) -> list[str]:
    return words


def _close(rule: Rule, words: list[str]) -> list[str]:
    if not words:
        raise ValueError("needs a close code")
    rule.code = _count(words[0], "CODE", low=1000)
    if not (rule.code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014) or 3000 <= rule.code < 5000):
        raise ValueError(f"{words[0]}: a close frame carries 1000-1003, 1007-1014 or 3000-4999 (RFC 6455)")
    rest = words[1:]
    if rest and rest[0].lower() != "after" and ":" not in rest[0] and not rest[0].startswith("-"):
        rule.reason, rest = rest[0], rest[1:]
        if len(rule.reason.encode()) > 123:
            raise ValueError("a close reason is at most 123 bytes (RFC 6455)")
    if rest and rest[0].lower() == "after":
        if len(rest) < 2:
            raise ValueError("after needs a count")
        rule.after, rest = _count(rest[1], "N", low=0), rest[2:]
    rule.reason = rule.reason or f"gwtool proxy: {' '.join(w for w in ['close', *words[:1]])}"
    return rest


_ARGUMENTS: dict[str, Callable[[Rule, list[str]], list[str]]] = {
    "delay": _delay, "drop": _drop, "duplicate": _percent, "reorder": _reorder, "corrupt": _percent,
    "throttle": _throttle, "stall": _stall, "close": _close,
}  # fmt: skip


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number ({what})") from None
    if value < 0 or value != value or value == float("inf"):
        raise ValueError(f"{text!r}: {what} is a number ≥ 0")
    return value


def _count(text: str, what: str, low: int) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 12) or int(text) < low:
        raise ValueError(f"{text!r}: {what} is a whole number ≥ {low}")
    return int(text)


# --- applying them -------------------------------------------------------------------------------


@dataclass(slots=True)
class Out:
    """One message to write (or a close to make) when its time comes."""

    data: str | bytes | None  # None: a close
    not_before: float = 0.0  # time.monotonic()
    rate: float = 0.0  # throttled: bytes a second
    close: tuple[int, str] | None = None


@dataclass(slots=True)
class Verdict:
    """What the rules make of one payload: what to write, and what they did (rule, verb, detail:
    ``dropped`` …, `` by 212 ms``) for the injected notices."""

    outs: list[Out]
    done: list[tuple[Rule, str, str]] = field(default_factory=list)
    stall: Rule | None = None
    reorder: Rule | None = None
    close: Rule | None = None


def corrupted(data: str | bytes) -> str | bytes:
    """The documented corruption: the frame's last byte cut (text stays valid UTF-8 when it ends in
    ASCII, as JSON does)."""
    return data[:-1]


class Shaper:
    """One direction's writer once faults act on it: messages in order, each when its time comes,
    at most ``max_queue`` waiting before the pump waits too (backpressure); stalled, it holds."""

    def __init__(self, dst: Connection, max_queue: int, closer: Callable[[int, str], Any]):
        self.dst, self.max_queue, self.closer = dst, max_queue, closer
        self.items: deque[Out] = deque()
        self.room = asyncio.Event()
        self.room.set()
        self.wake = asyncio.Event()
        self.stalled_by: int | None = None
        self.sending = False
        self.link_free = 0.0  # throttle: when the throttled link has sent what went before
        self.held: dict[int, list[str | bytes]] = {}  # reorder windows, by rule id
        self.task: asyncio.Task[None] | None = None
        self.done = False  # closed, or its side is gone: nothing more is written
        self.idle = asyncio.Event()  # nothing waits to be written
        self.idle.set()

    def busy(self) -> bool:
        return bool(self.items) or self.sending or self.stalled_by is not None

    async def put(self, outs: list[Out]) -> None:
        if self.done:
            return
        self.items.extend(outs)
        self.idle.clear()
        self._start()
        if len(self.items) >= self.max_queue:
            self.room.clear()
            await self.room.wait()

    def put_now(self, outs: list[Out]) -> None:
        """From a timer: no waiting (a reorder window's few messages over the bound at most)."""
        if self.done:
            return
        self.items.extend(outs)
        self.idle.clear()
        self._start()

    def resume(self) -> None:
        self.stalled_by = None
        self.wake.set()

    def _start(self) -> None:
        self.wake.set()
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        items, clock = self.items, time.monotonic
        while True:
            while not items or self.stalled_by is not None:
                if not items:
                    self.idle.set()
                self.wake.clear()
                await self.wake.wait()
            out = items[0]
            wait = out.not_before - clock()
            if out.rate:
                wait = max(wait, self.link_free - clock())
            if wait > 0:
                self.wake.clear()
                try:  # a rule removed meanwhile wakes it early: the wait is looked at again
                    await asyncio.wait_for(self.wake.wait(), wait)
                except TimeoutError:
                    pass
                continue
            items.popleft()
            if len(items) < self.max_queue:
                self.room.set()
            if out.close is not None:
                self._finish()
                await self.closer(*out.close)
                return
            assert out.data is not None
            if out.rate:
                self.link_free = max(clock(), self.link_free) + len(out.data) / out.rate
            self.sending = True
            try:
                await self.dst.send(out.data)
            except Exception:  # the side is gone: its own pump says how
                self._finish()
                return
            finally:
                self.sending = False

    async def drained(self) -> None:
        """Until what waits was written (a stalled direction never is: the caller bounds this)."""
        await self.idle.wait()

    def _finish(self) -> None:
        self.done = True
        self.items.clear()
        self.room.set()
        self.idle.set()

    def stop(self) -> None:
        self._finish()
        if self.task is not None:
            self.task.cancel()


class Faults:
    """The rules, in the order they were added (``active``: the enabled ones, which act); the
    per-connection counts they keep."""

    def __init__(self, proto: Definition, seed: int | None = None):
        self.proto = proto
        self.rules: list[Rule] = []
        self.active: list[Rule] = []  # what the pumps look at: empty, and no payload is shaped
        self.random = random.Random(seed)
        self._next_id = 1

    def add(self, text: str) -> Rule:
        rule = parse_rule(text, self.proto, self._next_id)
        self._next_id += 1
        self.rules = [*self.rules, rule]  # a new list: a pump iterating the old one is not disturbed
        self._activate()
        return rule

    def remove(self, rule_id: int) -> Rule | None:
        found = self.get(rule_id)
        if found is not None:
            self.rules = [r for r in self.rules if r.id != rule_id]
            self._activate()
        return found

    def enable(self, rule_id: int, enabled: bool) -> Rule | None:
        """Turn a rule on or off, keeping its place and its counts; None when there is no such rule."""
        found = self.get(rule_id)
        if found is not None:
            found.enabled = enabled
            self._activate()
        return found

    def get(self, rule_id: int) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def _activate(self) -> None:
        self.active = [r for r in self.rules if r.enabled]  # a new list, as for ``rules``

    def apply(self, record: Record, data: str | bytes, service: str | None, counts: dict[int, int], now: float) -> Verdict:
        """What the rules in force do to one payload of a connection whose per-rule counts are ``counts``."""
        verdict = Verdict([Out(data)])
        proto, done = self.proto, verdict.done
        for rule in self.active:
            if not rule.selection.matches(record, service, proto):
                continue
            seen = counts[rule.id] = counts.get(rule.id, 0) + 1
            action = rule.action
            if action == "drop":
                if (rule.first is not None and seen > rule.first) or (rule.every is not None and seen % rule.every):
                    continue
                if self._chance(rule.percent):
                    verdict.outs = []
                    done.append((rule, "dropped", ""))
                    return verdict
            elif action == "close":
                if seen > rule.after:
                    verdict.outs, verdict.close = [], rule
                    done.append((rule, "closed both sides instead of forwarding", f" ({rule.code} {rule.reason})"))
                    return verdict
            elif action == "corrupt":
                if self._chance(rule.percent):
                    for out in verdict.outs:
                        out.data = corrupted(out.data) if out.data else out.data
                    done.append((rule, "corrupted", " (its last byte cut)"))
            elif action == "duplicate":
                if self._chance(rule.percent):
                    verdict.outs = [o for out in verdict.outs for o in (out, Out(out.data, out.not_before, out.rate))]
                    done.append((rule, "duplicated", ""))
            elif action == "delay":
                ms = max(0.0, rule.ms + (self.random.uniform(-rule.jitter, rule.jitter) if rule.jitter else 0.0))
                for out in verdict.outs:
                    out.not_before = max(out.not_before, now) + ms / 1000
                done.append((rule, "delayed", f" by {ms:.0f} ms"))
            elif action == "throttle":
                for out in verdict.outs:
                    out.rate = min(out.rate, rule.rate) if out.rate else rule.rate
                done.append((rule, "throttled", f" to {rule.rate:,.0f} B/s"))
            elif action == "stall":
                verdict.stall = verdict.stall or rule
                done.append((rule, "stalled at", ": nothing more goes this way until the rule is removed"))
            elif action == "reorder":
                verdict.reorder = verdict.reorder or rule
                done.append((rule, "held for reordering", f" (window {rule.window})"))
        return verdict

    def _chance(self, percent: float | None) -> bool:
        return percent is None or self.random.random() * 100 < percent
