"""What crosses the wire, and what happens to connections, as plain data.

The client and the gateway produce these; the console, NDJSON output, ``--log`` files and the
dashboard only render them. Nothing else decodes frames.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from gwtool.text import plural

Direction = Literal["in", "out"]  # as seen by whoever made the record
NoticeKind = Literal[
    "connecting", "connected", "identified", "closed", "reconnecting", "held", "dropped", "info", "warning", "error",
    "violation", "injected",
]  # fmt: skip
Sender = Literal["service", "gateway"]  # who sent a payload a proxy saw pass


@dataclass(frozen=True, slots=True)
class Forward:
    """Where the gateway forwarded a relayed event: the receiving connection, and the frame's size
    and form as written to it (compressed for a receiver that asked)."""

    conn: int
    service: str | None
    size: int
    compressed: bool = False


@dataclass(slots=True)
class Record:
    """One frame, in or out. ``payload`` is None when the frame did not decode; ``error`` says why.

    A relayed event is one record: the read, with ``forwards`` naming each receiver it was written
    to. The gateway fills ``forwards`` in during the turn of the event loop it emits the record in,
    so subscribers that render later (all of gwtool's do) see them; an event forwarded later (a
    held one) is a record of its own, ``direction == "out"``."""

    direction: Direction
    size: int  # bytes on the wire
    payload: dict[str, Any] | None
    compressed: bool = False
    conn: int = 0  # connection id, unique within one gateway or client
    service: str | None = None  # the connection's service type, once identified
    frame: str | None = None  # the text frame it was read from (the same str, not a copy): a pipe prints it
    error: str | None = None
    raw: str | None = None  # a preview of an undecodable frame
    ts: float = field(default_factory=time.time)
    latency_ms: float | None = None  # an ACK the client received: its heartbeat's round trip
    forwards: list[Forward] | None = None  # a relayed event: where the gateway wrote it, in order
    sender: Sender | None = None  # a proxy's record: who sent it (``from`` in NDJSON)

    @property
    def op(self) -> Any:
        return self.payload.get("op") if self.payload else None

    @property
    def t(self) -> Any:
        return self.payload.get("t") if self.payload else None

    @property
    def cache_type(self) -> Any:
        return self.payload.get("type") if self.payload else None

    def to_json(self) -> dict[str, Any]:
        """The NDJSON form shared by ``--json`` and ``--log`` (and the dashboard's Stats pane, for every record)."""
        payload = self.payload
        if payload:  # read once: the op, t and cache_type properties would each look it up again
            get = payload.get
            op, t, cache_type, d = get("op"), get("t"), get("type"), get("d")
        else:
            op = t = cache_type = d = None
        out: dict[str, Any] = {
            "ts": round(self.ts, 6),
            "kind": "payload",
            "dir": self.direction,
            "conn": self.conn,
            "service": self.service,
            "op": op,
            "t": t,
            "type": cache_type,
            "size": self.size,
            "compressed": self.compressed,
            "d": d,
        }
        if self.error is not None:
            out["error"] = self.error
            out["raw"] = self.raw
        if self.latency_ms is not None:
            out["latency_ms"] = round(self.latency_ms, 3)
        if self.forwards:
            out["to"] = [
                {"conn": f.conn, "service": f.service, "size": f.size, "compressed": f.compressed} for f in self.forwards
            ]
        if self.sender is not None:
            out["from"] = self.sender
        return out


@dataclass(slots=True)
class Notice:
    """Something that happened to a connection: connected, identified, closed, a drop, a warning."""

    kind: NoticeKind
    text: str  # one human sentence, untrusted parts included verbatim (render as plain text)
    conn: int = 0
    service: str | None = None
    data: dict[str, Any] = field(default_factory=dict)  # machine-readable details (code, shards, …)
    ts: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {
            "ts": round(self.ts, 6),
            "kind": self.kind,
            "conn": self.conn,
            "service": self.service,
            "text": self.text,
            **self.data,
        }


def mask_token(token: str) -> str:
    """``s3c… (6 chars)``: recognisable, not usable. Records show this unless --show-token."""
    if not token:
        return token
    return f"{token[:3] if len(token) > 6 else ''}… ({plural(len(token), 'char')})"


def masked_identify(payload: dict[str, Any], field: str) -> dict[str, Any]:
    """An IDENTIFY payload with its token (the definition's ``roles.identify_token`` field) masked:
    a copy; the wire keeps the real one."""
    d = payload.get("d")
    if not isinstance(d, dict) or type(d.get(field)) is not str or not d[field]:
        return payload
    return {**payload, "d": {**d, field: mask_token(d[field])}}


def preview(frame: str | bytes, limit: int = 200) -> str:
    """A short, printable view of a frame that did not decode."""
    if isinstance(frame, bytes):
        head = frame[:limit]
        return head.hex(" ") if not head.isascii() else head.decode("ascii", "replace")
    return frame[:limit]
