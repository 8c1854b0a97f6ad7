"""Politeness: Crawl-delay as a floor, per host, for one process or a whole cluster.

Scrapy's AutoThrottle may lower a host's delay below the ``Crawl-delay`` its
robots.txt asks for (its floor is the global ``DOWNLOAD_DELAY``), and its
randomised delay (0.5-1.5 times the slot's) goes below any floor; nor does
either know of other crawl processes. Two parts close that:

- :class:`CrawlDelayAutoThrottle` keeps every download slot at or above the
  Crawl-delay the origin gate recorded for its host.
- A *host gate*, asked by the download handler right before a request goes
  on the wire (:mod:`crawler.capture`), and told when its answer is in. In one
  process (:class:`LocalHostGate`) it holds the Crawl-delay between any two
  requests to a host, whatever the randomisation drew. With ``--redis``
  (:class:`ClusterHostGate`) it asks the cluster's shared host slot
  (:mod:`crawler.cluster`), so the download delay (as drawn), the Crawl-delay
  and the per-host concurrency hold for all nodes together. Where there is a
  delay, both send one request at a time and count the delay from the end of
  the previous request: the gaps then hold as the origin sees them.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from scrapy.extensions.throttle import AutoThrottle
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred
from warcio.bufferedreaders import BufferedReader

from tdmcrawl.crawler.cluster import BUSY_POLL, Cluster
from tdmcrawl.crawler.session import CrawlSession

logger = logging.getLogger(__name__)


class CrawlDelayAutoThrottle(AutoThrottle):
    """AutoThrottle that never goes below a host's robots.txt Crawl-delay."""

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self.session = CrawlSession.of(crawler)

    def _adjust_delay(self, slot: Any, latency: float, response: Any) -> None:
        super()._adjust_delay(slot, latency, response)
        host = _host_of(response)
        floor = self.session.crawl_delays.get(host)
        if floor is not None and slot.delay < floor:
            slot.delay = floor


def apply_crawl_delay(crawler: Any, host: str, delay: float) -> None:
    """Make ``delay`` the minimum for ``host``: its download slot, now and after slot GC,
    and the host gate (the cluster's, with ``--redis``)."""
    session = CrawlSession.of(crawler)
    session.crawl_delays[host] = delay
    cluster = Cluster.of(crawler)
    if cluster is not None:
        cluster.set_floor(host, delay)
    downloader = crawler.engine.downloader
    # per_slot_settings survives the slot garbage collection of idle hosts.
    per_slot = downloader.per_slot_settings.setdefault(host, {})
    per_slot["delay"] = max(float(per_slot.get("delay", 0.0)), delay)
    slot = downloader.slots.get(host)
    if slot is not None and slot.delay < delay:
        slot.delay = delay


async def sleep(seconds: float) -> None:
    """Wait without blocking the reactor (asyncio's or Twisted's)."""
    done: Deferred[None] = Deferred()
    call_later(seconds, done.callback, None)
    await maybe_deferred_to_future(done)


class LocalHostGate:
    """One process: at least the host's Crawl-delay between two requests sent to it.

    One request at a time to such a host, and the delay runs from the end of
    the previous one (the host has surely received it by then), as in the
    cluster (:mod:`crawler.cluster`).
    """

    def __init__(self, session: CrawlSession) -> None:
        self.session = session
        self._last: dict[str, float] = {}  # host -> monotonic end of its last request
        self._busy: set[str] = set()  # hosts with a delay and a request in flight

    async def enter(self, request: Any) -> Any:
        host = _host_of(request)
        floor = self.session.crawl_delays.get(host)
        while floor:
            wait = self._last.get(host, -floor) + floor - time.monotonic()
            if host in self._busy:
                wait = max(wait, BUSY_POLL)
            if wait <= 0:
                self._busy.add(host)
                break
            await sleep(wait)
            floor = self.session.crawl_delays.get(host)
        # Every host's last request is known: its Crawl-delay, read from the robots.txt
        # just fetched, holds from that fetch on (tdmrep.json and ai.txt come next).
        self._last[host] = time.monotonic()
        return host

    def leave(self, token: Any) -> None:
        self._busy.discard(token)
        self._last[token] = time.monotonic()


class ClusterHostGate:
    """All nodes: a turn at the cluster's host slot before each request (see the module)."""

    def __init__(self, crawler: Any, cluster: Cluster) -> None:
        self.crawler = crawler
        self.cluster = cluster
        self.session = CrawlSession.of(crawler)

    async def enter(self, request: Any) -> Any:
        downloader = self.crawler.engine.downloader
        key = request.meta.get(downloader.DOWNLOAD_SLOT) or _host_of(request)
        slot = downloader.slots.get(key)
        # This node's delay as Scrapy would draw it (AutoThrottle, jitter), never below the
        # Crawl-delay; the host slot also applies the Crawl-delay another node read.
        delay = slot.download_delay() if slot is not None else 0.0
        delay = max(delay, self.session.crawl_delays.get(_host_of(request), 0.0))
        concurrency = slot.concurrency if slot is not None else 1
        member = self.cluster.new_member()
        while True:
            wait = self.cluster.acquire(key, member, delay, concurrency)
            if wait == 0:
                return (key, member)
            await sleep(wait if wait > 0 else BUSY_POLL)

    def leave(self, token: Any) -> None:
        key, member = token
        try:
            self.cluster.release(key, member)
        except Exception:  # Redis away: the lease runs out by itself
            logger.warning("tdmcrawl: releasing the host slot of %s failed", key, exc_info=True)


def host_gate(crawler: Any) -> LocalHostGate | ClusterHostGate:
    """The crawler's host gate, made on first use."""
    gate = getattr(crawler, "tdmcrawl_host_gate", None)
    if gate is None:
        cluster = Cluster.of(crawler)
        session = CrawlSession.of(crawler)
        gate = LocalHostGate(session) if cluster is None else ClusterHostGate(crawler, cluster)
        crawler.tdmcrawl_host_gate = gate
    return gate


def accept_encoding() -> str:
    """The content codings warcio decodes on read-back (br only with brotli installed)."""
    codings = ["gzip", "deflate"]
    if "br" in BufferedReader.DECOMPRESSORS:
        codings.append("br")
    return ", ".join(codings)


def _host_of(request_or_response: Any) -> str:
    return urlparse_cached(request_or_response).hostname or ""
