"""The audit database, ``DIR/audit.sqlite``: every exclusion with its evidence,
every kept page with its WARC location, and the crawls that produced them.

The crawler calls :class:`AuditLog` from the reactor thread. Rows go onto a
queue and one writer thread commits them in batches (at most ``batch_size``
rows, at least every ``flush_interval`` seconds), so a slow disk never stalls
the crawl; a kill loses at most the batch in flight. The WARC output flushes
the log before it renames a file (:meth:`AuditLog.flush`), so a finished WARC
file never has pages the audit lacks; the pages of a ``.open`` file a kill left
are audited by the recovery on ``--resume`` (:func:`set_file_rows`). ``close()``
flushes, and an ``atexit`` hook does the same when the process is stopped by
Ctrl-C before the crawler could close the log.

Readers (``tdmcrawl audit``) use :func:`open_database`, which checks that the
file *is* an audit database and applies pending migrations, and refuses a
schema newer than this program.

Errors::

    AuditError
     +-- NotAnAuditDatabase    the file is missing, not SQLite, or another database
     +-- SchemaError           written by a newer tdmcrawl, or cannot be migrated
     +-- AuditWriteError       the writer thread failed; the crawl must stop
"""

from __future__ import annotations

import atexit
import json
import logging
import queue
import secrets
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlite_utils import Database, Migrations

from tdmcrawl.crawler.clock import iso_utc, utc_now
from tdmcrawl.crawler.errors import AuditError, AuditWriteError, NotAnAuditDatabase, SchemaError
from tdmcrawl.optout.decision import Decision
from tdmcrawl.optout.origins import ORIGIN_FILES, serialized_origin

logger = logging.getLogger(__name__)

DB_FILENAME = "audit.sqlite"
STAGES = ("pre-fetch", "post-fetch", "near-duplicate", "release", "recheck")
# Evidence of a page excluded after fetching (crawler/warc/exclusion.py): its response head
# as received and the deciding meta tags' bytes, beside the origin files' captures.
PAGE_EVIDENCE_KINDS = ("response-head", "meta-tag")
EVIDENCE_KINDS = (*(f.kind for f in ORIGIN_FILES), *PAGE_EVIDENCE_KINDS)

# Column order of the exclusions table; exports and merges use the same order.
EXCLUSION_COLUMNS = (
    "crawl_id",
    "url",
    "domain",
    "stage",
    "reason",
    "source",
    "evidence",
    "line",
    "matched_work",
    "similarity",
    "decided_at",
    "evidence_warc",
    "evidence_offset",
    "evidence_record_id",
    "decision",
)
KEPT_COLUMNS = (
    "crawl_id",
    "url",
    "domain",
    "warc_file",
    "warc_offset",
    "record_id",
    "kept_at",
    "decision",
)
EVIDENCE_COLUMNS = (
    "crawl_id",
    "url",
    "origin",
    "kind",
    "warc_file",
    "warc_offset",
    "record_id",
    "captured_at",
)
REGISTRY_ENTRY_COLUMNS = ("entry_id", "author", "title", "kind", "recorded_at")
CRAWL_COLUMNS = (
    "crawl_id",
    "started_at",
    "resumed_at",
    "finished_at",
    "seeds",
    "settings",
    "versions",
    "stats",
)


# --- schema ------------------------------------------------------------------

migrations = Migrations("tdmcrawl.audit")


@migrations(name="m001_tables")
def _m001_tables(db: Database) -> None:
    db.execute(
        """CREATE TABLE crawls (
            crawl_id TEXT PRIMARY KEY, started_at TEXT NOT NULL, resumed_at TEXT,
            finished_at TEXT, seeds TEXT, settings TEXT, versions TEXT, stats TEXT)"""
    )
    db.execute(
        """CREATE TABLE exclusions (
            id INTEGER PRIMARY KEY, crawl_id TEXT NOT NULL, url TEXT NOT NULL,
            domain TEXT NOT NULL, stage TEXT NOT NULL, reason TEXT NOT NULL,
            source TEXT NOT NULL, evidence TEXT NOT NULL, line INTEGER,
            matched_work TEXT, similarity REAL, decided_at TEXT NOT NULL,
            evidence_warc TEXT, evidence_offset INTEGER, evidence_record_id TEXT,
            decision TEXT NOT NULL)"""
    )
    db.execute(
        """CREATE TABLE kept (
            id INTEGER PRIMARY KEY, crawl_id TEXT NOT NULL, url TEXT NOT NULL,
            domain TEXT NOT NULL, warc_file TEXT NOT NULL, warc_offset INTEGER NOT NULL,
            record_id TEXT NOT NULL, kept_at TEXT NOT NULL, decision TEXT NOT NULL)"""
    )
    db.execute(
        """CREATE TABLE evidence (
            id INTEGER PRIMARY KEY, crawl_id TEXT NOT NULL, url TEXT NOT NULL,
            origin TEXT NOT NULL, kind TEXT NOT NULL, warc_file TEXT NOT NULL,
            warc_offset INTEGER NOT NULL, record_id TEXT NOT NULL, captured_at TEXT NOT NULL)"""
    )
    # The unique keys make re-recording (resume) and merging idempotent.
    db.execute("CREATE UNIQUE INDEX exclusions_url ON exclusions(url, crawl_id, stage)")
    db.execute("CREATE UNIQUE INDEX kept_url ON kept(url, crawl_id, record_id)")
    db.execute("CREATE UNIQUE INDEX evidence_record ON evidence(record_id)")
    db.execute("CREATE INDEX evidence_origin ON evidence(origin, kind)")
    db.execute("CREATE INDEX evidence_file ON evidence(warc_file, warc_offset)")
    db.execute("CREATE INDEX kept_crawl ON kept(crawl_id)")


@migrations(name="m002_summary_indexes")
def _m002_summary_indexes(db: Database) -> None:
    # Covering indexes for `tdmcrawl audit` summaries over millions of rows.
    db.execute("CREATE INDEX exclusions_reason_domain ON exclusions(reason, domain)")
    db.execute("CREATE INDEX exclusions_domain ON exclusions(domain, reason)")
    db.execute("CREATE INDEX exclusions_source ON exclusions(source, reason)")
    db.execute("CREATE INDEX exclusions_decided ON exclusions(decided_at, reason)")
    db.execute("CREATE INDEX exclusions_crawl ON exclusions(crawl_id)")
    db.execute("CREATE INDEX kept_domain ON kept(domain)")


@migrations(name="m003_registry_states")
def _m003_registry_states(db: Database) -> None:
    # The registry state each decision used: a row per state a crawl applied (at its
    # start, and after each sync from a registry service). `exclusions_before` and
    # `kept_before` are the highest row ids written before the state took effect, so
    # the state of a decision row is the last one whose mark is below its id.
    db.execute(
        """CREATE TABLE registry_states (
            id INTEGER PRIMARY KEY, crawl_id TEXT NOT NULL, source TEXT NOT NULL,
            registry_id TEXT, cursor TEXT, synced_at TEXT, stale INTEGER NOT NULL,
            entries INTEGER, applied_at TEXT NOT NULL,
            exclusions_before INTEGER NOT NULL, kept_before INTEGER NOT NULL)"""
    )
    db.execute("CREATE INDEX registry_states_crawl ON registry_states(crawl_id, id)")


@migrations(name="m004_recheck_registry_entries")
def _m004_recheck_registry_entries(db: Database) -> None:
    # Exclusions can now be made by `tdmcrawl recheck` (stage "recheck": the stage is a
    # plain column, so old rows stay as they are). The registry entries an exclusion
    # matched are kept with their author and title as they were at exclusion time, so
    # `audit --author` answers without the registry (which may have changed since).
    db.execute(
        """CREATE TABLE registry_entries (
            entry_id TEXT PRIMARY KEY, author TEXT, title TEXT, kind TEXT,
            recorded_at TEXT NOT NULL)"""
    )
    db.execute("CREATE INDEX registry_entries_author ON registry_entries(author)")
    db.execute("CREATE INDEX exclusions_matched ON exclusions(matched_work)")
    # Kept rows are found by record id when a release or a recheck moves or drops them.
    db.execute("CREATE INDEX kept_record ON kept(record_id)")


KNOWN_MIGRATIONS = (
    "m001_tables",
    "m002_summary_indexes",
    "m003_registry_states",
    "m004_recheck_registry_entries",
)


def resolve_path(path: Path | str) -> Path:
    """``DIR`` or ``DIR/audit.sqlite`` -> the database file."""
    path = Path(path)
    return path / DB_FILENAME if path.is_dir() else path


def _connect(path: Path) -> Database:
    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
    return Database(conn)


def _check_schema(db: Database, path: Path) -> list[str]:
    """Applied migration names; raises when the file is not ours or too new."""
    try:
        tables = set(db.table_names())
    except sqlite3.DatabaseError as exc:
        raise NotAnAuditDatabase(f"{path} is not a tdmcrawl audit database ({exc})") from None
    applied = [m.name for m in migrations.applied(db)] if "_sqlite_migrations" in tables else []
    if not applied:
        if tables & {"exclusions", "kept"}:
            raise SchemaError(
                f"{path} is an audit database from before versioned schemas; "
                "it cannot be migrated: re-run the crawl with this tdmcrawl"
            )
        if tables:
            raise NotAnAuditDatabase(f"{path} is not a tdmcrawl audit database")
    unknown = [name for name in applied if name not in KNOWN_MIGRATIONS]
    if unknown:
        raise SchemaError(
            f"{path} was written by a newer tdmcrawl (schema {unknown[-1]}); "
            "upgrade tdmcrawl to read it"
        )
    return applied


def open_database(path: Path | str, *, create: bool = False, migrate: bool = True) -> Database:
    """Open an audit database for reading or merging.

    Pending migrations are applied (an older schema is upgraded in place); a
    file that is not an audit database raises :class:`NotAnAuditDatabase`.
    """
    path = resolve_path(path)
    if not path.exists() and not create:
        hint = " (was the crawl run with TDMCRAWL_AUDIT off?)" if path.name == DB_FILENAME else ""
        raise NotAnAuditDatabase(f"no audit database at {path}{hint}")
    if path.exists() and not path.is_file():
        raise NotAnAuditDatabase(f"{path} is not a tdmcrawl audit database (not a file)")
    db = _connect(path)
    try:
        applied = _check_schema(db, path)
        if migrate and len(applied) < len(KNOWN_MIGRATIONS):
            db.execute("PRAGMA journal_mode=WAL")
            migrations.apply(db)
    except sqlite3.OperationalError as exc:
        db.close()
        raise SchemaError(f"cannot migrate {path} to the current schema: {exc}") from None
    except AuditError:
        db.close()
        raise
    return db


def checkpoint(path: Path | str) -> None:
    """Fold the WAL into the main file, so immutable readers see every row."""
    db = _connect(resolve_path(path))
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


def domain_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def new_crawl_id() -> str:
    return f"{utc_now():%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


# --- writer ------------------------------------------------------------------

_INSERT = {
    "exclusions": (EXCLUSION_COLUMNS, "INSERT OR IGNORE"),
    "kept": (KEPT_COLUMNS, "INSERT OR IGNORE"),
    "evidence": (EVIDENCE_COLUMNS, "INSERT OR IGNORE"),
    "registry_entries": (REGISTRY_ENTRY_COLUMNS, "INSERT OR IGNORE"),
}
_STOP = object()


class AuditLog:
    """Append-only audit writer with a background thread (see module docstring)."""

    def __init__(
        self,
        path: Path,
        *,
        batch_size: int = 500,
        flush_interval: float = 1.0,
        clock: Callable[[], str] = iso_utc,
    ) -> None:
        self.path = path
        self._clock = clock
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        # Bounded, so a stalled disk slows the crawl instead of filling memory.
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=100_000)
        self._error: BaseException | None = None
        self._closed = False
        self._current_crawl: str | None = None
        self._lock = threading.Lock()
        db = open_database(path, create=True)
        db.execute("PRAGMA journal_mode=WAL")
        db.close()
        self._thread = threading.Thread(target=self._run, name="tdmcrawl-audit", daemon=True)
        self._thread.start()
        _open_logs.add(self)

    @classmethod
    def open(cls, path: Path | str, **kwargs: Any) -> AuditLog:
        """Open (creating or migrating) ``DIR/audit.sqlite``; ``path`` may be the directory."""
        path = Path(path)
        if path.is_dir() or path.suffix == "":
            path.mkdir(parents=True, exist_ok=True)
            path = path / DB_FILENAME
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
        return cls(path, **kwargs)

    # -- crawls (synchronous: the caller needs the id, and ordering with rows)

    def start_crawl(
        self,
        *,
        settings: dict[str, Any],
        versions: dict[str, Any],
        seeds: list[str],
        crawl_id: str | None = None,
    ) -> str:
        crawl_id = crawl_id or new_crawl_id()
        now = self._clock()
        row = {
            "crawl_id": crawl_id,
            "started_at": now,
            "seeds": _dumps(list(seeds)),
            "settings": _dumps(settings),
            "versions": _dumps(versions),
        }

        def write(db: Database) -> None:
            if db["crawls"].count_where("crawl_id = ?", [crawl_id]):
                # Resume keeps the first start time and records the restart.
                db.execute(
                    "UPDATE crawls SET resumed_at = ?, finished_at = NULL, settings = ?, "
                    "versions = ? WHERE crawl_id = ?",
                    [now, row["settings"], row["versions"], crawl_id],
                )
            else:
                db["crawls"].insert(row)

        self._call(write)
        # The default crawl for record_*() calls that pass no crawl_id.
        self._current_crawl = crawl_id
        return crawl_id

    def finish_crawl(self, crawl_id: str, stats: dict[str, Any]) -> None:
        now = self._clock()
        self._call(
            lambda db: db.execute(
                "UPDATE crawls SET finished_at = ?, stats = ? WHERE crawl_id = ?",
                [now, _dumps(stats), crawl_id],
            )
        )

    # -- rows (queued)

    def record_exclusion(
        self,
        decision: Decision,
        *,
        stage: str,
        crawl_id: str | None = None,
        evidence_warc: str | None = None,
        evidence_offset: int | None = None,
        evidence_record_id: str | None = None,
    ) -> None:
        if decision.allowed:
            raise ValueError(f"record_exclusion() needs an excluding decision: {decision.url}")
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
        first = decision.reasons[0]
        self._put(
            "exclusions",
            (
                crawl_id or self._crawl_id(),
                decision.url,
                domain_of(decision.url),
                stage,
                first.code.value,
                first.source,
                first.evidence,
                first.line,
                first.matched_work,
                first.similarity,
                self._clock(),
                evidence_warc,
                evidence_offset,
                evidence_record_id,
                decision.to_json(),
            ),
        )

    def record_kept(
        self,
        url: str,
        *,
        warc_file: str,
        offset: int,
        record_id: str,
        decision: Decision,
        crawl_id: str | None = None,
    ) -> None:
        self._put(
            "kept",
            (
                crawl_id or self._crawl_id(),
                url,
                domain_of(url),
                warc_file,
                offset,
                record_id,
                self._clock(),
                decision.to_json(),
            ),
        )

    def record_evidence(
        self,
        url: str,
        *,
        warc_file: str,
        offset: int,
        record_id: str,
        kind: str,
        crawl_id: str | None = None,
        captured_at: str | None = None,
    ) -> None:
        self._put(
            "evidence",
            (
                crawl_id or self._crawl_id(),
                url,
                serialized_origin(url),
                kind,
                warc_file,
                offset,
                record_id,
                captured_at or self._clock(),
            ),
        )

    def record_registry_state(
        self,
        *,
        source: str,
        registry_id: str | None,
        cursor: str | None,
        synced_at: str | None,
        stale: bool,
        entries: int | None,
        crawl_id: str | None = None,
    ) -> None:
        """The registry state decisions use from now on (see ``m003_registry_states``).

        Synchronous, after every row queued before it: the marks it stores divide the
        rows decided with the earlier state from those decided with this one."""
        crawl = crawl_id or self._crawl_id()
        applied = self._clock()

        def write(db: Database) -> None:
            (excluded,) = db.execute("SELECT coalesce(max(id), 0) FROM exclusions").fetchone()
            (kept,) = db.execute("SELECT coalesce(max(id), 0) FROM kept").fetchone()
            db.execute(
                "INSERT INTO registry_states (crawl_id, source, registry_id, cursor, synced_at,"
                " stale, entries, applied_at, exclusions_before, kept_before)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    crawl,
                    source,
                    registry_id,
                    cursor,
                    synced_at,
                    int(stale),
                    entries,
                    applied,
                    excluded,
                    kept,
                ],
            )

        self._call(write)

    def record_registry_entry(
        self, entry_id: str, *, author: str | None, title: str | None, kind: str | None
    ) -> None:
        """The author and title of a registry entry an exclusion matched (first seen wins)."""
        self._put("registry_entries", (entry_id, author, title, kind, self._clock()))

    # -- reading back

    def kept_urls(self, crawl_id: str) -> Iterator[str]:
        """URLs kept by ``crawl_id`` (for --resume), after flushing the queue."""
        self.flush()
        db = _connect(self.path)
        try:
            for (url,) in db.execute("SELECT url FROM kept WHERE crawl_id = ?", [crawl_id]):
                yield url
        finally:
            db.close()

    def flush(self) -> None:
        """Block until everything queued so far is committed."""
        self._call(lambda db: None)

    def close(self) -> None:
        """Flush and stop the writer thread; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        _open_logs.discard(self)
        if self._error is not None:
            raise AuditWriteError(f"audit log {self.path}: {self._error}")
        try:
            checkpoint(self.path)
        except sqlite3.Error as exc:  # a reader holding the WAL; the rows are safe anyway
            logger.warning("audit log %s: WAL checkpoint skipped: %s", self.path, exc)

    # -- internals

    def _crawl_id(self) -> str:
        if self._current_crawl is None:
            raise AuditWriteError("record_*() called before start_crawl()")
        return self._current_crawl

    def _put(self, table: str, row: tuple[Any, ...]) -> None:
        if self._error is not None:
            raise AuditWriteError(f"audit log {self.path}: {self._error}")
        if self._closed:
            raise AuditWriteError(f"audit log {self.path} is closed")
        while True:
            try:
                self._queue.put((table, row), timeout=1.0)
                return
            except queue.Full:
                if not self._thread.is_alive():
                    raise AuditWriteError(f"audit log {self.path}: writer stopped") from None

    def _call(self, fn: Callable[[Database], Any]) -> None:
        """Run ``fn`` on the writer thread after every row queued before it."""
        if self._closed:
            raise AuditWriteError(f"audit log {self.path} is closed")
        done = threading.Event()
        self._queue.put((fn, done))
        while not done.wait(0.5):
            if not self._thread.is_alive():
                break
        if self._error is not None:
            raise AuditWriteError(f"audit log {self.path}: {self._error}")

    def _run(self) -> None:
        db = _connect(self.path)
        db.execute("PRAGMA synchronous=NORMAL")
        pending: dict[str, list[tuple[Any, ...]]] = {name: [] for name in _INSERT}
        count = 0
        last_write = time.monotonic()
        try:
            while True:
                try:
                    item = self._queue.get(timeout=self._flush_interval)
                except queue.Empty:
                    item = None
                # A steady trickle of rows is committed by time too, not only at 500 rows:
                # a kill then loses about a second of rows, not minutes.
                overdue = count and time.monotonic() - last_write >= self._flush_interval
                if (
                    item is None
                    or item is _STOP
                    or callable(item[0])
                    or count >= self._batch_size
                    or overdue
                ):
                    self._write(db, pending)
                    count = 0
                    last_write = time.monotonic()
                if item is _STOP:
                    return
                if item is None:
                    continue
                head, tail = item
                if callable(head):
                    try:
                        head(db)
                        db.conn.commit()
                    finally:
                        tail.set()
                else:
                    pending[head].append(tail)
                    count += 1
        except BaseException as exc:  # recorded, re-raised to the crawler on its next call
            self._error = exc
            logger.error("audit writer failed: %s", exc)
            _release_waiters(self._queue)
        finally:
            db.close()

    def _write(self, db: Database, pending: dict[str, list[tuple[Any, ...]]]) -> None:
        if not any(pending.values()):
            return
        with db.conn:
            for table, rows in pending.items():
                if rows:
                    columns, verb = _INSERT[table]
                    marks = ", ".join("?" * len(columns))
                    db.conn.executemany(
                        f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
                    )
                    rows.clear()


def _release_waiters(q: queue.Queue[Any]) -> None:
    while True:
        try:
            item = q.get_nowait()
        except queue.Empty:
            return
        if isinstance(item, tuple) and callable(item[0]):
            item[1].set()


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, default=str)


_open_logs: weakref.WeakSet[AuditLog] = weakref.WeakSet()


@atexit.register
def _close_open_logs() -> None:
    # Ctrl-C before the crawler closed its log: commit what is queued.
    for log in list(_open_logs):
        try:
            log.close()
        except AuditError as exc:
            logger.error("%s", exc)


# --- release step (crawler.neardup): pages removed from WARC files after they were kept ------


def drop_kept(log: AuditLog, record_ids: list[str]) -> None:
    """Delete the ``kept`` rows of pages cut out of a WARC file (their exclusion is audited).

    Runs on the writer thread after every row queued before it, so a ``kept``
    row recorded just before is deleted too.
    """
    rows = [(record_id,) for record_id in record_ids]
    log._call(lambda db: db.conn.executemany("DELETE FROM kept WHERE record_id = ?", rows))


def move_kept(log: AuditLog, warc_file: str, offsets: dict[str, int]) -> None:
    """Point the ``kept`` rows of ``warc_file`` at their records' new offsets after a rewrite."""
    rows = [(offset, warc_file, record_id) for record_id, offset in offsets.items()]
    log._call(
        lambda db: db.conn.executemany(
            "UPDATE kept SET warc_offset = ? WHERE warc_file = ? AND record_id = ?", rows
        )
    )


# --- recovery after a kill (crawler.session): the WARC files are the truth ----------------


def set_file_rows(
    log: AuditLog, crawl_id: str, warc_file: str, pages: list[tuple[str, int, str, str]]
) -> tuple[int, int, int]:
    """Make the ``kept`` rows of ``crawl_id`` in ``warc_file`` exactly ``pages``:
    (url, offset, record id, decision JSON) of every response record the file holds.

    Rows of records the file does not hold are deleted, offsets corrected, missing rows
    added; committed before it returns (the caller renames the file next). Returns
    (added, moved, dropped).
    """
    counts = [0, 0, 0]

    def reconcile(db: Database) -> None:
        existing = {
            record_id: offset
            for record_id, offset in db.execute(
                "SELECT record_id, warc_offset FROM kept WHERE crawl_id = ? AND warc_file = ?",
                [crawl_id, warc_file],
            )
        }
        truth = {record_id: (url, offset, decision) for url, offset, record_id, decision in pages}
        gone = [(crawl_id, warc_file, rid) for rid in existing if rid not in truth]
        moved = [
            (truth[rid][1], crawl_id, warc_file, rid)
            for rid, offset in existing.items()
            if rid in truth and truth[rid][1] != offset
        ]
        now = log._clock()
        added = [
            (crawl_id, url, domain_of(url), warc_file, offset, rid, now, decision)
            for rid, (url, offset, decision) in truth.items()
            if rid not in existing
        ]
        with db.conn:
            db.conn.executemany(
                "DELETE FROM kept WHERE crawl_id = ? AND warc_file = ? AND record_id = ?", gone
            )
            db.conn.executemany(
                "UPDATE kept SET warc_offset = ? WHERE crawl_id = ? AND warc_file = ?"
                " AND record_id = ?",
                moved,
            )
            marks = ", ".join("?" * len(KEPT_COLUMNS))
            db.conn.executemany(
                f"INSERT OR IGNORE INTO kept ({', '.join(KEPT_COLUMNS)}) VALUES ({marks})", added
            )
        counts[:] = [len(added), len(moved), len(gone)]

    log._call(reconcile)
    return counts[0], counts[1], counts[2]
