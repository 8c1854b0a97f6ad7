"""The per-crawl shared objects: audit log, evidence WARC, policy, registry, hooks.

One ``CrawlSession`` exists per Scrapy crawler, reachable as
``crawler.tdmcrawl_session`` from every middleware, pipeline and extension the
add-on installs. It opens its resources when the spider opens and closes them
exactly once, whichever of ``spider_closed`` or ``engine_stopped`` comes first
(a Ctrl-C goes through the same path), so WARC files are renamed and the audit
committed even when a crawl is interrupted.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro

from tdmcrawl.crawler import settings as tdm_settings
from tdmcrawl.crawler.audit.db import AuditLog
from tdmcrawl.crawler.items import PageItem
from tdmcrawl.crawler.provenance import settings_snapshot, versions, warcinfo_fields
from tdmcrawl.crawler.warc.capture import Capture
from tdmcrawl.crawler.warc.records import WarcRef
from tdmcrawl.crawler.warc.recover import EVIDENCE_RECORDS, RecoveredPage, recover_open_files
from tdmcrawl.crawler.warc.writer import EvidenceWriter
from tdmcrawl.optout.decision import Decision
from tdmcrawl.optout.origins import Origin
from tdmcrawl.optout.policy import PolicyConfig
from tdmcrawl.registry import RegistryReader

logger = logging.getLogger(__name__)

ReservedHook = Callable[[str, str, Decision], None]
# (path of the .open WARC file, its PendingPages) -> record ids to cut out before the rename
ReleaseHook = Callable[[Path, list[Any]], Iterable[str]]
# the output WARC directory, once its writer closed: the end-of-crawl release step
FinalReleaseHook = Callable[[Path], Any]

STAT_PREFIX = "tdmcrawl"


# What the session needs of the components that register themselves on it (they import
# this module, so it names them by what they do, not by their classes).
class OriginCache(Protocol):
    async def origin(self, key: Origin) -> Any: ...


class ReleaseGate(Protocol):
    recovering: Path | None

    def open(self) -> None: ...

    def release_file(self, path: Path, pages: list[Any]) -> set[str]: ...


class CrawlSession:
    """Scrapy extension owning what one crawl shares; see the module docstring."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        settings = crawler.settings
        self.settings = settings
        self.out_dir = Path(str(tdm_settings.get(settings, "TDMCRAWL_OUT_DIR")))
        self.crawl_id: str | None = settings.get("TDMCRAWL_CRAWL_ID")
        self.output_enabled = tdm_settings.getbool(settings, "TDMCRAWL_OUTPUT")
        self.audit_enabled = tdm_settings.getbool(settings, "TDMCRAWL_AUDIT")
        self.audit: AuditLog | None = None
        self.evidence: EvidenceWriter | None = None
        self.registry: RegistryReader | None = None
        self.origin_gate: OriginCache | None = None  # the origin gate, when installed
        self.reserved_hooks: list[ReservedHook] = []
        # The near-duplicate release step (crawler.neardup), run by the WARC output.
        self.release_hooks: list[ReleaseHook] = []
        self.final_release_hooks: list[FinalReleaseHook] = []
        self.neardup: ReleaseGate | None = None  # the near-duplicate gate, when installed
        self.recovered_pages: list[RecoveredPage] = []  # after a kill
        # URLs already written to WARC (filled from the audit on --resume, then as items pass).
        self.kept_urls: set[str] = set()
        # host -> Crawl-delay in seconds, applied by the throttle (crawler.politeness).
        self.crawl_delays: dict[str, float] = {}
        self.excluded: Counter[tuple[str, str]] = Counter()  # (stage, reason) -> count
        self.kept = 0
        self.error: str | None = None  # why the session could not open; the gates then refuse all
        self._policy: PolicyConfig | None = None
        self._opened = False
        self._closed = False

    # -- lifecycle ---------------------------------------------------------

    @classmethod
    def of(cls, crawler: Any) -> CrawlSession:
        """The crawler's session, created on first use (components load in any order)."""
        session = getattr(crawler, "tdmcrawl_session", None)
        if session is None:
            session = cls(crawler)
            crawler.tdmcrawl_session = session
        return session

    @classmethod
    def from_crawler(cls, crawler: Any) -> CrawlSession:
        session = cls.of(crawler)
        crawler.signals.connect(session.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(session.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(session.engine_stopped, signal=signals.engine_stopped)
        crawler.signals.connect(session.item_scraped, signal=signals.item_scraped)
        return session

    @property
    def policy(self) -> PolicyConfig:
        """The ``optout.PolicyConfig`` of this crawl (built on first use)."""
        if self._policy is None:
            self._policy = tdm_settings.policy_config(self.settings)
        return self._policy

    def spider_opened(self, spider: Any) -> None:
        try:
            self.open(seeds=list(getattr(spider, "start_urls", []) or []))
        except Exception as exc:
            # Signal handlers' errors are only logged by Scrapy: fail closed instead.
            self.error = f"{type(exc).__name__}: {exc}"
            logger.error("tdmcrawl: cannot start the crawl: %s", self.error)
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="tdmcrawl-error"))

    def open(self, seeds: list[str] | None = None) -> None:
        if self._opened:
            return
        self._opened = True
        _ = self.policy  # a bad token or switch fails here, before any request
        registry_path = self.settings.get("TDMCRAWL_REGISTRY")
        if registry_path:
            self.registry = _open_registry(Path(str(registry_path)))
        if self.output_enabled or self.audit_enabled:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.audit_enabled:
            self.audit = AuditLog.open(self.out_dir / "audit.sqlite")
            self.crawl_id = self.audit.start_crawl(
                settings=settings_snapshot(self.settings),
                versions=versions(),
                seeds=seeds or [],
                crawl_id=self.crawl_id,
            )
            if tdm_settings.getbool(self.settings, "TDMCRAWL_RESUME"):
                self.kept_urls.update(self.audit.kept_urls(self.crawl_id))
        if tdm_settings.getbool(self.settings, "TDMCRAWL_REFETCH_KEPT"):
            self._recover_killed_crawl()
        if self.output_enabled:
            self.evidence = EvidenceWriter(
                self.out_dir / "evidence",
                warcinfo=warcinfo_fields(self.settings),
                prefix=f"{tdm_settings.get(self.settings, 'TDMCRAWL_WARC_PREFIX')}-evidence",
            )
        self._stats_set("crawl_id", self.crawl_id)

    def _recover_killed_crawl(self) -> None:
        """Finalise the WARC files a kill left open; audit the pages the audit lost.

        The output files get the same release check as on a normal close, so the
        near-duplicate gate opens first (its index and spool are needed for it).
        """
        recover_open_files(self.out_dir / "evidence", records_per_page=EVIDENCE_RECORDS)
        gate = self.neardup
        release = None
        if gate is not None:
            gate.open()
            gate.recovering = self.out_dir / "warc"
            release = gate.release_file
        try:
            recovery = recover_open_files(self.out_dir / "warc", before_close=release)
        finally:
            if gate is not None:
                gate.recovering = None
        self.recovered_pages = recovery.pages
        for page in recovery.pages:
            if page.url in self.kept_urls:
                continue
            self.kept_urls.add(page.url)
            if self.audit is not None:
                self.audit.record_kept(
                    page.url,
                    warc_file=page.warc_file,
                    offset=page.offset,
                    record_id=page.record_id,
                    decision=page.decision or Decision(url=page.url),
                )

    def spider_closed(self, spider: Any, reason: str = "finished") -> None:
        self.close(reason)

    def engine_stopped(self) -> None:
        self.close("engine stopped")

    def close(self, reason: str = "finished") -> None:
        """Close everything once; safe to call from any shutdown path."""
        if self._closed or not self._opened:
            return
        self._closed = True
        stats = self._stats_dict()
        stats["finish_reason"] = reason
        for name, closer in (
            ("evidence", lambda: self.evidence and self.evidence.close()),
            ("audit", lambda: self._close_audit(stats)),
            ("registry", lambda: self.registry and self.registry.close()),
        ):
            try:
                closer()
            except Exception:  # one failing closer must not leave the others open
                logger.exception("tdmcrawl: closing the %s failed", name)

    def _close_audit(self, stats: dict[str, Any]) -> None:
        if self.audit is None:
            return
        try:
            if self.crawl_id:
                self.audit.finish_crawl(self.crawl_id, stats)
        finally:
            self.audit.close()

    # -- what the gates report ----------------------------------------------

    def record_exclusion(
        self, decision: Decision, *, stage: str, evidence: WarcRef | None = None
    ) -> None:
        """Audit one excluded URL (``evidence`` a ``WarcRef`` of the deciding capture, if any)."""
        reason = decision.reasons[0].code.value if decision.reasons else "unknown"
        self.excluded[(stage, reason)] += 1
        self._stats_inc(f"excluded/{stage}/{reason}")
        self._stats_inc("excluded")
        if self.audit is not None:
            self.audit.record_exclusion(
                decision,
                stage=stage,
                evidence_warc=evidence.filename if evidence else None,
                evidence_offset=evidence.offset if evidence else None,
                evidence_record_id=evidence.record_id if evidence else None,
            )

    def record_evidence(self, url: str, capture: Capture | None, kind: str) -> WarcRef | None:
        """Write an origin-file capture to the evidence WARC and the audit; return its WarcRef."""
        if self.evidence is None or capture is None:
            return None
        ref = self.evidence.write_capture(url, capture)
        if self.audit is not None:
            self.audit.record_evidence(
                url,
                warc_file=ref.filename,
                offset=ref.offset,
                record_id=ref.record_id,
                kind=kind,
            )
        return ref

    def refer_evidence(
        self, url: str, ref: WarcRef, kind: str, *, captured_at: str | None = None
    ) -> None:
        """Audit a capture another node of the cluster archived (its WARC file, not ours)."""
        if self.audit is not None:
            self.audit.record_evidence(
                url,
                warc_file=ref.filename,
                offset=ref.offset,
                record_id=ref.record_id,
                kind=kind,
                captured_at=captured_at,
            )

    def reserved(self, url: str, text: str, decision: Decision) -> None:
        """Hand a reserved page's text to every hook (the near-duplicate index); never stored."""
        for hook in self.reserved_hooks:
            try:
                hook(url, text, decision)
            except Exception:
                logger.exception("tdmcrawl: reserved-page hook %r failed for %s", hook, url)

    def item_scraped(self, item: Any, response: Any = None, spider: Any = None) -> None:
        if isinstance(item, PageItem):  # a project's own items are not pages kept by us
            self.kept += 1
            self.kept_urls.add(item.url)
            self._stats_inc("kept")

    # -- stats -----------------------------------------------------------------

    def _stats(self) -> Any:
        try:
            return self.crawler.stats
        except Exception:  # late crawler attributes raise before the crawl starts
            return None

    def _stats_inc(self, key: str) -> None:
        stats = self._stats()
        if stats is not None:
            stats.inc_value(f"{STAT_PREFIX}/{key}")

    def _stats_set(self, key: str, value: Any) -> None:
        stats = self._stats()
        if stats is not None and value is not None:
            stats.set_value(f"{STAT_PREFIX}/{key}", value)

    def _stats_dict(self) -> dict[str, Any]:
        stats = self._stats()
        raw = stats.get_stats() if stats is not None else {}
        out = {k: v for k, v in raw.items() if isinstance(v, (int, float, str))}
        out["kept"] = self.kept
        out["excluded"] = sum(self.excluded.values())
        return out


def _open_registry(path: Path) -> Any:
    if not path.exists():
        raise NotConfigured(f"registry database not found: {path}")
    return RegistryReader(path)
