"""The page budget: ``TDMCRAWL_MAX_PAGES`` as a hard cap on page requests sent.

One count per crawl, kept here and nowhere else: :class:`PageBudget` takes one
unit for every page request that is about to reach the network (origin files,
robots.txt and the like, are not pages and do not count; a redirect hop or a
retry is a request sent and does). The downloader middleware, the last one
before the download handler, refuses every page request past the limit and
closes the spider once it is reached; the spider stops following links then,
so nothing more is scheduled. Counting requests sent, not items or responses,
is what makes the cap hold with many requests in flight.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.defer import deferred_from_coro

from tdmcrawl.crawler import settings as tds
from tdmcrawl.crawler.gates.origin import ORIGIN_META

logger = logging.getLogger(__name__)

CLOSE_REASON = "max_pages"


class PageBudget:
    """How many page requests this crawl may still send (``limit`` 0: no limit)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sent = 0

    @classmethod
    def of(cls, crawler: Any) -> PageBudget:
        """The crawler's budget, created on first use (the spider and the middleware share it)."""
        budget = getattr(crawler, "tdmcrawl_budget", None)
        if budget is None:
            budget = cls(int(tds.get(crawler.settings, "TDMCRAWL_MAX_PAGES")))
            crawler.tdmcrawl_budget = budget
        return budget

    @property
    def exhausted(self) -> bool:
        return bool(self.limit) and self.sent >= self.limit

    def take(self) -> bool:
        """One page request may go out (and is counted), or the budget is spent."""
        if self.exhausted:
            return False
        self.sent += 1
        return True


class PageBudgetError(IgnoreRequest):
    """A page request refused because ``TDMCRAWL_MAX_PAGES`` pages were requested already."""


class PageBudgetMiddleware:
    """Downloader middleware (priority 990): page requests past the budget never go out."""

    def __init__(self, crawler: Any, budget: PageBudget) -> None:
        self.crawler = crawler
        self.budget = budget
        self._closing = False

    @classmethod
    def from_crawler(cls, crawler: Any) -> PageBudgetMiddleware:
        budget = PageBudget.of(crawler)
        if not budget.limit:
            raise NotConfigured()  # no limit: nothing to count
        return cls(crawler, budget)

    def process_request(self, request: Any) -> None:
        if request.meta.get(ORIGIN_META):
            return  # robots.txt, tdmrep.json, ai.txt: not pages
        if not self.budget.take():
            self._close()
            raise PageBudgetError(f"--max-pages {self.budget.limit} reached: {request.url}")
        self.crawler.stats.set_value("tdmcrawl/pages/requested", self.budget.sent)
        if self.budget.exhausted:
            self._close()

    def _close(self) -> None:
        """Close the spider once: requests in flight finish, nothing new is scheduled."""
        if self._closing:
            return
        self._closing = True
        logger.info("tdmcrawl: %d pages requested (--max-pages): closing", self.budget.sent)
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None:
            deferred_from_coro(engine.close_spider_async(reason=CLOSE_REASON))
