"""Property tests: no input makes decode + validate raise anything but our own errors."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gwtool.errors import DecodeError, EncodeError, GwtoolError
from gwtool.protocol.codec import compress, decode, encode
from gwtool.protocol.definition import load_protocol
from gwtool.protocol.validate import permission_error, validate_payload

PROTO = load_protocol(use_env=False)
SENDERS = st.sampled_from([("service", None), ("gateway", None), *[("service", s) for s in PROTO.services]])

# JSON values orjson can encode (integers within 64 bits, no NaN)
scalars = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False, allow_infinity=False) | st.text()
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5), max_leaves=15
)

# payload-shaped objects, so validation goes past the first checks often
ops = st.sampled_from([o.code for o in PROTO.opcodes.values()]) | st.integers(-(2**63), 2**64 - 1) | json_values
names = st.sampled_from([*PROTO.events, *PROTO.cache_types, "nope"]) | json_values
payloads = st.fixed_dictionaries({"op": ops}, optional={"d": json_values, "t": names, "type": names}) | st.dictionaries(
    st.text(max_size=6), json_values, max_size=4
)


def check(frame: str | bytes, sender: str, service: str | None) -> None:
    try:
        payload = decode(frame, max_size=1 << 16).payload
    except DecodeError as exc:
        assert len(exc.reason.encode()) <= 123
        return
    errors = validate_payload(PROTO, payload, sender=sender, service=service)
    assert isinstance(errors, list) and all(isinstance(e, str) for e in errors)
    if service is not None:
        denied = permission_error(PROTO, payload, service)
        assert denied is None or isinstance(denied, str)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200) | st.text(st.characters(exclude_categories=[]), max_size=200), SENDERS)  # surrogates too
def test_arbitrary_frames_never_raise_foreign_errors(frame: str | bytes, who: tuple[str, str | None]) -> None:
    check(frame, *who)
    if isinstance(frame, bytes):
        check(compress(frame), *who)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(json_values, SENDERS)
def test_arbitrary_json_never_raises_foreign_errors(value: Any, who: tuple[str, str | None]) -> None:
    frame = encode(value)
    check(frame, *who)
    check(frame.decode(), *who)
    check(compress(frame), *who)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(payloads, SENDERS)
def test_payload_shaped_objects_validate_without_raising(payload: dict[str, Any], who: tuple[str, str | None]) -> None:
    check(encode(payload), *who)
    errors = validate_payload(PROTO, payload, sender=who[0], service=who[1])  # also straight, not via decode
    assert all(": " in e for e in errors)
    if who[1] is not None:
        permission_error(PROTO, payload, who[1])


@settings(max_examples=150)
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_encode_decode_round_trips_objects(obj: dict[str, Any]) -> None:
    if type(obj.get("d", {})) not in (dict, list):
        obj["d"] = {}
    assert decode(encode(obj)).payload == obj
    assert decode(compress(encode(obj))).payload == obj


@given(st.integers(min_value=2**64) | st.integers(max_value=-(2**63) - 1))
def test_integers_over_64_bits_raise_our_error(n: int) -> None:
    try:
        encode({"op": n})
    except EncodeError as exc:
        assert isinstance(exc, GwtoolError)
    else:
        raise AssertionError("orjson accepted an integer over 64 bits")
