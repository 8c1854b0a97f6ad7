"""`tdmcrawl audit serve`: Datasette over the audit database, read-only, on loopback."""

from __future__ import annotations

import hashlib
import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.audit import demo_crawl, get, start_serve, stop, tdmcrawl_argv


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_crawl(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def served(demo: Path) -> Iterator[tuple[Path, str]]:
    proc, base = start_serve(demo)
    try:
        yield demo, base
    finally:
        stop(proc)


def test_exclusions_have_facets_on_reason_source_domain(served: tuple[Path, str]) -> None:
    _demo, base = served
    status, body = get(base + "/audit/exclusions.json?_size=100")
    assert status == 200
    data = json.loads(body)
    facets = data["facet_results"]
    facets = facets.get("results", facets)  # datasette 1.0 nests them
    assert {"reason", "source", "domain"} <= set(facets)
    reasons = {item["value"]: item["count"] for item in facets["reason"]["results"]}
    assert reasons["robots"] >= 1 and "reserved-copy" in reasons
    status, body = get(base + "/audit/exclusions.json?reason=reserved-copy&_shape=array")
    assert status == 200 and [r["reason"] for r in json.loads(body)] == ["reserved-copy"]


def test_canned_queries_answer_why_and_domain(served: tuple[Path, str]) -> None:
    _demo, base = served
    status, body = get(base + "/audit/exclusions.json?reason=robots&_shape=array")
    url = json.loads(body)[0]["url"]
    query = urllib.parse.urlencode({"url": url, "_shape": "array"})
    status, body = get(f"{base}/audit/why_excluded.json?{query}")
    assert status == 200
    (story,) = json.loads(body)
    assert story["status"] == "excluded" and story["reason"] == "robots"
    assert story["evidence"].startswith("Disallow:") and story["warc_file"]
    host = urllib.parse.urlsplit(url).hostname
    status, body = get(f"{base}/audit/domain_everything.json?domain={host}&_shape=array")
    statuses = {row["status"] for row in json.loads(body)}
    assert status == 200 and statuses == {"kept", "excluded"}


def test_served_database_is_immutable(served: tuple[Path, str]) -> None:
    demo, base = served
    db_file = demo / "audit.sqlite"
    before = hashlib.sha256(db_file.read_bytes()).hexdigest()
    for sql in (
        "DELETE FROM exclusions",
        "UPDATE kept SET url = 'x'",
        "INSERT INTO crawls (crawl_id, started_at) VALUES ('x', 'y')",
    ):
        status, body = get(base + "/audit.json?" + urllib.parse.urlencode({"sql": sql}))
        assert status >= 400, body[:300]
    status, body = get(base + "/audit.json?sql=select+count(*)+as+n+from+exclusions&_shape=array")
    assert status == 200 and json.loads(body)[0]["n"] > 0
    assert hashlib.sha256(db_file.read_bytes()).hexdigest() == before


def test_serve_refuses_a_non_audit_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"\x00" * 4096)
    done = subprocess.run(
        tdmcrawl_argv("audit", "serve", str(junk), "--port", "0"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip().startswith("Error:") and len(done.stderr.strip().splitlines()) == 1
