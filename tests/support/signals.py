"""Fixture files of tests/data/signals/ and small builders for the optout tests."""

from __future__ import annotations

from pathlib import Path

from tdmcrawl.optout.fetched import FetchResult
from tdmcrawl.optout.policy import OriginSignals, ResponseSignals
from tests.support import paths

DATA = paths.DATA / "signals"


def fixture_files(kind: str) -> list[Path]:
    """Every fixture file of one kind (``tdmrep``, ``headers``, ``html``, ``robots``)."""
    return sorted((DATA / kind).iterdir())


def header_pairs(path: Path) -> list[tuple[str, str]]:
    """A header fixture: one ``Name: value`` per line, repeats kept, order kept."""
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            pairs.append((name, value.strip()))
    return pairs


def origin(
    robots: bytes | str | None = None,
    tdmrep: bytes | str | None = None,
    ai_txt: bytes | str | None = None,
) -> OriginSignals:
    """OriginSignals from file bodies served with 200 (None: a 404)."""

    def raw(value: bytes | str | None) -> bytes | None:
        return value.encode() if isinstance(value, str) else value

    return OriginSignals.from_bodies(raw(robots), raw(tdmrep), raw(ai_txt))


def robots_status(status: int | None, error: str | None = None) -> OriginSignals:
    """OriginSignals whose robots.txt fetch ended with ``status`` (or ``error``)."""
    return OriginSignals.from_fetches(
        robots=FetchResult("https://a.example/robots.txt", status, b"", error=error)
    )


def html(body: str | bytes, *headers: tuple[str, str], status: int = 200) -> ResponseSignals:
    data = body.encode() if isinstance(body, str) else body
    return ResponseSignals(status, [("Content-Type", "text/html; charset=utf-8"), *headers], data)
