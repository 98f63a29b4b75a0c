"""HELLO → IDENTIFY → IDENTIFIED on an open connection, driven by a ServiceSession.

For the lean connections of ``bench`` and ``check``, which handle their own traffic afterwards;
``GatewayClient`` drives its session through the whole life of a connection instead.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from websockets.exceptions import ConnectionClosed

from gwtool.errors import ClosedByGateway, GwtoolError
from gwtool.protocol import codec
from gwtool.session import Close, Identified, Problem, Send, ServiceSession, Stalled

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection


class HandshakeStalled(GwtoolError):
    """The gateway never sent HELLO, or never answered IDENTIFY, in time."""

    def __init__(self, step: str, seconds: float):
        self.step, self.seconds = step, seconds
        super().__init__(f"no {step} within {seconds:g} s")


async def handshake(ws: ClientConnection, session: ServiceSession) -> tuple[Identified, list[Problem]]:
    """Identify on ``ws``: the IDENTIFIED the gateway answered and the problems seen on the way.
    Raises HandshakeStalled, or ClosedByGateway when the gateway closes meanwhile."""
    session.connected(time.monotonic())
    problems: list[Problem] = []
    while session.identified is None:
        try:
            async with asyncio.timeout_at(_loop_time(session.deadline())):
                frame = await ws.recv(decode=False)
        except TimeoutError:
            for action in session.tick(time.monotonic()):
                if isinstance(action, Close):
                    await ws.close(action.code, action.reason)
                elif isinstance(action, Stalled):
                    raise HandshakeStalled(action.step, action.seconds) from None
            continue
        except ConnectionClosed as exc:
            raise _closed_while_identifying(session, exc) from None
        for action in session.receive(codec.decode(frame).payload, time.monotonic()):
            if isinstance(action, Send):
                await ws.send(codec.encode(action.payload), text=True)
            elif isinstance(action, Problem):
                problems.append(action)
    return session.identified, problems


def _loop_time(monotonic_deadline: float | None) -> float | None:
    """A time.monotonic() deadline on the running loop's clock (uvloop's is its own)."""
    if monotonic_deadline is None:
        return None
    return asyncio.get_running_loop().time() + (monotonic_deadline - time.monotonic())


def _closed_while_identifying(session: ServiceSession, exc: ConnectionClosed) -> ClosedByGateway:
    rcvd = exc.rcvd
    code, reason = (rcvd.code, rcvd.reason) if rcvd else (None, "")
    name = session.proto.close_name(code)
    message = f"the gateway closed the connection while identifying: {code} {name}".rstrip()
    return ClosedByGateway(message + (f": {reason}" if reason else ""), code, name, reason)
