"""Near-duplicates of reserved works among the pages ``tdmcrawl filter`` would keep.

The reserved-works index holds the registry's works and every reserved page
of the inputs; kept pages' fingerprints (never their text) wait in a scratch
file until the index is complete, so a copy read before its reserved
original is still found.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crawler.filter_options import FilterResult
from crawler.filter_read import RecordEntry

# The crawl's index keys and reason wording: `tdmcrawl audit` reads both runs alike.
from crawler.neardup import CRAWL_PREFIX as CRAWL_KEY
from crawler.neardup import REGISTRY_PREFIX as REGISTRY_KEY
from crawler.neardup import match_reasons
from optout.decision import Decision

Exclude = Callable[[RecordEntry, Decision], None]


class NearDuplicates:
    """Reserved-works index (registry works + reserved pages of the inputs) and the
    fingerprints of kept pages in a scratch file, checked once the index is complete."""

    def __init__(self, index: Any, scratch: Path) -> None:
        self.index = index
        self.spool_path = scratch / "kept-fingerprints.bin"
        self._spool = open(self.spool_path, "w+b")  # noqa: SIM115 - closed in close()
        self.kept: list[tuple[RecordEntry, int, int]] = []

    @classmethod
    def open(cls, scratch: Path, registry: Any, result: FilterResult) -> NearDuplicates | None:
        """The index with the registry's works in it; None (and a note) without ``dedup``."""
        try:
            from dedup import DEFAULT_CONFIG, Fingerprint, MemoryIndex
        except ImportError as exc:  # dedup is optional for the filter
            result.notes.append(f"near-duplicate check off: dedup unavailable ({exc})")
            return None
        index = MemoryIndex(DEFAULT_CONFIG, shingle_file=scratch / "reserved-shingles.bin")
        if registry is not None:
            identity = DEFAULT_CONFIG.identity
            works = []
            for work in registry.content_works(config_identity=identity):
                with contextlib.suppress(Exception):  # a damaged stored fingerprint
                    fp = Fingerprint.from_bytes(work.fingerprint)
                    works.append((REGISTRY_KEY + work.work_id, fp))
            if works:
                index.add_many(works)
            stale = registry.stale_works(identity)
            if stale:
                result.notes.append(f"{stale} registered work file(s) lack a fingerprint for "
                                    "this config: run `tdmcrawl registry reindex`")
        return cls(index, scratch)

    def _fingerprint(self, url: str, body: bytes) -> Any:
        from dedup import extract_main_text, fingerprint

        return fingerprint(extract_main_text(body, url), self.index.config)

    def reserve(self, url: str, body: bytes) -> None:
        """Add a reserved page's text to the index."""
        fp = self._fingerprint(url, body)
        if fp is not None and CRAWL_KEY + url not in self.index:
            self.index.add(CRAWL_KEY + url, fp)

    def spool(self, entry: RecordEntry, body: bytes) -> None:
        """Keep a kept page's fingerprint for :meth:`release`."""
        fp = self._fingerprint(entry.uri, body)
        if fp is None:
            return
        data = fp.to_bytes()
        start = self._spool.seek(0, os.SEEK_END)
        self._spool.write(data)
        self.kept.append((entry, start, len(data)))

    def release(self, exclude: Exclude, batch: int = 256) -> int:
        """Check every spooled page against the complete index; returns pages dropped."""
        from dedup import Fingerprint

        if not len(self.index):
            return 0
        dropped = 0
        for start in range(0, len(self.kept), batch):
            chunk = [item for item in self.kept[start:start + batch]
                     if item[0].decision is not None]
            fps = []
            for _, offset, size in chunk:
                self._spool.seek(offset)
                fps.append(Fingerprint.from_bytes(self._spool.read(size)))
            for (entry, _, _), matches in zip(chunk, self.index.query_many(fps), strict=True):
                matches = [m for m in matches if m.key != CRAWL_KEY + entry.uri]
                if matches and entry.decision is not None:
                    reasons = match_reasons(matches)
                    exclude(entry, entry.decision.merge(Decision(entry.uri, reasons)))
                    dropped += 1
        return dropped

    def close(self) -> None:
        self._spool.close()
        closer = getattr(self.index, "close", None)
        if closer is not None:
            closer()

