"""`tdmcrawl audit`: summary, URL story, exports, HTML report, merge, serve."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest
from click.testing import CliRunner

from tdmcrawl.crawler.audit.db import open_database
from tdmcrawl.crawler.cli import main
from tests.support.audit import (
    KNOWN_KAZAKH_URL,
    build_synthetic,
    chromium_path,
    free_port,
    run_chromium,
)


@pytest.fixture(scope="module")
def audit_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("audit")
    return build_synthetic(directory, exclusions=300, kept=40)


def run(*args):
    result = CliRunner().invoke(main, ["audit", *map(str, args)])
    return result


def test_summary_json_matches_rows_written(audit_dir):
    result = run(audit_dir.directory, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["kept"] == len(audit_dir.kept)
    assert data["excluded"] == len(audit_dir.excluded)
    assert {g["reason"]: g["count"] for g in data["groups"]} == dict(audit_dir.by_reason)
    assert data["crawls"][0]["policy"]["TDMCRAWL_TOKEN"] == "tdmcrawl"


def test_summary_by_domain_text_keeps_unicode(audit_dir):
    result = run(audit_dir.directory, "--by", "domain")
    assert result.exit_code == 0
    for domain, count in audit_dir.by_domain.items():
        assert any(
            line.startswith(domain) and f" {count} " in line for line in result.output.splitlines()
        )


def test_url_story_excluded_kept_and_unseen(audit_dir):
    story = json.loads(run(audit_dir.directory, "--url", KNOWN_KAZAKH_URL, "--json").output)
    assert story["status"] == "excluded"
    row = story["excluded"][0]
    assert (row["reason"], row["line"], row["evidence"]) == ("robots", 4, "Disallow: /жабық/")
    assert row["evidence_captures"][0]["record_id"] == "<urn:uuid:robots-әдебиет.kz>"
    kept = json.loads(run(audit_dir.directory, "--url", audit_dir.kept[3], "--json").output)
    assert kept["status"] == "kept"
    assert kept["kept"][0]["warc_offset"] == 3000
    unseen = run(audit_dir.directory, "--url", KNOWN_KAZAKH_URL + "/")
    assert unseen.exit_code == 0
    assert "never seen" in unseen.output
    assert KNOWN_KAZAKH_URL in unseen.output


def test_csv_export_opens_in_spreadsheets(audit_dir):
    result = CliRunner().invoke(
        main, ["audit", str(audit_dir.directory), "--export", "csv", "--reason", "robots"]
    )
    assert result.exit_code == 0
    raw = result.stdout_bytes
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert len(rows) == audit_dir.by_reason["robots"]
    assert KNOWN_KAZAKH_URL in {r["url"] for r in rows}
    assert b"\r\n" in raw


def test_jsonl_export_filters_domain_with_subdomains(audit_dir):
    result = run(audit_dir.directory, "--export", "jsonl", "--domain", "example.org")
    lines = [json.loads(line) for line in result.output.splitlines()]
    expected = audit_dir.by_domain["example.org"] + audit_dir.by_domain["blog.example.org"]
    assert len(lines) == expected
    assert all(isinstance(line["decision"], dict) for line in lines)


def test_bad_input_is_one_line_exit_1(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not sqlite")
    for target in (text, tmp_path / "missing"):
        result = run(target)
        assert result.exit_code == 1
        assert "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert run(tmp_path, "--url", "x", "--html", "r.html").exit_code == 2


def test_merge_is_idempotent_and_keeps_crawls(tmp_path):
    a = build_synthetic(tmp_path / "a", exclusions=30, kept=5)
    b = build_synthetic(tmp_path / "b", exclusions=20, kept=3)
    for _ in range(2):
        result = run("merge", tmp_path / "m", tmp_path / "a", tmp_path / "b", "--json")
        assert result.exit_code == 0, result.output
    db = open_database(tmp_path / "m")
    # Same URLs in both synthetic crawls: distinct crawl ids keep both rows.
    assert db["exclusions"].count == 50
    assert {r["crawl_id"] for r in db["crawls"].rows} == {a.crawl_id, b.crawl_id}


def test_html_report_is_self_contained_and_renders(audit_dir, tmp_path):
    report = tmp_path / "report.html"
    result = run(audit_dir.directory, "--html", report)
    assert result.exit_code == 0, result.output
    html = report.read_text(encoding="utf-8")
    assert "<script src" not in html and "<link " not in html  # nothing loaded from outside
    assert KNOWN_KAZAKH_URL in html
    if chromium_path() is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    dom = run_chromium(
        ["--dump-dom", "--virtual-time-budget=5000", report.as_uri()], tmp_path / "profile"
    )
    # Plotly draws each chart as an SVG with class main-svg.
    for chart in ("chart-by-reason", "chart-by-domain", "chart-over-time"):
        start = dom.index(f'id="{chart}"')
        assert "main-svg" in dom[start : start + 5000]


def test_serve_is_read_only_with_canned_queries(audit_dir, tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tdmcrawl.crawler.cli",
            "audit",
            "serve",
            str(audit_dir.directory),
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/-/databases.json", timeout=2).read()
                break
            except OSError:
                time.sleep(0.2)
        dbs = json.loads(urllib.request.urlopen(base + "/-/databases.json").read())
        assert dbs[0]["is_mutable"] is False
        facets = json.loads(
            urllib.request.urlopen(
                base + "/audit/exclusions.json?_facet=reason&_facet=domain"
            ).read()
        )
        counts = {f["value"]: f["count"] for f in facets["facet_results"]["reason"]["results"]}
        assert counts == dict(audit_dir.by_reason)
        query = urllib.parse.urlencode({"url": KNOWN_KAZAKH_URL, "_shape": "array"})
        rows = json.loads(urllib.request.urlopen(f"{base}/audit/why_excluded.json?{query}").read())
        assert [(r["status"], r["reason"]) for r in rows] == [("excluded", "robots")]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
