"""Politeness: Crawl-delay on top of AutoThrottle, and an Accept-Encoding warcio can read.

Scrapy's AutoThrottle may lower a host's delay below the ``Crawl-delay`` its
robots.txt asks for (its floor is the global ``DOWNLOAD_DELAY``). This subclass
keeps every slot at or above the Crawl-delay the origin gate recorded for that
host in the session.
"""

from __future__ import annotations

from typing import Any

from scrapy.extensions.throttle import AutoThrottle
from scrapy.utils.httpobj import urlparse_cached
from warcio.bufferedreaders import BufferedReader

from tdmcrawl.crawler.session import CrawlSession


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
    """Make ``delay`` the minimum for ``host``'s download slot, now and after slot GC."""
    session = CrawlSession.of(crawler)
    session.crawl_delays[host] = delay
    downloader = crawler.engine.downloader
    # per_slot_settings survives the slot garbage collection of idle hosts.
    per_slot = downloader.per_slot_settings.setdefault(host, {})
    per_slot["delay"] = max(float(per_slot.get("delay", 0.0)), delay)
    slot = downloader.slots.get(host)
    if slot is not None and slot.delay < delay:
        slot.delay = delay


def accept_encoding() -> str:
    """The content codings warcio decodes on read-back (br only with brotli installed)."""
    codings = ["gzip", "deflate"]
    if "br" in BufferedReader.DECOMPRESSORS:
        codings.append("br")
    return ", ".join(codings)


def _host_of(response: Any) -> str:
    return urlparse_cached(response).hostname or ""
