"""The JSON API, version 1 (``/api/v1``), described by the OpenAPI document.

- ``GET  /api/v1/info``: what this service keeps, its limits, formats and scopes;
- ``POST /api/v1/check``: a rule as the service reads it, and its www twin;
- ``POST /api/v1/entries``: register a page, a part of a site or a site (JSON);
- ``POST /api/v1/works``: register a work by uploading its files (multipart);
- ``GET  /api/v1/entries/{id}``: public fields (never the author's name or email);
- ``PATCH``/``DELETE /api/v1/entries/{id}``: change or remove, with the token;
- ``GET  /api/v1/mine``: every entry registered with the token;
- ``GET  /api/v1/entries/{id}/verification``, ``POST .../verify``: site ownership;
- ``GET  /api/v1/feed?since=CURSOR``: the crawlers' feed (``registry.feed``).

The token goes in ``Authorization: Bearer <token>``, never in a URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from tdmcrawl.registry.entries import SCOPES, clean_author, clean_email, clean_scope, clean_title
from tdmcrawl.registry.errors import N_, InvalidInput, InvalidWorkFile, WrongToken
from tdmcrawl.registry.feed import FEED_VERSION, feed_chunks, feed_state, parse_cursor, parse_limit
from tdmcrawl.registry.i18n import LANGUAGES
from tdmcrawl.registry.schema import open_readonly
from tdmcrawl.registry.service.core import (
    describe,
    describe_rule,
    gettext_for,
    offer_for,
    owner_entry,
    parse_rule,
    public_entry,
    register_rules,
    register_work,
)
from tdmcrawl.registry.service.state import ServiceState, request_lang, service
from tdmcrawl.registry.service.verify import WELL_KNOWN, check_ownership, verification_urls
from tdmcrawl.registry.urlrules import display_form
from tdmcrawl.registry.works import ACCEPTED_SUFFIXES, WorkText, work_text_from_bytes

router = APIRouter(prefix="/api/v1", tags=["registry"])

RuleKindName = Literal["url", "prefix", "domain"]


class ErrorBody(BaseModel):
    code: str = Field(description="invalid-input, duplicate, unknown-entry, wrong-token, ...")
    message: str = Field(description="One sentence in the language asked for.")
    field: str | None = Field(None, description="The input at fault, when there is one.")


class ErrorResponse(BaseModel):
    error: ErrorBody


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (403, 404, 409, 413, 422, 429)
}


class RuleIn(BaseModel):
    kind: RuleKindName = Field(description="url: one page; prefix: a part of a site; domain")
    pattern: str = Field(max_length=4096, examples=["aliya.kz", "https://aliya.kz/blog/"])


class RuleOut(BaseModel):
    kind: str
    pattern: str = Field(description="The rule as stored and compared (canonical form).")
    shown: str = Field(description="The rule as people read it (Unicode).")
    description: str


class CheckOut(BaseModel):
    rule: RuleOut
    twin: RuleOut | None = Field(
        None, description="The same rule on www. / without www., offered to cover as well."
    )


class EntryIn(RuleIn):
    author: str = Field(max_length=300)
    email: str | None = Field(None, max_length=300, description="Never published.")
    title: str | None = Field(None, max_length=300)
    scope: str | None = Field(None, description=f"One of {', '.join(sorted(SCOPES))}.")
    also_twin: bool = Field(False, description="Also register the www / non-www twin.")


class EntryChange(BaseModel):
    author: str | None = Field(None, max_length=300)
    email: str | None = Field(None, max_length=300, description="'' clears it.")
    title: str | None = Field(None, max_length=300, description="'' clears it.")
    scope: str | None = None


class Registered(BaseModel):
    id: str = Field(description="The first entry's id.")
    token: str = Field(description="The removal token: shown once, keep it.")
    entries: list[dict[str, Any]]


def writes(request: Request) -> ServiceState:
    state = service(request)
    state.check_rate(request, "write")
    return state


def reads(request: Request) -> ServiceState:
    state = service(request)
    state.check_rate(request, "read")
    return state


def bearer(authorization: Annotated[str | None, Header()] = None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidInput.t(
            N_("give the removal token as the header 'Authorization: Bearer <token>'"),
            field="token",
        )
    return token.strip()


@router.get("/info")
def info(state: Annotated[ServiceState, Depends(reads)]) -> dict[str, Any]:
    config = state.config
    return {
        "api": 1,
        "feed_version": FEED_VERSION,
        "keeps_texts": config.keep_texts,
        "max_file_bytes": config.max_file_bytes,
        "max_files": config.max_files,
        "accepted_suffixes": sorted(ACCEPTED_SUFFIXES),
        "scopes": sorted(SCOPES),
        "languages": list(LANGUAGES),
        "verification_path": WELL_KNOWN,
    }


def _rule_out(rule: Any, request: Request) -> RuleOut:
    _ = gettext_for(request_lang(request))
    return RuleOut(
        kind=rule.kind.value,
        pattern=rule.pattern,
        shown=display_form(rule.pattern),
        description=describe_rule(rule, _),
    )


@router.post("/check", responses=ERRORS)
def check(
    body: RuleIn, request: Request, state: Annotated[ServiceState, Depends(reads)]
) -> CheckOut:
    """How the service reads a rule (or why it refuses it), before registering it."""
    rule = parse_rule(body.kind, body.pattern)
    twin = offer_for(rule)
    return CheckOut(rule=_rule_out(rule, request), twin=_rule_out(twin, request) if twin else None)


@router.post("/entries", status_code=201, responses=ERRORS)
def create_entry(
    body: EntryIn,
    request: Request,
    state: Annotated[ServiceState, Depends(writes)],
    authorization: Annotated[str | None, Header()] = None,
) -> Registered:
    """Register a page, a part of a site or a whole site. With a token in
    ``Authorization``, the new entry shares it (one token for all of an author's entries)."""
    author = clean_author(body.author)
    email, title = clean_email(body.email), clean_title(body.title)
    scope = clean_scope(body.scope)
    rule = parse_rule(body.kind, body.pattern)
    twin = offer_for(rule) if body.also_twin else None
    token = bearer(authorization) if authorization else None
    reg = state.registries.get()
    done = register_rules(
        reg,
        author,
        [rule, twin] if twin else [rule],
        email=email,
        title=title,
        scope=scope,
        token=token,
    )
    _ = gettext_for(request_lang(request))
    return Registered(
        id=done[0].entry.id,
        token=done[0].token,
        entries=[{**owner_entry(d.entry, reg), "description": describe(d.entry, _)} for d in done],
    )


@router.post("/works", status_code=201, responses=ERRORS)
async def create_work(
    request: Request,
    state: Annotated[ServiceState, Depends(writes)],
    files: Annotated[list[UploadFile], File(description="The files of the work.")],
    author: Annotated[str, Form(max_length=300)],
    email: Annotated[str | None, Form(max_length=300)] = None,
    title: Annotated[str | None, Form(max_length=300)] = None,
    scope: Annotated[str | None, Form()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Registered:
    """Register a work by its files (.txt .md .html .docx .odt .pdf .epub; texts in
    UTF-8, UTF-16 or Windows-1251). Only fingerprints and file digests are kept
    unless the service keeps texts (see ``/info``)."""
    who = (clean_author(author), clean_email(email or None), clean_title(title or None))
    scope_value = clean_scope(scope or None)
    token = bearer(authorization) if authorization else None
    if len(files) > state.config.max_files:
        raise InvalidWorkFile.t(
            N_("at most {max} files in one work"), field="files", max=state.config.max_files
        )
    parts: list[WorkText] = []
    limit = state.config.max_file_bytes
    for upload in files:
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
    _ = gettext_for(request_lang(request))

    def write() -> Registered:  # in a worker thread: its own registry connection
        reg = state.registries.get()
        done = register_work(
            reg, who[0], parts, email=who[1], title=who[2], scope=scope_value, token=token
        )
        return Registered(
            id=done.entry.id,
            token=done.token,
            entries=[{**owner_entry(done.entry, reg), "description": describe(done.entry, _)}],
        )

    return await run_in_threadpool(write)


@router.get("/entries/{entry_id}", responses=ERRORS)
def read_entry(entry_id: str, state: Annotated[ServiceState, Depends(reads)]) -> dict[str, Any]:
    """What anyone may read: the rule, scope, dates, whether verified; never who."""
    reg = state.registries.get()
    return public_entry(reg.get(entry_id), reg)


@router.patch("/entries/{entry_id}", responses=ERRORS)
def change_entry(
    entry_id: str,
    body: EntryChange,
    state: Annotated[ServiceState, Depends(writes)],
    token: Annotated[str, Depends(bearer)],
) -> dict[str, Any]:
    reg = state.registries.get()
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    for name in ("email", "title"):
        if changes.get(name) == "":
            changes[name] = None
    entry = reg.update(entry_id, token, **changes)
    return owner_entry(entry, reg)


@router.delete("/entries/{entry_id}", responses=ERRORS)
def delete_entry(
    entry_id: str,
    request: Request,
    state: Annotated[ServiceState, Depends(writes)],
    token: Annotated[str, Depends(bearer)],
) -> dict[str, Any]:
    reg = state.registries.get()
    entry = reg.remove(entry_id, token)
    _ = gettext_for(request_lang(request))
    return {"removed": entry.id, "description": describe(entry, _)}


@router.get("/mine", responses=ERRORS)
def mine(
    state: Annotated[ServiceState, Depends(reads)], token: Annotated[str, Depends(bearer)]
) -> dict[str, Any]:
    """Every entry registered with this token (entries made before tokens were kept
    as SHA-256 cannot be listed: remove them by id)."""
    reg = state.registries.get()
    found = reg.entries_by_token(token)
    if not found:
        raise WrongToken("-")
    return {"entries": [owner_entry(e, reg) for e in found]}


@router.get("/entries/{entry_id}/verification", responses=ERRORS)
def verification(entry_id: str, state: Annotated[ServiceState, Depends(reads)]) -> dict[str, Any]:
    """The code to publish at the well-known path, and where."""
    reg = state.registries.get()
    entry = reg.get(entry_id)
    return {
        "id": entry.id,
        "code": reg.verification_code(entry.id),
        "path": WELL_KNOWN,
        "urls": verification_urls(entry),
        "verified_at": entry.verified_at,
    }


@router.post("/entries/{entry_id}/verify", responses=ERRORS)
def verify_entry(
    entry_id: str, request: Request, state: Annotated[ServiceState, Depends(writes)]
) -> dict[str, Any]:
    """Fetch the well-known file from the site; mark the entry verified if it holds the code."""

    def check() -> tuple[Any, Any]:  # in a worker thread: its own registry connection
        reg = state.registries.get()
        entry = reg.get(entry_id)
        result = check_ownership(
            entry,
            reg.verification_code(entry.id),
            allow_private=state.config.verify_private,
            timeout=state.config.verify_timeout,
        )
        if result.verified:
            entry = reg.mark_verified(entry.id)
        return entry, result

    entry, result = check()
    _ = gettext_for(request_lang(request))
    return {
        "id": entry.id,
        "verified": result.verified,
        "verified_at": entry.verified_at,
        "checked": result.url,
        "problem": _(result.problem) if result.problem else None,
    }


@router.get(
    "/feed",
    responses={
        200: {"description": "One page of changes (see registry/feed.py for the format)."},
        304: {"description": "Nothing changed since the page with this ETag."},
    },
)
def feed(
    request: Request,
    state: Annotated[ServiceState, Depends(reads)],
    since: Annotated[
        str | None, Query(description="The cursor of the last page; 0 or none.")
    ] = None,
    limit: Annotated[int | None, Query(description="Entries per page (at most 10000).")] = None,
) -> Response:
    """URL rules and work fingerprints changed after ``since``; removals as tombstones."""
    start, size = parse_cursor(since), parse_limit(limit)
    conn = open_readonly(state.config.registry)
    try:
        etag = feed_state(conn).etag(start, size)
    except BaseException:
        conn.close()
        raise
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        conn.close()
        return Response(status_code=304, headers=headers)
    return StreamingResponse(
        _closing(conn, feed_chunks(conn, start, size)),
        media_type="application/json",
        headers=headers,
    )


def _closing(conn: Any, chunks: Iterator[str]) -> Iterator[bytes]:
    try:
        for chunk in chunks:
            yield chunk.encode("utf-8")
    finally:
        conn.close()
