"""The crawl spider: seeds, scope and link extraction.

Pages themselves are turned into ``PageItem``s by ``crawler.pages`` (so a plain
Scrapy project gets the same output); this spider only decides which links to
follow. Depth is Scrapy's ``DEPTH_LIMIT``; redirects are Scrapy's, and every
hop comes back through the gates and the netguard. The page limit is
``crawler.budget``'s: once it is spent, no link is followed.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

import scrapy
from scrapy import signals
from scrapy.http import HtmlResponse, Response
from scrapy.linkextractors import IGNORED_EXTENSIONS, LinkExtractor
from twisted.python.failure import Failure

from tdmcrawl.crawler import settings as tdm_settings
from tdmcrawl.crawler.budget import PageBudget
from tdmcrawl.crawler.gates.netguard import PARENT_META, SEED_META
from tdmcrawl.crawler.gates.origin import Excluded
from tdmcrawl.crawler.linklog import LINKS_NAME, FollowedPage, LinkLog, read_link_log

SCOPES = tdm_settings.SCOPES
# Text types whose files Scrapy's link extractor skips by extension (IGNORED_EXTENSIONS):
# when such a type is a page type, links to its files are followed.
DOCUMENT_EXTENSIONS = {"application/pdf": ("pdf",), "application/epub+zip": ("epub",)}


def _own_method(spider: Any, func: Any) -> str | None:
    """The name ``func`` has on ``spider`` when it is one of its methods, else None."""
    name = getattr(func, "__name__", None)
    if name is None or getattr(func, "__self__", None) is not spider:
        return None
    own = getattr(type(spider), name, None)
    return name if own is not None and own is getattr(func, "__func__", None) else None


class PageRequest(scrapy.Request):
    """The spider's requests. The disk queue (JOBDIR) stores a request's callbacks by
    name, and Scrapy finds a name by listing every attribute of the spider
    (``inspect.getmembers``, twice a request: most of a queued request's cost); ours
    are the spider's own methods, named directly. Anything else goes Scrapy's way."""

    def to_dict(self, *, spider: scrapy.Spider | None = None) -> dict[str, Any]:
        callback, errback = self.callback, self.errback
        names = (_own_method(spider, callback), _own_method(spider, errback))
        if spider is None or None in names:
            return super().to_dict(spider=spider)
        self.callback = self.errback = None
        try:
            data = super().to_dict(spider=spider)
        finally:
            self.callback, self.errback = callback, errback
        data["callback"], data["errback"] = names
        return data


def link_extractor(text_types: list[str]) -> LinkExtractor:
    """Scrapy's extractor, following links to the document files that are page types."""
    wanted = {ext for t in text_types for ext in DOCUMENT_EXTENSIONS.get(t.strip().lower(), ())}
    return LinkExtractor(
        unique=True, deny_extensions=[e for e in IGNORED_EXTENSIONS if e not in wanted]
    )


def registrable_part(host: str) -> str:
    """The host without a leading ``www.``: the base a domain scope follows subdomains of.

    No public-suffix list is bundled; ``domain`` scope means "this host and its
    subdomains", which is exact for seeds given at the registrable domain.
    """
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


@functools.lru_cache(maxsize=4096)
def host_of(netloc: str) -> str:
    """The lower-case host of a URL's netloc (``SplitResult.hostname``), ``""`` for none.
    Cached: a page's links repeat a few hosts, and the property parses the netloc anew
    at each call (a link extractor's worth of links a page)."""
    return (SplitResult("", netloc, "", "", "").hostname or "").lower()


def in_scope(url: str, scope: str, seed_hosts: set[str]) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return False
    host = host_of(parts.netloc)
    if not host:
        return False
    if scope == "any":
        return True
    if scope == "host":
        return host in seed_hosts
    return any(
        host == base or host.endswith("." + base)
        for base in {registrable_part(h) for h in seed_hosts}
    )


class TdmcrawlSpider(scrapy.Spider):
    name = "tdmcrawl"

    def __init__(self, seeds: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_urls = list(seeds or [])
        self.seed_hosts = {(urlsplit(u).hostname or "").lower() for u in self.start_urls}
        self.pages = 0
        self._links = LinkExtractor(unique=True)
        self.link_log: LinkLog | None = None
        self.followed: dict[str, FollowedPage] = {}  # after a kill: where to pick up again
        self.budget = PageBudget(0)  # the crawler's, set by from_crawler

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> TdmcrawlSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.scope = str(tdm_settings.get(settings, "TDMCRAWL_SCOPE"))
        if spider.scope not in SCOPES:
            raise ValueError(f"TDMCRAWL_SCOPE must be one of {', '.join(SCOPES)}")
        spider.budget = PageBudget.of(crawler)
        spider._links = link_extractor(tdm_settings.getlist(settings, "TDMCRAWL_TEXT_TYPES"))
        if tdm_settings.getbool(settings, "TDMCRAWL_OUTPUT"):
            path = Path(str(tdm_settings.get(settings, "TDMCRAWL_OUT_DIR"))) / LINKS_NAME
            resume = tdm_settings.getbool(settings, "TDMCRAWL_RESUME")
            if resume and tdm_settings.getbool(settings, "TDMCRAWL_REFETCH_KEPT"):
                spider.followed = read_link_log(path)
                # The origin gate skips kept pages whose links are known (see linklog).
                crawler.tdmcrawl_followed = set(spider.followed)
            spider.link_log = LinkLog(path, append=resume)
            crawler.signals.connect(spider.link_log.close, signal=signals.spider_closed)
        return spider

    async def start(self) -> AsyncIterator[Any]:
        for url in self.start_urls:
            yield PageRequest(
                url,
                callback=self.parse,
                errback=self.failed,
                dont_filter=True,
                meta={SEED_META: True},
            )
        # After a kill the JOBDIR queue is gone: start again from the links already found,
        # each with the page it was found on, so the netguard checks it as a link again.
        depth_limit = self.settings.getint("DEPTH_LIMIT")
        for page in self.followed.values():
            if depth_limit and page.depth + 1 > depth_limit:
                continue
            for link in page.links:
                yield PageRequest(
                    link,
                    callback=self.parse,
                    errback=self.failed,
                    meta={"depth": page.depth + 1, PARENT_META: page.url},
                )

    def parse(self, response: Response) -> Iterator[Any]:
        self._count_page()
        yield from self.follow(response)

    def failed(self, failure: Failure) -> Iterator[Any]:
        # A page the post-fetch gate refused was still fetched: count it, follow its links.
        if failure.check(Excluded) and failure.value.stage == "post-fetch":
            self._count_page()
            if failure.value.response is not None:
                depth = int(failure.request.meta.get("depth", 0)) if failure.request else 0
                yield from self.follow(failure.value.response, depth=depth)

    def follow(self, response: Response, depth: int | None = None) -> Iterator[Any]:
        if not isinstance(response, HtmlResponse):
            return
        links = [
            link.url
            for link in self._links.extract_links(response)
            if in_scope(link.url, self.scope, self.seed_hosts)
        ]
        if self.link_log is not None:
            if depth is None:  # a refused response may be detached from its request
                depth = int(response.meta.get("depth", 0)) if response.request else 0
            self.link_log.record(response.url, depth, links)
        if self.budget.exhausted:
            return  # the link log has the links, for a --resume with a higher limit
        # The parent goes in meta, not only in a Referer: a page may ask for none, and
        # links followed from the errback (a refused page) get none at all.
        for url in links:
            yield PageRequest(
                url, callback=self.parse, errback=self.failed, meta={PARENT_META: response.url}
            )

    def _count_page(self) -> None:
        self.pages += 1
        self.crawler.stats.inc_value("tdmcrawl/pages")
