"""Reading a finished WARC file's layout, and rewriting it without some pages.

Records are located by offset and copied byte for byte (their gzip members
untouched), so a rewrite never re-serialises what it keeps.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArchiveLoadFailed

from tdmcrawl.crawler.errors import WarcOutputError
from tdmcrawl.crawler.warc.records import WarcRef


@dataclass
class PendingPage:
    """A page written to a file that is not finalised yet (what a veto hook sees)."""

    url: str
    record_ids: tuple[str, ...]  # response first, then request and metadata
    ref: WarcRef  # of the response record


class _Entry(NamedTuple):
    offset: int
    record_id: str
    concurrent: tuple[str, ...]
    rec_type: str
    target: str


def _scan(path: Path) -> list[_Entry]:
    """Every record's offset, id, concurrent-to ids, type and target, in file order."""
    out: list[_Entry] = []
    try:
        with open(path, "rb") as stream:
            iterator = ArchiveIterator(stream)
            for record in iterator:
                if record.format != "warc":  # warcio reads most garbage as an ARC record
                    raise WarcOutputError(f"cannot read WARC file {path}: not WARC records")
                headers = record.rec_headers
                concurrent = tuple(
                    value for name, value in headers.headers if name == "WARC-Concurrent-To"
                )
                out.append(
                    _Entry(
                        iterator.get_record_offset(),
                        headers.get_header("WARC-Record-ID"),
                        concurrent,
                        record.rec_type,
                        headers.get_header("WARC-Target-URI") or "",
                    )
                )
    except (OSError, ValueError, EOFError, zlib.error, ArchiveLoadFailed) as exc:
        raise WarcOutputError(f"cannot read WARC file {path}: {exc}") from exc
    if not out and path.stat().st_size:
        raise WarcOutputError(f"cannot read WARC file {path}: no WARC record found")
    return out


def record_offsets(path: Path | str) -> dict[str, int]:
    """Record id -> byte offset, e.g. to update audit rows after a rewrite."""
    return {entry.record_id: entry.offset for entry in _scan(Path(path))}


def _dropped(entry: _Entry, drop: set[str]) -> bool:
    return entry.record_id in drop or bool(drop.intersection(entry.concurrent))


def _copy_entries(path: Path, entries: list[_Entry], keep: list[bool]) -> None:
    size = path.stat().st_size
    bounds = [entry.offset for entry in entries] + [size]
    temporary = path.with_name(path.name + ".rewrite")
    with open(path, "rb") as source, open(temporary, "wb") as target:
        for index, entry in enumerate(entries):
            if keep[index]:
                source.seek(entry.offset)
                target.write(source.read(bounds[index + 1] - entry.offset))
        target.flush()
        os.fsync(target.fileno())
    os.replace(temporary, path)


def rewrite_without(path: Path | str, record_ids: Iterable[str]) -> Path:
    """Remove records, and every record concurrent to them, from a WARC file in place.

    The other records are copied byte for byte (their gzip members untouched);
    the new file replaces the old one atomically. Returns ``path``.
    """
    path = Path(path)
    drop = set(record_ids)
    entries = _scan(path)
    keep = [not _dropped(entry, drop) for entry in entries]
    if all(keep):
        return path
    _copy_entries(path, entries, keep)
    return path


def pending_pages(path: Path | str) -> list[PendingPage]:
    """The pages (response + concurrent records) of a WARC file, as a veto hook sees them."""
    path = Path(path)
    entries = _scan(path)
    final_name = path.name.removesuffix(".open")
    pages: dict[str, PendingPage] = {}
    for entry in entries:
        if entry.rec_type == "response":
            ref = WarcRef(final_name, entry.offset, entry.record_id)
            pages[entry.record_id] = PendingPage(entry.target, (entry.record_id,), ref)
        for parent in entry.concurrent:
            if parent in pages:
                page = pages[parent]
                page.record_ids = (*page.record_ids, entry.record_id)
    return list(pages.values())
