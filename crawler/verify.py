"""``tdmcrawl verify DIR``: a corpus against its manifest and its audit database.

What holds when it passes:

- the signature (with a public key) was made by that key over this manifest;
- every WARC file the manifest lists is there, with its size and SHA-256, and
  no other (finished or unfinished) WARC file is in ``warc/`` or ``evidence/``;
- every kept record is at its offset, with its record id, URL and payload
  digest, and its payload still hashes to that digest;
- the audit's ``kept`` rows and the manifest's records are the same set;
- no record in the WARC files lacks a kept row (a page), or a page or origin
  file it belongs to (its request and metadata records);
- no URL with an exclusion row is in the WARC files.

Each WARC file is read once, in chunks (its records and its SHA-256 in one
pass); what has to be cross-checked goes into a scratch SQLite file, so a
corpus of millions of records is checked in bounded memory.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warcio.recordloader import ArchiveLoadFailed

from tdmcrawl.crawler.audit.db import DB_FILENAME
from tdmcrawl.crawler.manifest import (
    CORPUS_DIRS,
    MANIFEST_NAME,
    Manifest,
    ManifestError,
    corpus_files,
    read_manifest,
    unfinished_files,
)
from tdmcrawl.crawler.signing import SignatureError, check_signature, signature_path
from tdmcrawl.crawler.warc.digests import HashingReader, file_sha256, iter_records
from tdmcrawl.crawler.warc.records import target_uri

PAGE_TYPES = ("response", "resource", "revisit", "conversion", "continuation")
DEFAULT_LIMIT = 100  # discrepancies collected before verify stops looking


@dataclass(frozen=True)
class Discrepancy:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass
class VerifyReport:
    directory: str
    signature: str = "not signed"  # "valid" | "not signed" | "not checked (...)"
    kind: str | None = None
    files: int = 0
    records: int = 0
    kept_rows: int = 0
    warc_records: int = 0
    discrepancies: list[Discrepancy] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.discrepancies

    def to_dict(self) -> dict[str, Any]:
        return {
            "directory": self.directory,
            "ok": self.ok,
            "signature": self.signature,
            "kind": self.kind,
            "files": self.files,
            "manifest_records": self.records,
            "kept_rows": self.kept_rows,
            "warc_records": self.warc_records,
            "first_discrepancy": str(self.discrepancies[0]) if self.discrepancies else None,
            "discrepancies": [str(d) for d in self.discrepancies],
        }


class _Enough(Exception):
    """Raised once ``limit`` discrepancies are collected: nothing more is needed."""


def verify_corpus(
    directory: Path | str, *, public_key: Any = None, limit: int = DEFAULT_LIMIT
) -> VerifyReport:
    """Check DIR against ``DIR/manifest.json`` and ``DIR/audit.sqlite``; see the module."""
    directory = Path(directory)
    report = VerifyReport(str(directory))
    checker = _Checker(directory, report, max(1, limit))
    with contextlib.suppress(_Enough):  # enough discrepancies collected
        checker.run(public_key)
    return report


class _Checker:
    def __init__(self, directory: Path, report: VerifyReport, limit: int) -> None:
        self.directory = directory
        self.report = report
        self.limit = limit

    def add(self, where: str, what: str) -> None:
        self.report.discrepancies.append(Discrepancy(where, what))
        if len(self.report.discrepancies) >= self.limit:
            raise _Enough

    # -- the steps, in the order their discrepancies are named

    def run(self, public_key: Any) -> None:
        manifest_path = self.directory / MANIFEST_NAME
        if not manifest_path.is_file():
            self.add(MANIFEST_NAME, "missing (was the corpus written by this tdmcrawl?)")
            return
        self._signature(manifest_path, public_key)
        try:
            manifest = read_manifest(manifest_path)
        except ManifestError as exc:
            self.add(MANIFEST_NAME, str(exc))
            return
        self.report.kind = manifest.header.get("kind")
        self._file_lists(manifest)
        for entry in manifest.evidence_files:
            path = self.directory / entry.path
            if path.is_file():
                self._compare_file(entry, *file_sha256(path))
        audit = self.directory / DB_FILENAME
        if not audit.is_file():
            self.add(DB_FILENAME, "missing")
            return
        with tempfile.TemporaryDirectory(prefix="tdmcrawl-verify-") as scratch:
            db = _scratch_db(Path(scratch) / "verify.sqlite", audit)
            try:
                self._load(db, manifest)
                for entry in manifest.warc_files:
                    if (self.directory / entry.path).is_file():
                        self._scan(db, entry)
                self._cross_check(db)
            finally:
                db.close()

    def _signature(self, manifest_path: Path, public_key: Any) -> None:
        present = signature_path(manifest_path).is_file()
        if public_key is None:
            self.report.signature = (
                "present, not checked (give --public-key)" if present else "not signed"
            )
            return
        try:
            check_signature(manifest_path, public_key)
        except SignatureError as exc:
            self.report.signature = "invalid"
            self.add(signature_path(manifest_path).name, str(exc))
            return
        self.report.signature = "valid"

    def _file_lists(self, manifest: Manifest) -> None:
        for name in unfinished_files(self.directory):
            self.add(name, "an unfinished WARC file (.open) is in the corpus")
        listed = {e.path for e in manifest.warc_files + manifest.evidence_files}
        for sub in CORPUS_DIRS:
            for path in corpus_files(self.directory, sub):
                if f"{sub}/{path.name}" not in listed:
                    self.add(f"{sub}/{path.name}", "a WARC file the manifest does not list")
        for entry in manifest.warc_files + manifest.evidence_files:
            if not (self.directory / entry.path).is_file():
                self.add(entry.path, "listed in the manifest but missing")
        self.report.files = len(listed)

    def _compare_file(self, entry: Any, size: int, sha256: str) -> None:
        if size != entry.size:
            self.add(entry.path, f"{size} bytes, the manifest says {entry.size}")
        elif sha256 != entry.sha256:
            self.add(entry.path, f"SHA-256 {sha256} differs from the manifest's {entry.sha256}")

    # -- loading the manifest and the audit into the scratch database

    def _load(self, db: sqlite3.Connection, manifest: Manifest) -> None:
        try:
            batch: list[tuple[Any, ...]] = []
            for record in manifest.records():
                batch.append(
                    (
                        record.file,
                        record.offset,
                        record.record_id,
                        record.url,
                        target_uri(record.url),
                        record.payload_digest,
                    )
                )
                if len(batch) >= 5000:
                    db.executemany("INSERT INTO m VALUES (?, ?, ?, ?, ?, ?)", batch)
                    batch = []
            db.executemany("INSERT INTO m VALUES (?, ?, ?, ?, ?, ?)", batch)
        except ManifestError as exc:
            self.add(MANIFEST_NAME, str(exc))
        try:
            db.execute(
                "INSERT INTO k SELECT 'warc/' || warc_file, warc_offset, record_id, url,"
                " target_uri(url) FROM audit.kept"
            )
            # A URL as audited and as WARC-Target-URI spells it (RFC 3986): either may be there.
            for form in ("target_uri(url)", "url"):
                db.execute(
                    f"INSERT OR IGNORE INTO x SELECT {form}, min(url) FROM audit.exclusions"
                    " GROUP BY url"
                )
            db.execute(
                "INSERT OR IGNORE INTO ev SELECT record_id, target_uri(url) FROM audit.evidence"
            )
        except sqlite3.DatabaseError as exc:
            self.add(DB_FILENAME, f"not a readable tdmcrawl audit database ({exc})")
            raise _Enough from None
        for index in (
            "CREATE INDEX m_id ON m(record_id)",
            "CREATE INDEX k_place ON k(file, offset, record_id)",
            "CREATE INDEX k_uri ON k(uri)",
            "CREATE INDEX k_url ON k(url)",
            "CREATE INDEX ev_uri ON ev(uri)",
        ):
            db.execute(index)
        self.report.records = db.execute("SELECT count(*) FROM m").fetchone()[0]
        self.report.kept_rows = db.execute("SELECT count(*) FROM k").fetchone()[0]

    def _scan(self, db: sqlite3.Connection, entry: Any) -> None:
        """One pass over a WARC file: its records into ``w``, its size and SHA-256."""
        path = self.directory / entry.path
        rows: list[tuple[Any, ...]] = []
        links: list[tuple[str, str]] = []
        last = 0
        with open(path, "rb") as handle:
            reader = HashingReader(handle)
            try:
                for info in iter_records(reader):
                    last = info.offset
                    rows.append(
                        (
                            entry.path,
                            info.offset,
                            info.record_id,
                            info.rec_type,
                            info.target_uri,
                            info.digest_header,
                            info.digest,
                        )
                    )
                    links += [(info.record_id, target) for target in info.concurrent_to]
                    if len(rows) >= 5000:
                        _insert_scan(db, rows, links)
                        rows, links = [], []
            except (OSError, ValueError, EOFError, zlib.error, ArchiveLoadFailed) as exc:
                _insert_scan(db, rows, links)
                self.add(entry.path, f"unreadable after offset {last} ({_short(exc)})")
                return
            _insert_scan(db, rows, links)
            self._compare_file(entry, *reader.finish())

    # -- the cross-checks

    def _cross_check(self, db: sqlite3.Connection) -> None:
        db.execute("CREATE INDEX w_place ON w(file, offset)")
        db.execute("CREATE INDEX w_id ON w(record_id)")
        db.execute("CREATE INDEX w_uri ON w(uri)")
        db.execute("CREATE INDEX wl_id ON wl(record_id)")
        self.report.warc_records = db.execute("SELECT count(*) FROM w").fetchone()[0]
        for where, what in self._manifest_against_warc(db):
            self.add(where, what)
        for file, offset, record_id, url in db.execute(
            "SELECT k.file, k.offset, k.record_id, k.url FROM k LEFT JOIN m"
            " ON m.file = k.file AND m.offset = k.offset AND m.record_id = k.record_id"
            " WHERE m.record_id IS NULL ORDER BY k.file, k.offset"
        ):
            self.add(
                f"audit kept row {url}", f"{file} offset {offset} {record_id}: not in the manifest"
            )
        for file, offset, record_id, url in db.execute(
            "SELECT m.file, m.offset, m.record_id, m.url FROM m LEFT JOIN k"
            " ON m.file = k.file AND m.offset = k.offset AND m.record_id = k.record_id"
            " WHERE k.record_id IS NULL ORDER BY m.file, m.offset"
        ):
            self.add(
                f"{file} offset {offset}", f"manifest record {record_id} ({url}) has no kept row"
            )
        marks = ",".join("?" * len(PAGE_TYPES))
        for file, offset, rec_type, uri in db.execute(
            f"SELECT w.file, w.offset, w.type, w.uri FROM w WHERE w.type IN ({marks})"
            " AND (w.uri LIKE 'http:%' OR w.uri LIKE 'https:%')"
            " AND NOT EXISTS (SELECT 1 FROM m WHERE m.record_id = w.record_id)"
            " AND NOT EXISTS (SELECT 1 FROM ev WHERE ev.record_id = w.record_id)"
            " ORDER BY w.file, w.offset",
            PAGE_TYPES,
        ):
            self.add(f"{file} offset {offset}", f"{rec_type} record of {uri} has no kept row")
        for file, offset, rec_type, uri in db.execute(
            f"SELECT w.file, w.offset, w.type, w.uri FROM w WHERE w.type NOT IN ({marks})"
            " AND w.type != 'warcinfo' AND (w.uri LIKE 'http:%' OR w.uri LIKE 'https:%')"
            " AND NOT EXISTS (SELECT 1 FROM wl JOIN w AS t ON t.record_id = wl.target"
            "   WHERE wl.record_id = w.record_id AND (t.record_id IN (SELECT record_id FROM m)"
            "   OR t.record_id IN (SELECT record_id FROM ev)))"
            " AND NOT EXISTS (SELECT 1 FROM k WHERE k.uri = w.uri)"
            " AND NOT EXISTS (SELECT 1 FROM k WHERE k.url = w.uri)"
            " AND NOT EXISTS (SELECT 1 FROM ev WHERE ev.uri = w.uri)"
            " ORDER BY w.file, w.offset",
            PAGE_TYPES,
        ):
            self.add(
                f"{file} offset {offset}",
                f"{rec_type} record of {uri} belongs to no kept page or origin file",
            )
        for file, offset, rec_type, url in db.execute(
            "SELECT w.file, w.offset, w.type, x.url FROM w JOIN x ON x.uri = w.uri"
            " WHERE w.type != 'warcinfo' ORDER BY w.file, w.offset"
        ):
            self.add(f"{file} offset {offset}", f"{rec_type} record of the excluded URL {url}")

    def _manifest_against_warc(self, db: sqlite3.Connection) -> Iterator[tuple[str, str]]:
        for (
            file,
            offset,
            record_id,
            url,
            uri,
            digest,
            w_id,
            w_type,
            w_uri,
            header,
            computed,
        ) in db.execute(
            "SELECT m.file, m.offset, m.record_id, m.url, m.uri, m.digest, w.record_id,"
            " w.type, w.uri, w.digest_header, w.digest FROM m LEFT JOIN w"
            " ON w.file = m.file AND w.offset = m.offset ORDER BY m.file, m.offset"
        ):
            where = f"{file} offset {offset}"
            if w_id is None:
                yield where, f"no record starts here (manifest: {record_id} {url})"
            elif w_id != record_id:
                yield where, f"record {w_id} is here, the manifest says {record_id}"
            elif w_uri not in (uri, url):
                yield where, f"record of {w_uri}, the manifest says {url}"
            elif (header or computed) != digest:
                yield where, f"payload digest {header or computed}, the manifest says {digest}"
            elif header and computed and header != computed and w_type != "revisit":
                yield where, f"the payload no longer hashes to its digest ({computed} != {header})"


def _scratch_db(path: Path, audit: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), uri=False)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.create_function("target_uri", 1, _target_uri, deterministic=True)
    # Read-only: verifying never changes (or migrates) the audit database.
    db.execute("ATTACH DATABASE ? AS audit", [audit.resolve().as_uri() + "?mode=ro"])
    db.executescript(
        """
        CREATE TABLE m (file TEXT, offset INTEGER, record_id TEXT, url TEXT, uri TEXT,
                        digest TEXT);
        CREATE TABLE k (file TEXT, offset INTEGER, record_id TEXT, url TEXT, uri TEXT);
        CREATE TABLE x (uri TEXT PRIMARY KEY, url TEXT);
        CREATE TABLE ev (record_id TEXT PRIMARY KEY, uri TEXT);
        CREATE TABLE w (file TEXT, offset INTEGER, record_id TEXT, type TEXT, uri TEXT,
                        digest_header TEXT, digest TEXT);
        CREATE TABLE wl (record_id TEXT, target TEXT);
        """
    )
    return db


def _insert_scan(
    db: sqlite3.Connection, rows: list[tuple[Any, ...]], links: list[tuple[str, str]]
) -> None:
    db.executemany("INSERT INTO w VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    db.executemany("INSERT INTO wl VALUES (?, ?)", links)


def _target_uri(url: str | None) -> str | None:
    if url is None:
        return None
    try:
        return target_uri(url)
    except Exception:  # a hand-edited row: compared as written
        return url


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:160]
