"""The REST side of the gateway, on the websocket's own port (websockets' ``process_request``).

``GET /services/``, ``GET /cache/`` (counts per type), ``GET /cache/{type}/`` (a bounded listing:
``?limit=N``) and ``GET /cache/{type}/{key…}``, where the key parts are the cache type's ``key``
fields in order (``/cache/member/{guildID}/{id}``).
Answers are JSON; errors too (``{"error": "..."}``) with 404, 400 or 405.
"""

from __future__ import annotations

import dataclasses
import email.utils
import http
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

import orjson
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from gwtool.text import plural

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

    from gwtool.gateway.server import MockGateway

Answer = tuple[int, Any, list[tuple[str, str]]]
LIST_LIMIT, MAX_LIST_LIMIT = 100, 1000  # entities in one GET /cache/{type}/ answer: default, most
LISTING = "/cache/{type}/?limit=N"


def json_response(status: int, body: Any, extra_headers: list[tuple[str, str]] | None = None) -> Response:
    data = orjson.dumps(body, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS, default=str)
    return _response(status, data, extra_headers)


def _response(status: int, data: bytes, extra_headers: list[tuple[str, str]] | None) -> Response:
    headers = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            *(extra_headers or []),
        ]
    )
    return Response(status, http.HTTPStatus(status).phrase, headers, data)


def is_websocket_upgrade(request: Request) -> bool:
    return "websocket" in request.headers.get("Upgrade", "").lower()


def route_patterns(gw: MockGateway) -> list[str]:
    """Every GET route, with the cache types' key fields spelled out."""
    routes = ["/services/", "/cache/", LISTING]
    routes += [f"/cache/{name}/" + "/".join(f"{{{k}}}" for k in s.key) for name, s in gw.proto.cache_types.items()]
    return routes


def answer(gw: MockGateway, method: str, target: str) -> Answer:
    """(status, JSON body, extra headers) for one HTTP request (HEAD: the same, sent without the body)."""
    if method not in ("GET", "HEAD"):
        return 405, {"error": f"{method} is not allowed: the REST side is read-only (GET)"}, [("Allow", "GET, HEAD")]
    # The target is a path (origin-form), never a URL: "//x" is not a host here.
    path, _, query = target.partition("#")[0].partition("?")
    parts = [unquote(p) for p in path.split("/") if p]
    if not parts:
        return 200, {"websocket": gw.url, "routes": route_patterns(gw)}, []
    if parts == ["services"]:
        return 200, gw.services_json(), []
    if parts[0] == "cache":
        return _cache(gw, parts[1:], query)
    return 404, {"error": f"no route GET {path} (routes: {', '.join(route_patterns(gw))})"}, []


def _cache(gw: MockGateway, parts: list[str], query: str) -> Answer:
    if not parts:
        return 200, gw.cache.counts(), []
    cache_type, key = parts[0], parts[1:]
    structure = gw.proto.cache_types.get(cache_type)
    if structure is None:
        known = list(gw.proto.cache_types)
        return 404, {"error": f"unknown cache type {cache_type!r} (known: {', '.join(known)})", "types": known}, []
    if not key:
        return _listing(gw, cache_type, query)
    pattern = f"/cache/{cache_type}/" + "/".join(f"{{{k}}}" for k in structure.key)
    if len(key) != len(structure.key):
        return 400, {"error": f"expected GET {pattern}: {plural(len(structure.key), 'key part')}, got {len(key)}"}, []
    entity = gw.cache.get(cache_type, *key)
    if entity is None:
        named = ", ".join(f"{k}={v}" for k, v in zip(structure.key, key))
        return 404, {"error": f"no {cache_type} cached with {named}"}, []
    return 200, entity, []


def _listing(gw: MockGateway, cache_type: str, query: str) -> Answer:
    """GET /cache/{type}/: how many entities the type holds and the first ``limit`` of them."""
    limit = LIST_LIMIT
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name != "limit":
            return 400, {"error": f"unknown query parameter {name!r} (GET {LISTING} takes limit only)"}, []
        if not (value.isascii() and value.isdigit()) or len(value) > 4 or int(value) > MAX_LIST_LIMIT:
            shown = value if len(value) <= 20 else value[:20] + "…"
            return 400, {"error": f"limit: expected an integer 0…{MAX_LIST_LIMIT}, got {shown!r}"}, []
        limit = int(value)
    count = gw.cache.count(cache_type)
    entities = gw.cache.first(cache_type, limit)
    body = {"type": cache_type, "count": count, "limit": limit, "truncated": count > len(entities), "entities": entities}
    return 200, body, []


def origin_refusal(request: Request, allowed: tuple[str, ...], server: str) -> tuple[str, Response] | None:
    """A browser page's request from an origin not in ``allowed``: (the origin as shown, the 403
    answer). A web page the developer has open must not drive or read a local ``server``; requests
    with no Origin (services, CLIs) always pass."""
    origin = request.headers.get("Origin")
    if origin is None or origin in allowed or "*" in allowed:
        return None
    shown = origin if len(origin) <= 100 else origin[:100] + "…"
    error = f"origin {shown!r} is not allowed (the {server}'s --allow-origin lists those that are)"
    return shown, json_response(403, {"error": error})


def make_process_request(gw: MockGateway) -> Callable[[ServerConnection, Request], Response | None]:
    """websockets calls this for every request: websocket upgrades go on, the rest is REST."""

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        if (refused := origin_refusal(request, gw.allow_origins, "gateway")) is not None:
            shown, response = refused
            gw.warn(f"refused a request from origin {shown!r} ({request.path[:100]}): "
                    "browsers' pages may not use this gateway (--allow-origin adds one)", origin=shown)  # fmt: skip
            return response
        if is_websocket_upgrade(request):
            return None
        try:
            status, body, headers = answer(gw, request.method, request.path)
            response = json_response(status, body, headers)
        except Exception as exc:  # a gateway bug, or data that cannot be JSON: still a JSON answer
            status = 500
            response = json_response(status, {"error": f"gateway error: {type(exc).__name__}: {exc}"})
        gw.http_notice(request.method, request.path, status, connection)
        if request.method == "HEAD":  # RFC 9110: the GET answer's headers, no body
            response = dataclasses.replace(response, body=b"")
        return response

    return process_request


# --- what websockets' handshake parser does not answer ------------------------------------------

MAX_HEAD = 64 << 10  # bytes of request head read before answering 431
MAX_LINE = 8192  # websockets' own line limit: a longer request line is 414, a longer header 431
MAX_HEADER_LINES = 128


def screen_head(head: bytes) -> tuple[int, str, str, str] | None:
    """A complete request head websockets would not answer (a body, oversized lines): (status,
    method, path, why); None when websockets may handle it."""
    lines = head.split(b"\r\n")
    request_line = lines[0]
    method, _, rest = request_line.partition(b" ")
    path = rest.rpartition(b" ")[0] or rest
    method_text, path_text = method.decode("latin-1"), path.decode("latin-1")
    if len(request_line) > MAX_LINE:
        return 414, method_text, path_text[:200], f"request line over {MAX_LINE} bytes"
    headers = [line for line in lines[1:] if line]
    if len(headers) > MAX_HEADER_LINES or any(len(line) > MAX_LINE for line in headers):
        return 431, method_text, path_text, f"over {MAX_HEADER_LINES} header lines or one over {MAX_LINE} bytes"
    names = {line.partition(b":")[0].strip().lower(): line.partition(b":")[2].strip() for line in headers}
    has_body = b"transfer-encoding" in names or names.get(b"content-length", b"0") != b"0"
    if has_body:
        if method_text != "GET":
            return 405, method_text, path_text, f"{method_text} is not allowed: the REST side is read-only (GET)"
        return 400, method_text, path_text, "a GET request has no body here"
    return None


def make_connection_class(gw: MockGateway) -> type:
    """websockets' ServerConnection, answering first what its handshake parser would drop without
    a word (it closes on a request with a body): with a JSON error, like every REST answer. Only
    the first request of a connection is read (answers say ``Connection: close``)."""
    from websockets.asyncio.server import ServerConnection

    class GatewayConnection(ServerConnection):
        screening = True  # until the first request head has been looked at
        head = b""

        def data_received(self, data: bytes) -> None:
            if not self.screening:
                super().data_received(data)
                return
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0 and len(self.head) <= MAX_HEAD:
                return  # the rest of the head is still coming
            self.screening = False
            head = self.head[:end] if end >= 0 else self.head
            if b"upgrade: websocket" in head.lower():  # a handshake: websockets' own business
                super().data_received(self.head)
                return
            verdict = screen_head(head) if end >= 0 else (431, *_request_line(head), f"request head over {MAX_HEAD} bytes")
            if verdict is None:
                super().data_received(self.head[: end + 4])  # one request; anything pipelined after it is not read
                return
            status, method, path, why = verdict
            gw.http_notice(method, path, status, self)
            self.transport.write(error_bytes(status, why))
            self.transport.close()

    return GatewayConnection


def _request_line(head: bytes) -> tuple[str, str]:
    method, _, rest = head.split(b"\r\n", 1)[0].partition(b" ")
    return method.decode("latin-1"), rest.rpartition(b" ")[0].decode("latin-1")[:200]


def error_bytes(status: int, why: str) -> bytes:
    """A whole JSON error response, ready to write to the socket."""
    extra = [("Allow", "GET, HEAD")] if status == 405 else []
    response = json_response(status, {"error": why}, extra)
    return response.serialize()
