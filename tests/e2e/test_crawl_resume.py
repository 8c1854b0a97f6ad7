"""Interrupting a crawl (Ctrl-C, or a kill) and continuing it with --resume."""

from __future__ import annotations

import json
import signal
import sqlite3
import time

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.support.web import FAST, slow_web, start_tdmcrawl, tdmcrawl

PAGES = 30


def _response_uris(out):
    uris = []
    for path in sorted((out / "warc").glob("*.warc.gz")):
        with path.open("rb") as stream:
            uris += [
                r.rec_headers.get_header("WARC-Target-URI")
                for r in ArchiveIterator(stream)
                if r.rec_type == "response"
            ]
    return uris


def _wait_for_pages(web, count, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len([p for p in web.requested_paths("slow") if p.startswith("/p")]) >= count:
            return
        time.sleep(0.05)
    raise AssertionError("the crawl did not get going")


def _crawl_args(web, out):
    return [
        "crawl",
        web.url("slow", "/p0.html"),
        "--out",
        str(out),
        "--progress",
        "0",
        *FAST,
        "-s",
        "CONCURRENT_REQUESTS=1",
    ]


def _kept_rows(out):
    db = sqlite3.connect(out / "audit.sqlite")
    return [row[0] for row in db.execute("select url from kept")]


@pytest.mark.parametrize("how", ["ctrl-c", "kill"])
def test_resume_after_interruption_writes_every_page_once(tmp_path, how):
    out = tmp_path / "out"
    with slow_web(PAGES, delay=0.1) as web:
        proc = start_tdmcrawl(*_crawl_args(web, out))
        _wait_for_pages(web, 8)
        if how == "ctrl-c":
            proc.send_signal(signal.SIGINT)
        else:
            proc.kill()
        proc.communicate(timeout=60)
        first_run = list(web.requested_paths("slow"))
        if how == "ctrl-c":
            assert proc.returncode == 130  # interrupted, stopped cleanly (tests/hostile/test_kills)
            assert not list(out.rglob("*.open"))  # closed and renamed on Ctrl-C
            state = json.loads((out / "tdmcrawl-state.json").read_text())
            assert state["running"] is False
        kept_before = set(_kept_rows(out))
        assert len(_response_uris(out)) < PAGES

        proc = tdmcrawl(
            *_crawl_args(web, out)[:2], "--out", str(out), "--resume", "--progress", "0", *FAST
        )
        assert proc.returncode == 0, proc.stderr
        second_run = web.requested_paths("slow")[len(first_run) :]
        origin = web.origin("slow")

    uris = _response_uris(out)
    assert len(uris) == len(set(uris)) == PAGES  # every page, none twice
    assert not list(out.rglob("*.open"))
    assert set(_kept_rows(out)) == set(uris)
    assert len(_kept_rows(out)) == PAGES  # one audit row per kept page
    refetched = {p for p in second_run if origin + p in kept_before}
    if how == "ctrl-c":
        assert not refetched  # after a clean stop nothing kept is fetched again
    else:
        # After a kill the link log says where to go on: only pages in flight when the
        # process died (fetched, not yet written or their links not yet logged) come again.
        pages_first = {p for p in first_run if p.startswith("/p")}
        again = pages_first & set(second_run)
        assert len(pages_first) >= 8 and len(again) <= 2, (sorted(pages_first), sorted(again))
        assert (out / "tdmcrawl-links.jsonl").stat().st_size > 0
    db = sqlite3.connect(out / "audit.sqlite")
    assert db.execute("select count(*) from crawls").fetchone()[0] == 1


def test_resume_without_a_crawl_is_a_usage_error(tmp_path):
    proc = tdmcrawl("crawl", "--out", str(tmp_path / "none"), "--resume", timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


def test_a_used_out_dir_needs_resume(tmp_path):
    out = tmp_path / "out"
    with slow_web(2, delay=0) as web:
        args = ["crawl", web.url("slow", "/p0.html"), "--out", str(out), *FAST]
        assert tdmcrawl(*args).returncode == 0
        again = tdmcrawl(*args)
    assert again.returncode == 2
    assert "--resume" in again.stderr
