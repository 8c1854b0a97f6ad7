"""`tdmcrawl audit` on the audit database of a real crawl (`tdmcrawl demo`)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from tdmcrawl.crawler.cli import main
from tdmcrawl.registry.transfer import csv_value
from tests.support.audit import (
    KNOWN_KAZAKH_URL,
    build_synthetic,
    demo_crawl,
    locate_warc,
    read_record_at,
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_crawl(tmp_path_factory.getbasetemp())


def rows(directory: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(directory / "audit.sqlite")
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def run(*args: str):
    return CliRunner().invoke(main, ["audit", *args], catch_exceptions=False)


def url_of(directory: Path, reason: str) -> str:
    return rows(directory, "SELECT url FROM exclusions WHERE reason = ? ORDER BY id", (reason,))[0][
        0
    ]


# --- summary ---------------------------------------------------------------------------


def test_summary_text_lists_every_reason_with_percentages(demo: Path) -> None:
    result = run(str(demo))
    assert result.exit_code == 0, result.output
    excluded = dict(rows(demo, "SELECT reason, count(*) FROM exclusions GROUP BY reason"))
    kept = rows(demo, "SELECT count(*) FROM kept")[0][0]
    total = sum(excluded.values())
    assert "reserved-copy" in excluded and "robots" in excluded
    assert f"pages kept: {kept} ({round(100 * kept / (kept + total), 2)}%)" in result.output
    for reason, n in excluded.items():
        line = next(ln for ln in result.output.splitlines() if ln.startswith(reason + " "))
        assert f"{n}" in line.split() and f"{100 * n / total:.2f}" in line
    assert "tdmcrawl 0.1.0" in result.output or "tdmcrawl " in result.output
    assert "policy: " in result.output


@pytest.mark.parametrize("by", ["reason", "domain", "source", "day"])
def test_summary_json_groups_add_up(demo: Path, by: str) -> None:
    result = run(str(demo), "--by", by, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    excluded = rows(demo, "SELECT count(*) FROM exclusions")[0][0]
    assert data["by"] == by and data["excluded"] == excluded
    assert sum(g["count"] for g in data["groups"]) == excluded
    assert sum(g["percent_of_excluded"] for g in data["groups"]) == pytest.approx(100, abs=0.1)
    assert data["percent_kept"] + data["percent_excluded"] == pytest.approx(100, abs=0.02)
    assert data["crawls"][0]["versions"]["tdmcrawl"]
    if by == "source":
        assert {g["source"] for g in data["groups"]} >= {"robots.txt", "header", "crawl"}


# --- one URL ---------------------------------------------------------------------------


def test_url_kept_points_at_its_warc_record(demo: Path) -> None:
    url, warc_file, offset, record_id = rows(
        demo, "SELECT url, warc_file, warc_offset, record_id FROM kept ORDER BY id"
    )[0]
    result = run(str(demo), "--url", url, "--json")
    story = json.loads(result.output)
    assert story["status"] == "kept"
    (kept,) = story["kept"]
    assert (kept["warc_file"], kept["warc_offset"], kept["record_id"]) == (
        warc_file,
        offset,
        record_id,
    )
    assert kept["decision"]["allowed"] is True and kept["decision"]["url"] == url
    assert kept["warc_path"] == str(locate_warc(demo, warc_file))
    rec_type, rec_id, target, _ = read_record_at(Path(kept["warc_path"]), offset)
    assert (rec_type, rec_id, target) == ("response", record_id, url)
    text = run(str(demo), "--url", url).output
    assert "KEPT" in text and f"offset {offset}" in text and record_id in text
    decision_line = next(ln for ln in text.splitlines() if ln.startswith("  decision: "))
    assert json.loads(decision_line.removeprefix("  decision: "))["url"] == url


def test_url_excluded_by_robots_shows_line_and_evidence_capture(demo: Path) -> None:
    url = url_of(demo, "robots")
    story = json.loads(run(str(demo), "--url", url, "--json").output)
    assert story["status"] == "excluded"
    (row,) = story["excluded"]
    assert row["reason"] == "robots" and row["source"] == "robots.txt"
    assert row["evidence"].startswith("Disallow:") and isinstance(row["line"], int)
    (capture,) = row["evidence_captures"]
    assert capture["warc_path"] == str(demo / "evidence" / capture["warc_file"])
    rec_type, rec_id, target, body = read_record_at(
        Path(capture["warc_path"]), capture["warc_offset"]
    )
    assert rec_type == "response" and target.endswith("/robots.txt")
    assert rec_id == capture["record_id"]
    # The crawl links the exclusion row to that capture's record id directly.
    (linked,) = rows(demo, "SELECT evidence_record_id FROM exclusions WHERE url = ?", (url,))
    assert linked == (rec_id,)
    # The quoted rule is on the quoted line of the captured robots.txt.
    lines = body.decode("utf-8").splitlines()
    assert lines[row["line"] - 1].strip() == row["evidence"]
    text = run(str(demo), "--url", url).output
    assert f"line {row['line']}" in text and capture["warc_path"] in text


def test_url_excluded_as_reserved_copy_names_the_work(demo: Path) -> None:
    url = url_of(demo, "reserved-copy")
    story = json.loads(run(str(demo), "--url", url, "--json").output)
    (row,) = story["excluded"]
    # Caught at the gate, or by the release step when the copy was crawled
    # before the reserved original (the crawl's order varies).
    assert row["stage"] in ("near-duplicate", "release")
    assert row["matched_work"].startswith("http")
    assert 0 < row["similarity"] <= 1
    assert f"matched: {row['matched_work']}" in run(str(demo), "--url", url).output


def test_url_never_seen_says_so(demo: Path) -> None:
    url = url_of(demo, "robots").rsplit("/", 1)[0] + "/никогда-не-было.html"
    result = run(str(demo), "--url", url)
    assert result.exit_code == 0
    assert "never seen" in result.output
    assert json.loads(run(str(demo), "--url", url, "--json").output)["status"] == "unseen"


# --- exports -------------------------------------------------------------------------


def test_export_csv_opens_in_spreadsheets_and_filters(demo: Path) -> None:
    result = CliRunner().invoke(main, ["audit", str(demo), "--export", "csv", "--reason", "tdmrep"])
    assert result.exit_code == 0
    raw = result.stdout_bytes
    assert raw.startswith("\ufeff".encode()) and b"\r\n" in raw
    table = list(csv.DictReader(io.StringIO(raw.decode("utf-8").removeprefix("\ufeff"))))
    expected = rows(demo, "SELECT url FROM exclusions WHERE reason = 'tdmrep' ORDER BY id")
    assert [r["url"] for r in table] == [u for (u,) in expected]
    assert all(r["reason"] == "tdmrep" for r in table)
    assert json.loads(table[0]["decision"])["allowed"] is False


def test_export_keeps_kazakh_and_guards_formulas(tmp_path: Path) -> None:
    audit = build_synthetic(tmp_path, exclusions=40, kept=2)
    from tdmcrawl.crawler.audit.db import AuditLog
    from tdmcrawl.optout.decision import Decision, Reason, ReasonCode

    log = AuditLog.open(tmp_path)
    log.record_exclusion(
        Decision(
            "https://қазақ.kz/формула",
            reasons=(Reason(ReasonCode.TDMREP, "header", '=HYPERLINK("http://x")'),),
        ),
        stage="post-fetch",
        crawl_id=audit.crawl_id,
    )
    log.close()
    out = CliRunner().invoke(main, ["audit", str(tmp_path), "--export", "csv"]).stdout_bytes
    table = list(csv.DictReader(io.StringIO(out.decode("utf-8").removeprefix("\ufeff"))))
    assert KNOWN_KAZAKH_URL in {r["url"] for r in table}
    evil = next(r for r in table if r["url"] == "https://қазақ.kz/формула")
    assert evil["evidence"].startswith("'=") and csv_value(evil["evidence"]).startswith("=")
    jsonl = (
        CliRunner()
        .invoke(main, ["audit", str(tmp_path), "--export", "jsonl", "--domain", "әдебиет.kz"])
        .stdout_bytes
    )
    lines = [json.loads(line) for line in jsonl.decode("utf-8").splitlines()]
    assert lines and all(r["domain"] == "әдебиет.kz" for r in lines)
    assert "Disallow: /жабық/" in {r["evidence"] for r in lines}
    assert "жабық".encode() in jsonl  # not \u-escaped
    assert len(lines) == audit.by_domain["әдебиет.kz"]


# --- HTML report ---------------------------------------------------------------------


def test_html_report_is_self_contained(demo: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    result = run(str(demo), "--html", str(report))
    assert result.exit_code == 0, result.output
    html = report.read_text(encoding="utf-8")
    for (url,) in rows(demo, "SELECT url FROM exclusions"):
        assert url in html
    import re

    assert not re.search(r"<script[^>]+src=[\"']?(https?:)?//", html, re.I)
    assert not re.search(r"<link[^>]+href=[\"']?(https?:)?//", html, re.I)
    assert not re.search(r"@import\s+url\([\"']?https?:", html, re.I)
    assert html.count("Plotly.newPlot") >= 3  # reason, domain, time


# --- merge ---------------------------------------------------------------------------


def test_merge_is_idempotent_and_keeps_crawls_apart(
    demo: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    second = demo_crawl(tmp_path_factory.getbasetemp(), "demo-second")
    other = tmp_path / "node2"
    build_synthetic(other, exclusions=30, kept=5)
    out = tmp_path / "merged"
    first = run("merge", str(out), str(demo), str(second), str(other), "--json")
    assert first.exit_code == 0, first.output
    totals = json.loads(first.output)["totals"]
    count = {d: rows(d, "SELECT count(*) FROM exclusions")[0][0] for d in (demo, second)}
    kept = {d: rows(d, "SELECT count(*) FROM kept")[0][0] for d in (demo, second)}
    assert totals["exclusions"] == sum(count.values()) + 30
    assert totals["kept"] == sum(kept.values()) + 5 and totals["crawls"] == 3
    again = json.loads(run("merge", str(out), str(demo), str(second), str(other), "--json").output)
    assert all(n == 0 for src in again["sources"] for n in src["added"].values())
    assert again["totals"] == totals
    ids = {c for (c,) in rows(out, "SELECT DISTINCT crawl_id FROM exclusions")}
    assert len(ids) == 3
    summary = json.loads(run(str(out), "--json").output)
    assert summary["excluded"] == sum(count.values()) + 30
    # Each crawl's URLs keep their own story in the merged database.
    url = url_of(second, "robots")
    story = json.loads(run(str(out), "--url", url, "--json").output)
    assert story["status"] == "excluded"
    # The merged DIR has no WARC files: the names stay, the paths say so.
    assert [c["warc_path"] for c in story["excluded"][0]["evidence_captures"]] == [None]
    assert {r["crawl_id"] for r in story["excluded"]} == {
        rows(second, "SELECT crawl_id FROM crawls")[0][0]
    }


# --- bad input -----------------------------------------------------------------------


def test_not_an_audit_database_is_one_error_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not sqlite at all\n" * 100)
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    for target in (junk, other, tmp_path / "missing"):
        result = CliRunner().invoke(main, ["audit", str(target)])
        assert result.exit_code == 1
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error:"), result.output
    missing = CliRunner().invoke(
        main, ["audit", "merge", str(tmp_path / "o"), str(tmp_path / "missing")]
    )
    assert missing.exit_code == 1 and missing.output.startswith("Error:")


def test_old_schema_is_migrated_and_unversioned_refused(tmp_path: Path) -> None:
    build_synthetic(tmp_path / "old", exclusions=10, kept=1)
    db_file = tmp_path / "old" / "audit.sqlite"
    conn = sqlite3.connect(db_file)
    # An audit database written before m002: no summary indexes.
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm002_summary_indexes'")
    for name in (
        "exclusions_reason_domain",
        "exclusions_domain",
        "exclusions_source",
        "exclusions_decided",
        "exclusions_crawl",
        "kept_domain",
    ):
        conn.execute(f"DROP INDEX {name}")
    conn.commit()
    conn.close()
    result = run(str(tmp_path / "old"), "--json")
    assert result.exit_code == 0 and json.loads(result.output)["excluded"] == 10
    assert (
        rows(
            tmp_path / "old",
            "SELECT count(*) FROM sqlite_master WHERE name = 'exclusions_reason_domain'",
        )[0][0]
        == 1
    )
    conn = sqlite3.connect(db_file)
    conn.execute("DROP TABLE _sqlite_migrations")
    conn.commit()
    conn.close()
    refused = CliRunner().invoke(main, ["audit", str(tmp_path / "old")])
    assert refused.exit_code == 1 and "before versioned schemas" in refused.output
    newer = tmp_path / "newer"
    build_synthetic(newer, exclusions=1, kept=0)
    conn = sqlite3.connect(newer / "audit.sqlite")
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
        "VALUES ('tdmcrawl.audit', 'm999_future', '2030-01-01')"
    )
    conn.commit()
    conn.close()
    result = CliRunner().invoke(main, ["audit", str(newer)])
    assert result.exit_code == 1 and "newer tdmcrawl" in result.output


def test_usage_errors_exit_2(demo: Path) -> None:
    assert CliRunner().invoke(main, ["audit", str(demo), "--by", "week"]).exit_code == 2
    both = CliRunner().invoke(main, ["audit", str(demo), "--url", "x", "--export", "csv"])
    assert both.exit_code == 2 and "cannot be combined" in both.output
    assert CliRunner().invoke(main, ["audit", str(demo), "--reason", "robots"]).exit_code == 2
