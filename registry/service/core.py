"""What the form and the JSON API share: the configuration, one registry connection
per worker thread, registering, describing entries in the author's language.

Every request runs in a worker thread (FastAPI runs plain ``def`` handlers in its
thread pool); each thread keeps one read-write connection to the registry. The
registry is in WAL mode and every write is one short ``BEGIN IMMEDIATE``
transaction, so concurrent authors never lose a registration.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tdmcrawl.registry.entries import Entry, Registration
from tdmcrawl.registry.errors import N_, InvalidInput, Msg
from tdmcrawl.registry.i18n import translations
from tdmcrawl.registry.store import Registry
from tdmcrawl.registry.urlrules import (
    RuleKind,
    UrlRule,
    check_public_suffix,
    display_form,
    parse_domain,
    parse_url_pattern,
    twin_rule,
)
from tdmcrawl.registry.works import WorkText, check_distinct

Gettext = Callable[[str], str]

# The scopes the form offers, in plain words (the API takes any aipref label).
FORM_SCOPES: dict[str, Msg] = {
    "train-ai": N_("Training of AI models"),
    "tdm": N_("Any text and data mining, AI training included"),
}
# Every scope label in words: "train-ai" never reaches an author.
SCOPE_WORDS: dict[str, Msg] = {
    "train-ai": N_("Training of AI models"),
    "train-genai": N_("Training of generative AI models"),
    "ai": N_("Any use by AI"),
    "genai": N_("Use by generative AI"),
    "tdm": N_("Any text and data mining, AI training included"),
    "all": N_("Every automated use"),
    "bots": N_("Use by automated agents"),
    "search": N_("Search engines"),
}
KIND_WORDS: dict[str, Msg] = {
    "url": N_("one page"),
    "prefix": N_("a part of a site"),
    "domain": N_("a whole site"),
    "work": N_("a work, by its files"),
}


@dataclass(frozen=True)
class ServiceConfig:
    """How the operator started the service (``tdmcrawl registry serve``)."""

    registry: Path
    keep_texts: bool = False
    max_file_bytes: int = 20 * 1024 * 1024
    max_files: int = 20
    writes_per_minute: int = 20
    reads_per_minute: int = 600
    verify_private: bool = False  # check ownership files on private addresses (tests, intranets)
    verify_timeout: float = 10.0
    secure_cookies: bool = False  # behind TLS: cookies only over https, HSTS sent
    public_url: str | None = None  # https://registry.example.kz/, for links in the API
    dedup_config: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def max_request_bytes(self) -> int:
        # Every file at its limit, plus room for the form fields and multipart framing.
        return self.max_files * self.max_file_bytes + 1024 * 1024


class Registries:
    """One read-write ``Registry`` per worker thread."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self._local = threading.local()
        self._all: list[Registry] = []
        self._lock = threading.Lock()
        Registry(config.registry).close()  # create and migrate once, before serving

    def get(self) -> Registry:
        reg: Registry | None = getattr(self._local, "registry", None)
        if reg is None:
            reg = Registry(
                self.config.registry,
                create=False,
                keep_texts=self.config.keep_texts,
                dedup_config=self.config.dedup_config,
            )
            self._local.registry = reg
            with self._lock:
                self._all.append(reg)
        return reg

    def close(self) -> None:
        with self._lock:
            for reg in self._all:
                # A connection made in another thread cannot be closed from this one.
                with contextlib.suppress(sqlite3.Error):
                    reg.close()
            self._all.clear()


def gettext_for(lang: str) -> Gettext:
    return translations(lang).gettext


def parse_rule(kind: str, pattern: str) -> UrlRule:
    """The rule an author typed: ``url``, ``prefix`` or ``domain``, with the evident
    mistakes caught (an address without ``https://`` gets it; a prefix gets its ``*``)."""
    text = (pattern or "").strip()
    if kind == "domain":
        rule = parse_domain(text)
    elif kind in ("url", "prefix"):
        if text and "://" not in text:
            host = text.split("/", 1)[0].split(":", 1)[0]
            if "." not in host:
                raise InvalidInput.t(
                    N_("'{text}' is not a web address: give one like example.kz/page"),
                    field="pattern",
                    text=text[:100],
                )
            text = "https://" + text
        if kind == "prefix":
            text = text.rstrip("*")
            if not text.endswith("/") and "?" not in text:
                text += "/"
            text += "*"
        rule = parse_url_pattern(text)
        if kind == "url" and rule.kind is not RuleKind.URL:
            raise InvalidInput.t(
                N_("a page address has no '*': choose \"a part of a site\" for that"),
                field="pattern",
            )
    else:
        raise InvalidInput.t(
            N_("choose what to opt out: a page, a part of a site, a whole site or a work"),
            field="kind",
        )
    check_public_suffix(rule)
    return rule


def offer_for(rule: UrlRule) -> UrlRule | None:
    """The www / bare-host twin of a rule, when it is a rule of its own (see urlrules)."""
    twin = twin_rule(rule)
    if twin is None:
        return None
    try:
        check_public_suffix(twin)
    except InvalidInput:
        return None
    return twin


def register_rules(
    reg: Registry,
    author: str,
    rules: Sequence[UrlRule],
    *,
    email: str | None,
    title: str | None,
    scope: str | None,
    token: str | None = None,
) -> list[Registration]:
    """The rules of one registration, sharing one token (the first one's)."""
    done: list[Registration] = []
    for rule in rules:
        got = reg.add_rule(
            author,
            rule,
            email=email,
            title=title,
            scope=scope,
            token=token or (done[0].token if done else None),
        )
        done.append(got)
    return done


def register_work(
    reg: Registry,
    author: str,
    parts: Sequence[WorkText],
    *,
    email: str | None,
    title: str | None,
    scope: str | None,
    token: str | None = None,
) -> Registration:
    return reg.add_work_texts(
        author, check_distinct(parts), email=email, title=title, scope=scope, token=token
    )


def describe(entry: Entry, _: Gettext) -> str:
    """What an entry covers, in words for people (Unicode hosts and paths)."""
    if entry.kind is RuleKind.WORK:
        if entry.title:
            return _("the work “{title}” ({files})").format(
                title=entry.title, files=", ".join(entry.files)
            )
        return _("a work ({files})").format(files=", ".join(entry.files))
    shown = display_form(entry.pattern)
    if entry.kind is RuleKind.DOMAIN:
        return _("the site {site} and all its subdomains").format(site=shown)
    if entry.kind is RuleKind.PREFIX:
        return _("every page whose address starts with {prefix}").format(prefix=shown[:-1])
    return _("the page {url}").format(url=shown)


def describe_rule(rule: UrlRule, _: Gettext) -> str:
    shown = display_form(rule.pattern)
    if rule.kind is RuleKind.DOMAIN:
        return _("the site {site} and all its subdomains").format(site=shown)
    if rule.kind is RuleKind.PREFIX:
        return _("every page whose address starts with {prefix}").format(prefix=shown[:-1])
    return _("the page {url}").format(url=shown)


def public_entry(entry: Entry, reg: Registry) -> dict[str, Any]:
    """What anyone may read of an entry: never the author's name or email."""
    out: dict[str, Any] = {
        "id": entry.id,
        "kind": entry.kind.value,
        "pattern": entry.pattern,
        "shown": display_form(entry.pattern) if entry.kind is not RuleKind.WORK else None,
        "scope": entry.scope,
        "title": entry.title,
        "created_at": entry.created_at,
        "updated_at": entry.updated_at,
        "verified": entry.verified_at is not None,
        "verified_at": entry.verified_at,
    }
    if entry.kind is RuleKind.WORK:
        out["files"] = [f.to_dict() for f in reg.work_files(entry.id)]
    return out


def owner_entry(entry: Entry, reg: Registry) -> dict[str, Any]:
    """What the holder of the token sees: the public fields, the name and the email."""
    return {**public_entry(entry, reg), "author": entry.author, "email": entry.email}
