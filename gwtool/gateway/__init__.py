"""The mock gateway: ``async with MockGateway(port=0) as gw: …`` (see docs/gateway.md)."""

from gwtool.errors import ListenFailed
from gwtool.gateway.cache import CacheStore
from gwtool.gateway.server import ConnectionInfo, MockGateway
from gwtool.gateway.settings import GatewaySettings
from gwtool.wire import address_text

__all__ = ["CacheStore", "ConnectionInfo", "GatewaySettings", "ListenFailed", "MockGateway", "address_text"]
