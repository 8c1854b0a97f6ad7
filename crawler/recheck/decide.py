"""Today's opt-outs on a past corpus's kept pages (the decision phase of ``tdmcrawl recheck``).

It runs inside a Scrapy crawl through the add-on, so the origin files are
fetched by the crawl's own origin gate (same politeness, User-Agent, size and
redirect limits, evidence captures) and decided by ``optout.evaluate``, the
function every command uses:

1. the origin files of every origin with a kept page are fetched again;
2. each kept page gets today's pre-fetch decision (origin signals and the
   registry's URL rules);
3. with ``--pages``, each page still kept is requested again, conditionally
   (its stored ``ETag``/``Last-Modified``), and its headers and meta tags are
   read again: from the new response, or on ``304`` from the stored body with
   the stored head freshened by the 304's fields;
4. the pages still kept are matched against today's reserved works: the
   registry's works, the reserved pages of the parent run, and the pages this
   recheck reserves (copies of them go too).

Every page reserved is audited at stage ``recheck`` with its evidence. What
an origin no longer reserves is counted, never re-added.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from scrapy import Request
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet.defer import DeferredList

from tdmcrawl.crawler.capture import CAPTURE_META
from tdmcrawl.crawler.gates.neardup import PageSpool
from tdmcrawl.crawler.gates.origin import ORIGIN_META, OriginEntry, evidence_for, header_pairs
from tdmcrawl.crawler.recheck.parent import KeptPage, ParentCorpus
from tdmcrawl.crawler.recheck.result import RecheckOptions, RecheckResult, Removal
from tdmcrawl.crawler.recheck.stored import StoredResponse, read_stored
from tdmcrawl.crawler.reserved import CRAWL_PREFIX, match_reasons
from tdmcrawl.dedup import Fingerprint, FingerprintError
from tdmcrawl.optout.decision import Decision
from tdmcrawl.optout.origins import Origin
from tdmcrawl.optout.policy import ResponseSignals, evaluate

logger = logging.getLogger(__name__)

STAGE = "recheck"
MATCH_BATCH = 512
# Reasons read from origin files or the registry's URL rules: what re-fetching the origin
# files (and today's registry) can lift again. Header and meta reasons need the page.
ORIGIN_CODES = frozenset(
    {"robots", "robots-unreachable", "robots-ai-agents", "content-signal", "ai-txt"}
)
ORIGIN_SOURCES = frozenset({"robots.txt", "well-known", "ai.txt"})
NOT_MODIFIED_NOTE = (
    "304 Not Modified: header fields of the stored response freshened by these; "
    "meta tags read from the stored body"
)


class RecheckDecider:
    """The decision phase, one object per recheck (see the module docstring)."""

    def __init__(
        self,
        crawler: Any,
        session: Any,
        parent: ParentCorpus,
        spool: PageSpool,
        options: RecheckOptions,
        result: RecheckResult,
    ) -> None:
        self.crawler = crawler
        self.session = session
        self.parent = parent
        self.spool = spool
        self.options = options
        self.result = result
        self.entries: dict[Origin, OriginEntry] = {}
        self.reserved_now: list[KeptPage] = []  # pages this recheck found reserved

    async def run(self) -> None:
        gate = self.session.origin_gate
        if gate is None:
            raise RuntimeError("the origin gate is not installed")
        started = time.perf_counter()
        origins = self.parent.origins()
        self.result.origins = len(origins)
        await self._fetch_origins(gate, origins)
        self.result.timed("origin files", started)
        started = time.perf_counter()
        self._prefetch_decisions()
        self.result.timed("origin and registry URL decisions", started)
        if self.options.pages:
            started = time.perf_counter()
            await self._reread_pages()
            self.result.timed("pages requested again", started)
        started = time.perf_counter()
        self._near_duplicates()
        self.result.timed("near-duplicates", started)
        started = time.perf_counter()
        self._no_longer_reserved()
        self.result.timed("no longer reserved", started)

    # -- 1. origin files

    async def _fetch_origins(self, gate: Any, origins: list[Origin]) -> None:
        async def one(origin: Origin) -> None:
            self.entries[origin] = await gate.origin(origin)

        results = await maybe_deferred_to_future(
            DeferredList([deferred_from_coro(one(o)) for o in origins], consumeErrors=True)
        )
        for (ok, failure), origin in zip(results, origins, strict=True):
            if not ok:
                # The gate answers every failure itself (robots-unreachable); this is a bug.
                raise RuntimeError(f"origin files of {origin.serialized}: {failure.value}")

    # -- 2. today's pre-fetch decision on every kept page

    def _prefetch_decisions(self) -> None:
        for page in self.parent.kept_pages():
            self.result.kept_before += 1
            origin = Origin.of(page.url)
            entry = self.entries.get(origin) if origin else None
            if entry is None:
                continue  # not an http(s) page: no origin signal to read again
            decision = self._with_registry(evaluate(page.url, entry.signals, None, self.policy))
            if not decision.allowed:
                self._remove(page, decision, evidence_for(decision, entry))

    @property
    def policy(self) -> Any:
        return self.session.policy

    def _with_registry(self, decision: Decision) -> Decision:
        registry = self.session.registry
        if registry is None:
            return decision
        match = registry.match_url(decision.url)
        if match is None:
            return decision
        return decision.merge(Decision(url=decision.url, reasons=(match.to_reason(),)))

    # -- 3. --pages: the pages' own signals, read again

    async def _reread_pages(self) -> None:
        """Every page still kept, a window of requests at a time (the pages are streamed
        from the audit, never all in memory)."""
        window = max(1, 2 * int(self.crawler.settings.getint("CONCURRENT_REQUESTS", 16)))
        batch: list[KeptPage] = []
        for page in self.parent.kept_pages():
            if page.record_id in self.result.removed or Origin.of(page.url) is None:
                continue
            batch.append(page)
            if len(batch) >= window:
                await self._reread_batch(batch)
                batch = []
        await self._reread_batch(batch)

    async def _reread_batch(self, batch: list[KeptPage]) -> None:
        if batch:
            await maybe_deferred_to_future(
                DeferredList([deferred_from_coro(self._reread(p)) for p in batch])
            )

    async def _reread(self, page: KeptPage) -> None:
        try:
            stored = read_stored(self.parent.warc_path(page.warc_file), page.offset)
        except Exception as exc:
            self.result.pages_not_reread[f"stored record unreadable: {type(exc).__name__}"] += 1
            return
        request = Request(
            page.url,
            headers=stored.validators(),
            callback=NO_CALLBACK,
            dont_filter=True,
            meta={
                ORIGIN_META: True,  # decided here, not by the crawl's gates
                "dont_redirect": True,
                "dont_cache": True,
                "dont_obey_robotstxt": True,
                "handle_httpstatus_all": True,
            },
        )
        self.result.pages_requested += 1
        try:
            response = await self.crawler.engine.download_async(request)
        except Exception as exc:
            self.result.pages_not_reread[f"not fetched: {type(exc).__name__}"] += 1
            return
        signals, note, body = self._page_signals(stored, response)
        if signals is None:
            self.result.pages_not_reread[f"HTTP {response.status}"] += 1
            return
        origin = Origin.of(page.url)
        entry = self.entries[origin] if origin else None
        if entry is None:
            return
        decision = self._with_registry(evaluate(page.url, entry.signals, signals, self.policy))
        if decision.allowed:
            return
        evidence = evidence_for(decision, entry)
        page_evidence = self.session.record_page_evidence(
            request.meta.get(CAPTURE_META) or response.meta.get(CAPTURE_META),
            decision,
            stage=STAGE,
            body=body,
            content_type=signals.content_type or stored.content_type,
            note=note,
        )
        self._remove(page, decision, evidence or page_evidence)

    def _page_signals(
        self, stored: StoredResponse, response: Any
    ) -> tuple[ResponseSignals | None, str | None, bytes]:
        if response.status == 304:
            self.result.pages_not_modified += 1
            headers = stored.freshened(header_pairs(response))
            content_type = dict((k.lower(), v) for k, v in headers).get("content-type")
            return (
                ResponseSignals(200, headers, stored.body, content_type=content_type),
                NOT_MODIFIED_NOTE,
                stored.body,
            )
        if 200 <= response.status < 300:
            value = response.headers.get("Content-Type")
            content_type = value.decode("latin-1") if value else None
            signals = ResponseSignals(
                response.status, header_pairs(response), response.body, content_type=content_type
            )
            return signals, None, response.body
        # Gone, moved or failing: today's page signals cannot be read. The page keeps the
        # decision of its stored response (with today's origin signals and registry).
        return None, None, b""

    # -- 4. copies of reserved works

    def _near_duplicates(self) -> None:
        gate = self.session.neardup
        works = getattr(gate, "works", None)
        if works is None:
            self.result.notes.append("near-duplicate check off (TDMCRAWL_DEDUP): not run")
            return
        identity = works.config.identity
        items = []
        for key, raw in self.parent.reserved_fingerprints():
            fp = _fingerprint(raw)
            if fp is not None and fp.config_identity == identity and key not in works:
                items.append((key, fp))
        works.add_many(items)
        for page in self.reserved_now:
            self._index_reserved(works, page)
        batch: list[tuple[KeptPage, Fingerprint]] = []
        for page in self.parent.kept_pages():
            if page.record_id in self.result.removed:
                continue
            fp = self._page_fingerprint(page, identity, works.config)
            if fp is None:
                continue
            batch.append((page, fp))
            if len(batch) >= MATCH_BATCH:
                self._match(works, batch)
                batch = []
        self._match(works, batch)

    def _index_reserved(self, works: Any, page: KeptPage) -> None:
        """A page this recheck reserves joins the index, so its copies go too."""
        try:
            stored = read_stored(self.parent.warc_path(page.warc_file), page.offset)
        except Exception:
            logger.exception("tdmcrawl: cannot read %s to index it as reserved", page.url)
            return
        fp = stored.fingerprint(works.config, positions=True)
        if fp is None:
            return
        key = CRAWL_PREFIX + page.url
        works.add(key, fp)
        self.spool.add_reserved(key, fp.to_bytes())

    def _page_fingerprint(self, page: KeptPage, identity: str, config: Any) -> Fingerprint | None:
        raw = self.parent.spooled(page.url)
        fp = _fingerprint(raw) if raw is not None else None
        if fp is not None and fp.config_identity == identity:
            return fp
        try:
            stored = read_stored(self.parent.warc_path(page.warc_file), page.offset)
        except Exception:
            logger.exception("tdmcrawl: cannot read %s to fingerprint it", page.url)
            return None
        fp = stored.fingerprint(config, positions=False)
        if fp is not None:
            # The new version's spool holds it, so the next recheck need not compute it.
            self.spool.put(page.url, fp.to_bytes(), _decision(page), 0)
            self.spool.release(page.url, page.warc_file, page.record_id, 0)
        return fp

    def _match(self, works: Any, batch: list[tuple[KeptPage, Fingerprint]]) -> None:
        if not batch:
            return
        for (page, _fp), matches in zip(batch, works.matches([fp for _, fp in batch]), strict=True):
            matches = [m for m in matches if m.key != CRAWL_PREFIX + page.url]
            if matches:
                decision = _decision(page).merge(
                    Decision(url=page.url, reasons=match_reasons(matches))
                )
                self._remove(page, decision, None)

    # -- what is removed, and what is no longer reserved

    def _remove(self, page: KeptPage, decision: Decision, evidence: Any) -> None:
        if page.record_id in self.result.removed:
            return
        origin = Origin.of(page.url)
        self.session.record_exclusion(decision, stage=STAGE, evidence=evidence)
        self.result.removed[page.record_id] = Removal(
            page.url,
            page.record_id,
            page.warc_file,
            decision.reasons[0].code.value,
            origin.serialized if origin else "",
        )
        code = decision.reasons[0].code.value
        if code not in ("registry-content", "reserved-copy"):
            self.reserved_now.append(page)
        if self.parent.spooled(page.url) is None:
            self._spool_removed(page)
        self.spool.exclude(page.url)

    def _spool_removed(self, page: KeptPage) -> None:
        """A removed page's fingerprint, for `audit --work` (its run spooled none)."""
        works = getattr(self.session.neardup, "works", None)
        if works is None:
            return
        try:
            stored = read_stored(self.parent.warc_path(page.warc_file), page.offset)
        except Exception:
            return
        fp = stored.fingerprint(works.config, positions=False)
        if fp is not None:
            self.spool.add_excluded(page.url, fp.to_bytes())

    def _no_longer_reserved(self) -> None:
        seen: set[str] = set()
        for url, reason, source in self.parent.exclusions(skip_crawl=self.session.crawl_id):
            if url in seen or not _origin_level(reason, source):
                continue
            seen.add(url)
            origin = Origin.of(url)
            entry = self.entries.get(origin) if origin else None
            if entry is None:
                continue  # an origin with no kept page: its files were not fetched again
            decision = self._with_registry(evaluate(url, entry.signals, None, self.policy))
            if decision.allowed:
                self.result.note_no_longer(reason, origin.serialized if origin else "", url)


def _origin_level(reason: str, source: str) -> bool:
    return (
        reason in ORIGIN_CODES
        or reason == "registry-url"
        or (reason in ("content-usage", "tdmrep") and source in ORIGIN_SOURCES)
    )


def _decision(page: KeptPage) -> Decision:
    try:
        return Decision.from_json(page.decision)
    except ValueError:
        return Decision(url=page.url)


def _fingerprint(raw: bytes | None) -> Fingerprint | None:
    if raw is None:
        return None
    try:
        return Fingerprint.from_bytes(raw)
    except FingerprintError:
        return None
