"""Checks every request passes before the application reads a byte of its body.

One ASGI middleware, in this order: the Host header must be a well-formed host (a name or a
bracketed IPv6 address, an optional numeric port, nothing else) naming this server (so a page
on another site cannot reach a loopback server through DNS rebinding), the API key when one
is configured (or a signed report link), the Origin of a state-changing request must be this
server's or a configured one (no cross-site uploads or deletes), and the body must fit the
route's limit: a declared Content-Length over it is refused at once, and a streamed body is
cut off as soon as it passes it, so no more than the limit is ever read; a body that stalls
for `body_timeout` seconds is dropped (408). HEAD is answered wherever GET is (as GET without
the body), and every response carries the security headers: no framing (`X-Frame-Options`,
CSP `frame-ancestors`), a content policy per kind of page, `nosniff`, no referrer.
"""

from __future__ import annotations

import asyncio
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
# A Host header: a name (letters, digits, dots, hyphens, underscores) or a bracketed IPv6
# address, then an optional port of digits. Nothing else: no userinfo, no path, no suffix.
HOST = re.compile(r"(?:([a-z0-9_.-]+)|\[([0-9a-f:.]+)\])(?::[0-9]{1,5})?", re.ASCII)
EXPIRES = re.compile(r"[0-9]{1,12}", re.ASCII)  # seconds since 1970, good for 30,000 years
SIGNATURE = re.compile(r"[0-9a-f]{64}", re.ASCII)
BASE_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
PAGE_POLICY = (  # the web UI: its own script and style files, blob: pictures, fetch to itself
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
REPORT_POLICY = (  # the HTML report: no scripts at all, inline style, base64 images
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)
DOCS_POLICY = (  # FastAPI's /docs and /redoc: their scripts and fonts come from CDNs
    "default-src 'none'; script-src 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https:; connect-src 'self'; "
    "worker-src blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
SECURITY_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


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
        super().__init__(
            413,
            f"request body exceeds this route's limit of {_size(limit)}",
            headers={"Connection": "close"},
        )


class BodyTimeout(HTTPException):
    """Raised from `receive` when no body bytes arrived for `seconds` (a stalled client)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            408,
            f"request body stalled: nothing received for {seconds:g} s",
            headers={"Connection": "close"},
        )


class RequestGuard:
    """Pure ASGI middleware; `body_limit(method, path)` gives each route's byte limit and
    `body_timeout` the seconds a body may stall (None: no limit)."""

    def __init__(
        self,
        app: ASGIApp,
        config: GuardConfig,
        body_limit: Callable[[str, str], int],
        body_timeout: float | None = None,
    ) -> None:
        self.app = app
        self.config = config
        self.body_limit = body_limit
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = secured_send(send, scope["path"], head=scope["method"] == "HEAD")
        if scope["method"] == "HEAD":  # answered as GET, the body dropped by `secured_send`
            scope = {**scope, "method": "GET"}
        headers = Headers(scope=scope)
        refusal = self.refusal(scope, headers)
        limit = self.body_limit(scope["method"], scope["path"])
        declared = headers.get("content-length")
        if refusal is None and declared is not None:
            refusal = _length_refusal(declared, limit)
        if refusal is not None:
            # The body stays unread: a connection that carries one is not reused.
            close = {"Connection": "close"} if scope["method"] in STATE_CHANGING else None
            response = JSONResponse({"detail": refusal[1]}, refusal[0], headers=close)
            await response(scope, receive, send)
            return
        await self.app(scope, limited_receive(receive, limit, self.body_timeout), send)

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
        if found is None or scope["method"] != "GET":  # HEAD arrives here as GET
            return True
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        expires, sig = query.get("expires", [""])[0], query.get("sig", [""])[0]
        return not link_valid(self.config.api_key, found.group(1), expires, sig)


def limited_receive(receive: Receive, limit: int, timeout: float | None = None) -> Receive:
    """`receive` that raises `BodyTooLarge` once more than `limit` body bytes arrived, and
    `BodyTimeout` when the body is unfinished and nothing arrives for `timeout` seconds
    (once the body is complete, `receive` only waits for a disconnect: no time limit)."""
    seen, complete = 0, False

    async def wrapped() -> Message:
        nonlocal seen, complete
        if complete or timeout is None:
            message = await receive()
        else:
            try:
                message = await asyncio.wait_for(receive(), timeout)
            except TimeoutError:
                raise BodyTimeout(timeout) from None
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            complete = not message.get("more_body", False)
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return wrapped


def secured_send(send: Send, path: str, *, head: bool = False) -> Send:
    """`send` that adds the security headers to the response (the content policy chosen by
    `path`) and, for a HEAD request, sends no body."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            names = {name.lower() for name, _ in headers}
            extra = [*SECURITY_HEADERS, (b"content-security-policy", policy(path).encode())]
            headers += [(name, value) for name, value in extra if name not in names]
            message = {**message, "headers": headers}
        elif head and message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return wrapped


def policy(path: str) -> str:
    """The Content-Security-Policy of a response: the page's, the report's, the API docs', or
    nothing at all for everything else (JSON, PNG)."""
    if path == "/":
        return PAGE_POLICY
    if REPORT_PATH.fullmatch(path):
        return REPORT_POLICY
    if path in DOCS_PATHS:
        return DOCS_POLICY
    return BASE_POLICY


def _length_refusal(declared: str, limit: int) -> tuple[int, str] | None:
    if not (declared.isascii() and declared.isdigit()):
        return 400, "bad Content-Length header"
    if int(declared) > limit:
        return 413, BodyTooLarge(limit).detail
    return None


def host_name(host: str) -> str | None:
    """The name a Host header gives (lowercase, an IPv6 address without brackets), or None
    if it is not exactly `name[:port]` or `[v6][:port]`."""
    found = HOST.fullmatch(host.lower()) if host.isascii() else None
    if found is None:
        return None
    return found.group(1) or found.group(2)


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """A well-formed Host header naming an allowed host ("*": any well-formed one)."""
    name = host_name(host)
    return name is not None and ("*" in allowed or name in allowed)


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
    """A signed link's `expires` (ASCII digits, at most 12) is in the future and `sig` (64
    lowercase hex digits) signs it; anything else is simply not valid, never an error."""
    if not (EXPIRES.fullmatch(expires) and SIGNATURE.fullmatch(sig)):
        return False
    if int(expires) < time.time():
        return False
    return hmac.compare_digest(sig.encode(), _signature(key, case_id, expires).encode())


def _signature(key: str, case_id: str, expires: str) -> str:
    message = f"report:{case_id}:{expires}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def _size(limit: int) -> str:
    return f"{limit / (1024 * 1024):.0f} MB" if limit >= 1 << 20 else f"{limit / 1024:.0f} KB"
