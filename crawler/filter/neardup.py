"""Near-duplicates of reserved works among the pages ``tdmcrawl filter`` would keep.

The reserved-works index holds the registry's works and every reserved page
of the inputs; kept pages' fingerprints (never their text) wait in a scratch
file until the index is complete, so a copy read before its reserved
original is still found.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tdmcrawl.crawler.filter.options import FilterResult
from tdmcrawl.crawler.filter.read import RecordEntry

# The crawl's index and reason wording: `tdmcrawl audit` reads both runs alike.
from tdmcrawl.crawler.reserved import CRAWL_PREFIX, ReservedWorks, match_reasons
from tdmcrawl.dedup import (
    Fingerprint,
    document_kind,
    document_text,
    extract_main_text,
    extract_query_text,
    fingerprint,
)
from tdmcrawl.optout.decision import Decision

Exclude = Callable[[RecordEntry, Decision], None]


class NearDuplicates:
    """Reserved-works index (registry works + reserved pages of the inputs) and the
    fingerprints of kept pages in a scratch file, checked once the index is complete."""

    def __init__(self, index: Any, scratch: Path, *, reopen: bool = False) -> None:
        self.index = index
        self.spool_path = scratch / "kept-fingerprints.bin"
        # reopen: the spool a Dask task wrote, checked by another (crawler/filter/parallel.py)
        mode = "r+b" if reopen else "w+b"
        self._spool = open(self.spool_path, mode)  # noqa: SIM115 - closed in close()
        self.kept: list[tuple[RecordEntry, int, int]] = []

    @classmethod
    def open(cls, scratch: Path, registry: Any, result: FilterResult) -> NearDuplicates:
        """The index with the registry's works in it."""
        index = ReservedWorks.in_memory(scratch / "reserved-shingles.bin")
        if registry is not None:
            index.load_registry(registry, result.notes.append)
        return cls(index, scratch)

    def _fingerprint(self, url: str, body: bytes, *, query: bool = False) -> Any:
        """A reserved page's fingerprint (index side) or a kept page's (``query``: the faster
        extractor, no positions; see ``dedup.extract``)."""
        kind = document_kind(None, body, url)
        if kind:
            text = document_text(body, kind)
        else:
            text = extract_query_text(body, url) if query else extract_main_text(body, url)
        return fingerprint(text, self.index.config, positions=not query)

    def reserve(self, url: str, body: bytes) -> None:
        """Add a reserved page's text to the index."""
        fp = self._fingerprint(url, body)
        if fp is not None and CRAWL_PREFIX + url not in self.index:
            self.index.add(CRAWL_PREFIX + url, fp)

    def spool(self, entry: RecordEntry, body: bytes) -> None:
        """Keep a kept page's fingerprint for :meth:`release`."""
        fp = self._fingerprint(entry.uri, body, query=True)
        if fp is None:
            return
        data = fp.to_bytes()
        start = self._spool.seek(0, os.SEEK_END)
        self._spool.write(data)
        self.kept.append((entry, start, len(data)))

    def release(self, exclude: Exclude, batch: int = 256) -> int:
        """Check every spooled page against the complete index; returns pages dropped."""
        if not len(self.index):
            return 0
        dropped = 0
        for start in range(0, len(self.kept), batch):
            chunk = [
                item for item in self.kept[start : start + batch] if item[0].decision is not None
            ]
            fps = []
            for _, offset, size in chunk:
                self._spool.seek(offset)
                fps.append(Fingerprint.from_bytes(self._spool.read(size)))
            for (entry, _, _), matches in zip(chunk, self.index.matches(fps), strict=True):
                matches = [m for m in matches if m.key != CRAWL_PREFIX + entry.uri]
                if matches and entry.decision is not None:
                    reasons = match_reasons(matches)
                    exclude(entry, entry.decision.merge(Decision(entry.uri, reasons)))
                    dropped += 1
        return dropped

    def close(self, *, index: bool = True) -> None:
        self._spool.close()
        if index:
            self.index.close()
