"""The Scrapy add-on: one ``ADDONS`` entry gives a Scrapy project tdmcrawl's gates and output.

    ADDONS = {"tdmcrawl.crawler.addon.TdmcrawlAddon": 0}

``tdmcrawl crawl`` uses this same add-on, so a plain Scrapy project and the
command decide alike. Politeness defaults are set at the ``addon`` priority,
below a project's own settings and ``-s``; the gates and the output are
installed at fixed priorities. Scrapy's RobotsTxtMiddleware is switched off:
it allows everything when robots.txt fails, and the origin gate replaces it.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from tdmcrawl.crawler import frontier
from tdmcrawl.crawler import settings as tdm_settings
from tdmcrawl.crawler.budget import PageBudgetMiddleware
from tdmcrawl.crawler.capture import CaptureMiddleware, WireHTTP11DownloadHandler
from tdmcrawl.crawler.errors import EXIT_USAGE, UsageError
from tdmcrawl.crawler.gates.neardup import NearDuplicateGate
from tdmcrawl.crawler.gates.netguard import NetGuardMiddleware, NetGuardSpiderMiddleware
from tdmcrawl.crawler.gates.origin import OriginGateMiddleware
from tdmcrawl.crawler.gates.response import ResponseGateMiddleware
from tdmcrawl.crawler.output import WarcOutputPipeline
from tdmcrawl.crawler.pages import PageItemMiddleware
from tdmcrawl.crawler.politeness import CrawlDelayAutoThrottle, accept_encoding
from tdmcrawl.crawler.progress import ProgressReporter
from tdmcrawl.crawler.session import STEP_NEAR_DUPLICATE, STEP_OUTPUT, CrawlSession

logger = logging.getLogger(__name__)


def path_of(cls: type) -> str:
    """The import path Scrapy's component dicts use; the class itself is imported above,
    so a missing or renamed module stops the crawl at start-up, never drops a gate."""
    return f"{cls.__module__}.{cls.__qualname__}"


# Downloader middlewares (process_request runs low -> high, process_response high -> low).
NETGUARD = 90  # before anything reaches the network, including origin-file fetches
ORIGIN_GATE = 100  # where RobotsTxtMiddleware sits in Scrapy's base list
RESPONSE_GATE = 540  # below Redirect 600, HttpCompression 590 and Retry 550
CAPTURE = 595  # above HttpCompression 590: sees the body as received
PAGE_BUDGET = 990  # the last before the download handler: counts the page requests sent
PAGE_ITEMS = 950  # spider middleware, close to the spider: turns passed responses into PageItems
NETGUARD_PARENT = 960  # spider middleware, closest to the spider: each request's parent page
# Item pipelines for their open/close only: pages reach them from the session, in this order
# (copies of reserved works are dropped before the output), never through the item stream.
NEAR_DUPLICATE = STEP_NEAR_DUPLICATE
OUTPUT = STEP_OUTPUT

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    path_of(NetGuardMiddleware): NETGUARD,
    path_of(OriginGateMiddleware): ORIGIN_GATE,
    path_of(ResponseGateMiddleware): RESPONSE_GATE,
    path_of(CaptureMiddleware): CAPTURE,
    path_of(PageBudgetMiddleware): PAGE_BUDGET,
}
SPIDER_MIDDLEWARES = {
    path_of(PageItemMiddleware): PAGE_ITEMS,
    path_of(NetGuardSpiderMiddleware): NETGUARD_PARENT,
}
EXTENSIONS = {
    path_of(CrawlSession): 0,
    "scrapy.extensions.throttle.AutoThrottle": None,
    path_of(CrawlDelayAutoThrottle): 0,
    path_of(ProgressReporter): 0,
}
WIRE_HANDLER = path_of(WireHTTP11DownloadHandler)
OUTPUT_PIPELINE = path_of(WarcOutputPipeline)
NEAR_DUPLICATE_PIPELINE = path_of(NearDuplicateGate)

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

# Scrapy's listeners on 127.0.0.1: the telnet console and (Scrapy 2.19) the remote-control
# HTTP server, which runs Python code sent to it. Off at the add-on's priority: a project
# (or `-s`) that wants one sets it on explicitly.
LISTENERS_OFF = {"TELNETCONSOLE_ENABLED": False, "REMOTE_CONTROL_ENABLED": False}

# Scrapy components that do nothing when their setting is off, yet still import their
# module to find that out: the remote control imports aiohttp, the cookies middleware
# tldextract and requests (about 0.15 s a crawl). Left out of Scrapy's base list while
# their setting is off: a None in the project's dict would import them too (Scrapy loads
# every key of it to match it against the base list).
IDLE_WHEN_OFF = (
    ("REMOTE_CONTROL_ENABLED", "EXTENSIONS", "scrapy.extensions.remote_control.RemoteControl"),
    (
        "COOKIES_ENABLED",
        "DOWNLOADER_MIDDLEWARES",
        "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",
    ),
)


class TdmcrawlAddon:
    """Installs tdmcrawl's session, gates, capture, throttle and WARC output."""

    def update_settings(self, settings: Any) -> None:
        try:
            tdm_settings.validate(settings)  # before any component is built or file written
        except UsageError as exc:
            refuse_to_start(settings, str(exc))
        for name, value in {**POLITENESS, **LISTENERS_OFF}.items():
            settings.set(name, value, priority="addon")
        settings.set("USER_AGENT", tdm_settings.user_agent(settings), priority="addon")
        headers = dict(settings.getdict("DEFAULT_REQUEST_HEADERS"))
        # Only codings warcio can decode on read-back (Scrapy would add zstd).
        headers["Accept-Encoding"] = accept_encoding()
        settings.set(
            "DEFAULT_REQUEST_HEADERS",
            headers,
            priority=max(settings.getpriority("DEFAULT_REQUEST_HEADERS") or 0, 20),
        )

        settings["DOWNLOADER_MIDDLEWARES"].update(DOWNLOADER_MIDDLEWARES)
        settings["SPIDER_MIDDLEWARES"].update(SPIDER_MIDDLEWARES)
        settings["EXTENSIONS"].update(EXTENSIONS)
        for switch, components, path in IDLE_WHEN_OFF:
            base = settings[f"{components}_BASE"]
            if not settings.getbool(switch) and path in base:
                del base[path]
        if tdm_settings.getbool(settings, "TDMCRAWL_OUTPUT"):
            settings["ITEM_PIPELINES"][OUTPUT_PIPELINE] = OUTPUT
        if tdm_settings.getbool(settings, "TDMCRAWL_DEDUP"):
            # Output off (`check`): the gate still finds copies, from an index in memory.
            settings["ITEM_PIPELINES"][NEAR_DUPLICATE_PIPELINE] = NEAR_DUPLICATE
        handlers = settings["DOWNLOAD_HANDLERS"]
        for scheme in ("http", "https"):
            handlers[scheme] = WIRE_HANDLER
        if settings.get("TDMCRAWL_FRONTIER_REDIS"):
            frontier.configure(settings)  # checks that the `redis` extra is installed


def refuse_to_start(settings: Any, message: str) -> None:
    """A bad setting stops the Scrapy process before it starts, with one line (exit 2).

    Raising from ``update_settings`` would print a traceback and exit 1 under
    ``scrapy crawl``; the line says what to fix instead.
    """
    line = f"tdmcrawl: {message}"
    if settings.get("LOG_FILE"):
        logger.critical(line)  # the terminal gets the line below; the log file gets it too
    print(f"Error: {line}", file=sys.stderr, flush=True)
    raise SystemExit(EXIT_USAGE)
