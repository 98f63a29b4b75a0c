"""The proxy's control API: a small HTTP server speaking JSON, for a service's own test suite.

    GET    /                  what this is: the proxy, its upstream, the routes
    GET    /rules             the fault rules: {"rules": [{"id", "rule", "action", "applied", "enabled"}]}
    POST   /rules             add one: body {"rule": "drop op:HEARTBEAT_ACK"} (or the rule as text/plain) → 201
    DELETE /rules/{id}        remove one (what it stalled goes on) → 200, 404 when there is none
    POST   /rules/{id}/disable
    POST   /rules/{id}/enable turn one off (it stays listed, with its count; what it stalled goes on) or on again
    DELETE /rules             remove every one
    POST   /rules/reset       back to the rules the proxy started with
    GET    /connections       the proxied connections: conn, service, payloads and violations by sender
    GET    /stats             payloads and violations by sender, faults injected, the verdict line

Errors are JSON too: ``{"error": "…"}`` with 400, 404, 405, 413 or 403 (a browser page's Origin
that ``--allow-origin`` does not list: a web page must not drive a local proxy). One request per
connection (``Connection: close``); a body over 64 KiB is refused.
"""

from __future__ import annotations

import asyncio
import errno
import http
from typing import TYPE_CHECKING, Any

import orjson

from gwtool.errors import ListenFailed
from gwtool.proxy.faults import RuleError

if TYPE_CHECKING:
    from gwtool.proxy.server import Proxy

MAX_BODY = 64 << 10
MAX_HEAD = 16 << 10
READ_TIMEOUT = 10.0
ROUTES = ["GET /", "GET /rules", "POST /rules", "DELETE /rules/{id}", "POST /rules/{id}/disable",
          "POST /rules/{id}/enable", "DELETE /rules", "POST /rules/reset", "GET /connections", "GET /stats"]  # fmt: skip

Answer = tuple[int, Any]


class Control:
    def __init__(self, proxy: Proxy, host: str, port: int):
        self.proxy, self.host, self.port = proxy, host, port
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=MAX_HEAD)
        except OSError as exc:
            why = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
            raise ListenFailed(f"control API: cannot listen on {self.host}:{self.port}: {why}") from None
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                status, body = await self._request(reader)
        except TimeoutError:
            status, body = 408, {"error": f"no whole request within {READ_TIMEOUT:g} s"}
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            status, body = 400, {"error": "the request ended before its head or body did"}
        data = orjson.dumps(body, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS, default=str)
        head = (f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n")  # fmt: skip
        try:
            writer.write(head.encode() + data)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _request(self, reader: asyncio.StreamReader) -> Answer:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            return 431, {"error": f"request head over {MAX_HEAD} bytes"}
        request_line, *lines = head.decode("latin-1").split("\r\n")
        method, _, rest = request_line.partition(" ")
        target = rest.rpartition(" ")[0] or rest
        headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines if line)}
        origin = headers.get("origin")
        allowed = self.proxy.settings.allow_origins
        if origin is not None and origin not in allowed and "*" not in allowed:
            return 403, {"error": f"origin {origin[:100]!r} is not allowed (the proxy's --allow-origin lists those that are)"}
        length = headers.get("content-length", "0")
        if not (length.isascii() and length.isdigit() and len(length) <= 12):
            return 400, {"error": f"Content-Length: expected a number, got {length[:20]!r}"}
        if int(length) > MAX_BODY:
            return 413, {"error": f"a body over {MAX_BODY:,} bytes"}
        body = await reader.readexactly(int(length)) if int(length) else b""
        try:
            return self.answer(method, target.split("?", 1)[0], body, headers.get("content-type", ""))
        except Exception as exc:  # a bug must cost one answer, never the proxy
            return 500, {"error": f"proxy error: {type(exc).__name__}: {exc}"}

    def answer(self, method: str, path: str, body: bytes, content_type: str) -> Answer:
        proxy = self.proxy
        parts = [p for p in path.split("/") if p]
        if parts == []:
            return self._only(method, "GET") or (200, {"proxy": proxy.url, "upstream": proxy.upstream, "routes": ROUTES})
        if parts == ["rules"]:
            if method == "GET":
                return 200, {"rules": [rule.to_json() for rule in proxy.rules]}
            if method == "POST":
                return self._add(body, content_type)
            if method == "DELETE":
                return 200, {"removed": [rule.to_json() for rule in proxy.clear_rules()]}
            return 405, {"error": f"{method} /rules: GET, POST or DELETE"}
        if parts == ["rules", "reset"]:
            return self._only(method, "POST") or (200, {"rules": [rule.to_json() for rule in proxy.reset_rules()]})
        if len(parts) == 2 and parts[0] == "rules":
            if (bad := self._only(method, "DELETE") or _rule_id_problem(parts[1])) is not None:
                return bad
            removed = proxy.remove_rule(int(parts[1]))
            if removed is None:
                return 404, {"error": f"no rule {parts[1]} (GET /rules lists them)"}
            return 200, {"removed": removed.to_json()}
        if len(parts) == 3 and parts[0] == "rules" and parts[2] in ("enable", "disable"):
            if (bad := self._only(method, "POST") or _rule_id_problem(parts[1])) is not None:
                return bad
            rule = proxy.enable_rule(int(parts[1]), parts[2] == "enable")
            if rule is None:
                return 404, {"error": f"no rule {parts[1]} (GET /rules lists them)"}
            return 200, {"rule": rule.to_json()}
        if parts == ["connections"]:
            return self._only(method, "GET") or (200, {"connections": [c.to_json() for c in proxy.connections]})
        if parts == ["stats"]:
            c = proxy.counts
            stats = {"payloads": c.payloads, "violations": c.violations, "injected": c.injected,
                     "connections": c.connections, "open": proxy.connection_count, "verdict": proxy.verdict()}  # fmt: skip
            return self._only(method, "GET") or (200, stats)
        return 404, {"error": f"no route {method} {path[:200]} (routes: {', '.join(ROUTES)})"}

    def _add(self, body: bytes, content_type: str) -> Answer:
        if content_type.startswith("application/json") or body.lstrip().startswith(b"{"):
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                return 400, {"error": f"the body is not JSON: {exc.msg} at char {exc.pos}"}
            text = data.get("rule") if isinstance(data, dict) else None
            if not isinstance(text, str):
                return 400, {"error": 'expected {"rule": "ACTION [SELECTION]"}, e.g. {"rule": "drop op:HEARTBEAT_ACK"}'}
        else:
            text = body.decode("utf-8", "replace").strip()
        try:
            rule = self.proxy.add_rule(text)
        except RuleError as exc:
            return 400, {"error": str(exc)}
        return 201, {"rule": rule.to_json()}

    @staticmethod
    def _only(method: str, allowed: str) -> Answer | None:
        return None if method == allowed else (405, {"error": f"{method} is not allowed here: {allowed} only"})


def _rule_id_problem(text: str) -> Answer | None:
    if text.isascii() and text.isdigit() and len(text) <= 12:
        return None
    return 400, {"error": f"/rules/{text[:40]}: a rule's id is a number (GET /rules lists them)"}
