"""The Scrapy add-on: one ``ADDONS`` entry gives a Scrapy project tdmcrawl's gates and output.

    ADDONS = {"crawler.addon.TdmcrawlAddon": 0}

``tdmcrawl crawl`` uses this same add-on, so a plain Scrapy project and the
command decide alike. Politeness defaults are set at the ``addon`` priority,
below a project's own settings and ``-s``; the gates and the output are
installed at fixed priorities. Scrapy's RobotsTxtMiddleware is switched off:
it allows everything when robots.txt fails, and the origin gate replaces it.
"""

from __future__ import annotations

import importlib
from typing import Any

from crawler import settings as tdm_settings
from crawler.politeness import accept_encoding

# Downloader middlewares (process_request runs low -> high, process_response high -> low).
NETGUARD = 90  # before anything reaches the network, including origin-file fetches
ORIGIN_GATE = 100  # where RobotsTxtMiddleware sits in Scrapy's base list
RESPONSE_GATE = 540  # below Redirect 600, HttpCompression 590 and Retry 550
CAPTURE = 595  # above HttpCompression 590: sees the body as received
PAGE_ITEMS = 950  # spider middleware, close to the spider: turns passed responses into PageItems
NEAR_DUPLICATE = 900  # item pipeline: copies of reserved works are dropped before the output
OUTPUT = 1000  # the last item pipeline

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.netguard.NetGuardMiddleware": NETGUARD,
    "crawler.origin_gate.OriginGateMiddleware": ORIGIN_GATE,
    "crawler.response_gate.ResponseGateMiddleware": RESPONSE_GATE,
    "crawler.capture.CaptureMiddleware": CAPTURE,
}
SPIDER_MIDDLEWARES = {"crawler.pages.PageItemMiddleware": PAGE_ITEMS}
EXTENSIONS = {
    "crawler.session.CrawlSession": 0,
    "scrapy.extensions.throttle.AutoThrottle": None,
    "crawler.politeness.CrawlDelayAutoThrottle": 0,
    "crawler.progress.ProgressReporter": 0,
}
WIRE_HANDLER = "crawler.capture.WireHTTP11DownloadHandler"

# What a site owner would accept from a polite crawler; all overridable with -s.
POLITENESS = {
    "ROBOTSTXT_OBEY": False,  # the origin gate does it, failing closed
    "AUTOTHROTTLE_ENABLED": True,
    "AUTOTHROTTLE_START_DELAY": 2.0,
    "AUTOTHROTTLE_MAX_DELAY": 60.0,
    "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
    "DOWNLOAD_DELAY": 1.0,
    "CONCURRENT_REQUESTS": 16,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
    "COOKIES_ENABLED": False,
    "DOWNLOAD_MAXSIZE": 16 * 1024 * 1024,
    "DOWNLOAD_WARNSIZE": 4 * 1024 * 1024,
    "DOWNLOAD_TIMEOUT": 60,
    "RETRY_TIMES": 2,
    "REDIRECT_MAX_TIMES": 10,
}


class TdmcrawlAddon:
    """Installs tdmcrawl's session, gates, capture, throttle and WARC output."""

    def update_settings(self, settings: Any) -> None:
        for name, value in POLITENESS.items():
            settings.set(name, value, priority="addon")
        settings.set("USER_AGENT", tdm_settings.user_agent(settings), priority="addon")
        headers = dict(settings.getdict("DEFAULT_REQUEST_HEADERS"))
        # Only codings warcio can decode on read-back (Scrapy would add zstd).
        headers["Accept-Encoding"] = accept_encoding()
        settings.set("DEFAULT_REQUEST_HEADERS", headers,
                     priority=max(settings.getpriority("DEFAULT_REQUEST_HEADERS") or 0, 20))

        for path, priority in DOWNLOADER_MIDDLEWARES.items():
            if priority is None or _importable(path):
                settings["DOWNLOADER_MIDDLEWARES"][path] = priority
        for path, priority in SPIDER_MIDDLEWARES.items():
            settings["SPIDER_MIDDLEWARES"][path] = priority
        for path, priority in EXTENSIONS.items():
            if priority is None or _importable(path):
                settings["EXTENSIONS"][path] = priority
        if tdm_settings.getbool(settings, "TDMCRAWL_OUTPUT") and _importable(
            "crawler.output.WarcOutputPipeline"
        ):
            settings["ITEM_PIPELINES"]["crawler.output.WarcOutputPipeline"] = OUTPUT
            if tdm_settings.getbool(settings, "TDMCRAWL_DEDUP") and _importable(
                "crawler.neardup.NearDuplicateGate"
            ):
                settings["ITEM_PIPELINES"]["crawler.neardup.NearDuplicateGate"] = NEAR_DUPLICATE
        if _importable(WIRE_HANDLER):
            handlers = settings["DOWNLOAD_HANDLERS"]
            for scheme in ("http", "https"):
                handlers[scheme] = WIRE_HANDLER
        if settings.get("TDMCRAWL_FRONTIER_REDIS"):
            from crawler.frontier import configure  # the redis extra, only when asked for

            configure(settings)


def _importable(path: str) -> bool:
    module_name, _, attr = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return False  # a part written by another helper has not landed yet
        raise
    return hasattr(module, attr)
