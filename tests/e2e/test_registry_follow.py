"""Crawls that follow a registry service: `--registry http://127.0.0.1:PORT/` on crawl,
check and filter, the replica they keep, and the registry state the audit records."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tdmcrawl.crawler.demo.loopback import LoopbackWeb, Site, text_reply
from tests.support.registry import work_text
from tests.support.registry_service import RegistryServer, post_json, request, upload_work
from tests.support.web import FAST, _slow, page, start_tdmcrawl, tdmcrawl

WORK = work_text(4242, 260)


def _site() -> Site:
    return Site(
        "authors",
        {
            "/robots.txt": text_reply("User-agent: *\nAllow: /\n"),
            "/": page("Index", "index", ["/poem.html", "/copy.html", "/free.html"]),
            "/poem.html": page("Poem", "a poem its author registered by its address"),
            "/copy.html": page("Copy", WORK),  # a copy of a work registered by its file
            "/free.html": page("Free", "nothing registered here " * 20),
        },
    )


def _crawl(web: LoopbackWeb, out: Path, registry: str, *more: str):
    return tdmcrawl(
        "crawl",
        web.url("authors", "/"),
        "--out",
        str(out),
        "--registry",
        registry,
        "--progress",
        "0",
        "--json",
        *FAST,
        *more,
    )


def _exclusions(out: Path) -> dict[str, str]:
    with sqlite3.connect(out / "audit.sqlite") as db:
        return dict(db.execute("SELECT url, reason FROM exclusions"))


def _kept(out: Path) -> set[str]:
    with sqlite3.connect(out / "audit.sqlite") as db:
        return {url for (url,) in db.execute("SELECT url FROM kept")}


def test_crawl_follows_the_service_and_a_removal_lets_the_page_through(tmp_path):
    with LoopbackWeb([_site()]) as web, RegistryServer(tmp_path / "optout.sqlite") as service:
        poem = web.url("authors", "/poem.html")
        copy = web.url("authors", "/copy.html")
        status, by_url = post_json(
            service.base + "/api/v1/entries", {"kind": "url", "pattern": poem, "author": "Ақын"}
        )
        assert status == 201
        status, _by_file = upload_work(service.base, "Жазушы", [("шығарма.txt", WORK.encode())])
        assert status == 201

        first = tmp_path / "first"
        proc = _crawl(web, first, service.base + "/")
        assert proc.returncode == 0, proc.stderr
        excluded = _exclusions(first)
        assert excluded[poem] == "registry-url" and excluded[copy] == "registry-content"
        assert web.url("authors", "/free.html") in _kept(first)
        assert (first / "registry-replica.sqlite").is_file()
        with sqlite3.connect(first / "audit.sqlite") as db:
            states = db.execute(
                "SELECT source, cursor, stale, exclusions_before FROM registry_states"
            ).fetchall()
        # Cursor 3: the page's entry, the work's entry, then its fingerprint.
        assert states == [(service.base + "/", "3", 0, 0)]
        story = tdmcrawl("audit", str(first), "--url", poem)
        assert f"registry state: {service.base}/ at cursor 3" in story.stdout

        # The author removes the page's entry; the next crawl syncs and lets it through.
        status, _, _ = request(
            "DELETE",
            f"{service.base}/api/v1/entries/{by_url['id']}",
            headers={"Authorization": f"Bearer {by_url['token']}"},
        )
        assert status == 200
        second = tmp_path / "second"
        proc = _crawl(web, second, service.base + "/")
        assert proc.returncode == 0, proc.stderr
        assert poem in _kept(second)
        assert _exclusions(second) == {copy: "registry-content"}
        with sqlite3.connect(second / "audit.sqlite") as db:
            (cursor,) = db.execute("SELECT cursor FROM registry_states").fetchone()
        assert cursor == "4"  # the tombstone of the removed entry


def test_an_unreachable_service_uses_the_last_replica_with_its_age_or_refuses(tmp_path):
    with LoopbackWeb([_site()]) as web:
        poem = web.url("authors", "/poem.html")
        out = tmp_path / "out"
        with RegistryServer(tmp_path / "optout.sqlite") as service:
            base = service.base + "/"
            post_json(
                service.base + "/api/v1/entries", {"kind": "url", "pattern": poem, "author": "A"}
            )
            assert _crawl(web, out, base).returncode == 0
        # The service is gone: the crawl resumes with the replica it has, and says so.
        proc = _crawl(web, out, base, "--resume")
        assert proc.returncode == 0, proc.stderr
        assert "Warning: registry service" in proc.stderr and "old) in" in proc.stderr
        assert _exclusions(out)[poem] == "registry-url"
        with sqlite3.connect(out / "audit.sqlite") as db:
            stale = [s for (s,) in db.execute("SELECT stale FROM registry_states ORDER BY id")]
        assert stale == [0, 1]
        # A new crawl with no replica refuses to start rather than crawl unprotected.
        fresh = tmp_path / "fresh"
        proc = _crawl(web, fresh, base)
        assert proc.returncode == 1
        (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error:")]
        assert "cannot reach the registry service" in line and "refusing" in line
        assert not web.was_requested(web.url("authors", "/free.html") + "?never")
        assert not (fresh / "audit.sqlite").exists() or not _kept(fresh)


def test_check_and_filter_follow_the_service_too(tmp_path):
    with LoopbackWeb([_site()]) as web, RegistryServer(tmp_path / "optout.sqlite") as service:
        poem = web.url("authors", "/poem.html")
        post_json(
            service.base + "/api/v1/entries",
            {"kind": "url", "pattern": poem, "author": "A"},
        )
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "tdmcrawl.crawler.cli",
                "check",
                poem,
                "--registry",
                service.base,
                "--json",
                "-s",
                "DOWNLOAD_DELAY=0",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")},
        )
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout)
        assert [r["code"] for r in result["reasons"]] == ["registry-url"]
        assert list((tmp_path / "cache" / "tdmcrawl" / "registry").glob("*.sqlite"))

        # filter: a crawl without the registry, then filtered with it.
        raw = tmp_path / "raw"
        assert (
            tdmcrawl(
                "crawl", web.url("authors", "/"), "--out", str(raw), "--progress", "0", *FAST
            ).returncode
            == 0
        )
        clean = tmp_path / "clean"
        proc = tdmcrawl(
            "filter",
            *map(str, sorted((raw / "warc").glob("*.warc.gz"))),
            "--evidence",
            str(raw / "evidence"),
            "--out",
            str(clean),
            "--registry",
            service.base + "/",
            "--json",
        )
        assert proc.returncode == 0, proc.stderr
        assert _exclusions(clean)[poem] == "registry-url"
        with sqlite3.connect(clean / "audit.sqlite") as db:
            assert db.execute("SELECT count(*) FROM registry_states").fetchone() == (1,)


def test_a_registration_made_during_the_crawl_is_honoured_after_the_next_sync(tmp_path):
    site = Site("slow", {"/robots.txt": text_reply("User-agent: *\nAllow: /\n")})
    pages = 24
    for i in range(pages):
        links = [f"/p{i + 1}.html"] if i + 1 < pages else []
        site.add(f"/p{i}.html", _slow(0.25, page(f"p{i}", f"page {i} " * 30, links)))
    with LoopbackWeb([site]) as web, RegistryServer(tmp_path / "optout.sqlite") as service:
        late = web.url("slow", f"/p{pages - 2}.html")
        out = tmp_path / "out"
        crawl = start_tdmcrawl(
            "crawl",
            web.url("slow", "/p0.html"),
            "--out",
            str(out),
            "--registry",
            service.base + "/",
            "--progress",
            "0",
            *FAST,
            "-s",
            "TDMCRAWL_REGISTRY_SYNC=0.5",
            "-s",
            "CONCURRENT_REQUESTS_PER_DOMAIN=1",
            "-s",
            "TDMCRAWL_FETCH_RESERVED=False",
        )
        deadline = time.monotonic() + 60
        while "/p2.html" not in web.requested_paths("slow") and time.monotonic() < deadline:
            time.sleep(0.05)
        status, _made = post_json(
            service.base + "/api/v1/entries", {"kind": "url", "pattern": late, "author": "A"}
        )
        assert status == 201
        _, stderr = crawl.communicate(timeout=120)
        assert crawl.returncode == 0, stderr
        assert f"/p{pages - 2}.html" not in web.requested_paths("slow")
    assert _exclusions(out) == {late: "registry-url"}
    story = json.loads(tdmcrawl("audit", str(out), "--url", late, "--json").stdout)
    assert story["excluded"][0]["registry_state"]["cursor"] == "1"
    with sqlite3.connect(out / "audit.sqlite") as db:
        cursors = [c for (c,) in db.execute("SELECT cursor FROM registry_states ORDER BY id")]
    assert cursors == ["0", "1"]
