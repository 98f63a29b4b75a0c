"""The protocol-aware proxy: ``async with Proxy(upstream=url, port=0) as proxy: …`` (see docs/proxy.md)."""

from gwtool.errors import InvalidSetting, ListenFailed
from gwtool.proxy.server import BAD_GATEWAY, Counts, LinkInfo, Proxy
from gwtool.proxy.settings import ProxySettings

__all__ = ["BAD_GATEWAY", "Counts", "InvalidSetting", "LinkInfo", "ListenFailed", "Proxy", "ProxySettings"]
