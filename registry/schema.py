"""The registry's SQLite schema, its versioned migrations and how files are opened.

Migrations are sqlite-utils ``Migrations("tdmcrawl.registry")``, recorded in
``_sqlite_migrations``. They run under ``BEGIN IMMEDIATE``, so two processes
creating the same registry at once apply them exactly once. The database is in
WAL mode: readers (the crawler) never block a writer and see a snapshot.

Tables:

- ``entries``: one row per opt-out; what the crawler reads for URL rules.
- ``work_fingerprints``: one fingerprint per file of a work, with the dedup
  config identity it was computed with; what the crawler reads for content.
- ``work_texts``: the extracted text of each file (markup removed), kept only
  so fingerprints can be recomputed when the dedup config changes. The crawler
  never reads it. ``sha256`` is of its ``dedup.normalize`` form.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from pathlib import Path

from sqlite_utils import Database, Migrations

from tdmcrawl.registry.errors import (
    NotARegistry,
    RegistryLocked,
    RegistryMissing,
    RegistryReadOnly,
    SchemaTooNew,
)

MIGRATION_SET = "tdmcrawl.registry"
BUSY_TIMEOUT_S = 30.0

migrations = Migrations(MIGRATION_SET)


@migrations(name="0001_entries")
def _m0001_entries(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE entries (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('url', 'prefix', 'domain', 'work')),
            pattern TEXT NOT NULL,
            rule_key TEXT NOT NULL,
            host TEXT,
            scope TEXT NOT NULL,
            author TEXT NOT NULL,
            email TEXT,
            title TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            token_hash TEXT NOT NULL
        )
        """
    )
    # One rule or work per scope: a second registration reports the first id.
    db.execute("CREATE UNIQUE INDEX entries_rule ON entries (kind, rule_key, scope)")
    db.execute("CREATE INDEX entries_host ON entries (host)")


@migrations(name="0002_works")
def _m0002_works(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE work_texts (
            entry_id TEXT NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
            part INTEGER NOT NULL,
            filename TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            text TEXT NOT NULL,
            PRIMARY KEY (entry_id, part)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE work_fingerprints (
            entry_id TEXT NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
            part INTEGER NOT NULL,
            fingerprint BLOB,
            config_identity TEXT,
            computed_at TEXT NOT NULL,
            PRIMARY KEY (entry_id, part)
        )
        """
    )


@migrations(name="0003_service")
def _m0003_service(db: Database) -> None:
    """What the registry service and its followers need.

    - ``meta``: ``registry_id``, a UUID naming this registry, so a crawler's replica
      knows when the registry behind a URL was replaced and syncs from scratch;
    - ``feed_log``: one row per entry ever written, its ``seq`` the crawlers' cursor.
      Triggers keep it, so every way of writing (the service, the CLI, import,
      reindex) feeds it: a change moves the entry's row to a new, higher ``seq``;
      a removal leaves it as a tombstone (``deleted = 1``);
    - ``entries.verified_at`` / ``verify_code``: ownership shown by a file on the site;
    - ``work_texts.file_sha256`` / ``size`` / ``text_kept``: what a receipt shows of
      each file, and whether its text was kept (a service keeps only fingerprints
      unless told to keep texts for ``reindex``);
    - an index on ``token_hash``: an author's entries listed by their token.
    """
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta (key, value) VALUES ('registry_id', ?)", [str(uuid.uuid4())])
    db.execute("ALTER TABLE entries ADD COLUMN verified_at TEXT")
    db.execute("ALTER TABLE entries ADD COLUMN verify_code TEXT")
    db.execute("ALTER TABLE work_texts ADD COLUMN file_sha256 TEXT")
    db.execute("ALTER TABLE work_texts ADD COLUMN size INTEGER")
    db.execute("ALTER TABLE work_texts ADD COLUMN text_kept INTEGER NOT NULL DEFAULT 1")
    db.execute("CREATE INDEX entries_token ON entries (token_hash)")
    db.execute(
        """
        CREATE TABLE feed_log (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            entry_id TEXT NOT NULL UNIQUE,
            deleted INTEGER NOT NULL DEFAULT 0,
            at TEXT NOT NULL
        )
        """
    )
    db.execute(
        "INSERT INTO feed_log (entry_id, deleted, at)"
        " SELECT id, 0, updated_at FROM entries ORDER BY created_at, id"
    )
    now = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
    for name, table, event, entry, deleted in (
        ("feed_entry_added", "entries", "INSERT", "NEW.id", 0),
        ("feed_entry_changed", "entries", "UPDATE", "NEW.id", 0),
        ("feed_entry_removed", "entries", "DELETE", "OLD.id", 1),
        ("feed_fingerprint_added", "work_fingerprints", "INSERT", "NEW.entry_id", 0),
        ("feed_fingerprint_changed", "work_fingerprints", "UPDATE", "NEW.entry_id", 0),
    ):
        db.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN"
            f" INSERT OR REPLACE INTO feed_log (entry_id, deleted, at)"
            f" VALUES ({entry}, {deleted}, {now}); END"
        )


KNOWN_MIGRATIONS = frozenset(m.name for m in migrations.pending(Database(memory=True)))


def open_readwrite(path: str | Path, *, create: bool = True) -> Database:
    """Open (and if needed create and migrate) a registry for writing."""
    path = Path(path)
    if not path.exists() and not create:
        raise RegistryMissing(f"no registry at {path} (create one with `tdmcrawl registry add`)")
    if path.is_dir():
        raise NotARegistry(f"{path} is a directory, not a registry file")
    _check_writable(path)
    try:
        # isolation_level=None: we open every transaction ourselves (BEGIN IMMEDIATE),
        # so the driver never commits half of one behind our back.
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as exc:
        raise RegistryMissing(f"cannot open registry {path}: {exc}") from None
    try:
        db = Database(conn, execute_plugins=False)
        # Identity first: a foreign SQLite file must be left exactly as it was.
        _check_identity(db, path)
        _set_pragmas(conn, path)
        if migrations.pending(db):
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Re-checked under the write lock: another process may have migrated.
                migrations.apply(db)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
    except BaseException:
        conn.close()
        raise
    return db


def open_readonly(path: str | Path) -> sqlite3.Connection:
    """Open an existing, migrated registry read-only (the crawler's side).

    A reader of a WAL database needs to write its ``-shm`` index beside it. When
    the directory is read-only (a read-only mount, a directory of another user)
    and no write-ahead log holds changes, the file is opened *immutable*: SQLite
    then reads the main file alone and takes no locks (nobody can be writing it).
    """
    path = Path(path)
    if not path.is_file():
        raise RegistryMissing(f"no registry at {path} (create one with `tdmcrawl registry add`)")
    immutable = not _directory_writable(path) and not _shm_present(path)
    if immutable:
        _refuse_unreadable_wal(path)
    conn = _connect_readonly(path, immutable=immutable)
    try:
        db = Database(conn, execute_plugins=False)
        applied = _check_identity(db, path)
        pending = migrations.pending(db)
    except BaseException:
        conn.close()
        raise
    if not pending:
        return conn
    conn.close()
    if not applied:
        raise NotARegistry(
            f"{path} is an empty or unfinished registry: "
            "add an entry with `tdmcrawl registry add` to set it up"
        )
    if immutable:
        raise RegistryReadOnly(
            f"{path} was written by an older tdmcrawl and needs upgrading, but its directory "
            "is read-only: open it once where it can be written (`tdmcrawl registry list`)"
        )
    # A registry of an older version: bring it up to date once, then read it.
    open_readwrite(path, create=False).conn.close()
    return open_readonly(path)


def _connect_readonly(path: Path, *, immutable: bool) -> sqlite3.Connection:
    mode = "mode=ro&immutable=1" if immutable else "mode=ro"
    try:
        return sqlite3.connect(
            f"{path.resolve().as_uri()}?{mode}",
            uri=True,
            timeout=BUSY_TIMEOUT_S,
            isolation_level=None,
            check_same_thread=False,
        )
    except sqlite3.Error as exc:
        raise RegistryMissing(f"cannot open registry {path}: {exc}") from None


def _directory_writable(path: Path) -> bool:
    # access() answers EROFS for a read-only mount, and the permission bits otherwise.
    return os.access(path.resolve().parent, os.W_OK | os.X_OK)


def _shm_present(path: Path) -> bool:
    return path.with_name(path.name + "-shm").exists()


def _refuse_unreadable_wal(path: Path) -> None:
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise RegistryReadOnly(
            f"{path}: its directory {path.resolve().parent} is read-only and its write-ahead "
            f"log {wal.name} holds changes that SQLite cannot read without writing beside it: "
            "make the directory writable (or copy the registry with its -wal file somewhere "
            "writable and open it there)"
        )


def _check_writable(path: Path) -> None:
    """Say what is wrong before SQLite says "unable to open database file"."""
    directory = path.resolve().parent
    if not directory.exists():
        return  # sqlite3.connect reports it
    if not _directory_writable(path):
        raise RegistryReadOnly(
            f"cannot write to the registry {path}: its directory {directory} is read-only, "
            f"and SQLite's write-ahead log needs to create {path.name}-wal and {path.name}-shm "
            "beside it. Make the directory writable, or copy the registry to a writable place; "
            "commands that only read it (list, show, export, crawl, check, filter) open it "
            "read-only there"
        )
    if path.exists() and not os.access(path, os.W_OK):
        raise RegistryReadOnly(
            f"cannot write to the registry {path}: the file is read-only (make it writable; "
            "commands that only read it, such as list, show and export, work as it is)"
        )


def _set_pragmas(conn: sqlite3.Connection, path: Path) -> None:
    conn.execute("PRAGMA foreign_keys = ON")
    # Switching a new file to WAL needs an exclusive lock. When another process is
    # creating the same registry, SQLite may answer "locked" at once (without its
    # busy handler, to avoid a deadlock) or keep the old mode: wait and retry.
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            mode = str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise NotARegistry(f"{path} is not a tdmcrawl registry: {exc}") from None
            mode = f"busy ({exc})"
        except sqlite3.DatabaseError as exc:
            raise NotARegistry(f"{path} is not a tdmcrawl registry: {exc}") from None
        if mode == "wal":
            return
        if time.monotonic() > deadline:
            raise RegistryLocked(f"{path}: cannot switch the registry to WAL mode ({mode})")
        time.sleep(0.02)


def _check_identity(db: Database, path: Path) -> set[str]:
    """Refuse SQLite files that are something else, and registries from the future."""
    try:
        tables = set(db.table_names())
        applied = (
            {m.name for m in migrations.applied(db)}
            if Migrations.migrations_table in tables
            else set()
        )
    except sqlite3.DatabaseError as exc:
        raise NotARegistry(f"{path} is not a tdmcrawl registry: {exc}") from None
    if not applied and tables - {Migrations.migrations_table}:
        raise NotARegistry(
            f"{path} is an SQLite database but not a tdmcrawl registry "
            f"(it has tables: {', '.join(sorted(tables)[:5])})"
        )
    unknown = applied - KNOWN_MIGRATIONS
    if unknown:
        raise SchemaTooNew(
            f"{path} was written by a newer tdmcrawl (migrations {', '.join(sorted(unknown))}); "
            "upgrade tdmcrawl to use it"
        )
    return applied
