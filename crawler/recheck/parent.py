"""The corpus a recheck starts from (``DIR``): read only, never changed.

``DIR`` is the output of ``crawl``, ``filter`` or an earlier ``recheck``:
``DIR/audit.sqlite`` (its kept pages and their WARC locations, its
exclusions, the policy it was made with), ``DIR/warc/``, ``DIR/evidence/``,
``DIR/neardup-spool.sqlite`` (the kept pages' fingerprints, where the run
kept them) and ``DIR/manifest.json``. Its databases are read from copies
(:func:`copy_database`): SQLite leaves ``-wal``/``-shm`` files beside a
database it opened even read-only, and a recheck must not add a file to DIR.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tdmcrawl.crawler.audit.db import DB_FILENAME, KNOWN_MIGRATIONS
from tdmcrawl.crawler.errors import TdmcrawlError
from tdmcrawl.crawler.gates.neardup import SPOOL_NAME
from tdmcrawl.crawler.manifest import MANIFEST_NAME
from tdmcrawl.crawler.warc.digests import file_sha256
from tdmcrawl.optout.origins import Origin

# The policy switches a corpus was made with, as settings: a recheck reads with the same.
POLICY_SETTINGS = {
    "token": "TDMCRAWL_TOKEN",
    "ai_agents": "TDMCRAWL_AI_AGENTS",
    "aipref_compat": "TDMCRAWL_AIPREF_COMPAT",
    "ai_txt": "TDMCRAWL_AI_TXT",
    "noai": "TDMCRAWL_NOAI",
    "tdmrep": "TDMCRAWL_TDMREP",
    "content_usage": "TDMCRAWL_CONTENT_USAGE",
    "content_signal": "TDMCRAWL_CONTENT_SIGNAL",
    "html_meta_max_bytes": "TDMCRAWL_HTML_META_MAX_BYTES",
}
IDENTITY_SETTINGS = ("TDMCRAWL_USER_AGENT", "TDMCRAWL_CONTACT", "TDMCRAWL_WARC_PREFIX")


class RecheckError(TdmcrawlError):
    """A recheck that cannot run: DIR is not a corpus, NEWDIR is not usable."""


@dataclass(frozen=True)
class KeptPage:
    url: str
    warc_file: str  # name in DIR/warc/
    offset: int
    record_id: str
    decision: str  # the decision JSON it was kept with
    crawl_id: str


class ParentCorpus:
    """Read-only access to DIR (see the module docstring)."""

    def __init__(self, directory: Path, audit_copy: Path, spool_copy: Path) -> None:
        """``audit_copy``: where DIR's audit database is copied to (it becomes the new
        version's); ``spool_copy``: a scratch path for DIR's spool."""
        self.directory = Path(directory)
        audit = self.directory / DB_FILENAME
        if not audit.is_file():
            raise RecheckError(f"{self.directory} is not a corpus: {DB_FILENAME} is missing")
        copy_database(audit, audit_copy)
        self.db = sqlite3.connect(str(audit_copy), check_same_thread=False)
        try:
            tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError as exc:
            raise RecheckError(f"{audit} is not a tdmcrawl audit database ({exc})") from None
        if not {"kept", "exclusions", "crawls"} <= tables:
            raise RecheckError(f"{audit} is not a tdmcrawl audit database")
        if "_sqlite_migrations" in tables:
            unknown = [
                name
                for (name,) in self.db.execute("SELECT name FROM _sqlite_migrations")
                if name not in KNOWN_MIGRATIONS
            ]
            if unknown:
                raise RecheckError(f"{audit} was written by a newer tdmcrawl ({unknown[-1]})")
        self._lineage = self._read_lineage()  # before the recheck adds its own rows
        spool = self.directory / SPOOL_NAME
        self.spool = None
        if spool.is_file():
            copy_database(spool, spool_copy)
            self.spool = sqlite3.connect(str(spool_copy), check_same_thread=False)
        self.spool_copy = spool_copy if self.spool is not None else None
        if self.spool is not None and not _has_table(self.spool, "pages"):
            self.spool.close()
            self.spool = None

    def close(self) -> None:
        self.db.close()
        if self.spool is not None:
            self.spool.close()

    # -- what it holds

    def kept_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM kept").fetchone()[0])

    def kept_pages(self) -> Iterator[KeptPage]:
        """Every kept page, by WARC file and offset (a cursor: millions stream)."""
        cursor = self.db.execute(
            "SELECT url, warc_file, warc_offset, record_id, decision, crawl_id FROM kept"
            " ORDER BY warc_file, warc_offset"
        )
        while batch := cursor.fetchmany(1000):
            for url, warc_file, offset, record_id, decision, crawl_id in batch:
                yield KeptPage(url, warc_file, int(offset), record_id, decision, crawl_id)

    def origins(self) -> list[Origin]:
        """The origins with a kept page: those whose files a recheck fetches again."""
        found: set[Origin] = set()
        for page in self.kept_pages():
            origin = Origin.of(page.url)
            if origin is not None:
                found.add(origin)
        return sorted(found, key=lambda o: o.key)

    def exclusions(self, skip_crawl: str | None = None) -> Iterator[tuple[str, str, str]]:
        """(url, decisive reason, its source) of every exclusion row (those of
        ``skip_crawl``, the recheck writing to this copy, left out)."""
        cursor = self.db.execute(
            "SELECT url, reason, source FROM exclusions WHERE crawl_id IS NOT ? ORDER BY id",
            (skip_crawl,),
        )
        while batch := cursor.fetchmany(1000):
            yield from batch

    def warc_path(self, name: str) -> Path:
        return self.directory / "warc" / name

    def warc_files(self) -> list[Path]:
        folder = self.directory / "warc"
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.name.endswith((".warc.gz", ".warc")))

    def evidence_files(self) -> list[Path]:
        folder = self.directory / "evidence"
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.name.endswith((".warc.gz", ".warc")))

    # -- how it was made

    def settings(self) -> dict[str, Any]:
        """The policy (and identity) settings of the run that made DIR, as ``TDMCRAWL_*``
        settings: the latest crawls row's (a crawl's settings, a filter's policy)."""
        row = self.db.execute(
            "SELECT settings FROM crawls ORDER BY started_at DESC, crawl_id DESC LIMIT 1"
        ).fetchone()
        try:
            recorded = json.loads(row[0]) if row and row[0] else {}
        except ValueError:
            recorded = {}
        out: dict[str, Any] = {}
        policy = recorded.get("policy")
        if isinstance(policy, dict):  # tdmcrawl filter: a PolicyConfig as a dict
            for field, name in POLICY_SETTINGS.items():
                if field in policy and policy[field] is not None:
                    out[name] = policy[field]
        for name in (*POLICY_SETTINGS.values(), *IDENTITY_SETTINGS):
            if recorded.get(name) is not None:
                out[name] = recorded[name]
        return out

    def made_by_filter(self) -> bool:
        """Whether a ``tdmcrawl filter`` run made (part of) DIR: its records were copied
        one by one, so a page's records may lie in two files."""
        for (settings,) in self.db.execute("SELECT settings FROM crawls"):
            try:
                if json.loads(settings or "{}").get("command") == "filter":
                    return True
            except (ValueError, AttributeError):
                continue
        return False

    def crawl_ids(self) -> list[str]:
        return [
            cid for (cid,) in self.db.execute("SELECT crawl_id FROM crawls ORDER BY started_at")
        ]

    def lineage(self) -> dict[str, Any]:
        """The parent as the manifest of the new version names it."""
        return dict(self._lineage)

    def _read_lineage(self) -> dict[str, Any]:
        manifest = self.directory / MANIFEST_NAME
        out: dict[str, Any] = {
            "directory": str(self.directory.resolve()),
            "crawl_ids": self.crawl_ids(),
            "kept": self.kept_count(),
        }
        if manifest.is_file():
            size, digest = file_sha256(manifest)
            out["manifest_sha256"] = digest
            out["manifest_size"] = size
            try:
                with open(manifest, encoding="utf-8") as handle:
                    handle.readline()
                    head = handle.readline()
                header = json.loads(head[len('"header": ') :].rstrip().rstrip(","))
                out["kind"] = header.get("kind")
                out["crawl_id"] = header.get("crawl_id")
            except (ValueError, AttributeError):
                pass
        else:
            out["manifest_sha256"] = None
        return out

    # -- fingerprints the run spooled

    def spooled(self, url: str) -> bytes | None:
        if self.spool is None:
            return None
        row = self.spool.execute("SELECT fp FROM pages WHERE url = ?", (url,)).fetchone()
        return bytes(row[0]) if row else None

    def reserved_fingerprints(self) -> Iterator[tuple[str, bytes]]:
        if self.spool is None or not _has_table(self.spool, "reserved"):
            return
        for key, fp in self.spool.execute("SELECT key, fp FROM reserved"):
            if fp is not None:
                yield key, bytes(fp)


def copy_database(source: Path, target: Path) -> None:
    """Copy an SQLite database with its write-ahead log (rows not yet checkpointed), file
    by file: nothing is opened in the source directory."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    wal = source.with_name(source.name + "-wal")
    target_wal = target.with_name(target.name + "-wal")
    if wal.is_file() and wal.stat().st_size:
        shutil.copyfile(wal, target_wal)
    else:
        target_wal.unlink(missing_ok=True)


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    return (
        db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone()
        is not None
    )
