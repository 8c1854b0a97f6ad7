"""The per-crawl shared objects: audit log, evidence WARC, policy, registry, hooks.

One ``CrawlSession`` exists per Scrapy crawler, reachable as
``crawler.tdmcrawl_session`` from every middleware, pipeline and extension the
add-on installs. It opens its resources when the spider opens and closes them
exactly once, whichever of ``spider_closed`` or ``engine_stopped`` comes first
(a Ctrl-C goes through the same path), so WARC files are renamed and the audit
committed even when a crawl is interrupted. Only a close from ``spider_closed``
(the engine closed the spider) with every closer done sets ``clean_close``; a
second Ctrl-C stops the reactor before that, and such a crawl resumes like a
killed one.

After a kill (``TDMCRAWL_REFETCH_KEPT``) the WARC files are the truth:
:meth:`CrawlSession._recover_killed_crawl` finishes the near-duplicate cuts a
kill interrupted, finalises the ``.open`` files (with the same release check a
normal close runs) and makes the audit's ``kept`` rows of each match the pages
it holds, committed before the file is renamed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.reactor import is_asyncio_reactor_installed, is_reactor_installed

from tdmcrawl.crawler import logfile
from tdmcrawl.crawler import settings as tdm_settings
from tdmcrawl.crawler.audit.db import AuditLog, set_file_rows
from tdmcrawl.crawler.audit.entries import EntryRecorder
from tdmcrawl.crawler.items import PageItem
from tdmcrawl.crawler.manifest import finish_corpus
from tdmcrawl.crawler.provenance import (
    dedup_snapshot,
    policy_in_force,
    registry_state,
    settings_snapshot,
    versions,
    warcinfo_fields,
)
from tdmcrawl.crawler.registry_follow import (
    REPLICA_NAME,
    FollowedRegistry,
    SyncLoop,
    cache_replica,
    is_remote,
)
from tdmcrawl.crawler.signing import load_private_key
from tdmcrawl.crawler.warc.capture import Capture
from tdmcrawl.crawler.warc.records import WarcRef
from tdmcrawl.crawler.warc.recover import EVIDENCE_RECORDS, RecoveredPage, recover_open_files
from tdmcrawl.crawler.warc.writer import EvidenceWriter
from tdmcrawl.crawler.workers import Job, Prepared, WorkerPool
from tdmcrawl.optout.decision import Decision
from tdmcrawl.optout.origins import Origin
from tdmcrawl.optout.policy import PolicyConfig
from tdmcrawl.registry import RegistryReader

logger = logging.getLogger(__name__)

ReservedHook = Callable[[str, str, Decision], None]
# A step a kept page goes through (the near-duplicate gate, the WARC output); DropItem stops it.
PageStep = Callable[[PageItem], Any]
# (path of the .open WARC file, its PendingPages) -> record ids to cut out before the rename
ReleaseHook = Callable[[Path, list[Any]], Iterable[str]]
# the output WARC directory, once its writer closed: the end-of-crawl release step
FinalReleaseHook = Callable[[Path], Any]

STAT_PREFIX = "tdmcrawl"
# The page steps, in this order; also their ITEM_PIPELINES priorities (for open and close).
STEP_NEAR_DUPLICATE = 900
STEP_OUTPUT = 1000


# What the session needs of the components that register themselves on it (they import
# this module, so it names them by what they do, not by their classes).
class OriginCache(Protocol):
    async def origin(self, key: Origin) -> Any: ...


class ReleaseGate(Protocol):
    recovering: Path | None

    def open(self) -> None: ...

    def release_file(self, path: Path, pages: list[Any]) -> set[str]: ...

    def recover_cuts(self, warc_dir: Path) -> dict[str, set[str]]: ...

    def cuts_recovered(self) -> None: ...

    def matches_text(self, text: str) -> tuple[Any, ...]: ...


class CrawlSession:
    """Scrapy extension owning what one crawl shares; see the module docstring."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        settings = crawler.settings
        self.settings = settings
        self.out_dir = Path(str(tdm_settings.get(settings, "TDMCRAWL_OUT_DIR")))
        self.crawl_id: str | None = settings.get("TDMCRAWL_CRAWL_ID")
        self.output_enabled = tdm_settings.getbool(settings, "TDMCRAWL_OUTPUT")
        self.text_types = tuple(
            t.lower() for t in tdm_settings.getlist(settings, "TDMCRAWL_TEXT_TYPES")
        )
        self.workers: WorkerPool | None = None  # page workers (crawler.workers), when started
        # The warcinfo id of the output's open file (None: none open): a page worker builds
        # the response record against it.
        self.current_warcinfo: Callable[[], str | None] = lambda: None
        self.audit_enabled = tdm_settings.getbool(settings, "TDMCRAWL_AUDIT")
        self.audit: AuditLog | None = None
        self.evidence: EvidenceWriter | None = None
        self.registry: RegistryReader | None = None
        self.registry_follow: FollowedRegistry | None = None  # file or followed service
        # Run (in the reactor thread) after a sync changed the registry: new works to index.
        self.registry_hooks: list[Callable[[], None]] = []
        self._registry_sync: SyncLoop | None = None
        self.origin_gate: OriginCache | None = None  # the origin gate, when installed
        self.reserved_hooks: list[ReservedHook] = []
        # Kept pages go through these, never through the project's item pipelines and feeds.
        self.page_steps: list[tuple[int, PageStep]] = []
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
        # host:port of every server that sent a response (any status, origin files too).
        self.answered: set[str] = set()
        self.error: str | None = None  # why the session could not open; the gates then refuse all
        self.clean_close = False  # the engine closed the spider and every closer succeeded
        self.entries: EntryRecorder | None = None  # registry entries behind registry exclusions
        self.sign_key: Any = None  # TDMCRAWL_SIGN_KEY, loaded at open: a bad key stops the start
        self.manifest: Path | None = None  # DIR/manifest.json, once written at close
        self._policy: PolicyConfig | None = None
        self._log: logging.Handler | None = None
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
        crawler.signals.connect(session.response_downloaded, signal=signals.response_downloaded)
        return session

    @property
    def opened(self) -> bool:
        """Whether the session opened its resources (the spider opened)."""
        return self._opened

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
        sign_key = self.settings.get("TDMCRAWL_SIGN_KEY")
        if sign_key:
            self.sign_key = load_private_key(Path(str(sign_key)))
        registry_source = self.settings.get("TDMCRAWL_REGISTRY")
        if registry_source:
            self.registry_follow = self._open_registry(str(registry_source))
            self.registry = self.registry_follow.reader
        if self.output_enabled or self.audit_enabled:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._log = logfile.attach(self.out_dir, self.settings)  # add-on mode: DIR's log too
        if self.audit_enabled:
            self.audit = AuditLog.open(self.out_dir / "audit.sqlite")
            self.crawl_id = self.audit.start_crawl(
                settings=settings_snapshot(self.settings),
                versions=versions(self.policy.agent_list),
                seeds=seeds or [],
                crawl_id=self.crawl_id,
            )
            self._record_registry_state()
            if self.registry is not None:
                self.entries = EntryRecorder(self.audit, self.registry)
        self._start_registry_sync()
        if tdm_settings.getbool(self.settings, "TDMCRAWL_REFETCH_KEPT"):
            self._recover_killed_crawl()
        if self.audit is not None and tdm_settings.getbool(self.settings, "TDMCRAWL_RESUME"):
            self.kept_urls.update(self.audit.kept_urls(self.crawl_id))
        self._start_workers()
        if self.output_enabled:
            self.evidence = EvidenceWriter(
                self.out_dir / "evidence",
                warcinfo=warcinfo_fields(self.settings),
                prefix=f"{tdm_settings.get(self.settings, 'TDMCRAWL_WARC_PREFIX')}-evidence",
            )
        self._stats_set("crawl_id", self.crawl_id)

    def _recover_killed_crawl(self) -> None:
        """Make the output and the audit agree again after a kill; see the module docstring.

        The near-duplicate gate opens first: its index, spool and cut journal are
        needed for the release check of the recovered files.
        """
        recover_open_files(self.out_dir / "evidence", records_per_page=EVIDENCE_RECORDS)
        warc_dir = self.out_dir / "warc"
        gate = self.neardup
        open_cuts: dict[str, set[str]] = {}
        if gate is not None:
            gate.open()
            open_cuts = gate.recover_cuts(warc_dir)
            gate.recovering = warc_dir

        def release(path: Path, pages: list[Any]) -> set[str]:
            vetoed = set(gate.release_file(path, pages)) if gate is not None else set()
            cut = open_cuts.get(path.name.removesuffix(".open"), set())
            return vetoed | {p.record_ids[0] for p in pages if p.ref.record_id in cut}

        try:
            recovery = recover_open_files(
                warc_dir, before_close=release, before_rename=self._audit_recovered
            )
            if gate is not None:
                gate.cuts_recovered()
        finally:
            if gate is not None:
                gate.recovering = None
        self.recovered_pages = recovery.pages
        self.kept_urls.update(page.url for page in recovery.pages)

    def _audit_recovered(self, path: Path, final_name: str, pages: list[RecoveredPage]) -> None:
        """Before a recovered file is renamed: its ``kept`` rows become exactly its pages."""
        if self.audit is None or not self.crawl_id:
            return
        added, moved, dropped = set_file_rows(
            self.audit,
            self.crawl_id,
            final_name,
            [
                (p.url, p.offset, p.record_id, (p.decision or Decision(url=p.url)).to_json())
                for p in pages
            ],
        )
        if added or moved or dropped:
            logger.warning(
                "recovered %s: audit rows %d added, %d moved, %d dropped",
                final_name,
                added,
                moved,
                dropped,
            )

    def spider_closed(self, spider: Any, reason: str = "finished") -> None:
        self.clean_close = self.close(reason)

    def engine_stopped(self) -> None:
        self.close("engine stopped")
        logfile.detach(self._log)  # after Scrapy's last lines ("Spider closed", the stats)
        self._log = None

    def close(self, reason: str = "finished") -> bool:
        """Close everything once; safe to call from any shutdown path. True if every
        closer succeeded (this call closed the session)."""
        if self._closed or not self._opened:
            return False
        self._closed = True
        stats = self._stats_dict()
        stats["finish_reason"] = reason
        if self._registry_sync is not None:
            self._registry_sync.stop()
        ok = True
        for name, closer in (
            ("page workers", lambda: self.workers and self.workers.close()),
            ("evidence", lambda: self.evidence and self.evidence.close()),
            ("audit", lambda: self._close_audit(stats)),
            ("manifest", self._write_manifest),
            ("registry", lambda: self.registry_follow and self.registry_follow.close()),
        ):
            try:
                closer()
            except Exception:  # one failing closer must not leave the others open
                ok = False
                logger.exception("tdmcrawl: closing the %s failed", name)
        return ok

    def _close_audit(self, stats: dict[str, Any]) -> None:
        if self.audit is None:
            return
        try:
            if self.crawl_id:
                self.audit.finish_crawl(self.crawl_id, stats)
        finally:
            self.audit.close()

    # -- page workers -------------------------------------------------------------

    def _start_workers(self) -> None:
        """``TDMCRAWL_WORKERS`` page workers, for a crawl that writes pages on the asyncio
        reactor; started now, so their imports run while the origin files are fetched."""
        count = int(tdm_settings.get(self.settings, "TDMCRAWL_WORKERS"))
        if count <= 0 or not self.output_enabled:
            return
        if not (is_reactor_installed() and is_asyncio_reactor_installed()):
            return  # the pipes are read by the asyncio loop (Scrapy's default reactor)
        self.workers = WorkerPool(count)
        self.workers.start()

    def prepare_page(
        self, url: str, body: bytes, content_type: str, capture: Capture | None, encoding: Any
    ) -> asyncio.Future[Prepared] | None:
        """Hand a page that may be kept to a worker (``crawler.workers``); None when there
        is no worker or the page would not be written anyway."""
        pool = self.workers
        if pool is None or not pool.available or url in self.kept_urls:
            return None
        if content_type.split(";", 1)[0].strip().lower() not in self.text_types:
            return None
        warcinfo = self.current_warcinfo()
        job = Job(
            url=url,
            body=body,
            content_type=content_type,
            encoding=encoding() if content_type.startswith("text/plain") else None,
            text=self.neardup is not None,
            capture=capture if warcinfo else None,
            warcinfo_id=warcinfo,
            config=getattr(getattr(self.neardup, "works", None), "config", None),
        )
        self._stats_inc("workers/jobs")
        return pool.submit(job)

    # -- the registry ---------------------------------------------------------

    def _open_registry(self, source: str) -> FollowedRegistry:
        """A registry file, or the replica of a registry service (crawler.registry_follow)."""
        verified_only = tdm_settings.getbool(self.settings, "TDMCRAWL_REGISTRY_VERIFIED_ONLY")
        if not is_remote(source):
            if not Path(source).exists():
                raise NotConfigured(f"registry database not found: {source}")
            return FollowedRegistry(source, verified_only=verified_only)
        replica = self.settings.get("TDMCRAWL_REGISTRY_REPLICA")
        if replica:
            path = Path(str(replica))
        elif self.output_enabled or self.audit_enabled:
            path = self.out_dir / REPLICA_NAME
        else:
            path = cache_replica(source)
        return FollowedRegistry(source, replica=path, verified_only=verified_only)

    def _record_registry_state(self) -> None:
        if self.audit is not None and self.registry_follow is not None:
            self.audit.record_registry_state(**self.registry_follow.state().to_dict())

    def _start_registry_sync(self) -> None:
        follow = self.registry_follow
        interval = float(tdm_settings.get(self.settings, "TDMCRAWL_REGISTRY_SYNC"))
        if follow is None or not follow.remote or interval <= 0:
            return
        self._registry_sync = SyncLoop(follow, interval, self.registry_changed)
        self._registry_sync.start()

    def registry_changed(self) -> None:
        """After a sync: record the new state, then decide with it (reactor thread)."""
        if self.registry_follow is None or self._closed:
            return
        self._record_registry_state()  # before the swap: the audit marks divide old and new
        self.registry_follow.reader.refresh()
        self._stats_set("registry_cursor", self.registry_follow.state().cursor)
        for hook in self.registry_hooks:
            try:
                hook()
            except Exception:
                logger.exception("tdmcrawl: registry hook %r failed", hook)

    def _write_manifest(self) -> None:
        """DIR/manifest.json (and its signature) for a crawl that wrote WARC and audit."""
        if not (self.output_enabled and self.audit is not None):
            return
        if not tdm_settings.getbool(self.settings, "TDMCRAWL_MANIFEST"):
            return
        self.manifest = finish_corpus(
            self.out_dir,
            kind="crawl",
            crawl_id=self.crawl_id,
            policy=policy_in_force(self.settings),
            dedup=dedup_snapshot(self.settings),
            registry=registry_state(self.registry_follow or self.registry),
            sign_key=self.sign_key,
        )

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
            if self.entries is not None:
                self.entries.note(decision)

    def record_evidence(self, url: str, capture: Capture | None, kind: str) -> WarcRef | None:
        """Write an origin-file capture to the evidence WARC and the audit; return its WarcRef."""
        if self.evidence is None or capture is None:
            return None
        ref = self.evidence.write_capture(url, capture)
        self.refer_evidence(url, ref, kind)
        return ref

    def refer_evidence(
        self, url: str, ref: WarcRef, kind: str, *, captured_at: str | None = None
    ) -> None:
        """Audit a capture archived at ``ref``: in our evidence WARC, or another node's."""
        if self.audit is not None:
            self.audit.record_evidence(
                url,
                warc_file=ref.filename,
                offset=ref.offset,
                record_id=ref.record_id,
                kind=kind,
                captured_at=captured_at,
            )

    def record_page_evidence(
        self,
        capture: Capture | None,
        decision: Decision,
        *,
        stage: str,
        body: bytes | None = None,
        content_type: str | None = None,
        note: str | None = None,
    ) -> WarcRef | None:
        """Archive an excluded page's response head and deciding meta tags (never its body)
        in the evidence WARC, with audit evidence rows; the head record's WarcRef."""
        if self.evidence is None or capture is None:
            return None
        try:
            refs = self.evidence.write_exclusion(
                capture, decision, stage=stage, body=body, content_type=content_type, note=note
            )
        except Exception:  # evidence is best effort; the exclusion itself is still audited
            logger.exception("tdmcrawl: writing the evidence of excluded %s failed", capture.url)
            return None
        if self.audit is not None:
            kinds = ["response-head", *(["meta-tag"] if len(refs) > 2 else [])]
            for ref, kind in zip(refs, kinds, strict=False):
                self.audit.record_evidence(
                    capture.url,
                    warc_file=ref.filename,
                    offset=ref.offset,
                    record_id=ref.record_id,
                    kind=kind,
                )
        return refs[0]

    def reserved(self, url: str, text: str, decision: Decision) -> None:
        """Hand a reserved page's text to every hook (the near-duplicate index); never stored."""
        for hook in self.reserved_hooks:
            try:
                hook(url, text, decision)
            except Exception:
                logger.exception("tdmcrawl: reserved-page hook %r failed for %s", hook, url)

    def add_page_step(self, priority: int, step: PageStep) -> None:
        self.page_steps.append((priority, step))
        self.page_steps.sort(key=lambda entry: entry[0])

    def keep_page(self, item: PageItem) -> bool:
        """Run a page that passed the gates through the page steps (near-duplicate gate,
        WARC output) and count it kept; False when a step dropped it.

        Pages never enter the item stream: a project's pipelines, feed exports and
        item log see only its own items, and the output does not depend on them.
        """
        for _priority, step in self.page_steps:
            try:
                step(item)
            except DropItem:
                return False
        self.count_kept(item)
        return True

    def count_kept(self, item: PageItem) -> None:
        self.kept += 1
        self.kept_urls.add(item.url)
        self._stats_inc("kept")

    def response_downloaded(self, response: Any, request: Any = None, spider: Any = None) -> None:
        self.answered.add(host_port(request.url if request is not None else response.url))

    @staticmethod
    def origins_of(urls: Iterable[str]) -> list[str]:
        return sorted({host_port(url) for url in urls})

    def unanswered(self, urls: Iterable[str]) -> list[str]:
        """host:port of the ``urls`` whose server never answered in this run."""
        return [origin for origin in self.origins_of(urls) if origin not in self.answered]

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


def host_port(url: str) -> str:
    """``host:port`` of an http(s) URL (the port spelt out), for "which servers answered"."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    default = 443 if parts.scheme.lower() == "https" else 80
    host = (parts.hostname or "").lower()
    return f"[{host}]:{port or default}" if ":" in host else f"{host}:{port or default}"
