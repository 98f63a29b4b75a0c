"""The client core: impersonate any service type of the protocol definition.

``GatewayClient`` connects, identifies, heartbeats, measures latency and reconnects; it turns
every frame into a ``Record`` and every lifecycle step into a ``Notice`` for its subscribers.
The CLI commands ``connect``/``send``/``cache`` and the dashboard both drive it.
"""

from gwtool.client.backoff import Backoff
from gwtool.client.core import ClientPhase, ClientState, GatewayClient, NotAllowed, NotConnected
from gwtool.client.latency import LatencyStats
from gwtool.client.memory import resident_memory

__all__ = [
    "Backoff",
    "ClientPhase",
    "ClientState",
    "GatewayClient",
    "LatencyStats",
    "NotAllowed",
    "NotConnected",
    "resident_memory",
]
