"""Why the mock gateway closes a connection: every reason of its own, in one table.

The gateway words each close from here (``reason(name, **values)``) and docs/gateway.md's table of
reasons is generated from it (a test keeps it current). Reasons that come from elsewhere are not
restated: validation errors (``d.ids.shard: expected integer, got string``) come from the
protocol's compiled checks, decoding errors from the codec, refusals of an event from
``permission_error``.
"""

from __future__ import annotations

from typing import Any

from gwtool.text import plural

# The closes for a payload its sender may not send and for one that fails its field tables (the
# dashboard's composer says which one a payload it holds back would get).
NOT_ALLOWED, INVALID = "EVENT_NOT_ALLOWED", "INVALID_PAYLOAD"

# name → (the definition's close code name, the reason's template, an example of its values)
REASONS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "before_identify": (
        "NOT_IDENTIFIED", "{op} before IDENTIFY: only HEARTBEAT may come first", {"op": "EVENT"},
    ),
    "identify_deadline": (
        "NOT_IDENTIFIED", "no IDENTIFY within {seconds:g} s of connecting", {"seconds": 30.0},
    ),
    "already_identified": (
        "ALREADY_IDENTIFIED", "already identified as {service}: IDENTIFY once per connection", {"service": "sharder"},
    ),
    "bad_token": ("AUTHENTICATION_FAILED", "token does not match the gateway's token", {}),
    "unknown_service": (
        "INVALID_SERVICE", "unknown service type {service!r} (known: {known})", {"service": "music", "known": "sharder, commands"},
    ),
    "unknown_event": ("INVALID_PAYLOAD", "t: {what} (known: {known})", {"what": "unknown event 'NOPE'", "known": "EXECUTE_COMMAND"}),
    "t_on_other_op": ("INVALID_PAYLOAD", "t: only {op} EVENT payloads carry t", {"op": 0}),
    "rate_limited": ("RATE_LIMITED", "more than {payloads} in {seconds:g} s", {"payloads": plural(120, "payload"), "seconds": 60.0}),
    "heartbeat_timeout": (
        "HEARTBEAT_TIMEOUT", "{what} for {ms:.0f} ms (timeout {factor:g} × {interval} ms)",
        {"what": "no heartbeat since the last one", "ms": 45012, "factor": 1.5, "interval": 30000},
    ),
    "not_reading": (
        "UNKNOWN_ERROR", "not reading: {kib:,} KiB unread for {seconds:.0f} s", {"kib": 1024, "seconds": 5.0},
    ),
    "gateway_error": ("UNKNOWN_ERROR", "gateway error: {error}", {"error": "KeyError: 'x'"}),
}  # fmt: skip


def reason(name: str, **values: Any) -> tuple[str, str]:
    """(close code name, reason text) for one of the gateway's own closes."""
    close, template, _ = REASONS[name]
    return close, template.format(**values)


def reasons_markdown() -> str:
    """docs/gateway.md's table of the gateway's own close reasons, with an example each."""
    rows = ["| close | reason (example) |", "|---|---|"]
    rows += [f"| {close} | `{template.format(**example)}` |" for close, template, example in REASONS.values()]
    return "\n".join(rows)
