"""The codec: orjson + zlib, and every failure a DecodeError with a short reason."""

from __future__ import annotations

import zlib

import pytest

from gwtool.errors import REASON_LIMIT, DecodeError, EncodeError, GwtoolError, clip_reason
from gwtool.protocol.codec import compress, decode, decode_text, encode, is_compressed

PAYLOAD = {"op": 2, "t": "EXECUTE_COMMAND", "d": {"command": "ban", "ids": {"shard": 1}, "text": "ünï ✓"}}


def test_encode_is_compact_utf8_json() -> None:
    assert encode({"op": 1, "d": {"heapUsed": 5}}) == b'{"op":1,"d":{"heapUsed":5}}'
    assert decode(encode(PAYLOAD)).payload == PAYLOAD


def test_compressed_round_trip_is_detected() -> None:
    frame = compress(encode(PAYLOAD))
    assert frame[0] == 0x78 and is_compressed(frame)
    decoded = decode(frame)
    assert decoded.payload == PAYLOAD and decoded.compressed
    assert not decode(encode(PAYLOAD)).compressed  # plain JSON bytes
    assert not decode(encode(PAYLOAD).decode()).compressed  # a text frame


def test_binary_frame_of_plain_json_is_not_decompressed() -> None:
    assert not is_compressed(b'{"op": 1}') and not is_compressed("x")
    assert decode(b'{"op": 1, "d": {}}').payload == {"op": 1, "d": {}}


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (b"x\x9c\x00\x01garbage", "bad zlib data"),
        (zlib.compress(b'{"op": 1}')[:-3], "bad zlib data: stream is truncated"),
        (zlib.compress(b"[1, 2]"), "expected a JSON object, got array"),
        ("{nope", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        ("", "not JSON"),
        ("42", "expected a JSON object, got integer"),
        ('"op"', "expected a JSON object, got string"),
        ("null", "expected a JSON object, got null"),
        ('{"op": 1, "d": 5}', "d: expected object or array, got integer"),
        ('{"op": 1, "d": "x"}', "d: expected object or array, got string"),
        ('{"op": 1, "d": null}', "d: expected object or array, got null"),
    ],
)
def test_every_bad_frame_is_a_decode_error(frame: str | bytes, message: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode(frame)
    assert message in str(caught.value)
    assert caught.value.close_name == "DECODE_ERROR"
    assert len(caught.value.reason.encode()) <= REASON_LIMIT


def test_decompression_bomb_stops_at_max_size() -> None:
    bomb = compress(b'{"op": 1, "d": {"x": "' + b"a" * 10_000_000 + b'"}}')
    assert len(bomb) < 20_000
    with pytest.raises(DecodeError, match="decompressed payload is over 65536 bytes"):
        decode(bomb, max_size=65536)
    exact = encode(PAYLOAD)
    assert decode(compress(exact), max_size=len(exact)).payload == PAYLOAD
    with pytest.raises(DecodeError):
        decode(compress(exact), max_size=len(exact) - 1)


def test_gateway_side_refuses_binary_frames() -> None:
    with pytest.raises(DecodeError, match="binary frame"):
        decode_text(encode(PAYLOAD))
    assert decode_text(encode(PAYLOAD).decode()).payload == PAYLOAD


def test_reason_is_clipped_to_123_bytes_on_a_character_boundary() -> None:
    long = "d.ids.shard: " + "é" * 200
    clipped = clip_reason(long)
    assert len(clipped.encode()) <= 123 and clipped.endswith("…")
    assert clip_reason("short") == "short"
    with pytest.raises(DecodeError) as caught:
        decode("{" + '"k": ' * 300)
    assert len(caught.value.reason.encode()) <= 123


@pytest.mark.parametrize("value", [{"n": 2**64}, {1: "x"}, {"x": object()}, {"x": {1, 2}}])
def test_unencodable_values_raise_encode_error(value: object) -> None:
    with pytest.raises(EncodeError, match="cannot encode payload as JSON") as caught:
        encode(value)
    assert isinstance(caught.value, GwtoolError) and caught.value.exit_code == 1
