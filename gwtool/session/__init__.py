"""The protocol's behaviour, stated once, without sockets or asyncio (sans-I/O).

A session is fed what arrived (decoded payloads) and the clock, and answers with actions: what to
send, whether to close (and with which code and reason), and what happened or is wrong. Drivers do
the I/O: ``GatewayClient``, ``bench`` and the Locust users drive a ``ServiceSession``; ``MockGateway``
drives a ``GatewaySession`` per connection. A proxy can run both on one connection to check each
direction. The rules are unit-tested here with no sockets (tests/session).
"""

from gwtool.session.actions import Ack, Action, Close, Hello, Identified, Problem, Send, Stalled, Zombie
from gwtool.session.service import ServiceSession

__all__ = [
    "Ack", "Action", "Close", "Hello", "Identified", "Problem", "Send", "ServiceSession", "Stalled", "Zombie",
]  # fmt: skip
