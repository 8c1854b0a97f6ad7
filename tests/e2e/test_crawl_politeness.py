"""Netguard, Crawl-delay, scope and the limits of a crawl, on real loopback servers."""

from __future__ import annotations

import sqlite3
from itertools import pairwise

from tdmcrawl.crawler.demo.loopback import LoopbackWeb, Site, text_reply
from tests.support.web import FAST, page, redirect, tdmcrawl


def test_public_page_cannot_lead_to_loopback(tmp_path):
    public = Site("public", {"/robots.txt": text_reply("User-agent: *\nAllow: /\n")})
    inner = Site(
        "inner",
        {
            "/robots.txt": text_reply("User-agent: *\nAllow: /\n"),
            "/inner.html": page("inner", "private network"),
            "/inner2.html": page("inner2", "private network"),
        },
    )
    with LoopbackWeb([public, inner]) as web:
        port = web.origin("public").rsplit(":", 1)[1]
        inner_origin = web.origin("inner")
        public.add(
            "/",
            page(
                "Public",
                "a public page",
                [f"{inner_origin}/inner.html", "/jump", f"http://localhost:{port}/ok.html"],
            ),
        )
        public.add("/jump", redirect(f"{inner_origin}/inner2.html"))
        public.add("/ok.html", page("ok", "public to public is fine"))
        proc = tdmcrawl(
            "crawl",
            f"http://localhost:{port}/",
            "--out",
            str(tmp_path / "out"),
            "--scope",
            "any",
            "--progress",
            "0",
            *FAST,
            "-s",
            "TDMCRAWL_NETGUARD_PUBLIC_HOSTS=localhost",
        )
        assert proc.returncode == 0, proc.stderr
        assert "/ok.html" in web.requested_paths("public")
        assert "/jump" in web.requested_paths("public")
        assert web.requested_paths("inner") == []  # not even its robots.txt


def test_crawl_delay_is_honoured(tmp_path):
    site = Site("slowpoke", {"/robots.txt": text_reply("User-agent: *\nCrawl-delay: 0.4\n")})
    links = [f"/p{i}.html" for i in range(4)]
    site.add("/", page("Index", "index", links))
    for link in links:
        site.add(link, page(link, "a page"))
    with LoopbackWeb([site]) as web:
        proc = tdmcrawl(
            "crawl",
            web.url("slowpoke", "/"),
            "--out",
            str(tmp_path / "out"),
            "--progress",
            "0",
            *FAST,
        )
        assert proc.returncode == 0, proc.stderr
        times = [r.at for r in web.requests if r.path == "/" or r.path.startswith("/p")]
    assert len(times) == 5
    gaps = [b - a for a, b in pairwise(times)]
    # Scrapy jitters its delay by +-50%; the host gate keeps the Crawl-delay a floor.
    assert min(gaps) >= 0.4, gaps


def test_max_pages_depth_and_scope(tmp_path):
    site = Site("deep", {"/robots.txt": text_reply("User-agent: *\nAllow: /\n")})
    for i in range(6):
        site.add(f"/d{i}.html", page(f"depth {i}", "deep", [f"/d{i + 1}.html"]))
    with LoopbackWeb([site]) as web:
        out = tmp_path / "depth"
        proc = tdmcrawl(
            "crawl",
            web.url("deep", "/d0.html"),
            "--out",
            str(out),
            "--max-depth",
            "2",
            "--progress",
            "0",
            *FAST,
        )
        assert proc.returncode == 0, proc.stderr
        assert "/d2.html" in web.requested_paths("deep")
        assert "/d3.html" not in web.requested_paths("deep")
        out = tmp_path / "pages"
        proc = tdmcrawl(
            "crawl",
            web.url("deep", "/d0.html"),
            "--out",
            str(out),
            "--max-pages",
            "3",
            "--progress",
            "0",
            *FAST,
            "-s",
            "CONCURRENT_REQUESTS=1",
        )
        assert proc.returncode == 0, proc.stderr
        kept = sqlite3.connect(out / "audit.sqlite").execute("select count(*) from kept")
        assert kept.fetchone()[0] == 3


def test_bad_options_are_usage_errors(tmp_path):
    out = str(tmp_path / "out")
    for args in (
        ["crawl", "--out", out],
        ["crawl", "ftp://x/", "--out", out],
        ["crawl", "http://127.0.0.1:9/", "--out", out, "--scope", "planet"],
        ["crawl", "http://127.0.0.1:9/", "--out", out, "-s", "JUSTANAME"],
        ["crawl", "--seeds", str(tmp_path / "missing.txt"), "--out", out],
    ):
        proc = tdmcrawl(*args, timeout=60)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_a_crawl_that_cannot_start_fails_with_one_line_and_can_be_rerun(tmp_path):
    bogus = tmp_path / "registry.sqlite"
    bogus.write_bytes(b"not a database")
    out = tmp_path / "out"
    site = Site(
        "up", {"/robots.txt": text_reply("User-agent: *\nAllow: /\n"), "/": page("Up", "x")}
    )
    with LoopbackWeb([site]) as web:
        args = ["crawl", web.url("up", "/"), "--out", str(out), "--progress", "0", *FAST]
        proc = tdmcrawl(*args, "--registry", str(bogus), timeout=60)
        assert proc.returncode == 1
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: crawl failed")
        rerun = tdmcrawl(*args, timeout=60)  # no --resume needed after a failed start
    assert rerun.returncode == 0, rerun.stderr
