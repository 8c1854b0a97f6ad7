"""A real crawl of the loopback test web: what is kept, excluded and never requested."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.support.web import FAST, KAZAKH, start_crawl_web, tdmcrawl


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    out = tmp_path_factory.mktemp("crawl") / "out"
    seeds = out.parent / "seeds.txt"
    web = start_crawl_web()
    try:
        seeds.write_text(f"# the test web\n{web.url('home', '/')}\n\n", encoding="utf-8")
        proc = tdmcrawl(
            "crawl",
            "--seeds",
            str(seeds),
            "--out",
            str(out),
            "--progress",
            "0.2",
            *FAST,
            "-s",
            "DOWNLOAD_MAXSIZE=1048576",
            "-s",
            "TDMCRAWL_WARC_PREFIX=testcrawl",
            "-s",
            "TDMCRAWL_WARC_MAX_SIZE=6000",
        )  # small: several files
        yield web, out, proc
    finally:
        web.stop()


def _records(out):
    records = []
    for path in sorted((out / "warc").glob("*.warc.gz")):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                uri = record.rec_headers.get_header("WARC-Target-URI")
                status = record.http_headers.get_statuscode() if record.http_headers else None
                records.append((record.rec_type, uri, status, record.content_stream().read()))
    return records


def _audit(out):
    db = sqlite3.connect(out / "audit.sqlite")
    db.row_factory = sqlite3.Row
    return db


def test_crawl_ran_and_reported(crawled):
    _web, out, proc = crawled
    assert proc.returncode == 0, proc.stderr
    assert "kept" in proc.stdout and "excluded: robots" in proc.stdout
    # Live progress lines on stderr.
    assert re.search(
        r"\[\d\d:\d\d\] pages \d+ \([\d.]+/s\)  kept \d+  excluded \d+.*queue \d+", proc.stderr
    ), proc.stderr
    assert (out / "tdmcrawl.log").stat().st_size > 0
    assert not list(out.rglob("*.open"))  # every WARC closed and renamed


def test_never_requested(crawled):
    web, _out, _proc = crawled
    home = web.requested_paths("home")
    assert "/private/secret.html" not in home  # robots.txt, linked and via a redirect
    assert "/to-private" in home  # the redirect itself was fetched, its target not
    assert "/out-of-scope.html" not in home  # localhost is another host than 127.0.0.1
    assert web.requested_paths("down") == ["/robots.txt"]  # 503 robots: nothing else


def test_origin_files_fetched_once_per_origin(crawled):
    web, _out, _proc = crawled
    for site in ("home", "reserved", "copy"):
        assert web.requested_paths(site).count("/robots.txt") == 1
    assert web.requested_paths("reserved").count("/.well-known/tdmrep.json") == 1


def test_warc_holds_only_kept_pages(crawled):
    web, out, _proc = crawled
    files = list((out / "warc").glob("*.warc.gz"))
    assert len(files) > 1  # rotated at TDMCRAWL_WARC_MAX_SIZE
    assert all(p.name.startswith("testcrawl-") for p in files)
    records = _records(out)
    responses = {uri: (status, body) for kind, uri, status, body in records if kind == "response"}
    kept = {
        web.url("home", p)
        for p in (
            "/",
            "/a.html",
            "/b.html",
            "/c.html",
            "/kk.html",
            "/ru.html",
            "/from-noai.html",
            "/doc.txt",
        )
    }
    assert kept <= set(responses)
    assert all(status == "200" for status, _ in responses.values())
    never = {
        web.url("home", p)
        for p in (
            "/noai.html",
            "/tdm.html",
            "/err.html",
            "/binary.bin",
            "/huge.html",
            "/private/secret.html",
        )
    }
    never.add(web.url("reserved", "/"))
    assert not never & set(responses)
    assert KAZAKH.encode() in responses[web.url("home", "/kk.html")][1]
    # One response record per URL: the redirect to /a.html did not write it twice.
    response_uris = [uri for kind, uri, _s, _b in records if kind == "response"]
    assert len(response_uris) == len(set(response_uris))
    metadata = [body for kind, _uri, _s, body in records if kind == "metadata"]
    assert len(metadata) == len(response_uris)
    assert all(b'"allowed": true' in body for body in metadata)


def test_warc_files_pass_warcio_check(crawled):
    _web, out, _proc = crawled
    files = [
        *map(str, (out / "warc").glob("*.warc.gz")),
        *map(str, (out / "evidence").glob("*.warc.gz")),
    ]
    assert len(files) >= 2
    proc = subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", *files], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_audit_explains_every_exclusion(crawled):
    web, out, _proc = crawled
    db = _audit(out)
    rows = {r["url"]: r for r in db.execute("select * from exclusions")}
    private = rows[web.url("home", "/private/secret.html")]
    assert (private["reason"], private["stage"], private["source"]) == (
        "robots",
        "pre-fetch",
        "robots.txt",
    )
    assert private["evidence"] == "Disallow: /private/"
    assert private["evidence_warc"] and private["evidence_offset"] is not None
    assert (
        rows[web.url("home", "/noai.html")]["reason"],
        rows[web.url("home", "/noai.html")]["stage"],
    ) == ("noai", "post-fetch")
    assert rows[web.url("home", "/tdm.html")]["reason"] == "tdmrep"
    reserved = rows[web.url("reserved", "/")]
    assert (reserved["reason"], reserved["source"]) == ("tdmrep", "well-known")
    assert reserved["evidence_warc"]
    down = rows[web.url("down", "/")]
    assert (down["reason"], down["stage"]) == ("robots-unreachable", "pre-fetch")
    assert json.loads(down["decision"])["allowed"] is False
    dead = rows[web.dead_url]
    assert (dead["reason"], dead["stage"]) == ("robots-unreachable", "pre-fetch")
    assert "refused" in dead["evidence"].lower()


def test_audit_kept_rows_match_the_warc(crawled):
    _web, out, _proc = crawled
    db = _audit(out)
    kept = {r["url"] for r in db.execute("select url from kept")}
    responses = {uri for kind, uri, _s, _b in _records(out) if kind == "response"}
    assert kept == responses
    crawl = db.execute("select * from crawls").fetchone()
    assert crawl["finished_at"]
    assert json.loads(crawl["stats"])["kept"] == len(kept)
