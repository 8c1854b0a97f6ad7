"""``RegistryReader``: the crawler's read-only view of the registry.

It opens the file read-only, loads every URL rule of the training scopes into a
host-indexed ``UrlMatcher`` inside one read transaction (so it sees one
consistent snapshot, and a writer is never blocked: the registry is in WAL
mode), and streams the works' fingerprints for the near-duplicate index. It
never reads the works' texts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from tdmcrawl.optout.decision import Reason, ReasonCode
from tdmcrawl.registry.entries import TRAINING_SCOPES
from tdmcrawl.registry.matcher import UrlMatcher
from tdmcrawl.registry.schema import open_readonly
from tdmcrawl.registry.urlrules import RuleKind, UrlRule

PART_SEPARATOR = "#"


@dataclass(frozen=True)
class RegistryMatch:
    """The registry entry whose URL rule matched a URL."""

    id: str
    kind: str
    rule: str
    author: str
    scope: str
    title: str | None = None

    @property
    def evidence(self) -> str:
        """``prefix https://example.kz/blog/*``: the kind and the canonical rule."""
        return f"{self.kind} {self.rule}"

    def to_reason(self) -> Reason:
        return Reason(
            code=ReasonCode.REGISTRY_URL,
            source="registry",
            evidence=self.evidence,
            matched_work=self.id,
        )

    def to_dict(self) -> dict[str, str | None]:
        return {
            "id": self.id,
            "kind": self.kind,
            "rule": self.rule,
            "author": self.author,
            "scope": self.scope,
            "title": self.title,
        }


class ContentWork(NamedTuple):
    """One fingerprinted file of a registered work.

    ``work_id`` is the key to index it under: the entry id for a work of one
    file, ``<entry id>#<n>`` for file n of a work of several (index keys must be
    unique); ``entry_id`` is always the bare registry id."""

    work_id: str
    fingerprint: bytes
    config_identity: str

    @property
    def entry_id(self) -> str:
        return entry_id_of(self.work_id)


def entry_id_of(work_key: str) -> str:
    """The registry id in a ``ContentWork.work_id`` (drops a ``#n`` part number)."""
    return work_key.split(PART_SEPARATOR, 1)[0]


class RegistryReader:
    """Read-only registry for the crawler: ``match_url`` and ``content_works``.

    Only entries whose scope reserves AI training are loaded (``scopes``), so an
    opt-out from search alone never excludes a page from a training crawl.
    ``verified_only``: site entries (domain and prefix rules) count only once their
    owner verified them; page rules and works always count.

    ``cursor`` is the registry's change-feed position the loaded rules reflect
    (``registry.feed``): what a crawl records as the registry state it decided on."""

    def __init__(
        self,
        path: str | Path,
        *,
        scopes: Collection[str] = TRAINING_SCOPES,
        verified_only: bool = False,
    ) -> None:
        self.path = Path(path)
        self.scopes = frozenset(scopes)
        self.verified_only = verified_only
        self._conn: sqlite3.Connection = open_readonly(self.path)
        self._matcher: UrlMatcher[RegistryMatch] = UrlMatcher()
        self._data_version: int | None = None
        self.cursor = 0
        self.works = 0
        self.refresh(force=True)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> RegistryReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        """Number of URL rules loaded."""
        return len(self._matcher)

    def match_url(self, url: str) -> RegistryMatch | None:
        """The most specific rule matching ``url`` (exact, longest prefix, innermost
        domain), or None; URLs that cannot be parsed match nothing."""
        found = self._matcher.match(url)
        return found[0] if found else None

    def match_all(self, url: str) -> list[RegistryMatch]:
        return self._matcher.match_all(url)

    def refresh(self, *, force: bool = False) -> bool:
        """Reload the URL rules if the registry changed since the last load (True if so)."""
        self._conn.execute("BEGIN")
        try:
            version = self._conn.execute("PRAGMA data_version").fetchone()[0]
            if not force and version == self._data_version:
                return False
            rows = self._conn.execute(
                "SELECT id, kind, pattern, rule_key, host, scope, author, title, verified_at"
                " FROM entries WHERE kind != 'work'"
            ).fetchall()
            (cursor,) = self._conn.execute("SELECT coalesce(max(seq), 0) FROM feed_log").fetchone()
            (works,) = self._conn.execute(
                "SELECT count(*) FROM entries WHERE kind = 'work'"
            ).fetchone()
        finally:
            self._conn.execute("COMMIT")
        matcher: UrlMatcher[RegistryMatch] = UrlMatcher()
        for entry_id, kind, pattern, key, host, scope, author, title, verified in rows:
            if scope not in self.scopes:
                continue
            if self.verified_only and verified is None and kind != RuleKind.URL.value:
                continue
            rule = UrlRule(RuleKind(kind), host, key, pattern)
            matcher.add(rule, RegistryMatch(entry_id, kind, pattern, author, scope, title))
        self._matcher = matcher
        self._data_version = version
        self.cursor = int(cursor)
        self.works = int(works)
        return True

    def describe(self, entry_id: str) -> RegistryMatch | None:
        """The entry ``entry_id`` (kind, rule or content digest, author, scope, title), or
        None when it is not (or no longer) in the registry: what an audit records of it."""
        row = self._conn.execute(
            "SELECT id, kind, pattern, author, scope, title FROM entries WHERE id = ?",
            (entry_id,),
        ).fetchone()
        return None if row is None else RegistryMatch(*row)

    def content_works(self, config_identity: str | None = None) -> Iterator[ContentWork]:
        """Every fingerprinted work file of the training scopes, one snapshot.

        With ``config_identity``, only fingerprints computed with that dedup
        config; ``stale_works`` counts the others (fixed by `tdmcrawl registry
        reindex`)."""
        query = (
            "SELECT e.id, e.scope, f.part, f.fingerprint, f.config_identity,"
            " (SELECT count(*) FROM work_fingerprints g WHERE g.entry_id = e.id)"
            " FROM entries e JOIN work_fingerprints f ON f.entry_id = e.id"
            " WHERE e.kind = 'work' AND f.fingerprint IS NOT NULL"
        )
        params: list[str] = []
        if config_identity is not None:
            query += " AND f.config_identity = ?"
            params.append(config_identity)
        rows = self._conn.execute(query + " ORDER BY e.created_at, e.id, f.part", params)
        for entry_id, scope, part, fp, identity, parts in rows:
            if scope not in self.scopes:
                continue
            key = entry_id if parts == 1 else f"{entry_id}{PART_SEPARATOR}{part}"
            yield ContentWork(key, bytes(fp), identity)

    def stale_works(self, config_identity: str) -> int:
        """Work files with no fingerprint for ``config_identity``."""
        (count,) = self._conn.execute(
            "SELECT count(*) FROM work_fingerprints WHERE fingerprint IS NULL"
            " OR config_identity IS NOT ?",
            (config_identity,),
        ).fetchone()
        return count
