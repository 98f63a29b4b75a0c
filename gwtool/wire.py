"""What every websocket server and endpoint of gwtool shares: the mock gateway's and the proxy's
listening, subscribers, websockets' log as notices, and how a close is told apart (ours or the peer's)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from websockets.asyncio.server import Server, ServerConnection, serve

from gwtool.errors import ListenFailed
from gwtool.records import Notice, Record

S = TypeVar("S")  # an engine's settings: a frozen dataclass

if TYPE_CHECKING:
    from websockets.frames import Close

    from gwtool.protocol.definition import Definition

Subscriber = Callable[[Record | Notice], None]
CLOSE_TIMEOUT = 1.0  # seconds a close handshake may take before the TCP connection is dropped
STOP_TIMEOUT = 2.0  # seconds stop() waits for connections to close before aborting them
GOING_AWAY = 1001  # RFC 6455: the server is shutting down
ABNORMAL = 1006  # RFC 6455: no close frame at all


class Party(Protocol):
    """One connection as notices name it."""

    @property
    def id(self) -> int: ...

    @property
    def service(self) -> str | None: ...


class Broadcaster:
    """Records and notices for whoever subscribed; nothing is built while nobody did."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call ``fn(record_or_notice)`` for everything from now on; returns the unsubscribe."""
        self._subscribers = [*self._subscribers, fn]

        def unsubscribe() -> None:
            if fn in self._subscribers:
                rest = list(self._subscribers)
                rest.remove(fn)
                self._subscribers = rest

        return unsubscribe

    def _emit(self, item: Record | Notice) -> None:
        for fn in self._subscribers:  # a new list on each (un)subscribe: safe to iterate as one changes it
            try:
                fn(item)
            except Exception:  # a broken subscriber must not break the server
                pass

    def _notice(self, kind: str, text: str, party: Party | None, **data: Any) -> None:
        if self._subscribers:
            conn_id, service = (party.id, party.service) if party is not None else (0, None)
            self._emit(Notice(kind, text, conn_id, service, data))  # type: ignore[arg-type]

    def warn(self, text: str, **data: Any) -> None:
        """A warning about no connection in particular (a refused origin, websockets' own log)."""
        self._notice("warning", text, None, **data)


class WireServer(Broadcaster):
    """A server on the wire (the mock gateway, the proxy): where it listens, as URLs."""

    host: str
    port: int  # the real one once started

    @property
    def url(self) -> str:
        return f"ws://{host_for_url(self.host)}:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://{host_for_url(self.host)}:{self.port}"


async def listen(
    handler: Callable[[ServerConnection], Awaitable[None]], host: str, port: int, warn: Callable[[str], None],
    logger_name: str, **options: Any,
) -> Server:  # fmt: skip
    """A websockets server on host:port (port 0 picks a free one), as gwtool's servers run one: no
    websocket compression and no pings (the protocol has its own of both), websockets' log as
    warnings; raises ListenFailed when it cannot listen."""
    try:
        return await serve(
            handler, host, port, compression=None, ping_interval=None, close_timeout=CLOSE_TIMEOUT,
            logger=NoticeLogger(logger_name, warn), **options,
        )  # fmt: skip
    except OSError as exc:
        why = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise ListenFailed(f"cannot listen on {host}:{port}: {why}") from None
    except OverflowError:  # a port outside 0…65535
        raise ListenFailed(f"cannot listen on {host}:{port}: a port is 0…65535") from None


class NoticeLogger(logging.Logger):
    """websockets' own log messages become warnings: no traceback on anyone's console."""

    def __init__(self, name: str, warn: Callable[[str], None]):
        super().__init__(name, logging.WARNING)
        self.propagate = False
        self.addHandler(_NoticeHandler(warn))


class _NoticeHandler(logging.Handler):
    def __init__(self, warn: Callable[[str], None]):
        super().__init__(logging.WARNING)
        self.warn = warn

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text += f": {type(exc).__name__}: {exc}"
        self.warn(text)


def close_of(received: Close | None, sent: Close | None, received_then_sent: bool | None) -> tuple[int, str, bool] | None:
    """(code, reason, whether the peer started it) of a closed connection; None when no close frame
    went either way. A close we sent first (websockets' own: a message over max_size, a protocol
    error) is ours even once the peer echoed it."""
    if received is not None and (sent is None or received_then_sent):
        return received.code, received.reason, True
    if sent is not None:
        return sent.code, sent.reason, False
    return None


async def close_server(server: Server, reason: str, drop: Callable[[], None]) -> None:
    """Close every connection with 1001 (going away) and wait for them, within about STOP_TIMEOUT
    s: past it ``drop`` aborts those whose peer does not read, and they get half a second more."""
    server.close(close_connections=True, code=GOING_AWAY, reason=reason)
    try:
        async with asyncio.timeout(STOP_TIMEOUT):
            await server.wait_closed()
    except TimeoutError:  # a peer that does not read: drop it
        drop()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.5):
                await server.wait_closed()


def engine_setup(
    proto: Definition | None, kind: Callable[..., S], settings: S | None, overrides: dict[str, Any]
) -> tuple[Definition, S]:
    """An engine's definition (the default one when None) and its settings: ``settings``, with
    ``overrides`` applied, or ``kind(**overrides)``; checked when made (InvalidSetting)."""
    if proto is None:
        from gwtool.protocol.definition import load_protocol

        proto = load_protocol()
    if settings is None:
        return proto, kind(**overrides)
    return proto, dataclasses.replace(settings, **overrides) if overrides else settings  # type: ignore[type-var]


def frame_size(frame: str | bytes) -> int:
    """Bytes of a frame on the wire (a text frame's UTF-8)."""
    return len(frame) if type(frame) is bytes or frame.isascii() else len(frame.encode())  # type: ignore[union-attr]


def host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def address_text(address: Any) -> str:
    """A socket address as "host:port" ("[::1]:port" for IPv6): how ``ConnectionInfo.remote`` reads.

    A client's ``local_address`` formatted with this equals the gateway's ``remote`` for its connection.
    """
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{host_for_url(str(address[0]))}:{address[1]}"
    return str(address)
