"""`tdmcrawl demo`: the bundled example web, served and crawled, every kind of opt-out."""

from __future__ import annotations

import json
import sqlite3

from warcio.archiveiterator import ArchiveIterator

from tdmcrawl.crawler.demo.example import load_sites
from tests.support.web import tdmcrawl

EXPECTED_EXCLUDED = {
    "pre-fetch:robots": 1,
    "pre-fetch:robots-unreachable": 1,
    "post-fetch:tdmrep": 4,
    "post-fetch:noai": 2,
    "post-fetch:content-usage": 1,
    "post-fetch:content-signal": 1,
    "post-fetch:robots-ai-agents": 2,
    "post-fetch:ai-txt": 1,
}
# The mirror's copy of the reserved news article: caught by the near-duplicate gate when the
# original came first, by the release step otherwise (the origins are crawled concurrently).
COPY_STAGES = ("near-duplicate:reserved-copy", "release:reserved-copy")


def test_demo_web_has_every_kind_of_site():
    sites = {site.name: site for site in load_sites()}
    assert "/.well-known/tdmrep.json" in sites["news"].routes
    assert "/ai.txt" in sites["poetry"].routes
    assert sites["down"].routes["/robots.txt"].status == 503
    kazakh = sites["library"].routes["/kk/dala.html"].body.decode()
    assert "ә ғ қ ң ө ұ ү һ і" in kazakh


def test_demo_crawls_and_reports(tmp_path):
    out = tmp_path / "demo-out"
    proc = tdmcrawl("demo", "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    excluded = dict(report["excluded"])
    assert sum(excluded.pop(key, 0) for key in COPY_STAGES) == 1, report["excluded"]
    assert excluded == EXPECTED_EXCLUDED
    assert report["kept"] == 9
    assert len(report["warc_files"]) == 1 and report["evidence_files"]

    texts = []
    with open(report["warc_files"][0], "rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type == "response":
                texts.append(record.content_stream().read().decode("utf-8"))
    joined = "\n".join(texts)
    assert "Көктемде дала" in joined and "Весной река" in joined  # Kazakh and Russian kept
    assert "The author of this essay" not in joined and "Ветер над степью" not in joined
    assert "Биыл күзде ауыл мектебінде" not in joined  # neither the original nor the copy
    db = sqlite3.connect(report["audit"])
    assert (
        db.execute("select count(*) from exclusions").fetchone()[0]
        == sum(EXPECTED_EXCLUDED.values()) + 1
    )
    copy = db.execute(
        "select url, matched_work, similarity, source from exclusions"
        " where reason = 'reserved-copy'"
    ).fetchone()
    assert copy[0].endswith("/copied.html") and copy[1].endswith("/news/kz-article.html")
    assert copy[2] > 0.9 and copy[3] == "crawl"
    assert db.execute("select count(*) from kept").fetchone()[0] == 9

    # Human output, and a second run over the first demo's directory.
    proc = tdmcrawl("demo", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "WARC files (1)" in proc.stdout and "audit.sqlite" in proc.stdout
    assert "excluded: tdmrep" in proc.stdout and "127.0.0.1" in proc.stdout


def test_demo_refuses_a_directory_it_did_not_make(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    proc = tdmcrawl("demo", "--out", str(tmp_path), timeout=60)
    assert proc.returncode == 2
    assert (tmp_path / "precious.txt").exists()
