"""``noai`` / ``noimageai`` in ``X-Robots-Tag`` headers and robots meta tags.

Grammar (MDN "X-Robots-Tag", Google "Robots meta tag"): comma-separated rules;
an item ``<bot-name>: <rule>`` switches the scope to that bot for that rule and
every following one, until the next ``<bot-name>:``; each header line starts
scoped to all crawlers; several ``X-Robots-Tag`` lines may be sent; names and
values are case-insensitive. A rule scoped to a bot applies to us only when
the bot name equals our product token (case-insensitively).

Meaning for training (DeviantArt's 2022 directives): ``noai`` reserves any AI
use of the resource; ``noimageai`` reserves AI use of images. ``noindex`` and
friends are search directives, not AI reservations, and are ignored here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

AI_DIRECTIVES = ("noai", "noimageai")
HEADER = "x-robots-tag"

# Directives whose own value follows a colon; "max-snippet: 20" is not a bot scope.
_VALUED_DIRECTIVES = frozenset(
    {"unavailable_after", "max-snippet", "max-image-preview", "max-video-preview"}
)
_SCOPED = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*:\s*(.*)$", re.DOTALL)


@dataclass(frozen=True)
class NoAiHit:
    """One ``noai``/``noimageai`` that applies to us, with where it was found."""

    directive: str
    source: str
    evidence: str


def directives_for(value: str, token: str, *, scope: str | None = None) -> tuple[str, ...]:
    """The rules of one ``X-Robots-Tag`` (or robots meta) value that apply to ``token``.

    Returned lower-cased, in order. ``scope`` is the bot the value starts
    scoped to (None: all crawlers).
    """
    ours = token.strip().lower()
    current = scope.lower() if scope else None
    found: list[str] = []
    for item in value.split(","):
        match = _SCOPED.match(item)
        if match and match.group(1).lower() not in _VALUED_DIRECTIVES:
            current = match.group(1).lower()
            rule = match.group(2)
        else:
            rule = item
        rule = rule.strip().lower()
        if rule and (current is None or current == ours):
            found.append(rule)
    return tuple(found)


def noai_from_headers(headers: Iterable[tuple[str, str]], token: str) -> tuple[NoAiHit, ...]:
    """``noai``/``noimageai`` for us in every ``X-Robots-Tag`` header line."""
    hits: list[NoAiHit] = []
    for name, value in headers:
        if name.strip().lower() != HEADER:
            continue
        for rule in directives_for(value, token):
            if rule in AI_DIRECTIVES:
                hits.append(NoAiHit(rule, "header", f"{name}: {value}"))
    return tuple(_unique(hits))


def noai_from_meta(tags: Iterable[tuple[str, str, str]], token: str) -> tuple[NoAiHit, ...]:
    """``noai``/``noimageai`` in ``<meta name="robots">`` or ``<meta name="{token}">``.

    ``tags`` are (name, content, raw) triples; names compare case-insensitively.
    """
    ours = token.strip().lower()
    hits: list[NoAiHit] = []
    for name, content, raw in tags:
        key = name.strip().lower()
        if key == "robots":
            scope = None
        elif key == ours:
            scope = ours
        else:
            continue
        for rule in directives_for(content, token, scope=scope):
            if rule in AI_DIRECTIVES:
                hits.append(NoAiHit(rule, "meta", raw))
    return tuple(_unique(hits))


def _unique(hits: list[NoAiHit]) -> list[NoAiHit]:
    seen: set[NoAiHit] = set()
    out = []
    for hit in hits:
        if hit not in seen:
            seen.add(hit)
            out.append(hit)
    return out
