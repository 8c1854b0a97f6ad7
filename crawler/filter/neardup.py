"""Near-duplicates of reserved works among the pages ``tdmcrawl filter`` would keep.

The reserved-works index holds the registry's works and every reserved page
of the inputs; kept pages' fingerprints (never their text) wait in a scratch
file until the index is complete, so a copy read before its reserved
original is still found.

Text extraction and fingerprinting, most of a filter's time, run in worker
processes (``workers`` > 0, ``TDMCRAWL_WORKERS``) while the main process reads
and decides: pages go in batches, and their fingerprints are applied in the
order the pages were read, so the index and the spool are the ones a single
process builds, entry for entry. A worker that fails stops the run
(:class:`FilterError`) before anything is copied: no page is kept without its
verdict.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

from tdmcrawl.crawler.errors import FilterError
from tdmcrawl.crawler.filter.options import FilterResult
from tdmcrawl.crawler.filter.read import RecordEntry

# The crawl's index and reason wording: `tdmcrawl audit` reads both runs alike.
from tdmcrawl.crawler.reserved import CRAWL_PREFIX, ReservedWorks, match_reasons
from tdmcrawl.dedup import (
    DedupConfig,
    Fingerprint,
    document_kind,
    document_text,
    extract_main_text,
    extract_query_text,
    fingerprint,
)
from tdmcrawl.optout.decision import Decision

Exclude = Callable[[RecordEntry, Decision], None]

BATCH = 32  # pages per worker job: fewer, larger messages
BATCH_BYTES = 16 << 20  # or fewer pages, when their bodies are this large
IN_FLIGHT = 4  # batches queued per worker: bounds the bodies held in memory


def page_fingerprint(
    url: str, body: bytes, config: DedupConfig, *, query: bool = False
) -> Fingerprint | None:
    """A reserved page's fingerprint (index side) or a kept page's (``query``: the faster
    extractor, no positions; see ``dedup.extract``)."""
    kind = document_kind(None, body, url)
    if kind:
        text = document_text(body, kind)
    else:
        text = extract_query_text(body, url) if query else extract_main_text(body, url)
    return fingerprint(text, config, positions=not query)


def _fingerprint_batch(
    config: DedupConfig, jobs: list[tuple[str, bytes, bool]]
) -> list[Fingerprint | None]:
    """A worker's job: the fingerprints of a batch of (url, body, query) pages."""
    return [page_fingerprint(url, body, config, query=query) for url, body, query in jobs]


def _pool(workers: int) -> ProcessPoolExecutor:
    # fork: the workers start at once with the parent's imports (trafilatura, resiliparse).
    # The parent has threads by then (the audit writer), but a worker takes none of their
    # locks (it extracts and fingerprints; logging re-creates its locks in a forked
    # child) and leaves by os._exit. A fork server was measured too: the same safety
    # without the argument, and 1.5 s more a run for its clean interpreter's imports.
    method = "fork" if sys.platform.startswith("linux") else None
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method))


class NearDuplicates:
    """Reserved-works index (registry works + reserved pages of the inputs) and the
    fingerprints of kept pages in a scratch file, checked once the index is complete."""

    def __init__(
        self, index: Any, scratch: Path, *, reopen: bool = False, workers: int = 0
    ) -> None:
        self.index = index
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self._batch: list[tuple[RecordEntry | None, str, bytes, bool]] = []
        self._batch_bytes = 0
        # Batches sent, in the order their pages were read: (entry or None, url, query) each.
        self._pending: deque[
            tuple[list[tuple[RecordEntry | None, str, bool]], Future[list[Any]]]
        ] = deque()
        self.spool_path = scratch / "kept-fingerprints.bin"
        # reopen: the spool a Dask task wrote, checked by another (crawler/filter/parallel.py)
        mode = "r+b" if reopen else "w+b"
        self._spool = open(self.spool_path, mode)  # noqa: SIM115 - closed in close()
        self.kept: list[tuple[RecordEntry, int, int]] = []
        self._spool_end: int | None = None  # where the next fingerprint goes (None: seek)

    @classmethod
    def open(
        cls, scratch: Path, registry: Any, result: FilterResult, workers: int = 0
    ) -> NearDuplicates:
        """The index with the registry's works in it."""
        index = ReservedWorks.in_memory(scratch / "reserved-shingles.bin")
        if registry is not None:
            index.load_registry(registry, result.notes.append)
        return cls(index, scratch, workers=workers)

    def _fingerprint(self, url: str, body: bytes, *, query: bool = False) -> Any:
        return page_fingerprint(url, body, self.index.config, query=query)

    def reserve(self, url: str, body: bytes) -> None:
        """Add a reserved page's text to the index."""
        if self.workers:
            self._submit(None, url, body, False)
        else:
            self._add_reserved(url, self._fingerprint(url, body))

    def spool(self, entry: RecordEntry, body: bytes) -> None:
        """Keep a kept page's fingerprint for :meth:`release`."""
        if self.workers:
            self._submit(entry, entry.uri, body, True)
        else:
            self._spool_fingerprint(entry, self._fingerprint(entry.uri, body, query=True))

    def _add_reserved(self, url: str, fp: Any) -> None:
        if fp is not None and CRAWL_PREFIX + url not in self.index:
            self.index.add(CRAWL_PREFIX + url, fp)

    def _spool_fingerprint(self, entry: RecordEntry, fp: Any) -> None:
        if fp is None:
            return
        data = fp.to_bytes()
        if self._spool_end is None:
            self._spool_end = self._spool.seek(0, os.SEEK_END)
        start = self._spool_end
        self._spool.write(data)  # at the end: only release() moves the position, after this
        self._spool_end += len(data)
        self.kept.append((entry, start, len(data)))

    # -- worker processes ------------------------------------------------------------------

    def _submit(self, entry: RecordEntry | None, url: str, body: bytes, query: bool) -> None:
        self._batch.append((entry, url, body, query))
        self._batch_bytes += len(body)
        if len(self._batch) >= BATCH or self._batch_bytes >= BATCH_BYTES:
            self._send()

    def _send(self) -> None:
        if not self._batch:
            return
        if self._executor is None:
            self._executor = _pool(self.workers)
        jobs = [(url, body, query) for _, url, body, query in self._batch]
        pages = [(entry, url, query) for entry, url, _, query in self._batch]
        self._batch, self._batch_bytes = [], 0
        future: Future[list[Any]]
        if len(self._pending) >= IN_FLIGHT * self.workers and not self._pending[0][1].done():
            # The workers are behind: this batch is done here rather than waited for (its
            # fingerprints still go in in read order, after those of the batches before it).
            future = Future()
            future.set_result(_fingerprint_batch(self.index.config, jobs))
        else:
            try:
                future = self._executor.submit(_fingerprint_batch, self.index.config, jobs)
            except Exception as exc:  # a broken pool refuses new work
                raise _worker_failed(exc) from exc
        self._pending.append((pages, future))
        # Apply what is done, in order; wait for the oldest when too much is under way.
        while self._pending and (
            self._pending[0][1].done() or len(self._pending) > 2 * IN_FLIGHT * self.workers
        ):
            self._apply_oldest()

    def _apply_oldest(self) -> None:
        pages, future = self._pending.popleft()
        try:
            fps = future.result()
        except Exception as exc:
            raise _worker_failed(exc) from exc
        for (entry, url, query), fp in zip(pages, fps, strict=True):
            if query and entry is not None:
                self._spool_fingerprint(entry, fp)
            else:
                self._add_reserved(url, fp)

    def finish(self) -> None:
        """Wait for every page sent to the workers and apply their fingerprints."""
        self._send()
        while self._pending:
            self._apply_oldest()

    def _stop_workers(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def release(self, exclude: Exclude, batch: int = 256) -> int:
        """Check every spooled page against the complete index; returns pages dropped."""
        self.finish()
        self._stop_workers()
        self._spool_end = None  # the reads below move the position
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
        self._stop_workers()
        self._spool.close()
        if index:
            self.index.close()


def _worker_failed(exc: BaseException) -> FilterError:
    return FilterError(
        f"a near-duplicate worker failed ({type(exc).__name__}: {exc}): stopped before any "
        "record was copied, no page is kept without its near-duplicate verdict"
    )
