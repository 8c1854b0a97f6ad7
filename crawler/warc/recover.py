"""Recovering the WARC files a killed process left open (one recovery for crawl and tests).

A clean stop closes and renames every file. A kill leaves ``*.warc.gz.open``
files whose last gzip member may be cut, and whose last page may lack some of
its records. Recovery keeps each open file up to its last complete page, runs
the same ``before_close`` veto a normal close runs (the near-duplicate release
check), hands the pages it keeps to ``before_rename`` (the caller makes the
audit match them, durably, before the file counts as finished), renames the
file, and returns those pages, so they are never written again. A kill during
a rewrite leaves a ``*.rewrite`` temporary file (the original is intact): it
is deleted.
"""

from __future__ import annotations

import logging
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from tdmcrawl.crawler.errors import WarcOutputError
from tdmcrawl.crawler.warc.records import decision_from_metadata
from tdmcrawl.crawler.warc.rewrite import pending_pages, rewrite_without
from tdmcrawl.crawler.warc.writer import BeforeClose
from tdmcrawl.optout.decision import Decision

logger = logging.getLogger(__name__)

OPEN_SUFFIX = ".open"
PAGE_RECORDS = 3  # output WARC: response, request, metadata
EVIDENCE_RECORDS = 2  # evidence WARC: response, request


@dataclass(frozen=True)
class RecoveredPage:
    url: str
    warc_file: str  # final file name, as the audit records it
    offset: int
    record_id: str
    decision: Decision | None  # from the metadata record (None in evidence files)


# (.open path, final file name, the pages it keeps) before the rename; [] before a file
# with no complete page is deleted
RecoveredHook = Callable[[Path, str, list[RecoveredPage]], None]


@dataclass
class Recovery:
    files: list[Path] = field(default_factory=list)  # finalised files, in name order
    pages: list[RecoveredPage] = field(default_factory=list)  # pages kept in them


def recover_open_files(
    directory: Path | str,
    *,
    records_per_page: int = PAGE_RECORDS,
    before_close: BeforeClose | None = None,
    before_rename: RecoveredHook | None = None,
) -> Recovery:
    """Finalise every ``.warc.gz.open`` file in ``directory``; see the module docstring.

    A page counts as complete with ``records_per_page`` records (its response
    and the records concurrent to it). A file left with no page is deleted.
    """
    recovery = Recovery()
    for leftover in Path(directory).glob("*.rewrite"):
        leftover.unlink(missing_ok=True)  # a rewrite cut by the kill; its source is intact
    for open_path in sorted(Path(directory).glob(f"*.warc.gz{OPEN_SUFFIX}")):
        final = open_path.with_name(open_path.name.removesuffix(OPEN_SUFFIX))
        end = _complete_members_end(open_path)
        if end < open_path.stat().st_size:
            os.truncate(open_path, end)
        pages = pending_pages(open_path) if end else []
        complete = [p for p in pages if len(p.record_ids) >= records_per_page]
        if len(complete) < len(pages):
            rewrite_without(open_path, {p.record_ids[0] for p in pages if p not in complete})
        vetoes = set(before_close(open_path, complete)) if before_close and complete else set()
        kept = [p for p in complete if not vetoes.intersection(p.record_ids)]
        if not kept:
            if before_rename is not None:
                before_rename(open_path, final.name, [])
            open_path.unlink()
            continue
        if len(kept) < len(complete):
            rewrite_without(open_path, {p.record_ids[0] for p in complete if p not in kept})
        pages_kept = _recovered(open_path, final.name, {p.record_ids[0] for p in kept})
        if before_rename is not None:
            before_rename(open_path, final.name, pages_kept)
        recovery.pages += pages_kept
        os.replace(open_path, final)
        recovery.files.append(final)
        logger.warning("recovered %s: %d complete page(s)", final.name, len(kept))
    return recovery


def _recovered(path: Path, final_name: str, responses: set[str]) -> list[RecoveredPage]:
    """The pages ``responses`` with their offsets (after any rewrite) and decisions."""
    found: dict[str, RecoveredPage] = {}
    order: list[str] = []
    with open(path, "rb") as stream:
        records = ArchiveIterator(stream)
        for record in records:
            headers = record.rec_headers
            record_id = headers.get_header("WARC-Record-ID") or ""
            if record.rec_type == "response" and record_id in responses:
                url = headers.get_header("WARC-Target-URI") or ""
                found[record_id] = RecoveredPage(
                    url, final_name, records.get_record_offset(), record_id, None
                )
                order.append(record_id)
            elif record.rec_type == "metadata":
                parent = headers.get_header("WARC-Concurrent-To")
                if parent in found:
                    page = found[parent]
                    found[parent] = RecoveredPage(
                        page.url,
                        page.warc_file,
                        page.offset,
                        page.record_id,
                        _decision(record.content_stream().read(), page.url),
                    )
    return [found[record_id] for record_id in order]


def _decision(body: bytes, url: str) -> Decision:
    try:
        return decision_from_metadata(body)
    except (WarcOutputError, ValueError, KeyError, UnicodeDecodeError):
        return Decision(url=url, warnings=("decision JSON unreadable after recovery",))


def _complete_members_end(path: Path) -> int:
    """Byte length of the file's leading run of complete gzip members."""
    good = position = 0
    decomp = zlib.decompressobj(zlib.MAX_WBITS | 16)
    try:
        with open(path, "rb") as stream:
            while chunk := stream.read(1 << 20):
                while chunk:
                    decomp.decompress(chunk)  # output discarded: only completeness matters
                    if not decomp.eof:
                        position += len(chunk)
                        break
                    position += len(chunk) - len(decomp.unused_data)
                    good = position
                    chunk = decomp.unused_data
                    decomp = zlib.decompressobj(zlib.MAX_WBITS | 16)
    except zlib.error:
        pass  # a damaged member ends the readable part
    return good
