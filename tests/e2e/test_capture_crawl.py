"""A real Scrapy crawl of a loopback server through CaptureMiddleware and WarcOutputPipeline.

The server answers with exact bytes (reason phrases, interleaved repeated
headers, gzip inside chunked framing, Kazakh header bytes), so the test can
check that the WARC keeps what went over the wire.
"""

from __future__ import annotations

import gzip
import json
import subprocess
from io import BytesIO
from pathlib import Path

import pytest
from fastwarc.warc import ArchiveIterator as FastArchiveIterator

from tdmcrawl.crawler.warc.records import decision_from_metadata
from tests.support.warc import (
    PAGE_HTML,
    VENV_BIN,
    RawHttpServer,
    demo_routes,
    minimal_settings,
    read_records,
    run_crawl,
    warcio_check,
)


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("crawl-out")
    with RawHttpServer(demo_routes()) as server:
        urls = [server.base + path for path in ("/gz", "/kz", "/img.png", "/gone")]
        stats = run_crawl(urls, minimal_settings(out))
        sent = list(server.requests)
    files = sorted((out / "warc").iterdir())
    return {"out": out, "base": server.base, "stats": stats, "files": files, "sent": sent}


def responses(crawl: dict) -> dict[str, dict]:
    (path,) = crawl["files"]
    return {r["warc"]["WARC-Target-URI"]: r for r in read_records(path) if r["type"] == "response"}


def test_one_closed_file_and_only_kept_pages(crawl: dict) -> None:
    (path,) = crawl["files"]
    assert path.name.endswith(".warc.gz") and not path.name.endswith(".open")
    urls = set(responses(crawl))
    assert urls == {crawl["base"] + "/gz", crawl["base"] + "/kz"}  # no image, no 410
    assert crawl["stats"]["tdmcrawl/warc/pages"] == 2
    assert crawl["stats"]["tdmcrawl/warc/skipped/content-type"] == 1
    assert crawl["stats"]["tdmcrawl/warc/skipped/status"] == 1
    assert crawl["stats"]["tdmcrawl/capture/wire"] == 4


def test_gzip_page_stored_compressed_with_its_wire_head(crawl: dict) -> None:
    record = responses(crawl)[crawl["base"] + "/gz"]
    http = record["http"]
    assert http.protocol == "HTTP/1.1"
    assert http.statusline == "200 Fine Thanks"  # the reason phrase as sent
    assert http.headers == [
        ("Content-Type", "text/html; charset=utf-8"),
        ("X-Robots-Tag", "index"),
        ("Content-Encoding", "gzip"),
        ("X-Robots-Tag", "follow"),
        ("X-Crawler-Transfer-Encoding", "chunked"),
        ("Connection", "close"),
        ("Content-Length", str(len(gzip.compress(PAGE_HTML, mtime=0)))),
    ]
    assert record["content"] == PAGE_HTML  # warcio undid the gzip the page was stored with
    assert record["warc"]["WARC-IP-Address"] == "127.0.0.1"


def test_body_bytes_are_those_received(crawl: dict) -> None:
    (path,) = crawl["files"]
    with open(path, "rb") as stream:
        for record in FastArchiveIterator(stream, parse_http=False):
            if record.headers.get("WARC-Target-URI", "").endswith("/gz") and (
                record.headers.get("WARC-Type") == "response"
            ):
                block = record.reader.read()
    body = block.split(b"\r\n\r\n", 1)[1]
    assert body == gzip.compress(PAGE_HTML, mtime=0)


def test_kazakh_header_bytes_survive(crawl: dict) -> None:
    (path,) = crawl["files"]
    raw = gzip.decompress(path.read_bytes())
    assert "X-Title: Қазақша — Русский\r\n".encode() in raw
    assert responses(crawl)[crawl["base"] + "/kz"]["content"] == PAGE_HTML


def test_request_record_is_the_request_as_sent(crawl: dict) -> None:
    (path,) = crawl["files"]
    requests = [r for r in read_records(path) if r["type"] == "request"]
    by_url = {r["warc"]["WARC-Target-URI"]: r for r in requests}
    record = by_url[crawl["base"] + "/gz"]
    sent = next(s for s in crawl["sent"] if s.startswith(b"GET /gz "))
    head = (
        f"{record['http'].protocol} {record['http'].statusline}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in record["http"].headers)
        + "\r\n"
    ).encode()
    assert head == sent  # byte for byte, Host included
    response_id = responses(crawl)[crawl["base"] + "/gz"]["warc"]["WARC-Record-ID"]
    assert record["warc"]["WARC-Concurrent-To"] == response_id


def test_metadata_record_holds_the_decision(crawl: dict) -> None:
    (path,) = crawl["files"]
    metadata = [r for r in read_records(path) if r["type"] == "metadata"]
    assert len(metadata) == 2
    for record in metadata:
        decision = decision_from_metadata(record["content"])
        assert decision.allowed
        assert decision.url == record["warc"]["WARC-Target-URI"]


def test_validators_accept_the_file(crawl: dict) -> None:
    (path,) = crawl["files"]
    check = warcio_check(path)
    assert check.returncode == 0, check.stdout + check.stderr
    fast = subprocess.run(
        [str(VENV_BIN / "fastwarc"), "check", "--verify-payloads", str(path)],
        capture_output=True,
        text=True,
    )
    assert fast.returncode == 0, fast.stdout + fast.stderr
    data = path.read_bytes()
    blocks = [r.verify_block_digest() for r in FastArchiveIterator(BytesIO(data), parse_http=False)]
    payloads = [
        r.verify_payload_digest()
        for r in FastArchiveIterator(BytesIO(data))
        if r.headers.get("WARC-Type") == "response"
    ]
    assert blocks == [True] * 7 and payloads == [True, True]


def test_cdxj_indexer_lists_the_pages(crawl: dict) -> None:
    (path,) = crawl["files"]
    result = subprocess.run(
        [str(VENV_BIN / "cdxj-indexer"), str(path)], capture_output=True, text=True, check=True
    )
    rows = [json.loads(line.split(" ", 2)[2]) for line in result.stdout.splitlines()]
    pages = [row for row in rows if row.get("status") == "200"]
    assert {row["url"] for row in pages} == {crawl["base"] + "/gz", crawl["base"] + "/kz"}
    assert all(row["filename"] == path.name and row["mime"] == "text/html" for row in pages)
    assert all(int(row["offset"]) > 0 for row in pages)


def test_no_open_file_left(crawl: dict) -> None:
    leftovers = [p for p in Path(crawl["out"]).rglob("*") if p.name.endswith(".open")]
    assert leftovers == []


def _pywb_bin() -> Path | None:
    # pywb 2.10 pins redis==2.10.6, pyOpenSSL<26.2 and brotlipy, which break this venv
    # (scrapy-redis needs redis>=4.2; brotlipy shadows Scrapy's brotli): it lives in its own
    # venv, named by TDMCRAWL_PYWB_BIN (its bin/ directory). See docs/warc.md.
    import os

    for candidate in (os.environ.get("TDMCRAWL_PYWB_BIN"), str(VENV_BIN)):
        if candidate and (Path(candidate) / "wayback").exists():
            return Path(candidate)
    return None


def test_pywb_replays_a_kept_page(crawl: dict, tmp_path: Path) -> None:
    import socket
    import time
    import urllib.request

    pywb = _pywb_bin()
    if pywb is None:
        pytest.skip("pywb not installed: set TDMCRAWL_PYWB_BIN to a pywb venv's bin/")
    (path,) = crawl["files"]
    run = dict(cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True)
    subprocess.run([str(pywb / "wb-manager"), "init", "coll"], **run)
    subprocess.run([str(pywb / "wb-manager"), "add", "coll", str(path)], **run)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [str(pywb / "wayback"), "-b", "127.0.0.1", "-p", str(port), "-t", "2"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}/coll/2026id_/"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + crawl["base"] + "/kz", timeout=5) as reply:
                    kz = (reply.status, reply.read())
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.3)
        assert kz == (200, PAGE_HTML)
        with urllib.request.urlopen(base + crawl["base"] + "/gz", timeout=10) as reply:
            body = reply.read()
            if reply.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
        assert reply.status == 200 and body == PAGE_HTML
    finally:
        server.terminate()
        server.wait(timeout=10)
