"""Checks every request passes before the application reads a byte of its body.

One ASGI middleware, in this order: the Host header must name this server (so a page on
another site cannot reach a loopback server through DNS rebinding), the API key when one is
configured (or a signed report link), the Origin of a state-changing request must be this
server's or a configured one (no cross-site uploads or deletes), and the body must fit the
route's limit: a declared Content-Length over it is refused at once, and a streamed body is
cut off as soon as it passes it, so no more than the limit is ever read.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
OPEN_PATHS = frozenset({"/api/health"})
REPORT_PATH = re.compile(r"/api/cases/([0-9a-f]{32})/report\.html")
LINK_SECONDS = 3600


@dataclass(frozen=True)
class GuardConfig:
    """`allowed_hosts` None means loopback names without an API key and any host with one
    ("*" allows any host explicitly); `allowed_origins` may change state besides the server's
    own origin (the same list CORS uses)."""

    api_key: str | None = None
    allowed_hosts: tuple[str, ...] | None = None
    allowed_origins: tuple[str, ...] = ()

    def hosts(self) -> tuple[str, ...]:
        if self.allowed_hosts is not None:
            return tuple(h.lower() for h in self.allowed_hosts)
        return ("*",) if self.api_key else LOOPBACK_HOSTS


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes its route's limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds this route's limit of {_size(limit)}")


class RequestGuard:
    """Pure ASGI middleware; `body_limit(method, path)` gives each route's byte limit."""

    def __init__(
        self, app: ASGIApp, config: GuardConfig, body_limit: Callable[[str, str], int]
    ) -> None:
        self.app = app
        self.config = config
        self.body_limit = body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self.refusal(scope, headers)
        if refusal is not None:
            await JSONResponse({"detail": refusal[1]}, refusal[0])(scope, receive, send)
            return
        limit = self.body_limit(scope["method"], scope["path"])
        declared = headers.get("content-length")
        if declared is not None:
            refused = _length_refusal(declared, limit)
            if refused is not None:
                await JSONResponse({"detail": refused[1]}, refused[0])(scope, receive, send)
                return
        await self.app(scope, limited_receive(receive, limit), send)

    def refusal(self, scope: Scope, headers: Headers) -> tuple[int, str] | None:
        """(status, reason) for a request that must not reach the application."""
        host = headers.get("host", "")
        if not host_allowed(host, self.config.hosts()):
            return 400, "Host header not allowed (see `opendfa serve --allow-host`)"
        if self.needs_key(scope) and not key_given(headers, self.config.api_key or ""):
            return 401, "missing or wrong API key"
        origin = headers.get("origin")
        if scope["method"] in STATE_CHANGING and origin is not None:
            allowed = origin_allowed(origin, host, self.config.allowed_origins)
            return None if allowed else (403, "cross-origin request refused")
        return None

    def needs_key(self, scope: Scope) -> bool:
        path = scope["path"]
        if not self.config.api_key or not path.startswith("/api/") or path in OPEN_PATHS:
            return False
        found = REPORT_PATH.fullmatch(path)
        if found is None or scope["method"] != "GET":
            return True
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        expires, sig = query.get("expires", [""])[0], query.get("sig", [""])[0]
        return not link_valid(self.config.api_key, found.group(1), expires, sig)


def limited_receive(receive: Receive, limit: int) -> Receive:
    """`receive` that raises `BodyTooLarge` once more than `limit` body bytes arrived."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return wrapped


def _length_refusal(declared: str, limit: int) -> tuple[int, str] | None:
    if not (declared.isascii() and declared.isdigit()):
        return 400, "bad Content-Length header"
    if int(declared) > limit:
        return 413, BodyTooLarge(limit).detail
    return None


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    if "*" in allowed:
        return True
    name = host.lower()
    if name.startswith("["):  # [::1]:8765
        name = name[1 : name.find("]")] if "]" in name else ""
    elif name.count(":") == 1:
        name = name.split(":")[0]
    return bool(name) and name in allowed


def origin_allowed(origin: str, host: str, allowed: tuple[str, ...]) -> bool:
    """Same origin as the Host the browser used, or a configured one ("null" never)."""
    if origin in allowed or "*" in allowed:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


def key_given(headers: Headers, key: str) -> bool:
    given = headers.get("x-api-key") or ""
    auth = headers.get("authorization") or ""
    if auth.lower().startswith("bearer "):
        given = given or auth[7:].strip()
    return hmac.compare_digest(given.encode(), key.encode())


def sign_link(key: str, case_id: str, now: float | None = None) -> str:
    """Query string that opens one case's HTML report without the key, for an hour (a plain
    link cannot send the key header, and the key itself must not go into URLs)."""
    expires = str(int((now or time.time()) + LINK_SECONDS))
    return f"expires={expires}&sig={_signature(key, case_id, expires)}"


def link_valid(key: str, case_id: str, expires: str, sig: str) -> bool:
    if not expires.isdigit() or int(expires) < time.time():
        return False
    return hmac.compare_digest(sig.encode(), _signature(key, case_id, expires).encode())


def _signature(key: str, case_id: str, expires: str) -> str:
    message = f"report:{case_id}:{expires}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def _size(limit: int) -> str:
    return f"{limit / (1024 * 1024):.0f} MB" if limit >= 1 << 20 else f"{limit / 1024:.0f} KB"
