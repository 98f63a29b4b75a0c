"""Plain HTTP through the proxy: a ``GET`` on the proxy's port (``/services/``, ``/cache/…``) is
asked of the upstream gateway's port, and its answer relayed whole (status, headers, body).

One request per connection both ways (``Connection: close``), the answer read to its end within a
time and a size bound. A chunked answer is joined and relayed with its length. When the upstream
cannot answer, the proxy does, in JSON: 502 (unreachable, refused, an answer that is not HTTP or
too large) or 504 (no answer in time), naming the upstream.
"""

from __future__ import annotations

import asyncio
import email.utils
import ssl
from urllib.parse import urlsplit

from websockets.datastructures import Headers
from websockets.http11 import Response

from gwtool.gateway.rest import json_response

MAX_ANSWER = 64 << 20  # bytes of an upstream's answer relayed at most
# not passed on either way: about one hop's connection, or rewritten by the proxy. Origin is the
# proxy's to judge (--allow-origin), as the websocket's is: the upstream sees a request from the proxy.
HOP_BY_HOP = frozenset(
    ("connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "transfer-encoding", "upgrade", "host", "content-length", "date", "origin")
)  # fmt: skip


def upstream_target(upstream: str, target: str) -> str:
    """The path and query to ask the upstream for: its URL's path, then the request's path; its
    URL's query parameters, then the request's (``ws://gw/base?a=1`` + ``/x?b=2`` → ``/base/x?a=1&b=2``)."""
    parts = urlsplit(upstream)
    path, _, query = target.partition("?")
    base = parts.path.rstrip("/")
    joined = base + (path if path.startswith("/") else "/" + path)
    queries = "&".join(q for q in (parts.query, query) if q)
    return joined + (f"?{queries}" if queries else "")


def upstream_url(upstream: str, target: str) -> str:
    """The websocket URL a service connecting at ``target`` is proxied to."""
    parts = urlsplit(upstream)
    return f"{parts.scheme}://{parts.netloc}{upstream_target(upstream, target)}"


def http_url(upstream: str) -> str:
    parts = urlsplit(upstream)
    return f"{'https' if parts.scheme == 'wss' else 'http'}://{parts.netloc}{parts.path.rstrip('/')}"


async def relay_get(
    upstream: str, target: str, headers: Headers, *, timeout: float, limit: int = MAX_ANSWER
) -> tuple[Response, str | None]:
    """The upstream's answer to ``GET target`` (with the request's end-to-end headers), or the
    proxy's own JSON error naming the upstream, with that error's text."""
    where = http_url(upstream) + upstream_target(upstream, target)
    try:
        async with asyncio.timeout(timeout):
            data = await _ask(upstream, target, headers, limit)
    except TimeoutError:
        return _error(504, f"upstream {where} did not answer within {timeout:g} s")
    except OSError as exc:
        why = "connection refused" if isinstance(exc, ConnectionRefusedError) else (exc.strerror or str(exc))
        return _error(502, f"upstream {where} unreachable: {why}")
    if len(data) > limit:
        return _error(502, f"upstream {where} answered over {limit:,} bytes: not relayed")
    try:
        return _parse(data), None
    except ValueError as exc:
        return _error(502, f"upstream {where} did not answer in HTTP: {exc}")


def _error(status: int, text: str) -> tuple[Response, str]:
    return json_response(status, {"error": text}), text


async def _ask(upstream: str, target: str, headers: Headers, limit: int) -> bytes:
    parts = urlsplit(upstream)
    secure = parts.scheme == "wss"
    host = parts.hostname or ""
    port = parts.port or (443 if secure else 80)
    context = ssl.create_default_context() if secure else None
    reader, writer = await asyncio.open_connection(host, port, ssl=context, server_hostname=host if secure else None)
    try:
        lines = [f"GET {upstream_target(upstream, target)} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers.raw_items() if name.lower() not in HOP_BY_HOP]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace"))
        chunks, size = [], 0
        while size <= limit and (chunk := await reader.read(1 << 16)):
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        writer.close()


def _parse(data: bytes) -> Response:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError("no complete head" if data else "an empty answer")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code, _, phrase = rest.partition(" ")
    if not version.startswith("HTTP/1.") or not (code.isdigit() and len(code) == 3):
        raise ValueError(f"status line {status_line[:80]!r}")
    fields = [(name.strip(), value.strip()) for name, _, value in (line.partition(":") for line in header_lines) if name.strip()]
    if any(name.lower() == "transfer-encoding" and "chunked" in value.lower() for name, value in fields):
        body = _unchunk(body)
    else:
        length = next((value for name, value in fields if name.lower() == "content-length"), None)
        if length is not None and length.isascii() and length.isdigit() and len(length) <= 12:
            body = body[: int(length)]
    kept = [(name, value) for name, value in fields if name.lower() not in HOP_BY_HOP]
    kept += [("Date", email.utils.formatdate(usegmt=True)), ("Connection", "close"), ("Content-Length", str(len(body)))]
    return Response(int(code), phrase, Headers(kept), body)


def _unchunk(body: bytes) -> bytes:
    out: list[bytes] = []
    at = 0
    while True:
        end = body.find(b"\r\n", at)
        if end < 0:
            raise ValueError("a chunked body cut short")
        size_text = body[at:end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ValueError(f"chunk size {size_text[:20]!r}") from None
        if size == 0:
            return b"".join(out)
        out.append(body[end + 2 : end + 2 + size])
        at = end + 2 + size + 2
