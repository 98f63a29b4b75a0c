"""The REST side of the gateway, on the websocket's own port (websockets' ``process_request``).

``GET /services/``, ``GET /cache/`` (counts per type), ``GET /cache/{type}/`` (a bounded listing:
``?limit=N``) and ``GET /cache/{type}/{key…}``, where the key parts are the cache type's ``key``
fields in order (``/cache/member/{guildID}/{id}``).
Answers are JSON; errors too (``{"error": "..."}``) with 404, 400 or 405.
"""

from __future__ import annotations

import email.utils
import http
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

import orjson
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

    from gwtool.gateway.server import MockGateway

Answer = tuple[int, Any, list[tuple[str, str]]]
LIST_LIMIT, MAX_LIST_LIMIT = 100, 1000  # entities in one GET /cache/{type}/ answer: default, most
LISTING = "/cache/{type}/?limit=N"

def json_response(status: int, body: Any, extra_headers: list[tuple[str, str]] | None = None) -> Response:
    data = orjson.dumps(body, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS, default=str)
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
    """(status, JSON body, extra headers) for one HTTP request."""
    if method != "GET":
        return 405, {"error": f"{method} is not allowed: the REST side is read-only (GET)"}, [("Allow", "GET")]
    url = urlsplit(target)
    parts = [unquote(p) for p in url.path.split("/") if p]
    if not parts:
        return 200, {"websocket": gw.url, "routes": route_patterns(gw)}, []
    if parts == ["services"]:
        return 200, gw.services_json(), []
    if parts[0] == "cache":
        return _cache(gw, parts[1:], url.query)
    return 404, {"error": f"no route GET {url.path} (routes: {', '.join(route_patterns(gw))})"}, []


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
        return 400, {"error": f"expected GET {pattern}: {len(structure.key)} key part(s), got {len(key)}"}, []
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
        if not (value.isascii() and value.isdigit()) or int(value) > MAX_LIST_LIMIT:
            return 400, {"error": f"limit: expected an integer 0…{MAX_LIST_LIMIT}, got {value!r}"}, []
        limit = int(value)
    count = gw.cache.count(cache_type)
    entities = gw.cache.first(cache_type, limit)
    body = {"type": cache_type, "count": count, "limit": limit, "truncated": count > len(entities), "entities": entities}
    return 200, body, []


def make_process_request(gw: MockGateway):  # noqa: ANN201 - websockets' callback type
    """websockets calls this for every request: websocket upgrades go on, the rest is REST."""

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        if is_websocket_upgrade(request):
            return None
        status, body, headers = answer(gw, request.method, request.path)
        gw._http_notice(request.method, request.path, status, connection)
        return json_response(status, body, headers)

    return process_request
