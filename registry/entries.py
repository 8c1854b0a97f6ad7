"""What one registry entry holds, and the checks on the author's own words."""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tdmcrawl.registry.errors import N_, InvalidInput
from tdmcrawl.registry.urlrules import RuleKind

DEFAULT_SCOPE = "train-ai"
# IETF aipref vocab-07 labels, plus the labels of earlier drafts that deployed
# files still use. Every label but `search` reserves training use.
SCOPES = frozenset({"train-ai", "search", "train-genai", "ai", "genai", "tdm", "all", "bots"})
TRAINING_SCOPES = SCOPES - {"search"}

MAX_NAME = 300
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
AUTHOR_WHAT = N_("author name")
TITLE_WHAT = N_("title")
EMAIL_WHAT = N_("email")


@dataclass(frozen=True)
class EntryFields:
    """What every entry holds, as stored and as about to be written."""

    id: str
    kind: RuleKind
    pattern: str
    scope: str
    author: str
    email: str | None
    title: str | None
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Entry(EntryFields):
    """One opt-out. ``pattern`` is the canonical rule (URL, prefix with ``*``, domain)
    or, for a work, its content digest; ``files`` names the files of a work."""

    files: tuple[str, ...] = field(default=())
    fingerprinted: int = 0
    verified_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind.value,
            "pattern": self.pattern,
            "scope": self.scope,
            "author": self.author,
            "email": self.email,
            "title": self.title,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        if self.kind in (RuleKind.DOMAIN, RuleKind.PREFIX):
            out["verified_at"] = self.verified_at
        if self.kind is RuleKind.WORK:
            out["files"] = list(self.files)
            out["fingerprinted"] = self.fingerprinted
        return out


@dataclass(frozen=True)
class Registration:
    """The result of ``Registry.add_*``: the entry and its token, shown once."""

    entry: Entry
    token: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.entry.to_dict(), "token": self.token}


@dataclass(frozen=True)
class WorkFile:
    """What a receipt shows of one file of a work (never its text)."""

    filename: str
    size: int | None
    sha256: str | None  # of the file as given; None for entries made before it was kept
    text_kept: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "size": self.size,
            "sha256": self.sha256,
            "text_kept": self.text_kept,
        }


def new_id() -> str:
    return str(uuid.uuid4())


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_id(entry_id: object) -> str:
    if not isinstance(entry_id, str):
        raise InvalidInput.t(N_("an entry id is text"), field="id")
    try:
        return str(uuid.UUID(entry_id.strip()))
    except ValueError:
        raise InvalidInput.t(
            N_("'{id}' is not an entry id (a UUID)"), field="id", id=entry_id.strip()[:100]
        ) from None


def clean_author(value: object) -> str:
    text = _clean_text(value, AUTHOR_WHAT, "author")
    if text is None:
        raise InvalidInput.t(N_("the author name is empty"), field="author")
    return text


def clean_title(value: object) -> str | None:
    return _clean_text(value, TITLE_WHAT, "title")


def clean_email(value: object) -> str | None:
    text = _clean_text(value, EMAIL_WHAT, "email")
    if text is not None and not _EMAIL.match(text):
        raise InvalidInput.t(
            N_("invalid email '{email}': expected name@example.kz"), field="email", email=text
        )
    return text


def clean_scope(value: object) -> str:
    if value is None:
        return DEFAULT_SCOPE
    if not isinstance(value, str) or value.strip() not in SCOPES:
        raise InvalidInput.t(
            N_("unknown scope '{scope}': use one of {scopes} (default {default})"),
            field="scope",
            scope=str(value)[:100],
            scopes=", ".join(sorted(SCOPES)),
            default=DEFAULT_SCOPE,
        )
    return value.strip()


def _clean_text(value: object, what: str, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput.t(N_("invalid {what}: expected text"), field=field, what=what)
    # NFC, so a name typed with combining marks equals the same name typed precomposed.
    text = unicodedata.normalize("NFC", " ".join(value.split()))
    if not text:
        return None
    if _CONTROL.search(text):
        raise InvalidInput.t(
            N_("invalid {what}: it contains control characters"), field=field, what=what
        )
    if len(text) > MAX_NAME:
        raise InvalidInput.t(
            N_("invalid {what}: longer than {max} characters"),
            field=field,
            what=what,
            max=MAX_NAME,
        )
    return text
