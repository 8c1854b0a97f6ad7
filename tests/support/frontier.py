"""A loopback web and audit readers for the distributed-crawl tests (tests/test_frontier*.py).

The web is slow on purpose (each page takes ``DELAY`` seconds) and wide (one
index linking ``PAGES`` pages), so that two nodes with a few concurrent
requests each both get work from the shared frontier.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from tdmcrawl.crawler.demo.loopback import LoggedRequest, LoopbackWeb, Site, text_reply
from tests.support.neardup import ORIGINAL_KK
from tests.support.web import FAST, KAZAKH, RUSSIAN, Reply, _slow, page

PAGES = 24
DELAY = 0.25
NODE_FAST = [*FAST, "-s", "CONCURRENT_REQUESTS=4", "--progress", "0"]
COPY_TEXT = ORIGINAL_KK


def frontier_web() -> LoopbackWeb:
    paths = [f"/p{i}.html" for i in range(PAGES)]
    home = Site(
        "home",
        {
            "/robots.txt": text_reply("User-agent: *\nDisallow: /private/\n"),
            "/": page(
                "Home",
                KAZAKH,
                [
                    *paths,
                    "/private/x.html",
                    "/noai.html",
                    "{{origin:reserved}}/",
                    "{{origin:copy}}/",
                ],
            ),
            "/private/x.html": page("Private", "never requested"),
            "/noai.html": page("noai", RUSSIAN, headers=[("X-Robots-Tag", "noai")]),
        },
    )
    for i, path in enumerate(paths):
        # Each page links back to the index and to a neighbour: many duplicate links.
        neighbour = paths[(i + 1) % PAGES]
        home.add(path, _slow(DELAY, page(f"Бет {i}", f"{KAZAKH} {RUSSIAN} {i}", ["/", neighbour])))
    reserved = Site(
        "reserved",
        {
            "/robots.txt": text_reply("User-agent: *\nAllow: /\n"),
            "/.well-known/tdmrep.json": Reply(
                200,
                [("Content-Type", "application/json")],
                b'[{"location": "/", "tdm-reservation": 1}]',
            ),
            "/": page("Reserved work", COPY_TEXT),
        },
    )
    copy = Site("copy", {"/": _slow(1.5, page("Copy", COPY_TEXT))})
    return LoopbackWeb([home, reserved, copy])


def site_path(web: LoopbackWeb, url: str) -> str:
    """``http://127.0.0.1:PORT/x`` -> ``site:/x``: comparable across two runs of the web."""
    for name in web.sites:
        origin = web.origin(name)
        if url == origin or url.startswith(origin + "/"):
            return f"{name}:{url[len(origin) :] or '/'}"
    return url


def audit_rows(web: LoopbackWeb, out: Path) -> tuple[set[str], set[tuple[str, str, str]]]:
    """(kept pages, excluded (page, stage, reason)) of one audit database, web-independent."""
    db = sqlite3.connect(out / "audit.sqlite") if out.is_dir() else sqlite3.connect(out)
    try:
        kept = {site_path(web, url) for (url,) in db.execute("select url from kept")}
        excluded = {
            (site_path(web, url), stage, reason)
            for url, stage, reason in db.execute("select url, stage, reason from exclusions")
        }
        return kept, excluded
    finally:
        db.close()


def crawl_ids(out: Path) -> set[str]:
    db = sqlite3.connect(out / "audit.sqlite")
    try:
        return {row[0] for row in db.execute("select crawl_id from crawls")}
    finally:
        db.close()


def fetched_by(web: LoopbackWeb, contact: str) -> list[str]:
    """``site:path`` of every request whose User-Agent names ``contact``."""
    out = []
    for request in list(web.requests):
        agent = dict((k.lower(), v) for k, v in request.headers).get("user-agent", "")
        if contact in agent:
            out.append(f"{request.site}:{request.path}")
    return out


# -- the politeness web: a host with Crawl-delay: 1, a slow host, a reserved origin ------

DELAYED_PAGES = 10
FREE_PAGES = 12


class InFlight:
    """Counts the requests a site is answering at once (its per-host concurrency as seen)."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0
        self._lock = threading.Lock()

    def route(self, seconds: float, reply: Reply):
        def serve(web: LoopbackWeb, request: LoggedRequest) -> Reply:
            with self._lock:
                self.now += 1
                self.most = max(self.most, self.now)
            try:
                time.sleep(seconds)
                return reply
            finally:
                with self._lock:
                    self.now -= 1

        return serve


# The licence of the ``free`` site: its first page may not be used to train AI.
RSL_PAGE = "/f0.html"
FREE_LICENCE = (
    f'<rsl xmlns="https://rslstandard.org/rsl"><content url="{RSL_PAGE}"><license>'
    '<prohibits type="usage">ai-train</prohibits></license></content></rsl>'
).encode()


def polite_web() -> tuple[LoopbackWeb, InFlight]:
    """``delayed`` asks for Crawl-delay: 1; ``free`` answers slowly and its robots.txt
    names an RSL licence that reserves one page; ``reserved`` has a tdmrep.json
    reservation (an exclusion whose evidence is an origin file)."""
    delayed_paths = [f"/d{i}.html" for i in range(DELAYED_PAGES)]
    free_paths = [f"/f{i}.html" for i in range(FREE_PAGES)]
    delayed = Site(
        "delayed",
        {
            "/robots.txt": text_reply("User-agent: *\nCrawl-delay: 1\nDisallow: /private/\n"),
            "/": page(
                "Delayed",
                KAZAKH,
                [*delayed_paths, "/private/x.html", "{{origin:free}}/", "{{origin:reserved}}/"],
            ),
            "/private/x.html": page("Private", "never requested"),
        },
        host="127.0.0.1",
    )
    for i, path in enumerate(delayed_paths):
        delayed.add(path, page(f"Бет {i}", f"{KAZAKH} {i}"))
    in_flight = InFlight()
    free = Site(
        "free",
        {
            "/robots.txt": text_reply("License: /licence.xml\nUser-agent: *\nAllow: /\n"),
            "/licence.xml": Reply(200, [("Content-Type", "application/rsl+xml")], FREE_LICENCE),
            "/": page("Free", RUSSIAN, free_paths),
        },
        host="127.0.0.2",  # hosts of their own: crawlers throttle per host, not per port
    )
    for i, path in enumerate(free_paths):
        free.add(path, in_flight.route(0.3, page(f"Страница {i}", f"{RUSSIAN} {i}")))
    reserved = Site(
        "reserved",
        {
            "/robots.txt": text_reply("User-agent: *\nAllow: /\n"),
            "/.well-known/tdmrep.json": Reply(
                200,
                [("Content-Type", "application/json")],
                b'[{"location": "/", "tdm-reservation": 1}]',
            ),
            "/": page("Reserved work", COPY_TEXT),
        },
        host="127.0.0.3",
    )
    return LoopbackWeb([delayed, free, reserved]), in_flight


def request_times(web: LoopbackWeb, site: str) -> list[float]:
    return sorted(r.at for r in list(web.requests) if r.site == site)
