"""A raw connection to a gateway under test: send anything, see every frame and how it closes.

The gateway suite cannot use ``GatewayClient``, which answers, validates and reconnects for its
user; a probe does nothing by itself, so each case decides exactly what goes on the wire. Frames
are decoded by the protocol's codec; every wait is bounded and says what it waited for.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from gwtool.check.cases import Failed
from gwtool.client.core import connect_error_text
from gwtool.errors import DecodeError
from gwtool.protocol.codec import decode, encode
from gwtool.protocol.examples import heartbeat_payload, identify_payload
from gwtool.session import Send, ServiceSession
from gwtool.text import printable

WAIT = 3.0  # seconds a probe waits for one answer unless told otherwise
MAX_FRAME = 16 << 20  # what a probe accepts from the gateway (it never trusts it to be small)


@dataclass(frozen=True, slots=True)
class Frame:
    payload: dict[str, Any] | None  # None: the frame did not decode (``error`` says why)
    binary: bool
    compressed: bool
    size: int
    at: float  # time.monotonic() it arrived
    error: str = ""

    def describe(self, proto: Any) -> str:
        if self.payload is None:
            return f"an undecodable {'binary' if self.binary else 'text'} frame ({self.error})"
        what = proto.op_name(self.payload.get("op"))
        t = self.payload.get("t")
        return f"{what} {printable(str(t))}" if t is not None else what


@dataclass(frozen=True, slots=True)
class Closed:
    code: int | None  # None: the TCP connection ended without a close frame
    reason: str

    def describe(self, proto: Any) -> str:
        if self.code is None:
            return "the connection dropped without a close frame"
        name = proto.close_name(self.code)
        return f"close {self.code} {name}".rstrip() + (f": {printable(self.reason)}" if self.reason else "")


class Probe:
    """``async with Probe(ctx) as p: hello = await p.recv()`` — one connection, nothing automatic."""

    def __init__(self, url: str, proto: Any):
        self.url, self.proto = url, proto
        self.ws: ClientConnection | None = None
        self.frames: list[Frame] = []  # everything received, in order
        self.closed: Closed | None = None

    async def __aenter__(self) -> Probe:
        if self.ws is None:  # a probe opened already (``GatewayContext.identified``) stays as it is
            self.ws = await open_connection(self.url)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close with 1000 and wait for the gateway's answer (so it has forgotten us afterwards)."""
        if self.ws is not None:
            try:
                async with asyncio.timeout(WAIT):
                    await self.ws.close()
            except (TimeoutError, OSError, ConnectionClosed):
                self.ws.transport.abort()

    async def send(self, item: dict[str, Any] | str | bytes) -> None:
        """A payload as a JSON text frame, or a str / bytes frame exactly as given. On a closed
        connection nothing is sent and nothing raised: the next read says how it closed."""
        assert self.ws is not None
        try:
            if isinstance(item, dict):
                await self.ws.send(encode(item), text=True)
            else:
                await self.ws.send(item)
        except ConnectionClosed:
            pass

    async def recv(self, timeout: float = WAIT, what: str = "a payload") -> Frame:
        """The next frame; fails (saying what it waited for) on a close or after ``timeout``."""
        frame = await self.next(timeout)
        if isinstance(frame, Closed):
            raise Failed(f"waiting for {what}: {frame.describe(self.proto)}")
        if frame is None:
            raise Failed(f"waiting for {what}: nothing within {timeout:g} s")
        return frame

    async def next(self, timeout: float = WAIT) -> Frame | Closed | None:
        """The next frame, how the connection closed, or None when nothing came within ``timeout``."""
        assert self.ws is not None
        if self.closed is not None:
            return self.closed
        try:
            async with asyncio.timeout(timeout):
                data = await self.ws.recv()
        except TimeoutError:
            return None
        except ConnectionClosed as exc:
            received = exc.rcvd
            self.closed = Closed(received.code, received.reason) if received is not None else Closed(None, "")
            return self.closed
        frame = _frame(data)
        self.frames.append(frame)
        return frame

    async def recv_op(self, name: str, timeout: float = WAIT) -> Frame:
        """The next payload with op ``name``, skipping the gateway's heartbeat requests and ACKs."""
        code = self.proto.op(name)
        skippable = {self.proto.op("HEARTBEAT"), self.proto.op("HEARTBEAT_ACK")} - {code}
        deadline = time.monotonic() + timeout
        while True:
            frame = await self.recv(max(deadline - time.monotonic(), 0.001), what=name)
            op = frame.payload.get("op") if frame.payload is not None else None
            if op == code:
                return frame
            if op not in skippable:
                raise Failed(f"waiting for {name}: got {frame.describe(self.proto)} first")

    async def recv_event(self, t: str, timeout: float = WAIT) -> Frame:
        while True:
            frame = await self.recv_op("EVENT", timeout)
            if frame.payload is not None and frame.payload.get("t") == t:
                return frame

    async def expect_close(self, timeout: float = WAIT) -> Closed:
        """Read until the gateway closes; fails if it stays open for ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            frame = await self.next(max(deadline - time.monotonic(), 0.001))
            if isinstance(frame, Closed):
                return frame
            if frame is None:
                raise Failed(f"still open {timeout:g} s later (no close)")

    async def hello(self) -> Frame:
        return await self.recv_op("HELLO")

    async def identify(self, service: str, token: str, *, compress: bool | None = None) -> Frame:
        """HELLO, IDENTIFY as ``service``, and the gateway's IDENTIFIED (its frame): a service's
        session takes each step, the probe only carries frames (heartbeats stay the case's own)."""
        session = ServiceSession(self.proto, service, token=token, compress=compress, heartbeat=False)
        if session.identified_t is None:
            raise Failed("the protocol definition has no event routed 'identified'")
        session.connected(time.monotonic())
        hello_op = self.proto.op("HELLO")
        frame = next((f for f in self.frames if f.payload is not None and f.payload.get("op") == hello_op), None)
        frame = frame or await self.hello()
        while True:
            for action in session.receive(frame.payload or {}, frame.at, compressed=frame.compressed):
                if isinstance(action, Send) and action.payload.get("op") == self.proto.op("IDENTIFY"):
                    await self.send(action.payload)
            if session.identified is not None:
                return frame
            frame = await self.recv_event(session.identified_t)

    async def heartbeat(self, service: str | None, timeout: float = WAIT) -> float:
        """Send one heartbeat and wait for its ACK: the round trip in ms."""
        started = time.monotonic()
        await self.send(heartbeat_payload(self.proto, service))
        ack = await self.recv_op("HEARTBEAT_ACK", timeout)
        return (ack.at - started) * 1000


def identify(proto: Any, service: str, token: str, *, compress: bool | None = None) -> dict[str, Any]:
    """IDENTIFY with ``compress`` as given, or left out when None (a case checks the gateway's
    default); any ``service``, known or not, as a case may send what no service would."""
    payload = identify_payload(proto, service, token=token, compress=compress)
    if compress is None:
        payload["d"].pop(proto.roles.identify_compress, None)
    return payload


async def open_connection(url: str) -> ClientConnection:
    """A websocket with nothing of its own: no compression extension, no pings, no proxy."""
    return await connect(
        url, compression=None, proxy=None, ping_interval=None, open_timeout=WAIT, close_timeout=WAIT, max_size=MAX_FRAME
    )


def connect_problem(exc: BaseException) -> str | None:
    """What stopped a probe from connecting, in words; None when ``exc`` is not about connecting."""
    if isinstance(exc, InvalidURI):
        return f"not a websocket URL: {exc}"
    if isinstance(exc, ConnectionRefusedError):
        return connect_error_text(exc, 0)
    if isinstance(exc, (OSError, InvalidHandshake, TimeoutError)):
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return None


def _frame(data: str | bytes) -> Frame:
    at = time.monotonic()
    binary = isinstance(data, bytes)
    try:
        decoded = decode(data, max_size=MAX_FRAME)
    except DecodeError as exc:
        return Frame(None, binary, False, len(data), at, str(exc))
    return Frame(decoded.payload, binary, decoded.compressed, len(data), at)
