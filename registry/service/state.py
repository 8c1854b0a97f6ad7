"""What the service's handlers share: its state, the request's language, errors, pages.

``app`` assembles the application from ``web`` (the form) and ``api`` (JSON);
both reach the per-service state, the language of the request, the error
mapping and the page renderer from here, so neither imports the other or ``app``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from tdmcrawl.registry.errors import (
    N_,
    DuplicateEntry,
    InvalidInput,
    RegistryError,
    RegistryLocked,
    UnknownEntry,
    WrongToken,
)
from tdmcrawl.registry.i18n import LANGUAGES, NAMES, negotiate
from tdmcrawl.registry.service.core import Registries, ServiceConfig, gettext_for
from tdmcrawl.registry.service.security import (
    CSRF_COOKIE,
    CSRF_FIELD,
    RateLimiter,
    new_csrf_token,
)

HERE = Path(__file__).resolve().parent
LANG_COOKIE = "tdmcrawl_lang"
API_PREFIX = "/api/"

TOO_LARGE = N_("The files are too large: each file may have at most {limit} MiB.")
TOO_MANY = N_("Too many requests from your address: please wait {seconds} seconds and try again.")
SERVER_ERROR = N_(
    "Something went wrong on our side; nothing was registered. Please try again later."
)
NOT_FOUND = N_("There is no such page here.")
BAD_REQUEST = N_("The request is not understood: {why}")


class RateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited for {retry_after:.0f} s")
        self.retry_after = max(1, int(retry_after + 0.999))


class ServiceState:
    """What every handler reaches through ``request.app.state.service``."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.registries = Registries(config)
        self.limiter = RateLimiter(
            {"write": config.writes_per_minute, "read": config.reads_per_minute}
        )
        self.templates = Environment(
            loader=FileSystemLoader(str(HERE / "templates")),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def check_rate(self, request: Request, kind: str) -> None:
        client = request.client.host if request.client else "unknown"
        wait = self.limiter.allow(client, kind)
        if wait:
            raise RateLimited(wait)


def service(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


def request_lang(request: Request) -> str:
    """``?lang=`` first (the switch), then the cookie it set, then Accept-Language."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LANGUAGES:
        return cookie
    return negotiate(request.headers.get("accept-language"))


def is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX) or request.url.path == "/openapi.json"


def plain_duplicate(exc: DuplicateEntry) -> DuplicateEntry:
    """The same refusal without the scope's label ("train-ai" is not for authors)."""
    return DuplicateEntry(exc.existing_id, exc.params.get("what", ""))


def error_status(exc: RegistryError) -> int:
    if isinstance(exc, InvalidInput):
        return 422
    if isinstance(exc, DuplicateEntry):
        return 409
    if isinstance(exc, UnknownEntry):
        return 404
    if isinstance(exc, WrongToken):
        return 403
    if isinstance(exc, RegistryLocked):
        return 503
    return 500


def error_code(exc: RegistryError) -> str:
    return {
        422: "invalid-input",
        409: "duplicate",
        404: "unknown-entry",
        403: "wrong-token",
        503: "busy",
    }.get(error_status(exc), "registry-error")


def json_error(
    status: int, code: str, message: str, *, field: str | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if field:
        body["field"] = field
    body.update(extra)
    return JSONResponse({"error": body}, status_code=status)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", {"message": message}, status=status)


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    switch: bool = True,
) -> HTMLResponse:
    """A page in the request's language, with a CSRF token for its forms."""
    state = service(request)
    lang = request_lang(request)
    _ = gettext_for(lang)
    cookie = request.cookies.get(CSRF_COOKIE)
    fresh = not (isinstance(cookie, str) and len(cookie) >= 16)
    csrf = new_csrf_token() if fresh or cookie is None else cookie
    page = state.templates.get_template(template).render(
        {
            "_": _,
            "lang": lang,
            "languages": LANGUAGES,
            "names": NAMES,
            "switch": switch,
            "path": request.url.path if request.method == "GET" else "/",
            "csrf": csrf,
            "csrf_field": CSRF_FIELD,
            "keep_texts": state.config.keep_texts,
            "max_file_mb": state.config.max_file_bytes // (1024 * 1024),
            **context,
        }
    )
    response = HTMLResponse(page, status_code=status)
    secure = state.config.secure_cookies
    if fresh:
        response.set_cookie(
            CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=secure, path="/"
        )
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", secure=secure, path="/"
        )
    return response
