"""The offline filter and the live crawl agree: `tdmcrawl demo`'s output, re-filtered.

The demo's WARC holds only kept pages, so its evidence directory is the
interesting input: with it, a WARC of every page the demo excluded (built
from the demo web's own replies) must lose exactly those pages, for the same
reasons, while the demo's kept pages all stay.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tdmcrawl.crawler.demo.example import load_sites
from tests.support.filter import Cap, output_files, records_of, warcio_check, write_warc
from tests.support.web import tdmcrawl


def _text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def captures_of_excluded(audit: Path) -> tuple[list[Cap], dict[str, str]]:
    """A capture per URL the demo excluded, with the demo web's reply for that path."""
    routes: dict[str, list] = {}
    for site in load_sites():
        for path, reply in site.routes.items():
            routes.setdefault(path, []).append(reply)
    with sqlite3.connect(audit) as db:
        rows = db.execute("SELECT url, reason FROM exclusions").fetchall()
    caps = []
    for url, _ in rows:
        replies = routes.get(urlsplit(url).path, [])
        if len(replies) == 1:
            reply = replies[0]
            headers = [(_text(k), _text(v)) for k, v in reply.headers]
            caps.append(Cap(url, reply.body, headers, f"{reply.status} OK"))
        else:  # "/" on several sites: those pages are reserved by origin files alone
            caps.append(Cap(url, "<html><head><title>t</title></head><body>бет</body></html>"))
    return caps, dict(rows)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "demo-out"
    proc = tdmcrawl("demo", "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    return out


def test_refiltering_the_demo_keeps_every_kept_page(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "refiltered"
    proc = tdmcrawl(
        "filter",
        str(demo / "warc"),
        "--evidence",
        str(demo / "evidence"),
        "--out",
        str(out),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["pages_kept"] == 9 and report["excluded_urls"] == 0
    before = Counter(records_of(sorted((demo / "warc").glob("*.warc.gz"))))
    after = Counter(records_of(output_files(out)))
    after[("warcinfo", "")] -= 1  # the filter's own warcinfo
    assert +after == +before


def test_filter_excludes_what_the_crawl_excluded_for_the_same_reasons(
    demo: Path, tmp_path: Path
) -> None:
    caps, demo_reasons = captures_of_excluded(demo / "audit.sqlite")
    assert len(caps) >= 10
    source = tmp_path / "reserved.warc.gz"
    write_warc(source, caps)
    out = tmp_path / "out"
    proc = tdmcrawl(
        "filter",
        str(source),
        str(demo / "warc"),
        "--evidence",
        str(demo / "evidence"),
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(out / "audit.sqlite") as db:
        filtered = dict(db.execute("SELECT url, reason FROM exclusions").fetchall())
    assert filtered == demo_reasons
    kept = {uri for kind, uri in records_of(output_files(out)) if kind == "response"}
    assert not kept & set(demo_reasons)
    assert len(kept) == 9
    assert warcio_check(output_files(out)).returncode == 0
