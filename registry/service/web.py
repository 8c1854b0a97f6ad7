"""The form authors use: server-rendered pages that work without JavaScript.

``/`` the form; ``POST /register`` registers and answers with the receipt (the
only time the removal token is shown: the page is never cached); ``/remove``
removes an entry with its token; ``/entries/{id}`` shows an entry as anyone may
see it, with how to verify a site entry (``POST /entries/{id}/verify``).
Every form carries a CSRF token (see ``security``); every page has the
language switch (Kazakh, Russian, English).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from tdmcrawl.registry.entries import (
    Registration,
    clean_author,
    clean_email,
    clean_scope,
    clean_title,
)
from tdmcrawl.registry.errors import (
    N_,
    DuplicateEntry,
    InvalidInput,
    InvalidWorkFile,
    RegistryError,
)
from tdmcrawl.registry.service.core import (
    FORM_SCOPES,
    KIND_WORDS,
    SCOPE_WORDS,
    Gettext,
    describe,
    describe_rule,
    gettext_for,
    offer_for,
    parse_rule,
    register_rules,
    register_work,
)
from tdmcrawl.registry.service.security import (
    CSRF_COOKIE,
    CSRF_FIELD,
    BodyTooLarge,
    csrf_ok,
)
from tdmcrawl.registry.service.state import (
    ServiceState,
    error_page,
    plain_duplicate,
    render,
    request_lang,
    service,
)
from tdmcrawl.registry.service.verify import WELL_KNOWN, check_ownership, verification_urls
from tdmcrawl.registry.store import Registry
from tdmcrawl.registry.urlrules import RuleKind, display_form
from tdmcrawl.registry.works import ACCEPTED_SUFFIXES, WorkText, work_text_from_bytes

router = APIRouter(include_in_schema=False)

FORM_FIELDS = ("author", "email", "kind", "address", "title", "scope", "twin")
CSRF_FAILED = N_(
    "This form has expired or was sent from another site. Please open the form again "
    "and send it from there."
)


def _form_context(values: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "values": values or {"kind": "url", "scope": "train-ai"},
        "kinds": KIND_WORDS,
        "scopes": FORM_SCOPES,
        "accepted": ", ".join(sorted(ACCEPTED_SUFFIXES)),
        "accept_attr": ",".join(sorted(ACCEPTED_SUFFIXES)),
    }


@router.get("/", response_class=HTMLResponse)
def form(request: Request) -> Response:
    service(request).check_rate(request, "read")
    return render(request, "form.html", _form_context())


@router.get("/favicon.ico")
def favicon() -> Response:
    return RedirectResponse("/static/favicon.svg", status_code=301)


async def _posted_form(request: Request) -> FormData:
    state = service(request)
    form = await request.form(
        max_files=state.config.max_files, max_fields=40, max_part_size=64 * 1024
    )
    if not csrf_ok(request.cookies.get(CSRF_COOKIE), form.get(CSRF_FIELD)):
        raise _CsrfFailed
    return form


class _CsrfFailed(Exception):
    pass


@router.post("/register", response_class=HTMLResponse)
async def register(request: Request) -> Response:
    state = service(request)
    state.check_rate(request, "write")
    _ = gettext_for(request_lang(request))
    try:
        form = await _posted_form(request)
    except _CsrfFailed:
        return error_page(request, 403, _(CSRF_FAILED))
    except BodyTooLarge:
        raise
    except Exception as exc:  # a malformed multipart body
        return error_page(request, 400, _(N_("The form could not be read: {why}")).format(why=exc))
    values = {name: str(form.get(name) or "") for name in FORM_FIELDS}
    uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    try:
        author = clean_author(values["author"])
        email = clean_email(values["email"] or None)
        title = clean_title(values["title"] or None)
        scope = clean_scope(values["scope"] or None)
        who = {"email": email, "title": title, "scope": scope}
        kind = values["kind"]
        if kind == "work":
            parts = await _read_uploads(request, uploads)
            receipt = await run_in_threadpool(
                _registered, state, _, lambda reg: [register_work(reg, author, parts, **who)]
            )
        else:
            rule = parse_rule(kind, values["address"])
            twin = offer_for(rule)
            if twin is not None and values["twin"] not in ("yes", "no"):
                context = _form_context(values)
                context["offer"] = {
                    "this": describe_rule(rule, _),
                    "other": describe_rule(twin, _),
                    "host": display_form(twin.host),
                }
                return render(request, "form.html", context)
            rules = [rule, twin] if twin is not None and values["twin"] == "yes" else [rule]
            receipt = await run_in_threadpool(
                _registered, state, _, lambda reg: register_rules(reg, author, rules, **who)
            )
    except RegistryError as exc:
        if isinstance(exc, DuplicateEntry):
            exc = plain_duplicate(exc)
        context = _form_context(values)
        context["error"] = exc.localized(_)
        context["error_field"] = exc.field
        # 200, not 422: the page is the form again, with the message; browsers log
        # a 4xx document as an error in the console, which this is not.
        return render(request, "form.html", context)
    response = render(request, "receipt.html", {"receipt": receipt}, status=201, switch=False)
    response.headers["Cache-Control"] = "no-store"
    return response


def _registered(
    state: ServiceState, _: Gettext, write: Callable[[Registry], list[Registration]]
) -> dict[str, Any]:
    """Run ``write`` on this worker thread's registry connection; the receipt's contents."""
    reg = state.registries.get()
    done = write(reg)
    return {
        "token": done[0].token,
        "entries": [
            {
                "id": d.entry.id,
                "what": describe(d.entry, _),
                "kind": d.entry.kind.value,
                "scope": _(SCOPE_WORDS.get(d.entry.scope, d.entry.scope)),
                "when": d.entry.created_at,
                "files": [f.to_dict() for f in reg.work_files(d.entry.id)],
                "site": d.entry.kind in (RuleKind.DOMAIN, RuleKind.PREFIX),
            }
            for d in done
        ],
        "author": done[0].entry.author,
        "email": done[0].entry.email,
        "title": done[0].entry.title,
    }


async def _read_uploads(request: Request, uploads: list[UploadFile]) -> list[WorkText]:
    state = service(request)
    limit = state.config.max_file_bytes
    if not uploads:
        raise InvalidWorkFile.t(N_("a work needs at least one file"), field="files")
    parts = []
    for upload in uploads:
        name = (upload.filename or "work.txt").replace("\\", "/").rsplit("/", 1)[-1][:200]
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise InvalidWorkFile.t(
                N_("{file}: {size} bytes, larger than the {limit} MiB limit"),
                field="files",
                file=name,
                size=len(data),
                limit=limit // (1024 * 1024),
            )
        parts.append(await run_in_threadpool(work_text_from_bytes, name, data))
    return parts


@router.get("/remove", response_class=HTMLResponse)
def remove_form(request: Request, id: str = "") -> Response:
    service(request).check_rate(request, "read")
    return render(request, "remove.html", {"entry_id": id[:100]})


@router.post("/remove", response_class=HTMLResponse)
async def remove(request: Request) -> Response:
    state = service(request)
    state.check_rate(request, "write")
    _ = gettext_for(request_lang(request))
    try:
        form = await _posted_form(request)
    except _CsrfFailed:
        return error_page(request, 403, _(CSRF_FAILED))
    entry_id = str(form.get("id") or "").strip()
    token = str(form.get("token") or "").strip()
    try:
        if not token:
            raise InvalidInput.t(N_("give the removal token you were given"), field="token")
        entry = await run_in_threadpool(lambda: state.registries.get().remove(entry_id, token))
    except RegistryError as exc:
        context = {"entry_id": entry_id[:100], "error": exc.localized(_), "error_field": exc.field}
        return render(request, "remove.html", context)
    return render(request, "removed.html", {"what": describe(entry, _), "entry_id": entry.id})


@router.get("/entries/{entry_id}", response_class=HTMLResponse)
def entry_page(request: Request, entry_id: str) -> Response:
    state = service(request)
    state.check_rate(request, "read")
    return render(request, "entry.html", _entry_context(request, entry_id))


def _entry_context(request: Request, entry_id: str) -> dict[str, Any]:
    state = service(request)
    _ = gettext_for(request_lang(request))
    reg = state.registries.get()
    entry = reg.get(entry_id)
    context: dict[str, Any] = {
        "entry": {
            "id": entry.id,
            "what": describe(entry, _),
            "scope": _(SCOPE_WORDS.get(entry.scope, entry.scope)),
            "when": entry.created_at,
            "verified_at": entry.verified_at,
            "files": [f.to_dict() for f in reg.work_files(entry.id)],
            "site": entry.kind in (RuleKind.DOMAIN, RuleKind.PREFIX),
        }
    }
    if entry.kind in (RuleKind.DOMAIN, RuleKind.PREFIX):
        context["verify"] = {
            "code": reg.verification_code(entry.id),
            "urls": verification_urls(entry),
            "path": WELL_KNOWN,
        }
    return context


@router.post("/entries/{entry_id}/verify", response_class=HTMLResponse)
async def verify(request: Request, entry_id: str) -> Response:
    state = service(request)
    state.check_rate(request, "write")
    _ = gettext_for(request_lang(request))
    try:
        await _posted_form(request)
    except _CsrfFailed:
        return error_page(request, 403, _(CSRF_FAILED))

    def check() -> dict[str, Any]:  # in a worker thread: its own registry connection
        reg = state.registries.get()
        entry = reg.get(entry_id)
        result = check_ownership(
            entry,
            reg.verification_code(entry.id),
            allow_private=state.config.verify_private,
            timeout=state.config.verify_timeout,
        )
        if result.verified:
            reg.mark_verified(entry.id)
        context = _entry_context(request, entry.id)
        context["checked"] = {
            "verified": result.verified,
            "url": result.url,
            "problem": _(result.problem) if result.problem else "",
        }
        return context

    context = await run_in_threadpool(check)
    return render(request, "entry.html", context)
