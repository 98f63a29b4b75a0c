"""Recordings (``--log`` files): the NDJSON stream, read back for ``replay``, ``validate``, ``stats`` and ``tui --open``.

A recording is a header line (``kind: "header"``, see ``header``) and then the records of
``Record.to_json`` / ``Notice.to_json``, one per line, appended. A line is written whole or not
at all by one writer, so a crash leaves every complete line readable; a torn last line is
skipped when read. A file appended to by several runs holds several headers: each starts a
session, and the records after it are read against it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice, repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from gwtool.errors import GwtoolError

if TYPE_CHECKING:
    from gwtool.protocol.definition import Definition
    from gwtool.records import Forward

FORMAT = "gwtool-recording/1"
MAX_LINE = 16 << 20  # a longer line is not a record gwtool wrote (--max-size is 1 MiB by default)
READ_BUFFER = 1 << 16  # bytes read from a recording at a time: fewer reads than the default 8 KiB (a few % of reading it)


class RecordingError(GwtoolError):
    """A recording cannot be read: the message names the file and the line."""


def protocol_digest(proto: Definition) -> str:
    """A short digest of the active definition: a replay can tell it runs against another one."""
    text = orjson.dumps(proto.as_definition(), option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.sha256(text).hexdigest()[:16]


def header(proto: Definition, *, side: str, command: str, url: str, service: str | None = None) -> dict[str, Any]:
    """The first line of a recording: what made it, on which side, against what."""
    from gwtool import __version__

    now = time.time()
    return {
        "ts": round(now, 6), "kind": "header", "format": FORMAT, "gwtool": __version__, "command": command,
        "side": side, "service": service, "url": url,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(now)), "protocol": protocol_digest(proto),
    }  # fmt: skip


def client_header(proto: Definition, command: str, url: str, service: str | None) -> dict[str, Any]:
    """The header of one client's recording (``connect``, ``send``, ``replay``, the dashboard's)."""
    return header(proto, side="client", command=command, url=url, service=service)


def header_line(data: dict[str, Any]) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_APPEND_NEWLINE)


def write_header(log: Any, data: dict[str, Any]) -> None:
    """Start a run in an open ``--log`` file, before any of its records (they come from a writer thread)."""
    log.write(header_line(data))
    log.flush()


@dataclass
class Line:
    number: int  # 1-based line of the file
    record: dict[str, Any]
    header: dict[str, Any] = field(default_factory=dict)  # the session's header ({} before any)


def read_lines(path: Path) -> Iterator[Line]:
    """Every record of a recording file with its line number and its session's header."""
    try:
        handle = path.open("rb", buffering=READ_BUFFER)
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with handle:
        yield from parse_lines(handle, str(path))


def parse_lines(lines: Iterable[bytes], name: str, *, header: dict[str, Any] | None = None, first: int = 1) -> Iterator[Line]:
    """Records of a recording's lines (``first`` is the number of the first one), read by
    ``parse_batches``: a line that is not a JSON object raises RecordingError naming it, except a
    torn last line (no newline at the end: the writer was cut off)."""
    for batch in parse_batches(lines, name, header=header, first=first):
        current = batch.header
        for number, record in zip(batch.numbers, batch.records):
            yield Line(number, record, current)


@dataclass(slots=True)
class Batch:
    """Consecutive records of one session: what ``parse_batches`` yields."""

    header: dict[str, Any]  # the session's header ({} before any)
    records: list[dict[str, Any]]
    numbers: Sequence[int]  # each record's line number (a range unless lines were skipped)


BATCH_LINES = 64  # small: the decoded records of a batch stay in the CPU cache while they are counted
BATCH_BYTES = 24 << 10  # the same from a file, in bytes (~64 records of 370 B): a batch of long lines stays small


def parse_batches(lines: Iterable[bytes], name: str, *, header: dict[str, Any] | None = None, first: int = 1) -> Iterator[Batch]:
    """The records of a recording's lines, ``BATCH_LINES`` lines at a time: the one reader of
    recordings (``parse_lines`` yields its records one by one). Blank lines are skipped; a line
    that is not a JSON object raises RecordingError naming it, except a torn last line.

    Most batches are decoded by ``orjson.loads`` mapped over the lines, with no Python code per line;
    a batch with something odd (a blank, broken, torn or over-long line, a header, a JSON value
    that is not an object) is read again line by line, which names the line."""
    current: dict[str, Any] = header or {}
    number = first
    for chunk in _chunks(lines):
        records = _fast(chunk)
        if records is not None:
            yield Batch(current, records, range(number, number + len(chunk)))
        else:
            for batch in _slow(chunk, name, number, current):
                current = batch.header
                yield batch
        number += len(chunk)


def _chunks(lines: Iterable[bytes]) -> Iterator[list[bytes]]:
    """Consecutive lines, a batch at a time. From a file, whole lines up to ``BATCH_BYTES`` (read in
    C; memory: the budget and one line, however long the lines); else ``BATCH_LINES`` lines."""
    readlines = getattr(lines, "readlines", None)
    if callable(readlines):
        return iter(lambda: readlines(BATCH_BYTES), [])
    source = iter(lines)
    return iter(lambda: list(islice(source, BATCH_LINES)), [])


def _fast(chunk: list[bytes]) -> list[dict[str, Any]] | None:
    """Every line of ``chunk`` decoded, if each is a complete record (None: read it line by line)."""
    if not chunk[-1].endswith(b"\n") or max(map(len, chunk)) > MAX_LINE:
        return None
    try:
        records = list(map(orjson.loads, chunk))
        # dict.get raises TypeError on a value that is not an object; a header starts a session
        if "header" in map(dict.get, records, repeat("kind")):
            return None
    except (orjson.JSONDecodeError, TypeError):  # a blank or broken line, or not an object: the slow path names it
        return None
    return records


def _slow(chunk: list[bytes], name: str, start: int, current: dict[str, Any]) -> Iterator[Batch]:
    """``chunk`` a line at a time: blank lines skipped, a header starts a session, a broken line
    named (a torn last one ends the reading)."""
    records: list[dict[str, Any]] = []
    numbers: list[int] = []
    for number, raw in enumerate(chunk, start):
        if not raw.strip():
            continue
        torn = not raw.endswith(b"\n")
        if len(raw) > MAX_LINE:
            raise RecordingError(f"{name}:{number}: a line of {len(raw):,} bytes is not a record")
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            if torn:
                break
            raise RecordingError(f"{name}:{number}: not JSON ({exc.msg} at char {exc.pos})") from None
        if not isinstance(record, dict):
            from gwtool.protocol.validate import json_type

            raise RecordingError(f"{name}:{number}: expected a JSON object (a record), got {json_type(record)}")
        if record.get("kind") == "header":
            if records:
                yield Batch(current, records, numbers)
                records, numbers = [], []
            current = record
            continue
        records.append(record)
        numbers.append(number)
    if records:
        yield Batch(current, records, numbers)


def first_header(path: Path) -> dict[str, Any]:
    """The header a recording starts with ({} when it has none)."""
    with path.open("rb") as handle:
        line = handle.readline(MAX_LINE)
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) and data.get("kind") == "header" else {}


def is_recording(first_line: bytes) -> bool:
    """Whether a file's first line is a recording's (a header, or a record) rather than a payload."""
    try:
        data = orjson.loads(first_line)
    except orjson.JSONDecodeError:
        return False
    return isinstance(data, dict) and "kind" in data and "ts" in data  # payloads carry neither


def payload_of(record: dict[str, Any]) -> dict[str, Any]:
    """The payload a ``kind: "payload"`` record stands for (as it went on the wire, tokens masked)."""
    payload: dict[str, Any] = {"op": record.get("op")}
    for key in ("t", "type"):
        if record.get(key) is not None:
            payload[key] = record[key]
    if record.get("d") is not None:
        payload["d"] = record["d"]
    return payload


def sent_by_service(line: Line) -> bool:
    """Whether a payload record is one a service sent (as opposed to the gateway)."""
    side = line.header.get("side", "client")
    direction = line.record.get("dir")
    return direction == ("out" if side == "client" else "in")


def sender_type(line: Line) -> str | None:
    """The service type that sent a service's payload: the client's own, or the record's (a
    gateway's recording, or a bench's, whose connections are of several types)."""
    service = line.header.get("service") if line.header.get("side", "client") == "client" else None
    if service is None:
        service = line.record.get("service")
    return service if isinstance(service, str) else None


def many_connections(line: Line) -> bool:
    """Whether a recording holds several services' connections (a gateway's, a bench's), rather
    than one client's connections one after the other (its reconnects)."""
    return line.header.get("side") == "gateway" or (bool(line.header) and line.header.get("service") is None)


@dataclass
class Sent:
    """What one recorded connection sent that replay could send again."""

    service: str | None
    names: dict[str, int] = field(default_factory=dict)  # event (t) or cache type → how many

    def describe(self) -> str:
        return ", ".join(f"{name} ×{count}" if count > 1 else name for name, count in self.names.items())


@dataclass
class Plan:
    """What ``replay`` sends: (seconds after the first, payload, line number), as one service type."""

    service: str | None
    items: list[tuple[float, dict[str, Any], int]]
    skipped: int = 0  # payloads of the recording left out (other connections, other events, …)
    protocol: str | None = None  # the digest of the definition it was recorded with
    connections: dict[Any, Sent] = field(default_factory=dict)  # every connection that sent one, by id


def replay_plan(
    path: Path, proto: Definition, *, conn: int | None = None, service: str | None = None, only: list[str] | None = None
) -> Plan:
    """The service → gateway EVENT and CACHE payloads of a recording, with their recorded spacing.

    ``conn`` replays that connection only. Otherwise, from a recording of several services'
    connections (a gateway's, a bench's), one connection is replayed: the first of ``service`` (or
    of any type) that sent a payload ``only`` keeps."""
    replayable = {proto.op("EVENT"), proto.op("CACHE")}
    items: list[tuple[float, dict[str, Any], int]] = []
    connections: dict[Any, Sent] = {}
    chosen_conn, chosen_service, skipped, start, digest = conn, None, 0, None, None
    for line in read_lines(path):
        record = line.record
        digest = digest or line.header.get("protocol")
        if record.get("kind") != "payload" or not sent_by_service(line) or record.get("op") not in replayable:
            continue
        name = record.get("t") if record.get("t") is not None else record.get("type")
        sent = connections.setdefault(record.get("conn"), Sent(sender_type(line)))
        sent.names[str(name)] = sent.names.get(str(name), 0) + 1
        wanted = not only or name in only
        scoped = conn is not None or many_connections(line)  # one connection of several
        if scoped and chosen_conn is None and wanted and (service is None or sender_type(line) == service):
            chosen_conn = record.get("conn")
        if (scoped and record.get("conn") != chosen_conn) or not wanted:
            skipped += 1
            continue
        ts = record.get("ts")
        ts = float(ts) if isinstance(ts, int | float) else 0.0
        start = ts if start is None else start
        chosen_service = chosen_service or sender_type(line)
        items.append((max(0.0, ts - start), payload_of(record), line.number))
    return Plan(service or chosen_service, items, skipped, digest, connections)


# --- records back into Records and Notices (the dashboard's viewer) ---------------------------------

_NOTICE_KEYS = frozenset(("ts", "kind", "conn", "service", "text"))


def _forwards(to: Any) -> list[Forward] | None:
    """A relayed event's ``to`` (a recording's own, or a hostile file's anything) as Forwards."""
    if not isinstance(to, list):
        return None
    from gwtool.records import Forward

    return [
        Forward(f["conn"], f.get("service") if isinstance(f.get("service"), str) else None,
                f["size"] if type(f.get("size")) is int else 0, f.get("compressed") is True)
        for f in to[:1000] if isinstance(f, dict) and type(f.get("conn")) is int
    ] or None  # fmt: skip


def item_of(record: dict[str, Any]) -> Any:
    """The Record or Notice a line stands for (None for a header or an unknown kind)."""
    from gwtool.records import Notice, Record

    kind = record.get("kind")
    ts = record.get("ts")
    ts = float(ts) if isinstance(ts, int | float) else 0.0
    conn = record["conn"] if type(record.get("conn")) is int else 0
    service = record.get("service") if isinstance(record.get("service"), str) else None
    if kind == "payload":
        error = record.get("error")
        size = record["size"] if type(record.get("size")) is int else 0
        latency = record.get("latency_ms")
        return Record(
            "in" if record.get("dir") == "in" else "out", size, None if error else payload_of(record),
            compressed=record.get("compressed") is True, conn=conn, service=service,
            error=str(error) if error else None, raw=str(record.get("raw") or "") if error else None, ts=ts,
            latency_ms=float(latency) if isinstance(latency, int | float) else None, forwards=_forwards(record.get("to")),
        )  # fmt: skip
    if isinstance(kind, str) and kind != "header":
        data = {k: v for k, v in record.items() if k not in _NOTICE_KEYS}
        return Notice(kind, str(record.get("text") or ""), conn, service, data, ts)  # type: ignore[arg-type]
    return None


def tail_lines(path: Path, count: int, block: int = 1 << 16) -> tuple[list[bytes], int]:
    """The last ``count`` complete lines of a file, read backwards (a recording of a million
    lines opens at once), and the offset where those lines end (where following goes on)."""
    with path.open("rb") as handle:
        end = handle.seek(0, 2)
        position, chunks, newlines = end, [], 0
        while position > 0 and newlines <= count:
            step = min(block, position)
            position -= step
            handle.seek(position)
            chunk = handle.read(step)
            chunks.append(chunk)
            newlines += chunk.count(b"\n")
    data = b"".join(reversed(chunks))
    complete = data[: data.rfind(b"\n") + 1]  # a torn last line is not read (yet)
    lines = complete.splitlines(keepends=True)
    if position > 0:
        lines = lines[1:]  # the first one may be cut: it is older than what is kept anyway
    return lines[-count:], end - (len(data) - len(complete))
