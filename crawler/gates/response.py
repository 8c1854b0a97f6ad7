"""The post-fetch gate: ``optout.evaluate`` on every successful response.

It sits at priority 540, below RedirectMiddleware (600), HttpCompression (590)
and Retry (550) in the ``process_response`` order, so it sees final responses
with decoded bodies. A reserved page is audited (``stage="post-fetch"``), its
main text is handed to the session's reserved-page hooks (the near-duplicate
index) and it is refused with ``Excluded``: neither the spider nor any item
pipeline ever sees it, and nothing of it is stored.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

from tdmcrawl.crawler.capture import CAPTURE_META
from tdmcrawl.crawler.gates.origin import (
    ORIGIN_META,
    Excluded,
    evidence_for,
    header_pairs,
    origin_of,
)
from tdmcrawl.crawler.session import CrawlSession
from tdmcrawl.crawler.workers import page_text
from tdmcrawl.dedup.extract import DEFAULT_ENGINE, Engine
from tdmcrawl.optout import rsl
from tdmcrawl.optout.decision import Decision
from tdmcrawl.optout.policy import ResponseSignals, evaluate

logger = logging.getLogger(__name__)
# trafilatura logs ERROR for every non-HTML body; for the crawl that is an expected case.
logging.getLogger("trafilatura").setLevel(logging.CRITICAL)

DECISION_META = "tdmcrawl_decision"  # the post-fetch decision of an allowed response, as a dict
PREPARED_META = "tdmcrawl_prepared"  # crawler.workers.Prepared of an allowed response, if any


class ResponseGateMiddleware:
    """Downloader middleware at priority 540; see the module docstring."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.session = CrawlSession.of(crawler)

    @classmethod
    def from_crawler(cls, crawler: Any) -> ResponseGateMiddleware:
        return cls(crawler)

    async def process_response(self, request: Any, response: Response) -> Response:
        if request.meta.get(ORIGIN_META) or not 200 <= response.status < 300:
            return response  # errors and origin files never become pages
        gate = self.session.origin_gate
        if gate is None:
            # Without the origin gate there are no origin signals to decide by: keep nothing.
            logger.error("tdmcrawl: the origin gate is not installed; %s is not kept", request.url)
            raise IgnoreRequest("tdmcrawl: the origin gate is not installed")
        # A page worker prepares the page (text, fingerprint, response record) meanwhile.
        prepared = self.session.prepare_page(
            response.url,
            response.body,
            _content_type(response) or "",
            request.meta.get(CAPTURE_META),
            lambda: getattr(response, "encoding", None),
        )
        decision, entry = await self.decide(gate, response)
        if not decision.allowed:
            # The page's head and deciding meta tags go to the evidence WARC (never its body);
            # the audit row points to the origin file where the decisive signal came from one.
            page = self.session.record_page_evidence(
                request.meta.get(CAPTURE_META),
                decision,
                stage="post-fetch",
                body=response.body,
                content_type=_content_type(response),
            )
            self.session.record_exclusion(
                decision, stage="post-fetch", evidence=evidence_for(decision, entry) or page
            )
            if self.session.reserved_hooks:
                self.session.reserved(response.url, extract_text(response), decision)
            raise Excluded(decision, "post-fetch", response)
        request.meta[DECISION_META] = decision.to_dict()
        if prepared is not None:
            request.meta[PREPARED_META] = await prepared
        return response

    async def decide(self, gate: Any, response: Response) -> tuple[Decision, Any]:
        origin = origin_of(response.url)
        entry = await gate.origin(origin)
        headers = header_pairs(response)
        content_type = _content_type(response)
        policy = self.session.policy
        if policy.rsl:
            # RSL licences a page names (Link header, HTML <link>): fetched once per origin.
            refs = rsl.from_link_headers(headers, response.url)
            if "html" in (content_type or "").lower():
                refs += rsl.from_html(response.body, response.url, policy.html_meta_max_bytes)
            urls = [ref.url for ref in refs if ref.inline is None]
            if urls:
                await gate.licences(origin, entry, urls)
        signals = ResponseSignals(
            status=response.status,
            headers=headers,
            body=response.body,
            content_type=content_type,
            # DOWNLOAD_FAIL_ON_DATALOSS=False lets a cut body through, flagged.
            truncated="dataloss" in response.flags,
        )
        decision = evaluate(response.url, entry.signals, signals, self.session.policy)
        registry = self.session.registry
        if registry is not None:
            match = registry.match_url(response.url)
            if match is not None:
                decision = decision.merge(Decision(url=response.url, reasons=(match.to_reason(),)))
        return decision, entry


def extract_text(response: Response, engine: Engine = DEFAULT_ENGINE) -> str:
    """The main text of a page (``crawler.workers.page_text``, in this thread)."""
    content_type = _content_type(response) or ""
    encoding = getattr(response, "encoding", None) if content_type.startswith("text/") else None
    return page_text(response.body, content_type, response.url, encoding, engine)


def _content_type(response: Response) -> str | None:
    value = response.headers.get("Content-Type")
    return value.decode("latin-1") if value else None
