"""The mock gateway: ``async with MockGateway(port=0) as gw: …`` (see docs/gateway.md)."""

from gwtool.gateway.cache import CacheStore
from gwtool.gateway.server import ConnectionInfo, ListenFailed, MockGateway, address_text

__all__ = ["CacheStore", "ConnectionInfo", "ListenFailed", "MockGateway", "address_text"]
