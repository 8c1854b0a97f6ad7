"""The service's guards: security headers, a request-size limit, per-client rate
limits, and CSRF tokens for the forms.

- Every answer carries a strict Content-Security-Policy (no scripts at all, styles
  from our own stylesheet only, forms posting to us only, no framing),
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` (a removal
  token in a URL never leaks) and, behind TLS, HSTS.
- A request body larger than the configured limit is refused with 413 before the
  application reads it (``Content-Length``) or as soon as it grows past it (chunked).
- Rate limits are token buckets per client address and kind (``write``: register,
  change, remove, verify; ``read``: everything else). Behind a reverse proxy, the
  client address is the proxy's unless uvicorn is told to trust its
  ``X-Forwarded-For`` (``tdmcrawl registry serve --forwarded-allow-ips``).
- Forms use the double-submit pattern: a random value in a ``SameSite=Strict``,
  ``HttpOnly`` cookie and the same value in a hidden field; a POST whose two values
  differ (another site's form, an expired page) is refused.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000")
CSRF_COOKIE = "tdmcrawl_csrf"
CSRF_FIELD = "csrf"


class SecurityHeaders:
    """Adds the headers above to every HTTP answer (HSTS only when ``hsts``)."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.headers = (*SECURITY_HEADERS, HSTS) if hsts else SECURITY_HEADERS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *((n, v) for n, v in self.headers if n not in names),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes with ``on_too_large``'s answer."""

    def __init__(self, app: ASGIApp, *, limit: int, on_too_large: ASGIApp) -> None:
        self.app = app
        self.limit = limit
        self.on_too_large = on_too_large

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.limit + 1
                if declared > self.limit:
                    await self.on_too_large(scope, receive, send)
                    return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self.on_too_large(scope, receive, send)


class RateLimiter:
    """Token buckets per (client, kind): ``per_minute`` requests, bursts of a quarter
    of that (at least 5). ``per_minute`` 0 switches a kind off."""

    def __init__(self, limits: dict[str, int], clock: Callable[[], float] = time.monotonic):
        self.limits = limits
        self.clock = clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str, kind: str) -> float:
        """0.0 when the request may go on, else the seconds to wait before retrying."""
        per_minute = self.limits.get(kind, 0)
        if per_minute <= 0:
            return 0.0
        capacity = max(5.0, per_minute / 4)
        rate = per_minute / 60.0
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get((client, kind), (capacity, now))
            tokens = min(capacity, tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[(client, kind)] = (tokens - 1.0, now)
                self._forget_idle(now)
                return 0.0
            self._buckets[(client, kind)] = (tokens, now)
            return (1.0 - tokens) / rate

    def _forget_idle(self, now: float) -> None:
        # Bounded memory: clients idle long enough to have a full bucket again are dropped.
        if len(self._buckets) < 10_000:
            return
        for key, (_, last) in list(self._buckets.items()):
            if now - last > 3600:
                del self._buckets[key]


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def csrf_ok(cookie: str | None, field: object) -> bool:
    return (
        isinstance(cookie, str)
        and isinstance(field, str)
        and len(cookie) >= 16
        and hmac.compare_digest(cookie.encode(), field.encode())
    )
