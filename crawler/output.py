"""The last item pipeline: kept pages become WARC records and an audit ``kept`` row.

It runs after every gate, so only pages that passed them all reach a WARC
file. Only successful (2xx) responses of the text types
(``TDMCRAWL_TEXT_TYPES``) are written; anything else is counted and passed on.
A page whose decision is not ``allowed`` is never written, whatever put it here.

Before a WARC file is renamed, every page in it has its ``kept`` row committed
(at its offset after any release rewrite): a kill can leave pages without rows
only in a ``.open`` file, which the recovery on ``--resume`` audits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from tdmcrawl.crawler import settings as tds
from tdmcrawl.crawler.audit.db import move_kept
from tdmcrawl.crawler.items import PageItem
from tdmcrawl.crawler.provenance import warcinfo_fields
from tdmcrawl.crawler.session import STEP_OUTPUT, CrawlSession
from tdmcrawl.crawler.warc.capture import Capture
from tdmcrawl.crawler.warc.records import WarcRef
from tdmcrawl.crawler.warc.rewrite import PendingPage, record_offsets
from tdmcrawl.crawler.warc.writer import BeforeClose, RotatingWarcWriter
from tdmcrawl.optout.decision import Decision

logger = logging.getLogger(__name__)


class WarcOutputPipeline:
    """Writes each kept :class:`~crawler.items.PageItem` as response, request, metadata."""

    def __init__(
        self,
        out_dir: Path | str,
        *,
        warcinfo: dict[str, str],
        prefix: str = "tdmcrawl",
        max_size: int = 1_000_000_000,
        text_types: list[str] | None = None,
        stats: Any = None,
        session_getter: Callable[[], CrawlSession | None] | None = None,
        before_close: BeforeClose | None = None,
    ) -> None:
        self.out_dir = Path(out_dir)
        self.text_types = {t.lower() for t in (text_types or ["text/html", "text/plain"])}
        self.stats = stats
        self._session_getter = session_getter or (lambda: None)
        self.writer = RotatingWarcWriter(
            self.out_dir / "warc",
            warcinfo=warcinfo,
            prefix=prefix,
            max_size=max_size,
            before_close=before_close,
            before_rename=self._before_rename,
        )
        self._vetoed_ids: set[str] = set()  # response ids cut out at release
        # The decision of the page being written, and the response id of the last page
        # audited: a write that closes its own file audits its page before the rename.
        self._writing: Decision | None = None
        self._last_audited = ""
        self._audited_early: set[str] = set()
        self._final_done = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcOutputPipeline:
        settings = crawler.settings
        if not tds.getbool(settings, "TDMCRAWL_OUTPUT"):
            raise NotConfigured("TDMCRAWL_OUTPUT is off")
        try:
            max_size = int(tds.get(settings, "TDMCRAWL_WARC_MAX_SIZE"))
        except (TypeError, ValueError) as exc:
            raise NotConfigured(f"TDMCRAWL_WARC_MAX_SIZE must be a number of bytes: {exc}") from exc
        if max_size <= 0:
            raise NotConfigured(f"TDMCRAWL_WARC_MAX_SIZE must be positive, got {max_size}")
        pipeline = cls(
            tds.get(settings, "TDMCRAWL_OUT_DIR"),
            warcinfo=warcinfo_fields(settings),
            prefix=str(tds.get(settings, "TDMCRAWL_WARC_PREFIX")),
            max_size=max_size,
            text_types=tds.getlist(settings, "TDMCRAWL_TEXT_TYPES"),
            stats=crawler.stats,
            session_getter=lambda: CrawlSession.of(crawler),
        )
        pipeline.writer.before_close = pipeline._release_check
        # Pages come from the session (crawler.pages), not from the item stream; Scrapy still
        # opens and closes this pipeline, before the session closes the audit.
        session = CrawlSession.of(crawler)
        session.add_page_step(STEP_OUTPUT, pipeline.process_item)
        if pipeline.writer.takes_prebuilt:
            session.current_warcinfo = lambda: pipeline.writer.current_warcinfo_id
        # close_spider is not reached when the engine stops early: close on both.
        crawler.signals.connect(pipeline.close_spider, signal=signals.engine_stopped)
        return pipeline

    def open_spider(self) -> None:
        self.writer.directory.mkdir(parents=True, exist_ok=True)

    def close_spider(self) -> None:
        self.writer.close()
        if not self._final_done:
            # The end-of-crawl release step: files closed earlier, against the final index.
            self._final_done = True
            session = self._session_getter()
            for hook in session.final_release_hooks if session is not None else ():
                hook(self.writer.directory)
        if self.stats is not None:
            files = [p for p in self.writer.finished if p.exists()]
            self.stats.set_value("tdmcrawl/warc/files", len(files))

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, PageItem):
            return item  # a project's own item: Scrapy hands it to every pipeline
        capture: Capture | None = getattr(item, "capture", None)
        decision = getattr(item, "decision", None)
        if capture is None or decision is None:
            self._count("skipped/no-capture")
            return item
        if not decision.allowed:
            # A gate upstream let a reserved page through: refuse, loudly.
            logger.error("tdmcrawl: not writing reserved page %s to WARC", item.url)
            self._count("skipped/reserved")
            return item
        if not 200 <= capture.status < 300:
            self._count("skipped/status")
            return item
        if capture.content_type not in self.text_types:
            self._count("skipped/content-type")
            return item
        self._writing = decision
        prepared = getattr(item, "prepared", None)
        prebuilt = prepared.record if prepared is not None and not prepared.error else None
        try:
            ref = self.writer.write_page(capture, decision, prebuilt=prebuilt)
        finally:
            self._writing = None
        if ref.record_id in self._vetoed_ids:
            # Its own write closed the file, and the release step cut it out.
            self._vetoed_ids.discard(ref.record_id)
            self._audited_early.discard(ref.record_id)
            return item
        self._count("pages")
        if ref.record_id in self._audited_early:
            self._audited_early.discard(ref.record_id)  # audited when its write closed the file
            return item
        self._audit_kept(item.url, ref, decision)
        return item

    def _release_check(self, path: Path, pages: list[PendingPage]) -> set[str]:
        """Ask the session's release hooks which pages must not leave (near-copies found late).

        Each hook is ``hook(path, pages) -> iterable of record ids`` and audits
        what it vetoes (stage "release"); the writer cuts those pages out.
        """
        last = pages[-1] if pages else None
        if (
            self._writing is not None
            and last is not None
            and last.ref.record_id != self._last_audited
        ):
            # This page's own write filled the file: audit it now, before the rename
            # (a vetoed page's row is dropped again by the release step).
            self._audit_kept(last.url, last.ref, self._writing)
            self._audited_early.add(last.ref.record_id)
        session = self._session_getter()
        vetoed: set[str] = set()
        for hook in session.release_hooks if session is not None else ():
            vetoed.update(hook(path, pages))
        if vetoed:
            gone = [p for p in pages if vetoed.intersection(p.record_ids)]
            self._count("vetoed", len(gone))
            self._vetoed_ids = {p.ref.record_id for p in gone}
        return vetoed

    def _before_rename(self, path: Path, kept: list[PendingPage], gone: list[PendingPage]) -> None:
        """The audit is made durable before the file is renamed: rows moved to their
        records' offsets after a rewrite at release, then every queued row committed."""
        session = self._session_getter()
        audit = session.audit if session is not None else None
        if audit is None:
            return
        final_name = path.name.removesuffix(".open")
        if gone:
            offsets = record_offsets(path)
            move_kept(
                audit,
                final_name,
                {
                    p.ref.record_id: offsets[p.ref.record_id]
                    for p in kept
                    if p.ref.record_id in offsets
                },
            )
        audit.flush()

    def _audit_kept(self, url: str, ref: WarcRef, decision: Any) -> None:
        session = self._session_getter()
        audit = session.audit if session is not None else None
        self._last_audited = ref.record_id
        if audit is None:
            return
        audit.record_kept(
            url,
            warc_file=ref.filename,
            offset=ref.offset,
            record_id=ref.record_id,
            decision=decision,
        )

    def _count(self, key: str, count: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"tdmcrawl/warc/{key}", count)
