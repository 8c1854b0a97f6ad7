"""The audit queries run on the crawler's indexes, not on full scans of the table.

Every SQL statement a summary or URL lookup sends is captured with SQLite's
trace callback and explained; a plan line ``SCAN exclusions`` without an
index would mean seconds per million rows.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tdmcrawl.crawler.audit.db import open_database
from tdmcrawl.crawler.audit.queries import explain, summary
from tests.support.audit import build_bulk

ROWS = 20_000


@pytest.fixture(scope="module")
def bulk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("bulk")
    build_bulk(directory, exclusions=ROWS, kept=500)
    return directory


def plans_of(directory: Path, run) -> dict[str, list[str]]:
    db = open_database(directory)
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    try:
        result = run(db)
    finally:
        db.conn.set_trace_callback(None)
    plans = {}
    for sql in statements:
        if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
            continue
        # The trace shows bound values inline; the plan does not depend on them.
        rows = db.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
        plans[sql] = [row[-1] for row in rows]
    db.close()
    assert result is not None
    return plans


def full_scans(plans: dict[str, list[str]]) -> list[str]:
    bad = []
    for sql, lines in plans.items():
        for line in lines:
            if re.match(r"SCAN (exclusions|kept)\b", line) and "INDEX" not in line:
                bad.append(f"{line}  <-  {' '.join(sql.split())[:120]}")
    return bad


@pytest.mark.parametrize("by", ["reason", "domain", "source", "day"])
def test_summary_uses_covering_indexes(bulk: Path, by: str) -> None:
    plans = plans_of(bulk, lambda db: summary(db, by=by))
    assert plans
    assert full_scans(plans) == []
    joined = "\n".join(line for lines in plans.values() for line in lines)
    assert "USING COVERING INDEX" in joined or "USING INDEX" in joined


def test_url_lookup_uses_indexes(bulk: Path) -> None:
    url = "https://сайт0.kz/бет/0"
    plans = plans_of(bulk, lambda db: explain(db, url))
    assert full_scans(plans) == []
    lookups = [ln for lines in plans.values() for ln in lines if "exclusions" in ln]
    assert any(
        "USING INDEX exclusions_url" in ln or "USING COVERING INDEX exclusions_url" in ln
        for ln in lookups
    ), lookups


def test_bulk_summary_counts_match(bulk: Path) -> None:
    db = open_database(bulk)
    try:
        data = summary(db, by="day")
    finally:
        db.close()
    assert data["excluded"] == ROWS and data["kept"] == 500
    assert len(data["groups"]) == 30


def test_the_scan_detector_sees_an_unindexed_query(bulk: Path) -> None:
    plans = plans_of(
        bulk,
        lambda db: list(db.query("SELECT url FROM exclusions WHERE evidence = ?", ["x"])) or [None],
    )
    assert len(full_scans(plans)) == 1


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_streams_in_bounded_memory(bulk: Path, tmp_path: Path, fmt: str) -> None:
    import tracemalloc

    from tdmcrawl.crawler.audit.export import export_exclusions

    def export(reason: str | None) -> tuple[int, int, int]:
        db = open_database(bulk)
        out_file = tmp_path / f"{reason}.{fmt}"
        try:
            with open(out_file, "wb") as out:
                tracemalloc.start()
                count = export_exclusions(db, out, fmt=fmt, reason=reason)
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
        finally:
            db.close()
        return count, out_file.stat().st_size, peak

    few, few_size, few_peak = export("robots")
    every, size, peak = export(None)
    assert every == ROWS and few == ROWS // 8 and size > 5 * few_size
    # Eight times the rows, about the same peak: rows are written as they are read.
    assert peak < 1.5 * few_peak + 2**20, (few_peak, peak)
    assert peak < size / 2
