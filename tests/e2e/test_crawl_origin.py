"""The origin gate over time and with a registry: refresh, retry after failure, URL rules."""

from __future__ import annotations

import json
import sqlite3
import threading

from tdmcrawl.crawler.demo.loopback import LoopbackWeb, Reply, Site, text_reply
from tdmcrawl.registry import Registry
from tests.support.web import FAST, _slow, page, tdmcrawl


def _changing(first: Reply, later: Reply, switch_after: int = 1):
    """A route answering ``first`` for the first ``switch_after`` requests, then ``later``."""
    count = {"n": 0}
    lock = threading.Lock()

    def route(web, request):
        with lock:
            count["n"] += 1
            return first if count["n"] <= switch_after else later

    return route


def _chain(site: Site, prefix: str, pages: int, delay: float, extra=lambda i: []) -> None:
    for i in range(pages):
        links = ([f"/{prefix}{i + 1}.html"] if i + 1 < pages else []) + extra(i)
        site.add(f"/{prefix}{i}.html", _slow(delay, page(f"{prefix}{i}", "text", links)))


def _exclusions(out):
    db = sqlite3.connect(out / "audit.sqlite")
    return {url: reason for url, reason in db.execute("select url, reason from exclusions")}


def test_robots_txt_is_fetched_again_after_its_ttl(tmp_path):
    site = Site(
        "ttl",
        {
            "/robots.txt": _changing(
                text_reply("User-agent: *\nAllow: /\n"), text_reply("User-agent: *\nDisallow: /\n")
            )
        },
    )
    _chain(site, "p", 12, 0.1)
    with LoopbackWeb([site]) as web:
        out = tmp_path / "out"
        proc = tdmcrawl(
            "crawl",
            web.url("ttl", "/p0.html"),
            "--out",
            str(out),
            "--progress",
            "0",
            *FAST,
            "-s",
            "TDMCRAWL_ORIGIN_TTL=0.4",
        )
        assert proc.returncode == 0, proc.stderr
        paths = web.requested_paths("ttl")
    assert paths.count("/robots.txt") >= 2
    # The new robots.txt stops the chain: at the latest the next URL is never requested.
    assert set(_exclusions(out).values()) == {"robots"}
    assert "/p11.html" not in paths


def test_failed_robots_txt_is_retried_not_cached_for_the_crawl(tmp_path):
    # Origin "a" serves a slow chain; every page links to a page of origin "b",
    # whose robots.txt fails (503) once and then allows everything.
    b = Site(
        "b",
        {
            "/robots.txt": _changing(
                text_reply("busy", status=503), text_reply("User-agent: *\nAllow: /\n")
            )
        },
    )
    a = Site("a", {"/robots.txt": text_reply("User-agent: *\nAllow: /\n")})
    for i in range(10):
        b.add(f"/b{i}.html", page(f"b{i}", "other origin"))
    with LoopbackWeb([a, b]) as web:
        b_origin = web.origin("b")
        _chain(a, "a", 10, 0.1, extra=lambda i: [f"{b_origin}/b{i}.html"])
        out = tmp_path / "out"
        proc = tdmcrawl(
            "crawl",
            web.url("a", "/a0.html"),
            "--out",
            str(out),
            "--scope",
            "any",
            "--progress",
            "0",
            *FAST,
            "-s",
            "TDMCRAWL_ORIGIN_RETRY=0.3",
        )
        assert proc.returncode == 0, proc.stderr
        b_paths = web.requested_paths("b")
    assert b_paths[0] == "/robots.txt" and b_paths.count("/robots.txt") >= 2
    excluded = _exclusions(out)
    assert excluded[f"{b_origin}/b0.html"] == "robots-unreachable"
    assert "/b9.html" in b_paths  # fetched once robots.txt answered again


def test_registry_url_rules(tmp_path):
    site = Site(
        "reg",
        {
            "/robots.txt": text_reply("User-agent: *\nAllow: /\n"),
            "/": page("Index", "index", ["/works/poem.html", "/free.html"]),
            "/works/poem.html": page("Poem", "registered by its author"),
            "/free.html": page("Free", "not registered"),
        },
    )
    with LoopbackWeb([site]) as web:
        db = tmp_path / "registry.sqlite"
        with Registry(db) as registry:
            registry.add_url("Айгүл Серікқызы", web.url("reg", "/works/*"))
        poem = web.url("reg", "/works/poem.html")
        proc = tdmcrawl(
            "check",
            "--json",
            "--registry",
            str(db),
            poem,
            web.url("reg", "/free.html"),
            "-s",
            "DOWNLOAD_DELAY=0",
        )
        assert proc.returncode == 0, proc.stderr
        results = [json.loads(line) for line in proc.stdout.splitlines()]
        assert [r["code"] for r in results[0]["reasons"]] == ["registry-url"]
        assert results[0]["reasons"][0]["source"] == "registry"
        assert results[1]["allowed"] is True

        out = tmp_path / "out"
        before = len(web.requested_paths("reg"))
        proc = tdmcrawl(
            "crawl",
            web.url("reg", "/"),
            "--out",
            str(out),
            "--registry",
            str(db),
            "--progress",
            "0",
            *FAST,
            "-s",
            "TDMCRAWL_FETCH_RESERVED=False",
        )
        assert proc.returncode == 0, proc.stderr
        crawl_paths = web.requested_paths("reg")[before:]
        assert "/works/poem.html" not in crawl_paths
        assert "/free.html" in crawl_paths
    assert _exclusions(out) == {poem: "registry-url"}
