"""Kazakh, Russian and English for what people read: one set of gettext catalogs.

The registry's form and API messages, the authors' script and the audit report
all translate through these catalogs (``registry/locale/<lang>/LC_MESSAGES/
tdmcrawl.po``, extracted with Babel: see docs/internals.md). The ``.po`` files
are read directly, so the repository holds no compiled ``.mo`` files.
A test fails when a message lacks its Kazakh or Russian translation.
"""

from __future__ import annotations

from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LANGUAGES = ("kk", "ru", "en")  # the order a switch shows them in
DEFAULT_LANGUAGE = "kk"
DOMAIN = "tdmcrawl"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
NAMES = {"kk": "Қазақша", "ru": "Русский", "en": "English"}


def catalog_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(lang: str) -> NullTranslations:
    """The translations of one of :data:`LANGUAGES` (``gettext``, ``ngettext``, ``pgettext``).

    English is the source language: its catalog may be empty, and a message
    missing from another catalog falls back to the English source text.
    """
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r} (one of {', '.join(LANGUAGES)})")
    path = catalog_path(lang)
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)  # fuzzy and untranslated messages are left out
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def negotiate(accept_language: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """The best of :data:`LANGUAGES` for an HTTP ``Accept-Language`` value (RFC 9110 12.5.4)."""
    best, best_q = default, 0.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-", 1)[0]
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if primary in LANGUAGES and q > best_q:
            best, best_q = primary, q
    return best
