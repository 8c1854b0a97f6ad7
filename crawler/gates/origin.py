"""The pre-fetch gate: replaces Scrapy's RobotsTxtMiddleware, which fails open.

For every request it makes sure the origin's robots.txt, /.well-known/tdmrep.json
and /ai.txt were fetched (once per scheme+host+port, through the engine so the
same slot, User-Agent and capture apply), and the RSL licences its robots.txt
names (``License:``), then asks ``optout.evaluate`` for the pre-fetch decision.
Licences named later by a page (``Link`` header, HTML ``<link>``) are fetched
by :meth:`OriginGateMiddleware.licences` for the response gate, once per origin
and URL, with the same size, redirect and failure rules as tdmrep.json.
This module parses nothing: status rules, redirect limits
and size limits of RFC 9309 live in ``optout.fetched``; this module only
reports what the fetch saw as a ``FetchResult``.

- A URL whose robots.txt disallows our token, or whose robots.txt is
  unreachable, is never requested: audited with ``stage="pre-fetch"``, then
  refused with ``Excluded`` (an ``IgnoreRequest`` carrying the decision).
- Other reservations (TDMRep, AI-agent rules, ai.txt, registry URL rules) still
  let the page be fetched when ``TDMCRAWL_FETCH_RESERVED`` is on, so the
  post-fetch gate can fingerprint it; it never reaches the output.
- Origin files are kept 24 h (``TDMCRAWL_ORIGIN_TTL``); a failed robots.txt
  (5xx, 429, network error) is trusted only ``TDMCRAWL_ORIGIN_RETRY`` seconds,
  then fetched again, so one bad minute doesn't close a site for the whole crawl.
- In a distributed crawl (``--redis``) one node fetches an origin's files, and
  each RSL licence, for the whole cluster and shares them, with its evidence
  reference, for the same times (``crawler/cluster.py``); the other nodes
  decide by that copy and their audit rows point to the fetching node's
  evidence WARC file.
- Redirect targets come back through this gate as new requests.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urljoin, urlsplit

from scrapy import Request
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred

from tdmcrawl.crawler import settings as tdm_settings
from tdmcrawl.crawler.capture import CAPTURE_META
from tdmcrawl.crawler.clock import iso_utc
from tdmcrawl.crawler.cluster import LOCK_POLL, Cluster, fetch_from_json, fetch_to_json
from tdmcrawl.crawler.gates.netguard import AddressResolver, NetGuardBlocked, NetGuardMiddleware
from tdmcrawl.crawler.politeness import apply_crawl_delay, sleep
from tdmcrawl.crawler.session import CrawlSession
from tdmcrawl.crawler.warc.records import WarcRef
from tdmcrawl.optout import rsl
from tdmcrawl.optout.decision import Decision, ReasonCode
from tdmcrawl.optout.fetched import MAX_REDIRECTS, FetchResult
from tdmcrawl.optout.origins import (
    AI_TXT,
    FIXED_ORIGIN_FILES,
    ROBOTS_TXT,
    RSL_LICENSE,
    Origin,
    evidence_kind,
)
from tdmcrawl.optout.policy import OriginSignals, evaluate

logger = logging.getLogger(__name__)

ORIGIN_META = "tdmcrawl_origin_fetch"
PREFETCH_META = "tdmcrawl_prefetch"  # the pre-fetch decision as a dict (picklable for JOBDIR)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class Excluded(IgnoreRequest):
    """A request refused by a gate; ``decision`` says why."""

    def __init__(self, decision: Decision, stage: str, response: Any = None) -> None:
        reason = decision.reasons[0] if decision.reasons else None
        detail = f"{reason.code.value}: {reason.evidence}" if reason else "excluded"
        super().__init__(f"tdmcrawl {stage}: {detail}")
        self.decision = decision
        self.stage = stage
        # Post-fetch only: the refused response, so a crawl spider can still follow its links
        # (the reservation is about training use, not access). Never given to pipelines.
        self.response = response


class AlreadyKept(IgnoreRequest):
    """On --resume: the URL was written to WARC before the interruption."""


@dataclass
class OriginEntry:
    signals: Any  # optout.policy.OriginSignals
    expires_at: float
    evidence: dict[str, Any] = field(default_factory=dict)  # kind -> WarcRef
    urls: dict[str, str] = field(default_factory=dict)  # kind -> the URL its evidence archives
    licences: dict[str, FetchResult] = field(default_factory=dict)  # RSL licence URL -> fetch
    files: dict[str, FetchResult] = field(default_factory=dict)  # signal -> fixed origin file
    fetching: dict[str, list[Deferred[None]]] = field(default_factory=dict)


class OriginGateMiddleware:
    """Downloader middleware at priority 100 (where RobotsTxtMiddleware was)."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.session = CrawlSession.of(crawler)
        self.session.origin_gate = self  # the response gate reuses this origin cache
        settings = crawler.settings
        self.ttl = float(tdm_settings.get(settings, "TDMCRAWL_ORIGIN_TTL"))
        self.retry_after = float(tdm_settings.get(settings, "TDMCRAWL_ORIGIN_RETRY"))
        self.maxsize = int(tdm_settings.get(settings, "TDMCRAWL_ORIGIN_MAXSIZE"))
        self.timeout = float(tdm_settings.get(settings, "TDMCRAWL_ORIGIN_TIMEOUT"))
        self.fetch_reserved = tdm_settings.getbool(settings, "TDMCRAWL_FETCH_RESERVED")
        self.fetch_ai_txt = tdm_settings.getbool(settings, "TDMCRAWL_AI_TXT")
        # Skip kept URLs on --resume. After a kill the JOBDIR queue is lost: a kept page is
        # skipped when the link log knows its links, else fetched again for them (never
        # written twice); see crawler/linklog.py.
        self.skip_kept = tdm_settings.getbool(settings, "TDMCRAWL_RESUME")
        self.refetch_unlinked = tdm_settings.getbool(settings, "TDMCRAWL_REFETCH_KEPT")
        self.netguard: NetGuardMiddleware | None = None
        if tdm_settings.getbool(settings, "TDMCRAWL_NETGUARD"):
            public = tdm_settings.getlist(settings, "TDMCRAWL_NETGUARD_PUBLIC_HOSTS")
            self.netguard = NetGuardMiddleware(AddressResolver(public))
        self._entries: dict[Origin, OriginEntry] = {}
        self._waiting: dict[Origin, list[Deferred[OriginEntry]]] = {}

    @classmethod
    def from_crawler(cls, crawler: Any) -> OriginGateMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        if request.meta.get(ORIGIN_META):
            return
        if self.session.error:
            raise IgnoreRequest(f"tdmcrawl session failed: {self.session.error}")
        if urlsplit(request.url).scheme.lower() not in ("http", "https"):
            return  # Scrapy's own handlers refuse or serve these; nothing to gate
        decision, entry = await self.decide(request.url)
        reserved_not_fetched = not decision.allowed and not self.fetch_reserved
        if not decision.fetch_allowed or reserved_not_fetched:
            self.session.record_exclusion(
                decision, stage="pre-fetch", evidence=evidence_for(decision, entry)
            )
            raise Excluded(decision, "pre-fetch")
        if (
            self.skip_kept
            and request.url in self.session.kept_urls
            and (
                not self.refetch_unlinked
                or request.url in getattr(self.crawler, "tdmcrawl_followed", ())
            )
        ):
            raise AlreadyKept(f"already kept before --resume: {request.url}")
        request.meta[PREFETCH_META] = decision.to_dict()

    async def decide(self, url: str) -> tuple[Decision, OriginEntry]:
        """The pre-fetch decision for ``url`` (fetching its origin files if needed)."""
        entry = await self.origin(origin_of(url))
        decision = evaluate(url, entry.signals, None, self.session.policy)
        registry = self.session.registry
        if registry is not None:
            match = registry.match_url(url)
            if match is not None:
                decision = decision.merge(Decision(url=url, reasons=(match.to_reason(),)))
        return decision, entry

    # -- the per-origin cache ---------------------------------------------------

    async def origin(self, key: Origin) -> OriginEntry:
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at > time.monotonic():
            return entry
        if key in self._waiting:  # another request is fetching this origin right now
            waiter: Deferred[OriginEntry] = Deferred()
            self._waiting[key].append(waiter)
            return await maybe_deferred_to_future(waiter)
        self._waiting[key] = []
        try:
            entry = await self._load_origin(key)
        except Exception as exc:
            for waiter in self._waiting.pop(key):
                waiter.errback(exc)
            raise
        self._entries[key] = entry
        for waiter in self._waiting.pop(key):
            waiter.callback(entry)
        return entry

    async def _load_origin(self, key: Origin) -> OriginEntry:
        """This node fetches the origin's files, or, in a cluster, the node that got there
        first did (or does now) and shared them with their evidence."""
        cluster = Cluster.of(self.crawler)
        if cluster is None:
            return await self._fetch_origin(key)
        name = key.key
        stored = await _claim(cluster, name)
        if stored is not None:
            return await self._shared_entry(key, *stored)
        try:
            entry = await self._fetch_origin(key)
            cluster.store_origin(
                name,
                {
                    "node": cluster.node,
                    "files": {signal: fetch_to_json(r) for signal, r in entry.files.items()},
                    "licences": list(entry.licences),  # each shared on its own (_licence)
                    "evidence": {
                        kind: _evidence_json(ref, entry.urls[kind])
                        for kind, ref in entry.evidence.items()
                        if kind != RSL_LICENSE.kind
                    },
                },
                entry.expires_at - time.monotonic(),
            )
        finally:
            cluster.unlock_origin(name)
        return entry

    async def _shared_entry(self, key: Origin, stored: dict[str, Any], ttl: float) -> OriginEntry:
        """The files another node fetched: decided by alike, its evidence referred to."""
        results: dict[str, Any] = {
            signal: fetch_from_json(data) for signal, data in stored["files"].items()
        }
        entry = OriginEntry(signals=None, expires_at=0.0, files=dict(results))
        for kind, data in (stored.get("evidence") or {}).items():
            entry.evidence[kind] = self._refer(data, kind)
            entry.urls[kind] = data["url"]
        self.crawler.stats.inc_value("tdmcrawl/origin/shared")
        policy = self.session.policy
        robots_only = OriginSignals.from_fetches(
            robots=results.get(ROBOTS_TXT.signal), config=policy
        )
        await self._fetch_licences(key, entry, list(stored.get("licences") or ()), robots_only)
        results[RSL_LICENSE.signal] = dict(entry.licences)
        entry.signals = OriginSignals.from_fetches(**results, config=policy)
        self._apply_crawl_delay(key.host, entry.signals)
        entry.expires_at = time.monotonic() + ttl
        return entry

    def _refer(self, data: dict[str, Any], kind: str) -> WarcRef:
        """Another node's evidence capture, audited here as a reference to its WARC file."""
        ref = WarcRef(data["warc_file"], int(data["offset"]), data["record_id"])
        self.session.refer_evidence(data["url"], ref, kind, captured_at=data.get("captured_at"))
        return ref

    async def _fetch_origin(self, key: Origin) -> OriginEntry:
        results: dict[str, Any] = {}
        evidence: dict[str, Any] = {}
        urls: dict[str, str] = {}
        robots_only: OriginSignals | None = None
        for origin_file in FIXED_ORIGIN_FILES:
            if origin_file is AI_TXT and not self.fetch_ai_txt:
                continue
            url = key.url(origin_file.path)
            # The other origin files are fetched only where robots.txt lets us fetch.
            if (
                robots_only is not None
                and not evaluate(url, robots_only, None, self.session.policy).fetch_allowed
            ):
                continue
            result, capture = await self._fetch_file(url)
            results[origin_file.signal] = result
            ref = self._write_evidence(result, capture, origin_file.kind)
            if ref is not None:
                evidence[origin_file.kind] = ref
                urls[origin_file.kind] = result.final_url or result.url
            if origin_file is ROBOTS_TXT:
                robots_only = OriginSignals.from_fetches(robots=result, config=self.session.policy)
                # The Crawl-delay holds from here on, for the other origin files too.
                self._apply_crawl_delay(key.host, robots_only)
        robots_result = results[ROBOTS_TXT.signal]
        entry = OriginEntry(
            signals=None, expires_at=0.0, evidence=evidence, urls=urls, files=dict(results)
        )
        policy = self.session.policy
        if policy.rsl and robots_only is not None and robots_only.robots is not None:
            # RSL 1.0 section 4.4: License records of robots.txt (global or our group's).
            named = robots_only.robots.robots.licenses_for(policy.token)
            refs = rsl.from_robots(named, key.url(ROBOTS_TXT.path))
            await self._fetch_licences(key, entry, [r.url for r in refs], robots_only)
        results[RSL_LICENSE.signal] = dict(entry.licences)
        signals = OriginSignals.from_fetches(**results, config=policy)
        self._apply_crawl_delay(key.host, signals)
        failed = _robots_failed(robots_result, signals)
        entry.signals = signals
        entry.expires_at = time.monotonic() + (self.retry_after if failed else self.ttl)
        return entry

    async def licences(self, key: Origin, entry: OriginEntry, urls: list[str]) -> None:
        """Fetch the RSL licences ``urls`` that pages of origin ``key`` name and that
        were not fetched yet; ``entry.signals`` then carries them."""
        missing = [u for u in dict.fromkeys(urls) if u not in entry.licences]
        if not missing:
            return
        await self._fetch_licences(key, entry, missing, OriginSignals(robots=entry.signals.robots))
        entry.signals = entry.signals.with_licenses(
            {u: entry.licences[u] for u in missing if u in entry.licences}
        )

    async def _fetch_licences(
        self, key: Origin, entry: OriginEntry, urls: list[str], robots_only: OriginSignals
    ) -> None:
        for url in urls:
            if url in entry.licences:
                continue
            if url in entry.fetching:  # another response of this origin is fetching it
                waiter: Deferred[None] = Deferred()
                entry.fetching[url].append(waiter)
                await maybe_deferred_to_future(waiter)
                continue
            entry.fetching[url] = []
            try:
                result, ref = await self._licence(key, url, robots_only)
                entry.licences[url] = result
                if ref is not None:
                    entry.evidence[RSL_LICENSE.kind] = ref
                    entry.urls[RSL_LICENSE.kind] = result.final_url or result.url
            finally:
                for waiter in entry.fetching.pop(url):
                    waiter.callback(None)

    async def _licence(
        self, key: Origin, url: str, robots_only: OriginSignals
    ) -> tuple[FetchResult, Any]:
        """One licence document: fetched here, or in a cluster by the node that got there
        first (shared by URL for the origin TTL, with its evidence)."""
        cluster = Cluster.of(self.crawler)
        if cluster is None:
            return await self._fetch_licence(key, url, robots_only)
        name = "licence:" + url
        stored = await _claim(cluster, name)
        if stored is not None:
            data = stored[0]
            evidence = data.get("evidence")
            ref = self._refer(evidence, RSL_LICENSE.kind) if evidence else None
            return fetch_from_json(data["file"]), ref
        try:
            result, ref = await self._fetch_licence(key, url, robots_only)
            payload: dict[str, Any] = {"node": cluster.node, "file": fetch_to_json(result)}
            if ref is not None:
                payload["evidence"] = _evidence_json(ref, result.final_url or result.url)
            cluster.store_origin(name, payload, self.ttl)
        finally:
            cluster.unlock_origin(name)
        return result, ref

    async def _fetch_licence(
        self, key: Origin, url: str, robots_only: OriginSignals
    ) -> tuple[FetchResult, Any]:
        """One licence document, as robots.txt of its own origin allows, through the
        netguard and the origin-file fetcher (size cap, at most five redirects)."""
        target = Origin.of(url)
        if target is None:
            return FetchResult(url, None, error=f"not an http(s) URL: {url[:80]}"), None
        rules = robots_only
        if target != key:
            if target in self._waiting:  # its origin is waiting on this one: no cycle
                return FetchResult(url, None, error="its origin's files are being fetched"), None
            rules = (await self.origin(target)).signals
            if self.netguard is not None:
                try:
                    await self.netguard.check(url, key.url("/"))
                except NetGuardBlocked as exc:
                    return _failed(url, url, 0, exc), None
        if not evaluate(url, rules, None, self.session.policy).fetch_allowed:
            return FetchResult(url, None, error="robots.txt of its origin disallows it"), None
        result, capture = await self._fetch_file(url)
        return result, self._write_evidence(result, capture, RSL_LICENSE.kind)

    async def _fetch_file(self, url: str) -> tuple[FetchResult, Any]:
        """Fetch one origin file, following at most five redirects ourselves."""
        stats = self.crawler.stats
        current = url
        redirects = 0
        while True:
            request = Request(
                current,
                callback=NO_CALLBACK,
                dont_filter=True,
                priority=1000,
                meta={
                    ORIGIN_META: True,
                    "dont_redirect": True,
                    "dont_retry": True,
                    "dont_cache": True,
                    "dont_obey_robotstxt": True,
                    "handle_httpstatus_all": True,
                    "download_maxsize": self.maxsize,
                    "download_timeout": self.timeout,
                },
            )
            stats.inc_value("tdmcrawl/origin/request_count")
            try:
                response = await self.crawler.engine.download_async(request)
            except Exception as exc:  # network error, timeout, too big: all "no response"
                stats.inc_value(f"tdmcrawl/origin/exception_count/{type(exc).__name__}")
                if _too_large(exc):
                    # The file exists; only our limit stopped it: it must not read as absent.
                    result = _failed(url, current, redirects, exc)
                    error = f"larger than TDMCRAWL_ORIGIN_MAXSIZE ({self.maxsize} bytes)"
                    return replace(result, error=error, truncated=True), None
                return _failed(url, current, redirects, exc), None
            stats.inc_value(f"tdmcrawl/origin/response_status_count/{response.status}")
            location = response.headers.get("Location")
            redirected = response.status in REDIRECT_STATUSES and location
            if redirected:
                redirects += 1
            if redirected and redirects <= MAX_REDIRECTS:
                target = urljoin(current, location.decode("latin-1"))
                if self.netguard is not None:
                    try:
                        await self.netguard.check(target, current)
                    except NetGuardBlocked as exc:
                        return _failed(url, current, redirects, exc), None
                current = target
                continue
            # A final answer, or the redirect past the limit (RFC 9309 2.3.1.2).
            result = FetchResult(
                url=url,
                status=response.status,
                body=response.body,
                headers=header_pairs(response),
                error=None,
                redirects=redirects,
                final_url=current,
            )
            return result, response.meta.get(CAPTURE_META)

    def _write_evidence(self, result: FetchResult, capture: Any, kind: str) -> Any:
        if capture is None:
            return None
        try:
            return self.session.record_evidence(result.final_url or result.url, capture, kind)
        except Exception:  # evidence is best effort; the decision must still be made
            logger.exception("tdmcrawl: writing the %s evidence of %s failed", kind, result.url)
            return None

    def _apply_crawl_delay(self, host: str, signals: OriginSignals) -> None:
        if signals.robots is None:
            return
        delay = signals.robots.robots.crawl_delay(self.session.policy.token)
        if delay:
            apply_crawl_delay(self.crawler, host, float(delay))


async def _claim(cluster: Cluster, name: str) -> tuple[dict[str, Any], float] | None:
    """What another node stored under ``name`` (with the seconds it stays valid), or None
    once this node holds the lock to fetch it itself.

    A node that waits while it holds another lock may wait on a node that waits on it
    (two robots.txt naming licences on each other's origins): after one lease time it
    fetches the file itself, which costs one more request and never a decision."""
    waited = 0.0
    while True:
        stored = cluster.load_origin(name)
        if stored is not None:
            return stored
        if cluster.lock_origin(name):
            return None
        if cluster.locks and waited >= cluster.lease:
            return None
        await sleep(LOCK_POLL)  # another node is fetching it
        waited += LOCK_POLL


def _evidence_json(ref: WarcRef, url: str) -> dict[str, Any]:
    return {
        "url": url,
        "warc_file": ref.filename,
        "offset": ref.offset,
        "record_id": ref.record_id,
        "captured_at": iso_utc(),
    }


def _failed(url: str, final_url: str, redirects: int, exc: BaseException) -> FetchResult:
    return FetchResult(
        url=url,
        status=None,
        body=None,
        headers=(),
        error=f"{type(exc).__name__}: {exc}".strip(),
        redirects=redirects,
        final_url=final_url,
    )


def _too_large(exc: BaseException) -> bool:
    """Scrapy cancelled the download at ``download_maxsize`` (its only message naming it)."""
    return isinstance(exc, DownloadCancelledError) and "max size" in str(exc)


def _robots_failed(result: FetchResult, signals: OriginSignals) -> bool:
    """A complete disallow that may pass (5xx, 429, network error, a redirect loop):
    trusted only ``TDMCRAWL_ORIGIN_RETRY`` seconds. A file over the size limit is not
    fetched again for that."""
    if result.truncated:
        return False
    status = result.status
    return (
        (result.error is not None and status is None)
        or (status is not None and (status >= 500 or status == 429))
        or (signals.robots is not None and signals.robots.unreachable)
    )


def header_pairs(response: Any) -> tuple[tuple[str, str], ...]:
    """A response's header lines as (name, value) text pairs, repeats kept."""
    return tuple(
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, values in response.headers.items()
        for value in values
    )


def evidence_for(decision: Decision, entry: OriginEntry) -> Any:
    if not decision.reasons:
        return None
    if decision.reasons[0].code is ReasonCode.RSL:
        return entry.evidence.get(RSL_LICENSE.kind)
    kind = evidence_kind(decision.reasons[0].source)
    return entry.evidence.get(kind) if kind else None


def origin_of(url: str) -> Origin:
    """The origin a request goes to (only http(s) requests reach the gates)."""
    origin = Origin.of(url)
    if origin is None:
        raise ValueError(f"no http(s) origin in {url!r}")
    return origin
