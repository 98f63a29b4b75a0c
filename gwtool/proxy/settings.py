"""The proxy's settings: one typed, frozen object, checked when it is made (``InvalidSetting`` names
the setting), so the command line and the Python API refuse the same things with the same words."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from gwtool.errors import InvalidSetting

MAX_SIZE = 16 << 20  # bytes of one message: above any gateway's limit, so the gateway's own refusal shows
MAX_QUEUE = 16  # messages read from one side and not yet forwarded, per direction (then reading stops)


@dataclass(frozen=True, slots=True)
class ProxySettings:
    upstream: str  # the gateway's websocket URL, ws:// or wss://
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    max_size: int = MAX_SIZE  # bytes of one message either way, and of one decompressed for checking
    max_queue: int = MAX_QUEUE  # messages per direction read and not yet forwarded (backpressure past it)
    open_timeout: float = 10.0  # seconds the upstream's websocket handshake may take
    handshake_timeout: float = 10.0  # seconds for the gateway's HELLO, and for IDENTIFIED after IDENTIFY
    ack_timeout: float | None = None  # seconds an ACK may take; None: the heartbeat interval from HELLO
    strict: bool = False  # close a connection on its first violation, with the definition's code
    allow_origins: tuple[str, ...] = ()  # browser origins allowed; clients without an Origin always are
    show_token: bool = False  # records show IDENTIFY tokens masked unless this is set
    faults: tuple[str, ...] = ()  # rules, as typed (gwtool/proxy/faults.py)
    control_port: int | None = None  # the HTTP control API's port (0: any free one); None: no control API
    seed: int | None = None  # the random choices of faults (P%, jitter), for a run that repeats

    def __post_init__(self) -> None:
        problem = upstream_problem(self.upstream)
        if problem:
            raise InvalidSetting("upstream", problem)
        if not 0 <= self.port <= 65535:
            raise InvalidSetting("port", f"expected a port 0…65535 (0 = any free one), got {self.port}")
        if self.control_port is not None and not 0 <= self.control_port <= 65535:
            raise InvalidSetting("control_port", f"expected a port 0…65535 (0 = any free one), got {self.control_port}")
        for name, low in (("max_size", 1), ("max_queue", 1), ("open_timeout", 0.001), ("handshake_timeout", 0.001)):
            value = getattr(self, name)
            if value < low:
                raise InvalidSetting(name, f"must be ≥ {low:g}, got {value:g}")
        if self.ack_timeout is not None and self.ack_timeout <= 0:
            raise InvalidSetting("ack_timeout", f"must be > 0, got {self.ack_timeout:g}")
        if isinstance(self.faults, str):  # one rule where a tuple of them belongs: say so, never split it by letters
            raise InvalidSetting("faults", "expected a tuple of rules, got one string")


def upstream_problem(url: str) -> str | None:
    """Why ``url`` cannot be an upstream gateway's URL, or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number, or out of range
    except ValueError as exc:
        return f"{url!r} is not a URL: {exc}"
    if parts.scheme not in ("ws", "wss"):
        from gwtool.client.core import url_hint

        return f"expected a ws:// or wss:// URL, got {url!r}{url_hint(url)}"
    if not parts.hostname:
        return f"{url!r} names no host (e.g. ws://127.0.0.1:8765)"
    if parts.fragment:
        return f"{url!r} has a #fragment, which a websocket URL cannot have"
    return None
