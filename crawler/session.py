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
import platform
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler import __version__
from crawler import settings as tdm_settings
from optout.decision import Decision

logger = logging.getLogger(__name__)

ReservedHook = Callable[[str, str, Decision], None]
# (path of the .open WARC file, its PendingPages) -> record ids to cut out before the rename
ReleaseHook = Callable[[Path, list[Any]], Iterable[str]]
# the output WARC directory, once its writer closed: the end-of-crawl release step
FinalReleaseHook = Callable[[Path], Any]

STAT_PREFIX = "tdmcrawl"


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
        self.audit: Any = None  # crawler.auditdb.AuditLog
        self.evidence: Any = None  # crawler.warc.EvidenceWriter
        self.registry: Any = None  # registry.RegistryReader
        self.origin_gate: Any = None  # crawler.origin_gate.OriginGateMiddleware, when installed
        self.reserved_hooks: list[ReservedHook] = []
        # The near-duplicate release step (crawler.neardup), run by the WARC output.
        self.release_hooks: list[ReleaseHook] = []
        self.final_release_hooks: list[FinalReleaseHook] = []
        self.neardup: Any = None  # crawler.neardup.NearDuplicateGate, when installed
        self.recovered_pages: list[Any] = []  # crawler.resume.RecoveredPage, after a kill
        # URLs already written to WARC (filled from the audit on --resume, then as items pass).
        self.kept_urls: set[str] = set()
        # host -> Crawl-delay in seconds, applied by the throttle (crawler.politeness).
        self.crawl_delays: dict[str, float] = {}
        self.excluded: Counter[tuple[str, str]] = Counter()  # (stage, reason) -> count
        self.kept = 0
        self.error: str | None = None  # why the session could not open; the gates then refuse all
        self._policy: Any = None
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
    def policy(self) -> Any:
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
            from scrapy.utils.defer import deferred_from_coro

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
            from crawler.auditdb import AuditLog

            self.audit = AuditLog.open(self.out_dir / "audit.sqlite")
            self.crawl_id = self.audit.start_crawl(
                settings=_settings_snapshot(self.settings),
                versions=versions(),
                seeds=seeds or [],
                crawl_id=self.crawl_id,
            )
            if tdm_settings.getbool(self.settings, "TDMCRAWL_RESUME"):
                self.kept_urls.update(self.audit.kept_urls(self.crawl_id))
        if tdm_settings.getbool(self.settings, "TDMCRAWL_REFETCH_KEPT"):
            self._recover_killed_crawl()
        if self.output_enabled:
            from crawler.warc import EvidenceWriter, warcinfo_fields

            self.evidence = EvidenceWriter(
                self.out_dir / "evidence",
                warcinfo=warcinfo_fields(self.settings),
                prefix=f"{tdm_settings.get(self.settings, 'TDMCRAWL_WARC_PREFIX')}-evidence",
            )
        self._stats_set("crawl_id", self.crawl_id)

    def _recover_killed_crawl(self) -> None:
        """Finalise the WARC files a kill left open; audit the pages the audit lost."""
        from crawler.resume import recover_open_warcs

        recover_open_warcs(self.out_dir / "evidence", pages=False)
        # Renamed without the release step: the near-duplicate gate checks them at the end.
        self.recovered_pages = recover_open_warcs(self.out_dir / "warc")
        for page in self.recovered_pages:
            if page.url in self.kept_urls:
                continue
            self.kept_urls.add(page.url)
            if self.audit is not None:
                self.audit.record_kept(page.url, warc_file=page.warc_file, offset=page.offset,
                                       record_id=page.record_id, decision=page.decision)

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
            ("registry", lambda: self.registry and getattr(self.registry, "close", _noop)()),
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
        self, decision: Decision, *, stage: str, evidence: Any = None
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
                evidence_warc=getattr(evidence, "filename", None),
                evidence_offset=getattr(evidence, "offset", None),
                evidence_record_id=getattr(evidence, "record_id", None),
            )

    def record_evidence(self, url: str, capture: Any, kind: str) -> Any:
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

    def reserved(self, url: str, text: str, decision: Decision) -> None:
        """Hand a reserved page's text to every hook (the near-duplicate index); never stored."""
        for hook in self.reserved_hooks:
            try:
                hook(url, text, decision)
            except Exception:
                logger.exception("tdmcrawl: reserved-page hook %r failed for %s", hook, url)

    def item_scraped(self, item: Any, response: Any = None, spider: Any = None) -> None:
        from crawler.items import PageItem

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


def versions() -> dict[str, str]:
    """Versions recorded with every crawl, so an audit says which code decided."""
    from importlib import metadata

    out = {"tdmcrawl": __version__, "python": platform.python_version()}
    for package in ("scrapy", "warcio", "protego"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    try:
        from optout.ai_agents import ai_training_tokens

        out["ai_training_tokens"] = ai_training_tokens().version
    except (ImportError, AttributeError, OSError, ValueError):
        out["ai_training_tokens"] = "unknown"
    return out


def _open_registry(path: Path) -> Any:
    if not path.exists():
        raise NotConfigured(f"registry database not found: {path}")
    from registry import RegistryReader

    return RegistryReader(path)


def _settings_snapshot(settings: Any) -> dict[str, Any]:
    """The tdmcrawl settings and the politeness settings in force (JSON-able)."""
    names = [*tdm_settings.SETTINGS, "USER_AGENT", "DOWNLOAD_DELAY", "AUTOTHROTTLE_ENABLED",
             "CONCURRENT_REQUESTS", "CONCURRENT_REQUESTS_PER_DOMAIN", "DEPTH_LIMIT"]
    out: dict[str, Any] = {}
    for name in names:
        value = tdm_settings.get(settings, name) if name in tdm_settings.DEFAULTS \
            else settings.get(name)
        if hasattr(value, "copy_to_dict"):
            value = value.copy_to_dict()
        out[name] = value if isinstance(value, (str, int, float, bool, list, type(None))) \
            else str(value)
    out["dedup_config"] = _dedup_config_snapshot(settings)
    return out


def _dedup_config_snapshot(settings: Any) -> dict[str, Any] | None:
    """The near-duplicate index config in force (identity and fields), or None when off."""
    if not tdm_settings.getbool(settings, "TDMCRAWL_DEDUP"):
        return None
    try:
        from crawler.neardup import dedup_config

        config = dedup_config()
    except ImportError:
        return None
    return {"identity": config.identity, **config.to_dict()}


def _noop() -> None:
    return None
