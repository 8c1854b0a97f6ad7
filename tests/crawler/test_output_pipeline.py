"""WarcOutputPipeline on its own: what it writes, what it refuses, and the audit rows."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler
from w3lib.url import safe_url_string

from tdmcrawl.crawler.audit.db import AuditLog
from tdmcrawl.crawler.items import PageItem
from tdmcrawl.crawler.output import WarcOutputPipeline
from tdmcrawl.crawler.warc.capture import Capture
from tdmcrawl.crawler.warc.rewrite import record_offsets
from tdmcrawl.optout.decision import Decision, Reason
from tests.support.warc import read_records, warcio_check


def capture(path: str, *, status: int = 200, content_type: bytes = b"text/html") -> Capture:
    body = "<p>Бұл бет</p>".encode()
    return Capture(
        url=f"http://127.0.0.1:9/{path}",
        protocol="HTTP/1.1",
        status=status,
        reason="OK",
        headers=((b"Content-Type", content_type + b"; charset=utf-8"),),
        body=body,
        request_method="GET",
        request_target=f"/{path}",
        request_protocol="HTTP/1.1",
        request_headers=((b"Host", b"127.0.0.1:9"),),
        request_body=b"",
        peer_ip="127.0.0.1",
        fetched_at=datetime(2026, 3, 1, tzinfo=UTC),
    )


def item(path: str, **options: object) -> PageItem:
    cap = capture(path, **options)  # type: ignore[arg-type]
    return PageItem(url=cap.url, decision=Decision(url=cap.url), capture=cap)


@pytest.fixture
def audited(tmp_path: Path):
    audit = AuditLog.open(tmp_path)
    crawl_id = audit.start_crawl(settings={}, versions={}, seeds=[])
    crawler = get_crawler(
        settings_dict={"TDMCRAWL_OUT_DIR": str(tmp_path), "TDMCRAWL_WARC_PREFIX": "test"}
    )
    crawler.tdmcrawl_session = SimpleNamespace(
        audit=audit, release_hooks=[], final_release_hooks=[], add_page_step=lambda *_: None
    )
    crawler.stats.open_spider()
    pipeline = WarcOutputPipeline.from_crawler(crawler)
    pipeline.open_spider()
    yield pipeline, audit, crawl_id, crawler
    audit.close()


def test_kept_pages_are_written_and_audited(audited, tmp_path: Path) -> None:
    pipeline, audit, crawl_id, crawler = audited
    first, second = item("a"), item("ә")
    assert pipeline.process_item(first) is first
    pipeline.process_item(second)
    pipeline.close_spider()
    audit.flush()
    (path,) = (tmp_path / "warc").iterdir()
    assert path.name.startswith("test-")
    assert warcio_check(path).returncode == 0
    records = read_records(path)
    offsets = record_offsets(path)
    rows = (
        sqlite3.connect(tmp_path / "audit.sqlite")
        .execute("SELECT url, warc_file, warc_offset, record_id, crawl_id FROM kept ORDER BY id")
        .fetchall()
    )
    assert [row[0] for row in rows] == [first.url, second.url]
    for url, warc_file, offset, record_id, row_crawl in rows:
        assert warc_file == path.name
        assert offsets[record_id] == offset
        assert row_crawl == crawl_id
        response = next(r for r in records if r["warc"]["WARC-Record-ID"] == record_id)
        assert response["type"] == "response"
        # The audit keeps the URL as crawled; WARC 1.1 wants it percent-encoded.
        assert response["warc"]["WARC-Target-URI"] == safe_url_string(url)
    assert crawler.stats.get_value("tdmcrawl/warc/pages") == 2
    assert crawler.stats.get_value("tdmcrawl/warc/files") == 1


@pytest.mark.parametrize(
    ("page", "stat"),
    [
        (item("img", content_type=b"image/png"), "skipped/content-type"),
        (item("missing", status=404), "skipped/status"),
        (item("moved", status=301), "skipped/status"),
        (replace(item("none"), capture=None), "skipped/no-capture"),
        (
            replace(
                item("reserved"),
                decision=Decision(
                    url="http://127.0.0.1:9/reserved",
                    reasons=(Reason("tdmrep", "header", "tdm-reservation: 1"),),
                ),
            ),
            "skipped/reserved",
        ),
    ],
    ids=["image", "404", "301", "no-capture", "reserved"],
)
def test_pages_that_must_not_be_output(audited, tmp_path: Path, page: PageItem, stat: str) -> None:
    pipeline, audit, _crawl_id, crawler = audited
    assert pipeline.process_item(page) is page
    pipeline.close_spider()
    audit.flush()
    assert list((tmp_path / "warc").iterdir()) == []
    assert crawler.stats.get_value(f"tdmcrawl/warc/{stat}") == 1
    count = sqlite3.connect(tmp_path / "audit.sqlite").execute("SELECT count(*) FROM kept")
    assert count.fetchone()[0] == 0


def test_output_off_means_no_pipeline(tmp_path: Path) -> None:
    crawler = get_crawler(
        settings_dict={"TDMCRAWL_OUTPUT": False, "TDMCRAWL_OUT_DIR": str(tmp_path)}
    )
    with pytest.raises(NotConfigured, match="TDMCRAWL_OUTPUT"):
        WarcOutputPipeline.from_crawler(crawler)


@pytest.mark.parametrize("value", ["lots", -5, 0])
def test_bad_max_size_is_reported(tmp_path: Path, value: object) -> None:
    crawler = get_crawler(
        settings_dict={"TDMCRAWL_WARC_MAX_SIZE": value, "TDMCRAWL_OUT_DIR": str(tmp_path)}
    )
    with pytest.raises(NotConfigured, match="TDMCRAWL_WARC_MAX_SIZE"):
        WarcOutputPipeline.from_crawler(crawler)


def test_writes_without_an_audit_log(tmp_path: Path) -> None:
    crawler = get_crawler(settings_dict={"TDMCRAWL_OUT_DIR": str(tmp_path)})
    pipeline = WarcOutputPipeline.from_crawler(crawler)
    pipeline.process_item(item("a"))
    pipeline.close_spider()
    (path,) = (tmp_path / "warc").iterdir()
    assert [r["type"] for r in read_records(path)] == [
        "warcinfo",
        "response",
        "request",
        "metadata",
    ]


def test_session_release_hooks_veto_pages_before_the_file_is_released(tmp_path: Path) -> None:
    seen: list[str] = []

    def near_copy_check(path: Path, pages: list) -> list[str]:
        assert path.name.endswith(".warc.gz.open")
        seen.extend(p.url for p in pages)
        return [p.record_ids[0] for p in pages if p.url.endswith("/copy")]

    crawler = get_crawler(settings_dict={"TDMCRAWL_OUT_DIR": str(tmp_path)})
    crawler.tdmcrawl_session = SimpleNamespace(
        audit=None,
        release_hooks=[near_copy_check],
        final_release_hooks=[],
        add_page_step=lambda *_: None,
    )
    crawler.stats.open_spider()
    pipeline = WarcOutputPipeline.from_crawler(crawler)
    for name in ("original", "copy"):
        pipeline.process_item(item(name))
    pipeline.close_spider()
    assert seen == ["http://127.0.0.1:9/original", "http://127.0.0.1:9/copy"]
    (path,) = (tmp_path / "warc").iterdir()
    urls = [r["warc"].get("WARC-Target-URI") for r in read_records(path)]
    assert "http://127.0.0.1:9/copy" not in urls
    assert urls.count("http://127.0.0.1:9/original") == 3
    assert crawler.stats.get_value("tdmcrawl/warc/vetoed") == 1
    assert warcio_check(path).returncode == 0
