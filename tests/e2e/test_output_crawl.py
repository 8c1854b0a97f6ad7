"""`tdmcrawl crawl` end to end (the add-on installs capture, wire handler and output).

Checks the WARC contract on a real crawl: kept pages only, reserved pages
never, origin files in the evidence WARC, audit rows pointing at records.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tdmcrawl.crawler.warc.records import decision_from_metadata
from tdmcrawl.crawler.warc.rewrite import record_offsets
from tests.support.warc import (
    PAGE_HTML,
    RawHttpServer,
    demo_routes,
    raw_response,
    read_records,
    warcio_check,
)


def site() -> dict[str, bytes]:
    routes = demo_routes()
    html = (
        b'<html><body><a href="/gz">gz</a> <a href="/kz">kz</a> '
        b'<a href="/reserved">r</a></body></html>'
    )
    routes["/"] = raw_response(
        b"HTTP/1.1 200 OK",
        [
            (b"Content-Type", b"text/html"),
            (b"Content-Length", str(len(html)).encode()),
            (b"Connection", b"close"),
        ],
        html,
    )
    routes["/reserved"] = raw_response(
        b"HTTP/1.1 200 OK",
        [
            (b"Content-Type", b"text/html; charset=utf-8"),
            (b"TDM-Reservation", b"1"),
            (b"Content-Length", str(len(PAGE_HTML)).encode()),
            (b"Connection", b"close"),
        ],
        PAGE_HTML,
    )
    robots = b"User-agent: *\nAllow: /\n"
    routes["/robots.txt"] = raw_response(
        b"HTTP/1.1 200 OK",
        [
            (b"Content-Type", b"text/plain"),
            (b"Content-Length", str(len(robots)).encode()),
            (b"Connection", b"close"),
        ],
        robots,
    )
    return routes


def tdmcrawl_crawl(out: Path, *settings: str) -> str:
    """Run the real `tdmcrawl crawl` against the site; returns the site's base URL."""
    command_settings = ["DOWNLOAD_DELAY=0", "AUTOTHROTTLE_ENABLED=False", *settings]
    with RawHttpServer(site()) as server:
        command = [
            sys.executable,
            "-m",
            "tdmcrawl.crawler.cli",
            "crawl",
            server.base + "/",
            "--out",
            str(out),
            "--progress",
            "0",
        ]
        for setting in command_settings:
            command += ["-s", setting]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=180)
    if proc.returncode != 0:
        pytest.fail(f"tdmcrawl crawl failed: {proc.stderr[-3000:]}")
    return server.base


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("tdmcrawl-out")
    return {"out": out, "base": tdmcrawl_crawl(out)}


def test_output_has_kept_pages_and_never_the_reserved_one(crawled: dict) -> None:
    (path,) = (crawled["out"] / "warc").glob("*.warc.gz")
    assert warcio_check(path).returncode == 0
    records = read_records(path)
    urls = {r["warc"]["WARC-Target-URI"] for r in records if r["type"] == "response"}
    base = crawled["base"]
    assert urls == {base + "/", base + "/gz", base + "/kz"}
    assert b"TDM-Reservation" not in b"".join(r["content"] for r in records)
    statuses = {r["http"].statusline for r in records if r["type"] == "response"}
    assert "200 Fine Thanks" in statuses  # the wire handler is installed by the add-on
    for record in records:
        if record["type"] == "metadata":
            assert decision_from_metadata(record["content"]).allowed


def test_origin_files_go_to_the_evidence_warc(crawled: dict) -> None:
    (path,) = (crawled["out"] / "evidence").glob("*.warc.gz")
    assert warcio_check(path).returncode == 0
    records = read_records(path)
    robots = next(
        r
        for r in records
        if r["type"] == "response" and r["warc"]["WARC-Target-URI"].endswith("/robots.txt")
    )
    assert robots["content"] == b"User-agent: *\nAllow: /\n"
    assert not any(r["warc"].get("WARC-Target-URI", "").endswith(("/gz", "/kz")) for r in records)


def test_audit_kept_rows_point_at_response_records(crawled: dict) -> None:
    (path,) = (crawled["out"] / "warc").glob("*.warc.gz")
    offsets = record_offsets(path)
    db = sqlite3.connect(crawled["out"] / "audit.sqlite")
    rows = db.execute("SELECT url, warc_file, warc_offset, record_id FROM kept").fetchall()
    assert {row[0] for row in rows} == {crawled["base"] + p for p in ("/", "/gz", "/kz")}
    for _url, warc_file, offset, record_id in rows:
        assert warc_file == path.name
        assert offsets[record_id] == offset
    excluded = db.execute("SELECT url, reason FROM exclusions").fetchall()
    assert (crawled["base"] + "/reserved", "tdmrep") in excluded


def test_warc_max_size_setting_rotates_files(tmp_path: Path) -> None:
    tdmcrawl_crawl(tmp_path, "TDMCRAWL_WARC_MAX_SIZE=1500")
    files = sorted((tmp_path / "warc").glob("*.warc.gz"))
    assert len(files) >= 2
    assert not list((tmp_path / "warc").glob("*.open"))
    serials = [int(p.name.split("-")[2]) for p in files]
    assert serials == list(range(len(files)))
    pages = 0
    for path in files:
        assert warcio_check(path).returncode == 0
        types = [r["type"] for r in read_records(path)]
        groups = (len(types) - 1) // 3
        assert types == ["warcinfo"] + ["response", "request", "metadata"] * groups
        pages += groups
    assert pages == 3
