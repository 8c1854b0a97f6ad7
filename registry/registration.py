"""Registering an opt-out in steps the CLI and the authors' script share.

:func:`precheck` checks everything that needs no database first, so a refused
registration never leaves a new, empty registry file behind; :func:`register`
then writes it. :func:`describe` says in words what an entry covers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tdmcrawl.registry.entries import (
    Entry,
    Registration,
    clean_author,
    clean_email,
    clean_scope,
    clean_title,
)
from tdmcrawl.registry.store import Registry
from tdmcrawl.registry.urlrules import RuleKind, UrlRule, display_form
from tdmcrawl.registry.works import WorkText, check_fingerprintable, default_config


def precheck(registry_path: str, author: str, what: UrlRule | list[WorkText], **who: Any) -> None:
    """Check everything that needs no database, before the registry is opened,
    so that a refused registration never leaves a new, empty registry behind.
    (A work's fingerprints are checked here only for a new registry; an
    existing one checks them anyway before writing.)"""
    clean_author(author)
    clean_email(who.get("email"))
    clean_title(who.get("title"))
    clean_scope(who.get("scope"))
    if isinstance(what, list) and not Path(registry_path).exists():
        check_fingerprintable(what, default_config())


def register(
    registry_path: str, author: str, what: UrlRule | list[WorkText], **who: Any
) -> Registration:
    """Add a URL rule or a work (read by ``read_work_files``) to the registry."""
    with Registry(registry_path) as reg:
        if isinstance(what, list):
            return reg.add_work_texts(author, what, **who)
        return reg.add_rule(author, what, **who)


def describe(entry: Entry) -> str:
    if entry.kind is RuleKind.WORK:
        what = f"work {entry.title!r}" if entry.title else "work"
        return f"{what} ({len(entry.files)} file(s): {', '.join(entry.files)})"
    # Unicode for people (қазақ.kz, not xn--80aau21bd.kz); list/show/export keep
    # the canonical form that rules are compared in.
    shown = display_form(entry.pattern)
    if entry.kind is RuleKind.DOMAIN:
        return f"site {shown} and its subdomains"
    if entry.kind is RuleKind.PREFIX:
        return f"every URL starting with {shown[:-1]}"
    return f"the page {shown}"
