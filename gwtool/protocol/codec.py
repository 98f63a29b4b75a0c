"""Frames ↔ payloads: orjson for JSON, zlib (RFC 1950, no shared context) for compression.

Every way a frame can fail to be a payload raises ``DecodeError``, which the gateway answers
with DECODE_ERROR and a reason of at most 123 bytes.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import orjson

from gwtool.errors import DecodeError, EncodeError

ZLIB_HEADER = 0x78  # first byte of every zlib stream with the default window
_ZLIB_FIRST = bytes((ZLIB_HEADER,))
# Deepest nesting of objects and arrays accepted in a payload (the payload itself is level 1).
# orjson reads up to 1024 levels but writes only 254: anything deeper could be received and then
# not be shown, logged or forwarded. No payload of the protocol needs more than a handful.
MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class Decoded:
    payload: dict[str, Any]
    compressed: bool


def encode(payload: Any) -> bytes:
    """Compact JSON as UTF-8 bytes (send with ``text=True`` for a text frame)."""
    try:
        return orjson.dumps(payload)
    except orjson.JSONEncodeError as exc:  # e.g. an integer over 64 bits, a non-string key
        raise EncodeError(f"cannot encode payload as JSON: {exc}") from None


def compress(data: bytes) -> bytes:
    return zlib.compress(data)


def is_compressed(frame: str | bytes) -> bool:
    """Binary frames are compressed; the zlib header is the fallback test for raw bytes."""
    return isinstance(frame, bytes) and frame[:1] == _ZLIB_FIRST


def decode(frame: str | bytes, *, max_size: int | None = None) -> Decoded:
    """Decode one frame. Bytes starting with the zlib header are decompressed first."""
    compressed = is_compressed(frame)
    if compressed:
        frame = _decompress(frame, max_size)  # type: ignore[arg-type]
    try:
        payload = orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        if "infinity" in exc.msg:  # orjson reads numbers as 64-bit integers or doubles
            raise DecodeError(f"not JSON: a number too large for a 64-bit double at char {exc.pos}") from None
        raise DecodeError(f"not JSON: {exc.msg} at char {exc.pos}") from None
    if type(payload) is not dict:
        raise DecodeError(f"expected a JSON object, got {_json_type(payload)}")
    if too_deep(frame, payload):
        raise DecodeError(f"nested deeper than {MAX_DEPTH} levels")
    d = payload.get("d", ...)
    if d is not ... and type(d) not in (dict, list):
        raise DecodeError(f"d: expected object or array, got {_json_type(d)}")
    return Decoded(payload, compressed)


def too_deep(frame: str | bytes, payload: Any) -> bool:
    """Whether ``payload`` (decoded from ``frame``) nests deeper than MAX_DEPTH.

    Only a frame with that many brackets can, so most frames are cleared by one count in C."""
    opening = (b"{", b"[") if isinstance(frame, bytes) else ("{", "[")
    if frame.count(opening[0]) + frame.count(opening[1]) < MAX_DEPTH:  # type: ignore[arg-type]
        return False
    stack = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        children = value.values() if type(value) is dict else value
        stack.extend((child, depth + 1) for child in children if type(child) in (dict, list))
    return False


def decode_text(frame: str | bytes, *, max_size: int | None = None) -> Decoded:
    """What a gateway accepts from a service: text frames of plain JSON only."""
    if isinstance(frame, bytes):
        raise DecodeError("binary frame: services send plain JSON in text frames")
    return decode(frame, max_size=max_size)


def _decompress(data: bytes, max_size: int | None) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, max_size or 0)
    except zlib.error as exc:
        raise DecodeError(f"bad zlib data: {exc}") from None
    if inflater.unconsumed_tail:
        raise DecodeError(f"decompressed payload is over {max_size} bytes")
    if not inflater.eof:
        raise DecodeError("bad zlib data: stream is truncated")
    return out


def _json_type(value: Any) -> str:
    from gwtool.protocol.validate import json_type

    return json_type(value)
