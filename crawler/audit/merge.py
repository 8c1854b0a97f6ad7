"""`tdmcrawl audit merge OUT DIR...`: one audit database from several crawls or nodes.

Rows are copied with ``INSERT OR IGNORE`` against the tables' natural unique
keys (url + crawl + stage for exclusions, the WARC record id for kept pages
and evidence), so merging the same source twice adds nothing. Crawl ids are
copied as they are: two crawls never share an id, and the nodes of one
distributed crawl share theirs on purpose, so their crawl rows are combined
(earliest start, latest finish).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tdmcrawl.crawler.audit.db import (
    CRAWL_COLUMNS,
    DB_FILENAME,
    EVIDENCE_COLUMNS,
    EXCLUSION_COLUMNS,
    KEPT_COLUMNS,
    REGISTRY_ENTRY_COLUMNS,
    open_database,
    resolve_path,
)
from tdmcrawl.crawler.errors import AuditError

_TABLES = (
    ("exclusions", EXCLUSION_COLUMNS),
    ("kept", KEPT_COLUMNS),
    ("evidence", EVIDENCE_COLUMNS),
    ("crawls", CRAWL_COLUMNS),
    ("registry_entries", REGISTRY_ENTRY_COLUMNS),
)


def output_path(out: Path | str) -> Path:
    """OUT is a directory (``OUT/audit.sqlite``) unless it names a ``.sqlite``/``.db`` file."""
    out = Path(out)
    if out.suffix in (".sqlite", ".db", ".sqlite3"):
        out.parent.mkdir(parents=True, exist_ok=True)
        return out
    out.mkdir(parents=True, exist_ok=True)
    return out / DB_FILENAME


def merge(out: Path | str, sources: list[Path | str]) -> dict[str, Any]:
    """Merge ``sources`` into ``out``; returns rows added per table and per source."""
    target_path = output_path(out)
    source_paths = [resolve_path(s) for s in sources]
    for src in source_paths:
        if src.exists() and src.resolve() == target_path.resolve():
            raise AuditError(f"cannot merge {src} into itself")
        # Checks (and migrates) every source before anything is written.
        open_database(src).close()
    target = open_database(target_path, create=True)
    report: dict[str, Any] = {"out": str(target_path), "sources": []}
    try:
        for src in source_paths:
            target.execute("ATTACH DATABASE ? AS src", [str(src)])
            added: dict[str, int] = {}
            try:
                with target.conn:
                    for table, columns in _TABLES:
                        cols = ", ".join(columns)
                        before = target.conn.total_changes
                        target.conn.execute(
                            f"INSERT OR IGNORE INTO main.{table} ({cols}) "
                            f"SELECT {cols} FROM src.{table} ORDER BY rowid"
                        )
                        added[table] = target.conn.total_changes - before
                    _combine_crawls(target)
            finally:
                target.execute("DETACH DATABASE src")
            report["sources"].append({"path": str(src), "added": added})
        report["totals"] = {
            table: target.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table, _ in _TABLES
        }
        target.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        target.close()
    return report


def _combine_crawls(target: Any) -> None:
    # Nodes of one crawl: keep the widest span of the crawl's rows.
    target.conn.execute(
        """UPDATE main.crawls SET
             started_at = min(started_at, (SELECT s.started_at FROM src.crawls s
                                           WHERE s.crawl_id = main.crawls.crawl_id)),
             finished_at = CASE
               WHEN finished_at IS NULL THEN NULL
               ELSE max(finished_at, coalesce((SELECT s.finished_at FROM src.crawls s
                          WHERE s.crawl_id = main.crawls.crawl_id), finished_at))
             END
           WHERE crawl_id IN (SELECT crawl_id FROM src.crawls)"""
    )
