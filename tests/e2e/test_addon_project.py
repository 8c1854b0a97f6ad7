"""The add-on in a plain Scrapy project: one ADDONS entry gives the gates and WARC output."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap

from warcio.archiveiterator import ArchiveIterator

from tdmcrawl.crawler.demo.loopback import LoopbackWeb, Site, text_reply
from tests.support.web import page

HOOK = '''
import json
import os

from tdmcrawl.crawler.session import CrawlSession


class ReservedLog:
    """Plays the near-duplicate index: records what the reserved-page hook receives."""

    def __init__(self, crawler):
        CrawlSession.of(crawler).reserved_hooks.append(self.hook)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def hook(self, url, text, decision):
        with open(os.environ["RESERVED_LOG"], "a", encoding="utf-8") as log:
            log.write(json.dumps({"url": url, "text": text, "codes": list(decision.codes)},
                                 ensure_ascii=False) + "\\n")
'''

SPIDER = """
import os
import scrapy


class SiteSpider(scrapy.Spider):
    name = "site"
    start_urls = [os.environ["PLAIN_START"]]

    def parse(self, response):
        yield {"url": response.url, "title": response.css("title::text").get()}
        yield from response.follow_all(css="a", callback=self.parse)
"""


def _project(root, out):
    (root / "plainproj" / "spiders").mkdir(parents=True)
    (root / "scrapy.cfg").write_text("[settings]\ndefault = plainproj.settings\n")
    (root / "plainproj" / "__init__.py").write_text("")
    (root / "plainproj" / "spiders" / "__init__.py").write_text("")
    (root / "plainproj" / "spiders" / "site.py").write_text(SPIDER)
    (root / "plainproj" / "hook.py").write_text(HOOK)
    (root / "plainproj" / "settings.py").write_text(
        textwrap.dedent(f"""
        BOT_NAME = "plainproj"
        SPIDER_MODULES = ["plainproj.spiders"]
        ROBOTSTXT_OBEY = True  # as the startproject template says; the add-on replaces it
        ADDONS = {{"tdmcrawl.crawler.addon.TdmcrawlAddon": 0}}
        TDMCRAWL_OUT_DIR = {str(out)!r}
        DOWNLOAD_DELAY = 0
        AUTOTHROTTLE_ENABLED = False
        FEEDS = {{{str(root / "items.jl")!r}: {{"format": "jsonlines"}}}}
        EXTENSIONS = {{"plainproj.hook.ReservedLog": 10}}
    """)
    )


def test_addon_in_a_plain_scrapy_project(tmp_path):
    out = tmp_path / "out"
    _project(tmp_path, out)
    site = Site(
        "plain",
        {
            "/robots.txt": text_reply("User-agent: *\nDisallow: /private/\n"),
            "/": page("Home", "home", ["/ok.html", "/noai.html", "/private/p.html"]),
            "/ok.html": page("OK", "may be used"),
            "/noai.html": page(
                "Reserved",
                "Авторлық мәтін: оқытуға болмайды.",
                head='<meta name="robots" content="noai">',
            ),
            "/private/p.html": page("Private", "never requested"),
        },
    )
    with LoopbackWeb([site]) as web:
        env = {
            **os.environ,
            "PLAIN_START": web.url("plain", "/"),
            "RESERVED_LOG": str(tmp_path / "reserved.jl"),
            "PYTHONPATH": str(tmp_path),
        }
        proc = subprocess.run(
            [sys.executable, "-m", "scrapy", "crawl", "site"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        requested = web.requested_paths("plain")
        agent = dict(web.requests[0].headers)["User-Agent"]
    assert "/private/p.html" not in requested
    assert "/noai.html" in requested  # fetched (for signatures), never used
    assert agent.startswith("tdmcrawl/") and "Scrapy" not in agent

    # The project's own spider never saw the reserved page.
    items = [json.loads(line) for line in (tmp_path / "items.jl").read_text().splitlines()]
    assert {i["title"] for i in items} == {"Home", "OK"}

    uris = set()
    for path in (out / "warc").glob("*.warc.gz"):
        with path.open("rb") as stream:
            uris |= {
                r.rec_headers.get_header("WARC-Target-URI")
                for r in ArchiveIterator(stream)
                if r.rec_type == "response"
            }
    assert {u.rsplit("/", 1)[1] for u in uris} == {"", "ok.html"}

    db = sqlite3.connect(out / "audit.sqlite")
    reasons = dict(db.execute("select substr(url, instr(url, '/') + 2), reason from exclusions"))
    assert sorted(reasons.values()) == ["noai", "robots"]
    assert list(out.glob("evidence/*.warc.gz"))

    # The reserved page's text went to the hook (the near-duplicate index), nowhere else.
    hooked = [json.loads(line) for line in (tmp_path / "reserved.jl").read_text().splitlines()]
    assert [h["codes"] for h in hooked] == [["noai"]]
    assert "Авторлық мәтін" in hooked[0]["text"]


# A project that takes the generic names tdmcrawl's folders have: a package `crawler`
# (what `scrapy startproject crawler` makes) with its own `registry` module.
PROJECT_REGISTRY = '''
"""The project's own registry of sites: nothing to do with tdmcrawl's."""

SITES = {"start": None}
'''

PROJECT_SPIDER = """
import os

import scrapy

from crawler import registry


class SiteSpider(scrapy.Spider):
    name = "site"

    async def start(self):
        registry.SITES["start"] = os.environ["PLAIN_START"]
        yield scrapy.Request(registry.SITES["start"])

    def parse(self, response):
        yield {"url": response.url}
        yield from response.follow_all(css="a", callback=self.parse)
"""


def test_addon_in_a_project_named_crawler_with_its_own_registry(tmp_path):
    """Nothing generic is installed: the project's `crawler` and `crawler.registry` are its
    own, `scrapy startproject crawler` is accepted, and the add-on loads beside them."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    started = subprocess.run(
        [sys.executable, "-m", "scrapy", "startproject", "crawler"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 0, started.stdout + started.stderr
    root = tmp_path / "crawler"
    (root / "crawler" / "registry.py").write_text(PROJECT_REGISTRY)
    (root / "crawler" / "spiders" / "site.py").write_text(PROJECT_SPIDER)
    out = tmp_path / "out"
    with (root / "crawler" / "settings.py").open("a") as settings:
        settings.write(
            textwrap.dedent(f"""
            ADDONS = {{"tdmcrawl.crawler.addon.TdmcrawlAddon": 0}}
            TDMCRAWL_OUT_DIR = {str(out)!r}
            DOWNLOAD_DELAY = 0
            AUTOTHROTTLE_ENABLED = False
        """)
        )
    site = Site(
        "plain",
        {
            "/robots.txt": text_reply("User-agent: *\nDisallow: /private/\n"),
            "/": page("Home", "home", ["/ok.html", "/private/p.html"]),
            "/ok.html": page("OK", "may be used"),
            "/private/p.html": page("Private", "never requested"),
        },
    )
    with LoopbackWeb([site]) as web:
        run_env = {**env, "PLAIN_START": web.url("plain", "/")}
        proc = subprocess.run(
            [sys.executable, "-m", "scrapy", "crawl", "site"],
            cwd=root,
            env=run_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        requested = web.requested_paths("plain")
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "/private/p.html" not in requested and "/ok.html" in requested
    db = sqlite3.connect(out / "audit.sqlite")
    assert [r for (r,) in db.execute("select reason from exclusions")] == ["robots"]
    kept = {u.rsplit("/", 1)[1] for (u,) in db.execute("select url from kept")}
    assert kept == {"", "ok.html"}
