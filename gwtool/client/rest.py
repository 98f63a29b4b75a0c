"""Reading a gateway's REST side (GET /services/, /cache/…) beside the websocket client: a tiny
HTTP/1.1 GET on asyncio streams (the gateway is local; no extra dependency)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import orjson


async def http_get_json(http_url: str | None, path: str, timeout: float = 3.0) -> tuple[int, Any]:
    """A tiny HTTP/1.1 GET on asyncio streams (the gateway is local; no extra dependency)."""
    if http_url is None:
        raise OSError("the gateway's URL is not ws://, so its REST side cannot be read")
    parts = urlsplit(http_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
            raw = await reader.read()
        finally:
            writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    status = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else 0
    if b"transfer-encoding: chunked" in head.lower():
        body = _unchunk(body)
    try:
        return status, orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return status, None


def _unchunk(body: bytes) -> bytes:
    out = bytearray()
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return bytes(out)
