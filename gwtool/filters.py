"""The filter language, shared by the dashboard's ``/`` filter and the console's ``--filter``.

``conn:3 t:EXECUTE_COMMAND -op:heartbeat free words``: every term must match; a leading ``-``
negates one. ``op:`` and ``t:`` (or ``type:``) match a prefix of the op name and of the event name
or cache type, ignoring case; ``dir:in``/``dir:out`` the direction; ``side:you``/``side:gw`` which
side recorded it; ``conn:N`` connection N (a relayed event matches its sender's and each
receiver's, and ``dir:out`` too); any other word is searched in the line's label, service and data. Notices (connected, closed, …) pass ``op:``/``t:``/``dir:`` terms only when
negated, so ``-op:heartbeat`` hides heartbeats but keeps connection events.

``Filter.parse`` never fails (the dashboard parses as you type and says what is wrong in the
stream's title); ``Filter.problems`` names each term that cannot match and why, and
``Filter.parse_strict`` turns the first into a ``FilterError`` (the command line's usage error).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from gwtool.console import label, summary
from gwtool.records import Notice, Record

if TYPE_CHECKING:
    from gwtool.protocol.definition import Definition

Side = Literal["you", "gw"]  # our client's view of the wire, or the gateway's
KEYS = {"op": "op", "t": "t", "type": "t", "dir": "dir", "side": "side", "conn": "conn"}  # as typed → as matched
DIRECTIONS = ("in", "out")
SIDES = ("you", "gw", "gateway")
SIDE_NAMES: dict[Side, str] = {"you": "our client's side", "gw": "the gateway's side"}
SEARCH_WIDTH = 2000  # characters of a payload's data that free words search


class FilterError(ValueError):
    """A term that cannot match anything: ``conn:x is not a connection number (e.g. conn:3)``."""

    def __init__(self, term: str, why: str):
        super().__init__(f"{term} {why}")
        self.term, self.why = term, why


@dataclass(frozen=True, slots=True)
class Term:
    negated: bool
    key: str  # "op", "t", "dir", "side", "conn", or "" for a free word
    value: str  # lower case
    typed: str  # as typed, for messages

    def __str__(self) -> str:
        return self.typed


def search_text(item: Record | Notice, proto: Definition) -> str:
    """The lower-case text free words search: a record's label, service and data, a notice's kind,
    service and sentence."""
    if isinstance(item, Record):
        return f"{label(item, proto)} {item.service or ''} {summary(item, SEARCH_WIDTH)}".lower()
    return f"{item.kind} {item.service or ''} {item.text}".lower()


@dataclass(frozen=True, slots=True)
class Filter:
    terms: tuple[Term, ...] = ()
    text: str = ""
    side: Side | None = None  # the dashboard's side switch, besides the typed terms

    @classmethod
    def parse(cls, text: str, side: Side | None = None) -> Filter:
        terms = []
        for word in text.split():
            negated = word.startswith("-") and len(word) > 1
            bare = word[1:] if negated else word
            key, sep, value = bare.partition(":")
            if sep and key.lower() in KEYS:
                terms.append(Term(negated, KEYS[key.lower()], value.lower(), word))
            else:
                terms.append(Term(negated, "", bare.lower(), word))
        return cls(tuple(terms), text, side)

    @classmethod
    def parse_strict(cls, text: str, proto: Definition, only_side: Side | None = None) -> Filter:
        """``parse``, raising ``FilterError`` for the first term that cannot match (the CLI's check)."""
        parsed = cls.parse(text)
        for term, why in parsed.problems(proto, only_side):
            raise FilterError(str(term), why)
        return parsed

    def __bool__(self) -> bool:
        return bool(self.terms) or self.side is not None

    def problems(self, proto: Definition, only_side: Side | None = None) -> list[tuple[Term, str]]:
        """Each term no line of this protocol can match, with why (``f"{term} {why}"`` reads as a
        sentence). ``only_side``: the one side of the wire there is to see, if only one."""
        ops = [o.name for o in proto.opcodes.values()]
        kinds = [*proto.events, *proto.cache_types]
        found = []
        for term in self.terms:
            key, value = term.key, term.value
            if key and not value:
                found.append((term, f"needs a value (e.g. {EXAMPLES[key]})"))
            elif key == "conn" and not _number(value):
                found.append((term, "is not a connection number (e.g. conn:3)"))
            elif key == "dir" and value not in DIRECTIONS:
                found.append((term, "is neither dir:in nor dir:out"))
            elif key == "side" and not _any_starts(SIDES, value):
                found.append((term, "is neither side:you nor side:gw"))
            elif key == "side" and only_side is not None and not term.negated and not _side_is(only_side, value):
                found.append((term, f"matches nothing here: only {SIDE_NAMES[only_side]} is shown"))
            elif key == "op" and not _any_starts(ops, value):
                found.append((term, f"matches no op of the protocol ({', '.join(ops)})"))
            elif key == "t" and not _any_starts(kinds, value):
                found.append((term, "matches no event or cache type of the protocol (gwtool protocol lists them)"))
        return found

    def matches(
        self, item: Record | Notice, proto: Definition, side: Side = "you", text: Callable[[Definition], str] | None = None
    ) -> bool:
        """Whether ``item`` (recorded on ``side``) passes. ``text`` gives its search text, for a
        caller that keeps it (the dashboard's entries); by default it is made when a free word asks."""
        if self.side is not None and side != self.side:
            return False
        for term in self.terms:
            if _term(term, item, proto, side, text) == term.negated:
                return False
        return True


EXAMPLES = {"op": "op:HEARTBEAT", "t": "t:EXECUTE_COMMAND", "dir": "dir:in", "side": "side:gw", "conn": "conn:3"}


def _number(text: str) -> bool:
    """A connection number as typed: ASCII digits, not ``²`` (a digit to str.isdigit, not to int)."""
    return text.isascii() and text.isdigit() and len(text) <= 12


def _side_is(side: Side, value: str) -> bool:
    return side.startswith(value) or (side == "gw" and "gateway".startswith(value))


def _any_starts(names: list[str] | tuple[str, ...], value: str) -> bool:
    return any(name.lower().startswith(value) for name in names)


def _term(term: Term, item: Record | Notice, proto: Definition, side: Side, text: Callable[[Definition], str] | None) -> bool:
    key, value = term.key, term.value
    if key == "conn":  # a relayed event is on its sender's connection and on each receiver's
        if not _number(value):
            return False
        conn = int(value)
        forwards = item.forwards if isinstance(item, Record) else None
        return item.conn == conn or (forwards is not None and any(f.conn == conn for f in forwards))
    if key == "side":
        return _side_is(side, value)
    if not isinstance(item, Record):  # a notice: no op, kind or direction to match
        return False if key else value in (text(proto) if text is not None else search_text(item, proto))
    if key == "dir":  # a relayed event went both ways: read, then forwarded
        return item.direction == value or (value == "out" and bool(item.forwards))
    if key == "op":
        return item.payload is not None and proto.op_name(item.op).lower().startswith(value)
    if key == "t":
        detail = item.t if item.t is not None else item.cache_type
        return isinstance(detail, str) and detail.lower().startswith(value)
    return value in (text(proto) if text is not None else search_text(item, proto))
