"""The new corpus version of ``tdmcrawl recheck``: DIR's records, minus the removed pages.

- A WARC file of DIR with no removed page is copied as it is (same name, same
  bytes: its records keep their offsets).
- A file with a removed page is written anew by :class:`RotatingWarcWriter`
  (its own warcinfo record first), every other record copied byte for byte as
  its gzip member (``write_members``, as ``tdmcrawl filter`` does): one new
  file per file of DIR. A removed page goes with every record tied to it
  (``WARC-Concurrent-To`` either way, revisits referring to it) and every
  record of its URL.
- The audit's ``kept`` rows (and ``evidence`` rows of origin files a filter
  copied into its WARC files) follow their records; the removed pages' rows go.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any

from tdmcrawl.crawler.filter.read import iter_records, record_member
from tdmcrawl.crawler.recheck.result import RecheckResult
from tdmcrawl.crawler.warc.records import WarcRef, target_uri
from tdmcrawl.crawler.warc.writer import RotatingWarcWriter


def write_version(
    warc_files: list[Path],
    out_warc: Path,
    result: RecheckResult,
    *,
    warcinfo: dict[str, str],
    prefix: str,
    warn: Any,
    scan_all: bool = False,
) -> dict[str, WarcRef]:
    """Copy or rewrite DIR's WARC files into ``out_warc``; returns record id -> new place
    of every record of a rewritten file.

    ``scan_all``: read every file for records of a removed URL, not only the files of
    the removed responses (a crawl writes a page's records together; ``tdmcrawl filter``
    copies records one by one, so a page's request can open the next file).
    """
    out_warc.mkdir(parents=True, exist_ok=True)
    by_file: dict[str, set[str]] = defaultdict(set)
    for removal in result.removed.values():
        by_file[removal.warc_file].add(removal.record_id)
    drop_urls = {
        form
        for removal in result.removed.values()
        for form in (removal.url, target_uri(removal.url))
    }
    moved: dict[str, WarcRef] = {}
    for path in warc_files:
        if path.name in by_file or (scan_all and drop_urls):
            entries = [read.entry for read in iter_records(path, warn)]
            kept = _kept_entries(entries, by_file.get(path.name, set()), drop_urls)
            if len(kept) < len(entries):
                if any(entry.rtype != "warcinfo" for entry in kept):
                    moved.update(_rewrite(path, out_warc, kept, warcinfo, prefix))
                result.files_rewritten += 1  # a file left with no record is not written
                continue
        shutil.copyfile(path, out_warc / path.name)
        result.files_copied += 1
    result.files = sorted(str(p) for p in out_warc.iterdir() if p.is_file())
    return moved


def _kept_entries(entries: list[Any], drop_ids: set[str], drop_urls: set[str]) -> list[Any]:
    """The records that stay: a removed response takes the records it names and the
    records naming it (or referring to it), and every record of its URL goes."""
    drop = set(drop_ids)
    for entry in entries:
        if entry.record_id in drop:
            drop.update(entry.links)
    return [
        entry
        for entry in entries
        if entry.rtype == "warcinfo"
        or not (
            entry.record_id in drop
            or entry.uri in drop_urls
            or any(link in drop for link in entry.links + entry.refers)
        )
    ]


def _rewrite(
    path: Path, out_warc: Path, entries: list[Any], warcinfo: dict[str, str], prefix: str
) -> dict[str, WarcRef]:
    writer = RotatingWarcWriter(
        out_warc,
        warcinfo={**warcinfo, "tdmcrawl-recheck-of": path.name},
        prefix=prefix,
        max_size=1 << 62,  # one output file per input file: no rotation inside it
    )
    moved: dict[str, WarcRef] = {}
    gzipped = path.name.endswith(".gz")
    with open(path, "rb") as handle:
        for entry in entries:
            member = record_member(handle, entry, gzipped)
            (ref,) = writer.write_members(entry.uri, [(entry.record_id, member)])
            moved[entry.record_id] = ref
    writer.close()
    return moved


def update_audit(audit_path: Path, result: RecheckResult, moved: dict[str, WarcRef]) -> None:
    """Drop the removed pages' kept rows; point moved records' rows at their new place."""
    db = sqlite3.connect(str(audit_path))
    try:
        with db:
            db.executemany(
                "DELETE FROM kept WHERE record_id = ?", [(rid,) for rid in result.removed]
            )
            rows = [(ref.filename, ref.offset, rid) for rid, ref in moved.items()]
            db.executemany(
                "UPDATE kept SET warc_file = ?, warc_offset = ? WHERE record_id = ?", rows
            )
            db.executemany(
                "UPDATE evidence SET warc_file = ?, warc_offset = ? WHERE record_id = ?", rows
            )
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


def update_spool(spool: Any, moved: dict[str, WarcRef]) -> None:
    """The spooled pages of rewritten files name their new file."""
    spool.db.execute("CREATE INDEX IF NOT EXISTS pages_record ON pages(record_id)")
    with spool.db:
        spool.db.execute("BEGIN")
        spool.db.executemany(
            "UPDATE pages SET warc_file = ? WHERE record_id = ?",
            [(ref.filename, rid) for rid, ref in moved.items()],
        )
