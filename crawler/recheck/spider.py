"""The Scrapy side of ``tdmcrawl recheck``: one spider whose start runs the decision phase.

The spider yields no request of its own: the decision phase asks the engine
for every download (origin files through the origin gate, pages with
``download_async``), so politeness, the User-Agent and the evidence capture
are the crawl's.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import scrapy

from tdmcrawl.crawler.session import CrawlSession

logger = logging.getLogger(__name__)


class RecheckSpider(scrapy.Spider):
    name = "tdmcrawl-recheck"

    def __init__(self, phase: Callable[[Any, Any], Any], errors: list[str], **kwargs: Any):
        super().__init__(**kwargs)
        self.phase = phase
        self.errors = errors

    async def start(self) -> AsyncIterator[Any]:
        session = CrawlSession.of(self.crawler)
        if session.error:
            return
        if session.neardup is not None and getattr(session.neardup, "error", None):
            self.errors.append(f"near-duplicate index unavailable: {session.neardup.error}")
            return
        try:
            await self.phase(self.crawler, session)
        except Exception as exc:  # the run fails with one line; nothing is copied
            logger.exception("tdmcrawl recheck: the decision phase failed")
            self.errors.append(f"{type(exc).__name__}: {exc}")
        return
        yield  # an async generator that yields nothing
