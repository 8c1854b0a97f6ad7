"""AuditLog: the writer the crawler calls, and the schema checks every reader runs."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import pytest
from sqlite_utils import Database

from tdmcrawl.crawler.audit.db import AuditLog, migrations, open_database
from tdmcrawl.crawler.errors import AuditWriteError, NotAnAuditDatabase, SchemaError
from tdmcrawl.optout.decision import Decision, Reason
from tests.support.audit import KNOWN_KAZAKH_URL, build_synthetic

ROBOTS = Reason("robots", "robots.txt", "Disallow: /жабық/", line=4)


def test_rows_round_trip_with_unicode(tmp_path):
    audit = build_synthetic(tmp_path, exclusions=40, kept=5)
    db = open_database(tmp_path)
    assert db["exclusions"].count == 40
    assert db["kept"].count == 5
    assert db["evidence"].count == 5
    row = next(db["exclusions"].rows_where("url = ?", [KNOWN_KAZAKH_URL]))
    assert row["reason"] == "robots"
    assert row["evidence"] == "Disallow: /жабық/"
    assert row["line"] == 4
    assert row["domain"] == "әдебиет.kz"
    assert row["decided_at"].endswith("Z")
    assert Decision.from_json(row["decision"]) == audit.excluded[KNOWN_KAZAKH_URL]
    crawl = db["crawls"].get(audit.crawl_id)
    assert crawl["finished_at"] is not None
    assert '"pages_kept": 5' in crawl["stats"]


def test_crawl_id_defaults_and_resume(tmp_path):
    log = AuditLog.open(tmp_path / "out")
    first = log.start_crawl(settings={}, versions={}, seeds=["https://a.kz/"])
    log.record_kept(
        "https://a.kz/1",
        warc_file="w.warc.gz",
        offset=0,
        record_id="<r1>",
        decision=Decision("https://a.kz/1"),
    )
    log.close()

    log = AuditLog.open(tmp_path / "out" / "audit.sqlite")
    again = log.start_crawl(settings={}, versions={}, seeds=[], crawl_id=first)
    log.record_kept(
        "https://a.kz/2",
        warc_file="w.warc.gz",
        offset=9,
        record_id="<r2>",
        decision=Decision("https://a.kz/2"),
    )
    assert again == first
    assert sorted(log.kept_urls(first)) == ["https://a.kz/1", "https://a.kz/2"]
    log.close()
    crawl = open_database(tmp_path / "out")["crawls"].get(first)
    assert crawl["resumed_at"] is not None
    assert crawl["started_at"] <= crawl["resumed_at"]


def test_same_url_and_stage_is_recorded_once(tmp_path):
    log = AuditLog.open(tmp_path)
    log.start_crawl(settings={}, versions={}, seeds=[])
    decision = Decision("https://a.kz/x", reasons=(ROBOTS,))
    for _ in range(3):
        log.record_exclusion(decision, stage="pre-fetch")
    log.record_exclusion(decision, stage="release")
    log.close()
    stages = [r["stage"] for r in open_database(tmp_path)["exclusions"].rows]
    assert sorted(stages) == ["pre-fetch", "release"]


def test_bad_calls_raise_clear_errors(tmp_path):
    log = AuditLog.open(tmp_path)
    with pytest.raises(AuditWriteError, match="before start_crawl"):
        log.record_exclusion(Decision("https://a/", reasons=(ROBOTS,)), stage="pre-fetch")
    log.start_crawl(settings={}, versions={}, seeds=[])
    with pytest.raises(ValueError, match="excluding decision"):
        log.record_exclusion(Decision("https://a/"), stage="pre-fetch")
    with pytest.raises(ValueError, match="unknown stage"):
        log.record_exclusion(Decision("https://a/", reasons=(ROBOTS,)), stage="later")
    log.close()
    log.close()  # idempotent
    with pytest.raises(AuditWriteError, match="closed"):
        log.record_exclusion(Decision("https://a/", reasons=(ROBOTS,)), stage="pre-fetch")


def test_writer_failure_reaches_the_crawler(tmp_path):
    log = AuditLog.open(tmp_path)
    log.start_crawl(settings={}, versions={}, seeds=[])
    sqlite3.connect(tmp_path / "audit.sqlite").execute("DROP TABLE kept")
    log.record_kept(
        "https://a/", warc_file="w", offset=0, record_id="<r>", decision=Decision("https://a/")
    )
    with pytest.raises(AuditWriteError, match="no such table"):
        log.flush()
    with pytest.raises(AuditWriteError):
        log.close()


def test_sigint_before_close_keeps_queued_rows(tmp_path):
    # The crawler is interrupted before it can close the log: atexit flushes.
    script = textwrap.dedent(f"""
        import os, signal
        from tdmcrawl.crawler.audit.db import AuditLog
        from tdmcrawl.optout.decision import Decision, Reason
        log = AuditLog.open({str(tmp_path)!r}, flush_interval=60, batch_size=10_000)
        log.start_crawl(settings={{}}, versions={{}}, seeds=[])
        for i in range(250):
            d = Decision(f"https://a.kz/{{i}}", reasons=(Reason("noai", "meta", "noai"),))
            log.record_exclusion(d, stage="post-fetch")
        os.kill(os.getpid(), signal.SIGINT)
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert "KeyboardInterrupt" in done.stderr
    assert open_database(tmp_path)["exclusions"].count == 250


def test_older_schema_is_migrated(tmp_path):
    path = tmp_path / "audit.sqlite"
    old = Database(path)
    migrations.apply(old, stop_before="m002_summary_indexes")
    old.close()
    db = open_database(tmp_path)
    assert "exclusions_reason_domain" in {i.name for i in db["exclusions"].indexes}
    assert [m.name for m in migrations.pending(db)] == []


def test_newer_schema_is_refused(tmp_path):
    build_synthetic(tmp_path, exclusions=3, kept=0)
    db = Database(tmp_path / "audit.sqlite")
    db["_sqlite_migrations"].insert(
        {"migration_set": "tdmcrawl.audit", "name": "m999_future", "applied_at": "2030"}
    )
    db.close()
    with pytest.raises(SchemaError, match="newer tdmcrawl"):
        open_database(tmp_path)
    with pytest.raises(SchemaError, match="newer tdmcrawl"):
        AuditLog.open(tmp_path)


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        (b"url,reason\nhttps://a/,robots\n", NotAnAuditDatabase, "not a tdmcrawl audit"),
        (b"", None, None),  # an empty file is a new, empty database
    ],
)
def test_file_that_is_not_a_database(tmp_path, content, error, message):
    path = tmp_path / "audit.sqlite"
    path.write_bytes(content)
    if error is None:
        assert open_database(path)["exclusions"].count == 0
    else:
        with pytest.raises(error, match=message):
            open_database(path)


def test_other_sqlite_databases_are_refused(tmp_path):
    other = tmp_path / "other.sqlite"
    Database(other)["works"].insert({"id": 1})
    with pytest.raises(NotAnAuditDatabase, match="not a tdmcrawl audit"):
        open_database(other)
    legacy = tmp_path / "legacy.sqlite"
    Database(legacy)["exclusions"].insert({"url": "https://a/"})
    with pytest.raises(SchemaError, match="before versioned schemas"):
        open_database(legacy)
    with pytest.raises(NotAnAuditDatabase, match="no audit database"):
        open_database(tmp_path / "missing")
    assert not (tmp_path / "missing").exists()
