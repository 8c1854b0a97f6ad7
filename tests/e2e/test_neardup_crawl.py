"""Real crawls of the loopback near-duplicate web: copies of reserved works never leave the crawl.

The press site answers its reserved article last (``ORIGINAL_DELAY``), so the
blog's copy of it is always kept and written first, and its WARC file (small
``TDMCRAWL_WARC_MAX_SIZE``) is renamed before the original is found reserved:
only the release step can take it out again.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.support.neardup import FILLERS, neardup_web, registered_work
from tests.support.redis import redis_server
from tests.support.web import FAST, tdmcrawl

MAX_SIZE = "5000"  # about two pages per WARC file: files rotate during the crawl


def _crawl(tmp: Path, *extra: str) -> dict:
    registry, work_id = registered_work(tmp)
    web = neardup_web()
    web.start()
    try:
        urls = {
            f"{site}{path}": web.url(site, path)
            for site, path in (
                ("blog", "/"),
                ("blog", "/copy.html"),
                ("blog", "/regcopy.html"),
                ("press", "/article.html"),
                ("press", "/other.html"),
            )
        }
        seeds = tmp / "seeds.txt"
        seeds.write_text(
            "\n".join([urls["blog/"], urls["press/article.html"], urls["press/other.html"]]),
            encoding="utf-8",
        )
        out = tmp / "out"
        proc = tdmcrawl(
            "crawl",
            "--seeds",
            str(seeds),
            "--out",
            str(out),
            "--registry",
            str(registry),
            "--progress",
            "0",
            "--json",
            *FAST,
            "-s",
            f"TDMCRAWL_WARC_MAX_SIZE={MAX_SIZE}",
            *extra,
        )
    finally:
        web.stop()
    assert proc.returncode == 0, proc.stderr
    return {
        "web": web,
        "url": urls,
        "out": out,
        "report": json.loads(proc.stdout),
        "work_id": work_id,
    }


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    return _crawl(tmp_path_factory.mktemp("neardup"))


def _responses(out: Path) -> dict[str, tuple[str, int, str, bytes]]:
    """url -> (file, offset, record id, body) of every response record in DIR/warc."""
    found = {}
    for path in sorted((out / "warc").glob("*.warc.gz")):
        with path.open("rb") as stream:
            records = ArchiveIterator(stream)
            for record in records:
                if record.rec_type == "response":
                    url = record.rec_headers.get_header("WARC-Target-URI")
                    body = record.content_stream().read()
                    found[url] = (
                        path.name,
                        records.get_record_offset(),
                        record.rec_headers.get_header("WARC-Record-ID"),
                        body,
                    )
    return found


def _exclusions(out: Path) -> dict[str, sqlite3.Row]:
    db = sqlite3.connect(out / "audit.sqlite")
    db.row_factory = sqlite3.Row
    return {row["url"]: row for row in db.execute("select * from exclusions")}


def test_copy_crawled_before_its_original_is_removed_at_release(crawled):
    out, url = crawled["out"], crawled["url"]
    copy, original = url["blog/copy.html"], url["press/article.html"]
    responses = _responses(out)
    assert copy not in responses and original not in responses
    row = _exclusions(out)[copy]
    assert (row["reason"], row["stage"], row["source"]) == ("reserved-copy", "release", "crawl")
    assert row["matched_work"] == original
    assert row["similarity"] > 0.9
    assert f"near-duplicate of {original}: coverage=" in row["evidence"]
    decision = json.loads(row["decision"])
    assert decision["allowed"] is False and decision["reasons"][0]["code"] == "reserved-copy"
    assert _exclusions(out)[original]["reason"] == "noai"


def test_file_closed_before_the_original_was_found_is_rewritten(crawled):
    out, report = crawled["out"], crawled["report"]
    db = sqlite3.connect(out / "audit.sqlite")
    stats = json.loads(db.execute("select stats from crawls").fetchone()[0])
    # The copy's file had been renamed during the crawl: the end-of-crawl pass rewrote it.
    assert stats["tdmcrawl/neardup/files_rewritten"] >= 1
    assert stats["tdmcrawl/warc/files"] >= 3
    assert report["excluded"].get("release:reserved-copy") == 1
    assert not list(out.rglob("*.open"))
    files = [str(p) for p in (out / "warc").glob("*.warc.gz")]
    proc = subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", *files], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_kept_rows_point_at_the_records_after_rewrites(crawled):
    out, report = crawled["out"], crawled["report"]
    responses = _responses(out)
    db = sqlite3.connect(out / "audit.sqlite")
    kept = db.execute("select url, warc_file, warc_offset, record_id from kept").fetchall()
    assert {url for url, *_ in kept} == set(responses)
    for url, warc_file, offset, record_id in kept:
        assert responses[url][:3] == (warc_file, offset, record_id)
    assert report["kept"] == len(kept) == 1 + FILLERS + 1  # blog index, fillers, press/other


def test_copy_of_a_registered_work_is_excluded_with_its_registry_id(crawled):
    out, url = crawled["out"], crawled["url"]
    row = _exclusions(out)[url["blog/regcopy.html"]]
    assert (row["reason"], row["source"], row["stage"]) == (
        "registry-content",
        "registry",
        "near-duplicate",
    )
    assert row["matched_work"] == crawled["work_id"]
    assert 0.8 < row["similarity"] <= 1.0
    assert url["blog/regcopy.html"] not in _responses(out)


def test_unrelated_page_sharing_the_reserved_pages_boilerplate_is_kept(crawled):
    out, other = crawled["out"], crawled["url"]["press/other.html"]
    assert other not in _exclusions(out)
    assert "Қала кітапханасы" in _responses(out)[other][3].decode("utf-8")


def test_index_config_in_warcinfo_and_audit_settings(crawled):
    out = crawled["out"]
    db = sqlite3.connect(out / "audit.sqlite")
    settings = json.loads(db.execute("select settings from crawls").fetchone()[0])
    identity = settings["dedup_config"]["identity"]
    assert identity.startswith("mh128-") and settings["TDMCRAWL_DEDUP"] is True
    for path in (out / "warc").glob("*.warc.gz"):
        with path.open("rb") as stream:
            info = next(iter(ArchiveIterator(stream)))
            assert info.rec_type == "warcinfo"
            assert f"tdmcrawl-near-duplicate: {identity}" in info.content_stream().read().decode()


def test_shared_redis_index(tmp_path):
    """The same crawl with the index in a real redis-server: same outcome, index in Redis."""
    import redis

    with redis_server(tmp_path) as (host, port):
        url = f"redis://{host}:{port}/0"
        result = _crawl(
            tmp_path, "-s", f"TDMCRAWL_DEDUP_REDIS={url}", "-s", "TDMCRAWL_DEDUP_NAMESPACE=test:nd"
        )
        client = redis.Redis.from_url(url)
        keys = {k.decode() for k in client.hkeys("test:nd:fp")}
        assert f"registry:{result['work_id']}" in keys
        assert "crawl:" + result["url"]["press/article.html"] in keys
        assert int(client.get("test:nd:generation")) >= 2
        client.close()
    rows = _exclusions(result["out"])
    url = result["url"]
    assert rows[url["blog/copy.html"]]["stage"] == "release"
    assert rows[url["blog/regcopy.html"]]["reason"] == "registry-content"
    assert url["blog/copy.html"] not in _responses(result["out"])
