"""The page budget: ``TDMCRAWL_MAX_PAGES`` as a hard cap on page requests sent.

One count per crawl, kept here and nowhere else: :class:`PageBudget` takes one
unit for every page request that is about to reach the network (origin files,
robots.txt and the like, are not pages and do not count; a redirect hop or a
retry is a request sent and does). The downloader middleware, the last one
before the download handler, refuses every page request past the limit and
closes the spider once it is reached; the spider stops following links then,
so nothing more is scheduled. Counting requests sent, not items or responses,
is what makes the cap hold with many requests in flight.

With ``--redis`` the count is the cluster's: :class:`PageBudget` takes each
unit from one counter in the frontier's Redis (``crawler.cluster``, one Lua
call that never goes past the limit), so every node refuses page requests
once all nodes together have sent ``--max-pages``. The rule of what counts is
the same on one node and on many; only where the number is kept differs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.defer import deferred_from_coro

from tdmcrawl.crawler import settings as tds
from tdmcrawl.crawler.cluster import Cluster
from tdmcrawl.crawler.gates.origin import ORIGIN_META

logger = logging.getLogger(__name__)

CLOSE_REASON = "max_pages"


class PageBudget:
    """How many page requests this crawl may still send (``limit`` 0: no limit).

    ``shared``: a callable giving the cluster whose Redis keeps the count (a
    distributed crawl), resolved at the first :meth:`take` (the cluster's key
    names need the spider). ``sent`` is what this process took."""

    def __init__(self, limit: int, shared: Callable[[], Cluster | None] | None = None) -> None:
        self.limit = limit
        self.sent = 0
        self._shared = shared
        self._spent = False  # the count reached the limit (the cluster's, as last seen)

    @classmethod
    def of(cls, crawler: Any) -> PageBudget:
        """The crawler's budget, created on first use (the spider and the middleware share it)."""
        budget = getattr(crawler, "tdmcrawl_budget", None)
        if budget is None:
            limit = int(tds.get(crawler.settings, "TDMCRAWL_MAX_PAGES"))
            shared = None
            if crawler.settings.get("TDMCRAWL_FRONTIER_REDIS"):
                shared = lambda: Cluster.of(crawler)  # noqa: E731
            budget = cls(limit, shared)
            crawler.tdmcrawl_budget = budget
        return budget

    @property
    def exhausted(self) -> bool:
        return self._spent

    def take(self) -> bool:
        """One page request may go out (and is counted), or the budget is spent."""
        if self._spent:
            return False
        cluster = self._shared() if self._shared is not None and self.limit else None
        if cluster is not None:
            taken = cluster.take_page(self.limit)  # the cluster's count, this one included
            if not taken:
                self._spent = True
                return False
        else:
            taken = self.sent + 1
        self.sent += 1
        self._spent = bool(self.limit) and taken >= self.limit
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
