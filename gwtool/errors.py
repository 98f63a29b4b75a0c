"""Errors gwtool raises on purpose. Front ends print these as one or two plain lines."""

from __future__ import annotations

from typing import Literal

# why a connection attempt never opened: nothing listening, no answer in time, an HTTP answer that is
# not a websocket upgrade, the network (no route, no such host), or a broken websocket handshake
ConnectFailure = Literal["refused", "timeout", "not_websocket", "network", "handshake"]


class GwtoolError(Exception):
    """Base of every error that carries a message meant for the user."""

    exit_code = 1  # the CLI's exit status: 1 invalid input, 2 could not connect, 3 closed by the gateway, 4 lost midway


class ProtocolDefinitionError(GwtoolError):
    """A protocol definition file is broken: the message names the file and the key."""


class DecodeError(GwtoolError):
    """A frame is not a gateway payload. The gateway answers it with DECODE_ERROR."""

    close_name = "DECODE_ERROR"

    @property
    def reason(self) -> str:
        return clip_reason(str(self))


class EncodeError(GwtoolError):
    """A value cannot be sent as JSON (an integer over 64 bits, a non-string key, …)."""


class InvalidPayload(GwtoolError):
    """A payload fails its field tables; ``errors`` holds each path and expectation."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("; ".join(errors))


REASON_LIMIT = 123  # RFC 6455: a close reason fits in 123 bytes of UTF-8


def clip_reason(text: str, limit: int = REASON_LIMIT) -> str:
    """Shorten ``text`` to at most ``limit`` UTF-8 bytes, ending in … when cut."""
    data = text.encode()
    if len(data) <= limit:
        return text
    cut = data[: limit - 3].decode(errors="ignore")  # "…" is 3 bytes
    return cut + "…"


class ConnectFailed(GwtoolError):
    """Nothing answered at the URL, or the websocket handshake failed. ``failure``: why an attempt
    never opened; None when a connection opened, then ended before it got going."""

    exit_code = 2

    def __init__(self, message: str, failure: ConnectFailure | None = None):
        super().__init__(message)
        self.failure = failure


class ClosedByGateway(GwtoolError):
    """The gateway closed the connection for good (a close code that says do not reconnect)."""

    exit_code = 3

    def __init__(self, message: str, code: int | None = None, name: str = "", reason: str = ""):
        super().__init__(message)
        self.code, self.name, self.reason = code, name, reason


class LostMidway(GwtoolError):
    """The connection was lost part way through a run of sends: some were written, some not."""

    exit_code = 4


class Interrupted(GwtoolError):
    """A run was stopped on purpose (Ctrl-C, SIGTERM, a stop event) part way: the message says how
    far it got."""

    exit_code = 130


class InvalidSetting(GwtoolError):
    """A setting of an engine (the mock gateway, the client) is out of range; ``name`` is the
    setting's name, which a front end maps to its own flag."""

    def __init__(self, name: str, problem: str):
        self.name, self.problem = name, problem
        super().__init__(f"{name}: {problem}")


class ListenFailed(GwtoolError):
    """A server could not listen on its host and port (in use, or not allowed)."""

    exit_code = 2


class Unreachable(GwtoolError):
    """``check gateway``: the gateway could not be reached, or refused the check's own IDENTIFY."""

    exit_code = 2


class CannotStart(GwtoolError):
    """``check service``: the command under test could not be started at all."""

    exit_code = 2
