"""The protocol-aware proxy: ``async with Proxy(upstream=url, port=0) as proxy: …`` (see docs/proxy.md).

Its parts are imported on first use, so the CLI reads DEFAULT_PORT without loading the server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

DEFAULT_PORT = 8766  # one above the mock gateway's: both can run side by side with their defaults

if TYPE_CHECKING:
    from gwtool.errors import InvalidSetting, ListenFailed
    from gwtool.proxy.server import BAD_GATEWAY, Counts, LinkInfo, Proxy
    from gwtool.proxy.settings import ProxySettings

__all__ = ["BAD_GATEWAY", "DEFAULT_PORT", "Counts", "InvalidSetting", "LinkInfo", "ListenFailed", "Proxy", "ProxySettings"]
_LAZY = {
    "BAD_GATEWAY": "gwtool.proxy.server", "Counts": "gwtool.proxy.server", "LinkInfo": "gwtool.proxy.server",
    "Proxy": "gwtool.proxy.server", "ProxySettings": "gwtool.proxy.settings", "InvalidSetting": "gwtool.errors",
    "ListenFailed": "gwtool.errors",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_LAZY[name]), name)
