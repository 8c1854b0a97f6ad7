"""``Registry``: the read-write side (authors' registrations, operators' commands).

Every write is one ``BEGIN IMMEDIATE`` transaction, kept short: files are read,
texts fingerprinted and tokens hashed before the write lock is taken. The
duplicate check runs inside the transaction, so two processes registering the
same rule at once get one entry and one ``DuplicateEntry``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from tdmcrawl.registry import tokens
from tdmcrawl.registry.entries import (
    Entry,
    EntryFields,
    Registration,
    WorkFile,
    check_id,
    clean_author,
    clean_email,
    clean_scope,
    clean_title,
    new_id,
    utc_now,
)
from tdmcrawl.registry.errors import (
    N_,
    DuplicateEntry,
    InvalidInput,
    RegistryReadOnly,
    UnknownEntry,
    WrongToken,
)
from tdmcrawl.registry.schema import open_readonly, open_readwrite
from tdmcrawl.registry.urlrules import (
    RuleKind,
    UrlRule,
    check_public_suffix,
    parse_domain,
    parse_url_pattern,
)
from tdmcrawl.registry.works import (
    WorkText,
    check_fingerprintable,
    config_identity,
    content_digest,
    default_config,
    fingerprint_text,
    read_work_files,
)

_UNSET: Any = object()
THIS_WORK = N_("this work")


def new_entry(
    author: object,
    email: object,
    title: object,
    scope: object,
    *,
    token_hash: str,
    entry_id: str | None = None,
    created_at: str | None = None,
    updated_at: str | None = None,
    **rule: Any,
) -> NewEntry:
    """A ``NewEntry`` with the who-fields checked; a new id and the current time
    unless given (import keeps them). ``rule``: the remaining ``NewEntry`` fields."""
    created = created_at or utc_now()
    return NewEntry(
        id=entry_id or new_id(),
        scope=clean_scope(scope),
        author=clean_author(author),
        email=clean_email(email),
        title=clean_title(title),
        created_at=created,
        updated_at=updated_at or created,
        token_hash=token_hash,
        **rule,
    )


@dataclass(frozen=True)
class ReindexReport:
    parts: int
    fingerprinted: int
    too_short: int
    config_identity: str
    # Files of another config whose text was not kept: only their author can renew them.
    without_text: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "parts": self.parts,
            "fingerprinted": self.fingerprinted,
            "too_short": self.too_short,
            "config_identity": self.config_identity,
            "without_text": self.without_text,
        }


@dataclass(frozen=True)
class NewEntry(EntryFields):
    """A validated entry ready to write (used by ``add_*`` and by import)."""

    rule_key: str
    host: str | None
    token_hash: str
    parts: tuple[WorkText, ...] = ()
    fingerprints: tuple[bytes | None, ...] = ()
    config_identity: str | None = None


class Registry:
    """The opt-out registry, read-write. ``Registry(path)`` creates the file if needed.

    ``dedup_config`` is the ``dedup.DedupConfig`` works are fingerprinted with
    (the default config when None)."""

    def __init__(
        self,
        path: str | Path,
        *,
        create: bool = True,
        dedup_config: Any = None,
        read_only: bool = False,
        keep_texts: bool = True,
    ) -> None:
        self.path = Path(path)
        self.read_only = read_only
        # False: works keep their fingerprints and file digests, not their texts
        # (what a registry service does unless its operator asks otherwise).
        self.keep_texts = keep_texts
        if read_only:
            # Commands that only read (list, show, export) work on a registry in a
            # read-only directory too (see schema.open_readonly).
            self.db = Database(open_readonly(self.path), execute_plugins=False)
        else:
            self.db = open_readwrite(self.path, create=create)
        self.conn: sqlite3.Connection = self.db.conn
        self._dedup_config = dedup_config

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dedup_config(self) -> Any:
        if self._dedup_config is None:
            self._dedup_config = default_config()
        return self._dedup_config

    # -- adding -------------------------------------------------------------

    def add_url(self, author: str, pattern: str, **who: Any) -> Registration:
        """One page (``https://example.kz/page``) or a prefix (``https://example.kz/blog/*``)."""
        return self.add_rule(author, parse_url_pattern(pattern), **who)

    def add_domain(self, author: str, domain: str, **who: Any) -> Registration:
        """A host with all its subdomains (``example.kz``)."""
        return self.add_rule(author, parse_domain(domain), **who)

    def add_rule(
        self,
        author: str,
        rule: UrlRule,
        *,
        email: str | None = None,
        title: str | None = None,
        scope: str | None = None,
        token: str | None = None,
    ) -> Registration:
        """A URL rule; ``token``: one the author has from an earlier registration, so
        one token changes or removes all their entries (a new one when None)."""
        check_public_suffix(rule)
        token = self._token_for_new_entry(token)
        entry = self._new_entry(
            author,
            email,
            title,
            scope,
            token,
            kind=rule.kind,
            pattern=rule.pattern,
            rule_key=rule.key,
            host=rule.host,
        )
        return Registration(self.insert(entry), token)

    def add_work(
        self,
        author: str,
        files: Sequence[str | Path],
        *,
        email: str | None = None,
        title: str | None = None,
        scope: str | None = None,
    ) -> Registration:
        """A work given by its files (see ``registry.works`` for the formats)."""
        parts = read_work_files(files)
        return self.add_work_texts(author, parts, email=email, title=title, scope=scope)

    def add_work_texts(
        self,
        author: str,
        parts: Sequence[WorkText],
        *,
        email: str | None = None,
        title: str | None = None,
        scope: str | None = None,
        token: str | None = None,
    ) -> Registration:
        digest = content_digest(parts)
        # Refuse a duplicate before paying for fingerprints (checked again on write).
        self._raise_if_duplicate(RuleKind.WORK, digest, clean_scope(scope), THIS_WORK)
        fingerprints = check_fingerprintable(parts, self.dedup_config)
        token = self._token_for_new_entry(token)
        entry = self._new_entry(
            author,
            email,
            title,
            scope,
            token,
            kind=RuleKind.WORK,
            pattern=digest,
            rule_key=digest,
            host=None,
            parts=tuple(parts),
            fingerprints=tuple(fingerprints),
            config_identity=config_identity(self.dedup_config),
        )
        return Registration(self.insert(entry), token)

    def _token_for_new_entry(self, token: str | None) -> str:
        if token is None:
            return tokens.new_token()
        token = token.strip() if isinstance(token, str) else ""
        if not token or not self.entries_by_token(token):
            raise InvalidInput.t(
                N_("this token was not given by this registry: leave it out to get a new one"),
                field="token",
            )
        return token

    def _new_entry(
        self,
        author: str,
        email: str | None,
        title: str | None,
        scope: str | None,
        token: str,
        **rule: Any,
    ) -> NewEntry:
        return new_entry(author, email, title, scope, token_hash=tokens.hash_token(token), **rule)

    def insert(self, entry: NewEntry) -> Entry:
        """Write a validated entry; ``DuplicateEntry`` when its rule is already there."""
        with self._write():
            what = THIS_WORK if entry.kind is RuleKind.WORK else entry.pattern
            self._raise_if_duplicate(entry.kind, entry.rule_key, entry.scope, what)
            self._insert_unchecked(entry)
        return self.get(entry.id)

    def _insert_unchecked(self, entry: NewEntry) -> None:
        self.conn.execute(
            "INSERT INTO entries (id, kind, pattern, rule_key, host, scope, author, email,"
            " title, created_at, updated_at, token_hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.id,
                entry.kind.value,
                entry.pattern,
                entry.rule_key,
                entry.host,
                entry.scope,
                entry.author,
                entry.email,
                entry.title,
                entry.created_at,
                entry.updated_at,
                entry.token_hash,
            ),
        )
        now = utc_now()
        for number, part in enumerate(entry.parts, start=1):
            kept = self.keep_texts and bool(part.text)
            self.conn.execute(
                "INSERT INTO work_texts (entry_id, part, filename, sha256, text,"
                " file_sha256, size, text_kept) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.id,
                    number,
                    part.filename,
                    part.sha256,
                    part.text if kept else "",
                    part.file_sha256 or None,
                    part.size or None,
                    int(kept),
                ),
            )
            fp = entry.fingerprints[number - 1] if entry.fingerprints else None
            self.conn.execute(
                "INSERT INTO work_fingerprints"
                " (entry_id, part, fingerprint, config_identity, computed_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (entry.id, number, fp, entry.config_identity, now),
            )

    def existing_id(self, kind: RuleKind, rule_key: str, scope: str) -> str | None:
        row = self.conn.execute(
            "SELECT id FROM entries WHERE kind = ? AND rule_key = ? AND scope = ?",
            (kind.value, rule_key, scope),
        ).fetchone()
        return None if row is None else row[0]

    def _raise_if_duplicate(self, kind: RuleKind, key: str, scope: str, what: str) -> None:
        existing = self.existing_id(kind, key, scope)
        if existing is not None:
            raise DuplicateEntry(existing, what, scope)

    # -- reading ------------------------------------------------------------

    def get(self, entry_id: str) -> Entry:
        entry_id = check_id(entry_id)
        row = self.conn.execute(_SELECT_ENTRY + " WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            raise UnknownEntry(entry_id)
        return self._entry(row)

    def entries(self, kind: RuleKind | str | None = None) -> Iterator[Entry]:
        """Every entry, oldest first (one snapshot)."""
        if kind is None:
            rows = self.conn.execute(_SELECT_ENTRY + " ORDER BY created_at, id").fetchall()
        else:
            rows = self.conn.execute(
                _SELECT_ENTRY + " WHERE kind = ? ORDER BY created_at, id", (RuleKind(kind).value,)
            ).fetchall()
        for row in rows:
            yield self._entry(row)

    def __len__(self) -> int:
        return self.conn.execute("SELECT count(*) FROM entries").fetchone()[0]

    def token_hash(self, entry_id: str) -> str:
        row = self.conn.execute(
            "SELECT token_hash FROM entries WHERE id = ?", (check_id(entry_id),)
        ).fetchone()
        if row is None:
            raise UnknownEntry(entry_id)
        return row[0]

    def work_texts(self, entry_id: str) -> list[WorkText]:
        """The kept texts of a work's files ('' where only the fingerprint was kept)."""
        rows = self.conn.execute(
            "SELECT filename, text, sha256 FROM work_texts WHERE entry_id = ? ORDER BY part",
            (check_id(entry_id),),
        ).fetchall()
        return [WorkText(filename, text, digest) for filename, text, digest in rows]

    def work_files(self, entry_id: str) -> list[WorkFile]:
        rows = self.conn.execute(
            "SELECT filename, size, file_sha256, text_kept FROM work_texts WHERE entry_id = ?"
            " ORDER BY part",
            (check_id(entry_id),),
        ).fetchall()
        return [WorkFile(name, size, digest, bool(kept)) for name, size, digest, kept in rows]

    def work_fingerprints(self, entry_id: str) -> list[tuple[bytes | None, str | None]]:
        """(fingerprint, config identity) of each file of a work, in order."""
        rows = self.conn.execute(
            "SELECT fingerprint, config_identity FROM work_fingerprints WHERE entry_id = ?"
            " ORDER BY part",
            (check_id(entry_id),),
        ).fetchall()
        return [(None if fp is None else bytes(fp), identity) for fp, identity in rows]

    def entries_by_token(self, token: str) -> list[Entry]:
        """The entries registered with ``token`` (oldest first). Entries whose token
        was hashed by an older version (scrypt) cannot be found this way."""
        if not isinstance(token, str) or not 0 < len(token.strip()) <= tokens.MAX_TOKEN_LENGTH:
            return []
        rows = self.conn.execute(
            _SELECT_ENTRY + " WHERE token_hash = ? ORDER BY created_at, id",
            (tokens.hash_token(token.strip()),),
        ).fetchall()
        return [self._entry(row) for row in rows]

    @property
    def registry_id(self) -> str:
        """The UUID naming this registry (its followers resync when it changes)."""
        return str(
            self.conn.execute("SELECT value FROM meta WHERE key = 'registry_id'").fetchone()[0]
        )

    def feed_cursor(self) -> int:
        """The highest ``seq`` of the change feed (0 for a registry never written)."""
        (seq,) = self.conn.execute("SELECT coalesce(max(seq), 0) FROM feed_log").fetchone()
        return int(seq)

    # -- ownership ----------------------------------------------------------

    def verification_code(self, entry_id: str) -> str:
        """The code the author publishes on the site to show it is theirs (made once)."""
        entry = self.get(entry_id)
        if entry.kind not in (RuleKind.DOMAIN, RuleKind.PREFIX):
            raise InvalidInput.t(
                N_("only a whole site or a part of a site can be verified"), field="id"
            )
        (code,) = self.conn.execute(
            "SELECT verify_code FROM entries WHERE id = ?", (entry.id,)
        ).fetchone()
        if code:
            return str(code)
        code = "tdmcrawl-verify-" + tokens.new_token()
        with self._write():
            self.conn.execute(
                "UPDATE entries SET verify_code = coalesce(verify_code, ?) WHERE id = ?",
                (code, entry.id),
            )
        (code,) = self.conn.execute(
            "SELECT verify_code FROM entries WHERE id = ?", (entry.id,)
        ).fetchone()
        return str(code)

    def mark_verified(self, entry_id: str, when: str | None = None) -> Entry:
        entry = self.get(entry_id)
        with self._write():
            self.conn.execute(
                "UPDATE entries SET verified_at = ? WHERE id = ?", (when or utc_now(), entry.id)
            )
        return self.get(entry.id)

    def _entry(self, row: tuple[Any, ...]) -> Entry:
        entry = Entry(
            id=row[0],
            kind=RuleKind(row[1]),
            pattern=row[2],
            scope=row[3],
            author=row[4],
            email=row[5],
            title=row[6],
            created_at=row[7],
            updated_at=row[8],
            verified_at=row[9],
        )
        if entry.kind is not RuleKind.WORK:
            return entry
        files = tuple(
            r[0]
            for r in self.conn.execute(
                "SELECT filename FROM work_texts WHERE entry_id = ? ORDER BY part", (entry.id,)
            )
        )
        (done,) = self.conn.execute(
            "SELECT count(*) FROM work_fingerprints WHERE entry_id = ? AND fingerprint IS NOT NULL",
            (entry.id,),
        ).fetchone()
        return Entry(**{**entry.__dict__, "files": files, "fingerprinted": done})

    # -- changing, with the token ------------------------------------------

    def remove(self, entry_id: str, token: str) -> Entry:
        entry = self.get(entry_id)
        self._check_token(entry.id, token)
        with self._write():
            self.conn.execute("DELETE FROM entries WHERE id = ?", (entry.id,))
        return entry

    def update(
        self,
        entry_id: str,
        token: str,
        *,
        author: str = _UNSET,
        email: str | None = _UNSET,
        title: str | None = _UNSET,
        scope: str = _UNSET,
    ) -> Entry:
        """Change who or the scope; the rule itself is fixed (remove and add again)."""
        entry = self.get(entry_id)
        changes: dict[str, Any] = {}
        if author is not _UNSET:
            changes["author"] = clean_author(author)
        if email is not _UNSET:
            changes["email"] = clean_email(email)
        if title is not _UNSET:
            changes["title"] = clean_title(title)
        if scope is not _UNSET:
            changes["scope"] = clean_scope(scope)
        if not changes:
            raise InvalidInput.t(N_("nothing to change: give a new author, email, title or scope"))
        self._check_token(entry.id, token)
        changes["updated_at"] = utc_now()
        with self._write():
            if changes.get("scope", entry.scope) != entry.scope:
                (key,) = self.conn.execute(
                    "SELECT rule_key FROM entries WHERE id = ?", (entry.id,)
                ).fetchone()
                self._raise_if_duplicate(entry.kind, key, changes["scope"], entry.pattern)
            # Column names come from the fixed set above, never from user text.
            assignments = ", ".join(f"{column} = ?" for column in changes)
            self.conn.execute(
                f"UPDATE entries SET {assignments} WHERE id = ?", (*changes.values(), entry.id)
            )
        return self.get(entry.id)

    def _check_token(self, entry_id: str, token: str) -> None:
        if not isinstance(token, str) or not tokens.verify_token(
            token.strip(), self.token_hash(entry_id)
        ):
            raise WrongToken(entry_id)

    # -- fingerprints ------------------------------------------------------

    def reindex(self, *, only_stale: bool = False) -> ReindexReport:
        """Recompute every work's fingerprints with the current dedup config."""
        identity = config_identity(self.dedup_config)
        query = (
            "SELECT t.entry_id, t.part, t.text FROM work_texts t JOIN work_fingerprints f"
            " ON f.entry_id = t.entry_id AND f.part = t.part WHERE t.text_kept = 1"
        )
        params: tuple[str, ...] = ()
        if only_stale:
            query += " AND (f.config_identity IS NOT ? OR f.fingerprint IS NULL)"
            params = (identity,)
        rows = self.conn.execute(query + " ORDER BY t.entry_id, t.part", params).fetchall()
        # Files whose text was not kept keep the fingerprint they were registered with.
        (no_text,) = self.conn.execute(
            "SELECT count(*) FROM work_texts t JOIN work_fingerprints f"
            " ON f.entry_id = t.entry_id AND f.part = t.part"
            " WHERE t.text_kept = 0 AND f.config_identity IS NOT ?",
            (identity,),
        ).fetchone()
        config = self.dedup_config
        results = [(fingerprint_text(text, config), eid, part) for eid, part, text in rows]
        now = utc_now()
        with self._write():
            self.conn.executemany(
                "UPDATE work_fingerprints SET fingerprint = ?, config_identity = ?,"
                " computed_at = ? WHERE entry_id = ? AND part = ?",
                [(fp, identity, now, eid, part) for fp, eid, part in results],
            )
        done = sum(fp is not None for fp, _, _ in results)
        return ReindexReport(len(results), done, len(results) - done, identity, no_text)

    def stale_parts(self) -> int:
        """Work files whose fingerprint is missing or from another dedup config."""
        (count,) = self.conn.execute(
            "SELECT count(*) FROM work_fingerprints WHERE config_identity IS NOT ?"
            " OR fingerprint IS NULL",
            (config_identity(self.dedup_config),),
        ).fetchone()
        return count

    @contextmanager
    def _write(self) -> Iterator[None]:
        if self.read_only:
            raise RegistryReadOnly(f"{self.path} was opened read-only")
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")


_SELECT_ENTRY = (
    "SELECT id, kind, pattern, scope, author, email, title, created_at, updated_at,"
    " verified_at FROM entries"
)
