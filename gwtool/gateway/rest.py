"""The REST side of the gateway, on the websocket's own port (websockets' ``process_request``).

``GET /services/``, ``GET /cache/`` (counts per type) and ``GET /cache/{type}/{key…}``, where the
key parts are the cache type's ``key`` fields in order (``/cache/member/{guildID}/{id}``).
Answers are JSON; errors too (``{"error": "..."}``) with 404, 400 or 405.
"""

from __future__ import annotations

import email.utils
import http
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import orjson
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

    from gwtool.gateway.server import MockGateway


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
    routes = ["/services/", "/cache/"]
    routes += [f"/cache/{name}/" + "/".join(f"{{{k}}}" for k in s.key) for name, s in gw.proto.cache_types.items()]
    return routes


def answer(gw: MockGateway, method: str, target: str) -> tuple[int, Any, list[tuple[str, str]]]:
    """(status, JSON body, extra headers) for one HTTP request."""
    if method != "GET":
        return 405, {"error": f"{method} is not allowed: the REST side is read-only (GET)"}, [("Allow", "GET")]
    parts = [unquote(p) for p in urlsplit(target).path.split("/") if p]
    if not parts:
        return 200, {"websocket": gw.url, "routes": route_patterns(gw)}, []
    if parts == ["services"]:
        return 200, gw.services_json(), []
    if parts[0] == "cache":
        return _cache(gw, parts[1:])
    return 404, {"error": f"no route GET {urlsplit(target).path} (routes: {', '.join(route_patterns(gw))})"}, []


def _cache(gw: MockGateway, parts: list[str]) -> tuple[int, Any, list[tuple[str, str]]]:
    if not parts:
        return 200, gw.cache.counts(), []
    cache_type, key = parts[0], parts[1:]
    structure = gw.proto.cache_types.get(cache_type)
    if structure is None:
        known = ", ".join(gw.proto.cache_types)
        return 404, {"error": f"unknown cache type {cache_type!r} (known: {known})"}, []
    pattern = f"/cache/{cache_type}/" + "/".join(f"{{{k}}}" for k in structure.key)
    if len(key) != len(structure.key):
        return 400, {"error": f"expected GET {pattern}: {len(structure.key)} key part(s), got {len(key)}"}, []
    entity = gw.cache.get(cache_type, *key)
    if entity is None:
        named = ", ".join(f"{k}={v}" for k, v in zip(structure.key, key))
        return 404, {"error": f"no {cache_type} cached with {named}"}, []
    return 200, entity, []


def make_process_request(gw: MockGateway):  # noqa: ANN201 - websockets' callback type
    """websockets calls this for every request: websocket upgrades go on, the rest is REST."""

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        if is_websocket_upgrade(request):
            return None
        status, body, headers = answer(gw, request.method, request.path)
        gw._http_notice(request.method, request.path, status, connection)
        return json_response(status, body, headers)

    return process_request
