"""Turning responses that passed the gates into ``PageItem``s, for any spider.

A spider middleware, installed by the add-on, so that a plain Scrapy project
gets WARC output without changing its spiders: every successful text response
that the post-fetch gate allowed becomes one ``PageItem``, handed to the
session's page steps (the near-duplicate gate, then the WARC output), never to
the item stream: the project's pipelines, feed exports and item log see only
what its spider yields, untouched. Reserved pages never get here (the gate
refused them in the downloader).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from scrapy.http import Response

from tdmcrawl.crawler.capture import CAPTURE_META
from tdmcrawl.crawler.gates.response import DECISION_META, PREPARED_META, extract_text
from tdmcrawl.crawler.items import PageItem
from tdmcrawl.crawler.session import CrawlSession
from tdmcrawl.dedup.extract import QUERY_ENGINE
from tdmcrawl.optout.decision import Decision

logger = logging.getLogger(__name__)


class PageItemMiddleware:
    """Spider middleware: one ``PageItem`` per allowed, successful HTML/text response."""

    def __init__(self, crawler: Any) -> None:
        self.session = CrawlSession.of(crawler)
        self.text_types = self.session.text_types
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Any) -> PageItemMiddleware:
        return cls(crawler)

    def page_item(self, response: Response) -> PageItem | None:
        decision = response.meta.get(DECISION_META)
        if not self.session.output_enabled:
            return None  # `check` and other output-less runs need no items
        if decision is None or not 200 <= response.status < 300:
            return None
        content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
        if content_type.split(";", 1)[0].strip().lower() not in self.text_types:
            if self.stats is not None:
                self.stats.inc_value("tdmcrawl/pages/skipped-content-type")
            return None
        if response.url in self.session.kept_urls:
            return None  # written before an interruption (--resume), or a duplicate response
        self.session.kept_urls.add(response.url)
        prepared = response.meta.get(PREPARED_META)
        # The text only for the near-duplicate gate, and only when no worker prepared it.
        needs_text = self.session.neardup is not None and prepared is None
        return PageItem(
            url=response.url,
            decision=Decision.from_dict(decision),
            capture=response.meta.get(CAPTURE_META),
            text=extract_text(response, QUERY_ENGINE) if needs_text else None,
            depth=int(response.meta.get("depth", 0)),
            prepared=prepared,
        )

    def keep(self, response: Response) -> None:
        item = self.page_item(response)
        if item is None:
            return
        try:
            self.session.keep_page(item)
        except Exception:
            # As an item pipeline's error would: logged, and the page's links still followed.
            logger.exception("tdmcrawl: keeping %s failed", item.url)

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterator[Any]:
        self.keep(response)
        yield from result

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        self.keep(response)
        async for element in result:
            yield element
