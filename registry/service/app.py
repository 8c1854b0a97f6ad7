"""The registry service as one ASGI application: the form, the JSON API, the feed.

:func:`create_app` assembles it: FastAPI (OpenAPI at ``/openapi.json``) with the
form's pages (``web``), the API under ``/api/v1`` (``api``), our stylesheet under
``/static``, and the guards of ``security`` around everything. Errors never show
a traceback: an expected error is one clear message in the author's language (a
page for the form, ``{"error": {...}}`` for the API), anything else a short
apology page while the traceback goes to the service's log.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles

from tdmcrawl.registry.errors import (
    DuplicateEntry,
    RegistryError,
)
from tdmcrawl.registry.service import api, web
from tdmcrawl.registry.service.core import ServiceConfig, gettext_for
from tdmcrawl.registry.service.security import (
    BodyLimit,
    BodyTooLarge,
    Receive,
    Scope,
    SecurityHeaders,
    Send,
)
from tdmcrawl.registry.service.state import (
    BAD_REQUEST,
    HERE,
    NOT_FOUND,
    SERVER_ERROR,
    TOO_LARGE,
    TOO_MANY,
    RateLimited,
    ServiceState,
    error_code,
    error_page,
    error_status,
    is_api,
    json_error,
    plain_duplicate,
    request_lang,
)

logger = logging.getLogger("tdmcrawl.registry.service")


def create_app(config: ServiceConfig) -> RegistryApp:
    """The ASGI application of one registry (see the module docstring)."""
    state = ServiceState(config)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        state.registries.close()

    app = FastAPI(
        lifespan=lifespan,
        title="tdmcrawl authors' opt-out registry",
        version="1",
        description=(
            "Authors register pages, sites and works they reserve from AI training; "
            'crawlers follow the feed. Errors are `{"error": {"code", "message", '
            '"field"}}` in the language of `Accept-Language` or `?lang=` (kk, ru, en). '
            "Changing, removing and listing entries need the removal token as "
            "`Authorization: Bearer <token>`."
        ),
        docs_url=None,  # the interactive docs load scripts from a CDN: not here
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.service = state
    app.include_router(api.router)
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.exception_handler(RegistryError)
    async def registry_error(request: Request, exc: RegistryError) -> Response:
        _ = gettext_for(request_lang(request))
        status = error_status(exc)
        if isinstance(exc, DuplicateEntry):
            exc = plain_duplicate(exc)
        if status == 500:
            logger.error("registry error: %s", exc)
            message = _(SERVER_ERROR)
        else:
            message = exc.localized(_)
        if is_api(request):
            extra = {"existing_id": exc.existing_id} if isinstance(exc, DuplicateEntry) else {}
            return json_error(status, error_code(exc), message, field=exc.field, **extra)
        return error_page(request, status, message)

    @app.exception_handler(BodyTooLarge)
    async def body_too_large(request: Request, exc: BodyTooLarge) -> Response:
        return _too_large_response(request, config)

    @app.exception_handler(RateLimited)
    async def rate_limited(request: Request, exc: RateLimited) -> Response:
        _ = gettext_for(request_lang(request))
        message = _(TOO_MANY).format(seconds=exc.retry_after)
        response = (
            json_error(429, "rate-limited", message)
            if is_api(request)
            else error_page(request, 429, message)
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        _ = gettext_for(request_lang(request))
        first = exc.errors()[0] if exc.errors() else {}
        location = [str(part) for part in first.get("loc", ()) if part != "body"]
        field = location[-1] if location else None
        why = f"{'.'.join(location)}: {first.get('msg', 'invalid')}"
        message = _(BAD_REQUEST).format(why=why)
        if is_api(request):
            return json_error(422, "invalid-request", message, field=field)
        return error_page(request, 400, message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        _ = gettext_for(request_lang(request))
        message = _(NOT_FOUND) if exc.status_code == 404 else str(exc.detail)
        if is_api(request):
            response: Response = json_error(exc.status_code, "http-error", message)
        else:
            response = error_page(request, exc.status_code, message)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        _ = gettext_for(request_lang(request))
        if is_api(request):
            return json_error(500, "server-error", _(SERVER_ERROR))
        try:
            return error_page(request, 500, _(SERVER_ERROR))
        except Exception:  # even the error page failed: plain text, still no traceback
            return Response(_(SERVER_ERROR), status_code=500, media_type="text/plain")

    async def too_large(scope: Scope, receive: Receive, send: Send) -> None:
        await _too_large_response(Request(scope, receive), config)(scope, receive, send)

    # Outside FastAPI's own error handling, so its 500 answers get the headers too.
    limited = BodyLimit(app, limit=config.max_request_bytes, on_too_large=too_large)
    compressed = GZipMiddleware(limited, minimum_size=2048)
    return RegistryApp(app, SecurityHeaders(compressed, hsts=config.secure_cookies))


def _too_large_response(request: Request, config: ServiceConfig) -> Response:
    _ = gettext_for(request_lang(request))
    message = _(TOO_LARGE).format(limit=config.max_file_bytes // (1024 * 1024))
    response = (
        json_error(413, "too-large", message)
        if is_api(request)
        else error_page(request, 413, message)
    )
    response.headers["Connection"] = "close"
    return response


class RegistryApp:
    """The guarded ASGI application; ``fastapi`` is the application inside the guards."""

    def __init__(self, fastapi: FastAPI, asgi: Any) -> None:
        self.fastapi = fastapi
        self.asgi = asgi

    @property
    def state(self) -> ServiceState:
        state: ServiceState = self.fastapi.state.service
        return state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.asgi(scope, receive, send)
