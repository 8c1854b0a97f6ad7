"""Acceptance of issue 4 clauses not covered elsewhere, on real loopback servers.

Redirects across origins into a robots-disallowed path or onto a reserved
page, a body above the default DOWNLOAD_MAXSIZE, the request headers as the
server saw them, and a real SIGINT leaving a committed audit and valid files.
"""

from __future__ import annotations

import signal
import sqlite3
import time

import pytest
from warcio.archiveiterator import ArchiveIterator

from tdmcrawl.crawler.addon import POLITENESS
from tdmcrawl.crawler.demo.loopback import LoopbackWeb, Reply, Site, text_reply
from tests.support.warc import warcio_check
from tests.support.web import FAST, KAZAKH, RUSSIAN, page, redirect, start_tdmcrawl, tdmcrawl

HUGE = POLITENESS["DOWNLOAD_MAXSIZE"] + 1024 * 1024  # just above the default limit


def _web() -> LoopbackWeb:
    home = Site(
        "home",
        {
            "/robots.txt": text_reply("User-agent: *\nAllow: /\n"),
            "/": page("Home", KAZAKH, ["/to-closed", "/to-reserved", "/huge.html", "/after.html"]),
            "/huge.html": Reply(
                200,
                [("Content-Type", "text/html")],
                b"<html><body><p>" + b"x" * HUGE + b"</p></body></html>",
            ),
            "/after.html": page("After", RUSSIAN),
        },
    )
    other = Site(
        "other",
        {
            "/robots.txt": text_reply("User-agent: tdmcrawl\nDisallow: /closed/\n"),
            "/.well-known/tdmrep.json": Reply(
                200,
                [("Content-Type", "application/json")],
                b'[{"location": "/res/", "tdm-reservation": 1}]',
            ),
            "/closed/secret.html": page("Closed", "never requested"),
            "/res/work.html": page("Reserved", KAZAKH + " reserved work"),
        },
    )
    return LoopbackWeb([home, other])


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    out = tmp_path_factory.mktemp("accept") / "out"
    with _web() as web:
        # Location headers are not templated: the other origin's port is known only now.
        web.sites["home"].add("/to-closed", redirect(web.url("other", "/closed/secret.html"), 301))
        web.sites["home"].add("/to-reserved", redirect(web.url("other", "/res/work.html")))
        proc = tdmcrawl(
            "crawl",
            web.url("home", "/"),
            "--out",
            str(out),
            "--scope",
            "any",
            "--progress",
            "0",
            "--contact",
            "https://ops.example.kz/бот",
            *FAST,
        )
        requests = {name: list(web.requested_paths(name)) for name in ("home", "other")}
        headers = [r.headers for r in web.requests if r.site == "home"]
    return out, proc, requests, headers


def _kept(out) -> list[str]:
    uris = []
    for path in sorted((out / "warc").glob("*.warc.gz")):
        with path.open("rb") as stream:
            uris += [
                r.rec_headers.get_header("WARC-Target-URI")
                for r in ArchiveIterator(stream)
                if r.rec_type == "response"
            ]
    return [uri.split("/", 3)[3] for uri in uris]


def test_redirect_into_a_disallowed_path_of_another_origin_is_never_requested(crawled):
    out, proc, requests, _headers = crawled
    assert proc.returncode == 0, proc.stderr
    assert "/to-closed" in requests["home"]
    assert "/closed/secret.html" not in requests["other"]
    db = sqlite3.connect(out / "audit.sqlite")
    rows = db.execute("select reason, source from exclusions where url like '%/closed/secret.html'")
    assert rows.fetchall() == [("robots", "robots.txt")]


def test_redirect_onto_a_reserved_page_is_fetched_but_never_kept(crawled):
    out, _proc, requests, _headers = crawled
    assert "/res/work.html" in requests["other"]  # fetched for its signature
    kept = _kept(out)
    assert "res/work.html" not in kept and "to-reserved" not in kept
    db = sqlite3.connect(out / "audit.sqlite")
    assert db.execute(
        "select reason from exclusions where url like '%/res/work.html'"
    ).fetchall() == [("tdmrep",)]


def test_body_above_the_default_maxsize_is_dropped_and_the_crawl_goes_on(crawled):
    out, _proc, requests, _headers = crawled
    assert "/huge.html" in requests["home"]
    assert sorted(_kept(out)) == ["", "after.html"]
    for path in (out / "warc").glob("*.warc.gz"):
        assert path.stat().st_size < 1024 * 1024
        assert warcio_check(path).returncode == 0


def test_server_saw_a_polite_identified_request(crawled):
    _out, _proc, _requests, headers = crawled
    for pairs in headers:
        fields = {name.lower(): value for name, value in pairs}
        codings = {c.strip() for c in fields["accept-encoding"].split(",")}
        assert codings and codings <= {"gzip", "deflate", "br"}, codings
        assert fields["user-agent"].startswith("tdmcrawl/")
        assert "ops.example.kz" in fields["user-agent"]
        assert "cookie" not in fields


def _slow_site(pages: int) -> Site:
    site = Site("slow", {"/robots.txt": text_reply("User-agent: *\nAllow: /\n")})

    def slow(reply: Reply):
        def route(web, request):
            time.sleep(0.1)
            return reply

        return route

    for i in range(pages):
        links = [f"/p{i + 1}.html"] if i + 1 < pages else []
        head = '<meta name="robots" content="noai">' if i % 3 == 2 else ""
        site.add(f"/p{i}.html", slow(page(f"P{i}", f"{KAZAKH} {i}", links, head=head)))
    return site


def test_sigint_commits_the_audit_and_closes_every_file(tmp_path):
    out = tmp_path / "out"
    with LoopbackWeb([_slow_site(40)]) as web:
        proc = start_tdmcrawl(
            "crawl",
            web.url("slow", "/p0.html"),
            "--out",
            str(out),
            "--progress",
            "0",
            *FAST,
            "-s",
            "CONCURRENT_REQUESTS=1",
        )
        deadline = time.monotonic() + 60
        while (
            len([p for p in web.requested_paths("slow") if p.startswith("/p")]) < 8
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _stdout, stderr = proc.communicate(timeout=60)
        fetched = [p for p in web.requested_paths("slow") if p.startswith("/p")]
    assert proc.returncode == 130, stderr  # interrupted, stopped cleanly
    assert "Traceback" not in stderr
    assert 8 <= len(fetched) < 40
    assert not list(out.rglob("*.open"))
    for path in [*(out / "warc").glob("*.warc.gz"), *(out / "evidence").glob("*.warc.gz")]:
        assert warcio_check(path).returncode == 0, path
    db = sqlite3.connect(out / "audit.sqlite")
    finished, stats = db.execute("select finished_at, stats from crawls").fetchone()
    assert finished and '"tdmcrawl/warc/pages"' in stats
    kept = {row[0].rsplit("/", 1)[1] for row in db.execute("select url from kept")}
    noai = {
        row[0].rsplit("/", 1)[1]
        for row in db.execute("select url from exclusions where reason = 'noai'")
    }
    assert kept and noai and not kept & noai
    assert kept == set(_kept(out))  # every kept row has its record, and no more
    assert all(int(name[1:-5]) % 3 == 2 for name in noai)


def test_no_spider_error_in_the_log(crawled):
    """Errors in callbacks/errbacks are only logged by Scrapy: a lost link leaves this trace."""
    out, _proc, _requests, _headers = crawled
    log = (out / "tdmcrawl.log").read_text(encoding="utf-8")
    assert "Spider error" not in log and "Traceback" not in log
    assert (out / "tdmcrawl-links.jsonl").read_text(encoding="utf-8").count("\n") >= 2
