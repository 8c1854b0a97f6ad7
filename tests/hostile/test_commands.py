"""Commands that must agree with the crawl: ``check``, the add-on in a project, warcinfo.

- ``check --registry`` reaches the decision the crawl reaches on a word-for-word copy of
  a registered work (``registry-content``, stage ``near-duplicate``), and says whether
  the page was fetched, its HTTP status and each reason's stage.
- In a Scrapy project the add-on's internal pages never enter the project's item
  stream: its feed exports and pipelines see only its own items, the DEBUG log never
  prints a page body, and the WARC output does not depend on the project's pipelines.
  The log also goes to DIR/tdmcrawl.log, as with the CLI.
- The warcinfo record of every WARC file names the AI-agents list version the audit
  records for the crawl.
"""

from __future__ import annotations

import json
import sqlite3
import textwrap
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from tdmcrawl.crawler.demo.loopback import LoopbackWeb, Site, text_reply
from tests.support.neardup import (
    ORIGINAL_KK,
    OTHER_KK,
    REGISTERED_RU,
    article_html,
    filler,
    html,
    registered_work,
)
from tests.support.project import scrapy_crawl, write_project
from tests.support.web import FAST, KAZAKH, page, tdmcrawl

# --- check --registry and the crawl decide a copy of a registered work alike ------------------


def _registry(tmp_path: Path) -> Path:
    return registered_work(tmp_path)[0]


def _copy_site() -> LoopbackWeb:
    return LoopbackWeb(
        [
            Site(
                "blog",
                {
                    "/robots.txt": text_reply("User-agent: *\nDisallow: /private/\n"),
                    # Word for word: the registered text as an article of someone else's blog.
                    "/copy.html": html(article_html("Мастерская", REGISTERED_RU, lang="ru")),
                    # Three unrelated texts: no page here is a near-copy of another.
                    "/own.html": html(article_html("Кітапхана", OTHER_KK)),
                    "/noai.html": html(
                        article_html("Мұражай", ORIGINAL_KK), headers=[("X-Robots-Tag", "noai")]
                    ),
                    "/private/p.html": html(article_html("Private", filler(9))),
                },
            )
        ]
    )


def test_check_registry_excludes_a_word_for_word_copy_as_the_crawl_does(tmp_path):
    registry = _registry(tmp_path)
    with _copy_site() as web:
        urls = {
            name: web.url("blog", path)
            for name, path in (
                ("copy", "/copy.html"),
                ("own", "/own.html"),
                ("noai", "/noai.html"),
                ("private", "/private/p.html"),
            )
        }
        out = tmp_path / "crawl"
        crawled = tdmcrawl(
            "crawl",
            *urls.values(),
            "--out",
            str(out),
            "--registry",
            str(registry),
            "--max-depth",
            "0",
            "--progress",
            "0",
            *FAST,
        )
        assert crawled.returncode == 0, crawled.stderr[-3000:]
        checked = tdmcrawl(
            "check", "--json", "--registry", str(registry), *urls.values(), *FAST[:2]
        )
    assert checked.returncode == 0, checked.stderr[-3000:]
    results = dict(zip(urls, map(json.loads, checked.stdout.splitlines()), strict=True))

    db = sqlite3.connect(out / "audit.sqlite")
    crawl_reason = dict(db.execute("select url, reason from exclusions"))
    assert crawl_reason[urls["copy"]] == "registry-content"  # what the crawl decided

    copy = results["copy"]
    assert copy["allowed"] is False
    assert copy["fetched"] is True and copy["status"] == 200
    (reason,) = copy["reasons"]
    assert reason["code"] == "registry-content" and reason["stage"] == "near-duplicate"
    assert (
        reason["matched_work"]
        == db.execute(
            "select matched_work from exclusions where url = ?", (urls["copy"],)
        ).fetchone()[0]
    )

    own = results["own"]
    assert own["allowed"] is True and own["fetched"] is True and own["status"] == 200
    assert own["reasons"] == []

    noai = results["noai"]
    assert noai["fetched"] is True and noai["status"] == 200
    assert [(r["code"], r["stage"]) for r in noai["reasons"]] == [("noai", "post-fetch")]

    private = results["private"]
    assert private["fetched"] is False and private["status"] is None
    assert [(r["code"], r["stage"]) for r in private["reasons"]] == [("robots", "pre-fetch")]
    # Every check result carries the contract keys and the new ones, nothing else.
    for result in results.values():
        assert set(result) == {"url", "allowed", "reasons", "warnings", "fetched", "status"}


# --- the add-on leaves the project's item stream alone ------------------------------------------

BODY_MARKER = "Денебасы-маркері-7f3c"  # appears in page bodies only, never in the project's items

PIPELINE = """
import json
import os

from scrapy.exceptions import DropItem


class SeeAndDrop:
    \"\"\"Records the type of every item it sees; drops the project's item for ok.html.\"\"\"

    def process_item(self, item):
        with open(os.environ["SEEN_LOG"], "a", encoding="utf-8") as log:
            log.write(json.dumps(type(item).__name__) + "\\n")
        if isinstance(item, dict) and item.get("url", "").endswith("ok.html"):
            raise DropItem("the project does not want ok.html")
        return item
"""


def test_addon_pages_stay_out_of_the_projects_feeds_and_pipelines(tmp_path, monkeypatch):
    out = tmp_path / "out"
    root = write_project(
        tmp_path / "project",
        out,
        """
        ITEM_PIPELINES = {"plainproj.pipes.SeeAndDrop": 100}
        LOG_LEVEL = "DEBUG"
        """,
    )
    (root / "plainproj" / "pipes.py").write_text(textwrap.dedent(PIPELINE))
    site = Site(
        "plain",
        {
            "/robots.txt": text_reply("User-agent: *\nAllow: /\n"),
            "/": page("Home", f"{KAZAKH} {BODY_MARKER}", ["/ok.html"]),
            "/ok.html": page("OK", f"may be used {BODY_MARKER}"),
        },
    )
    seen = tmp_path / "seen.jsonl"
    monkeypatch.setenv("SEEN_LOG", str(seen))
    with LoopbackWeb([site]) as web:
        proc = scrapy_crawl(root, web.url("plain", "/"), "-O", str(tmp_path / "items.jsonl"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "not JSON serializable" not in proc.stderr, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert BODY_MARKER not in proc.stderr, "the DEBUG log printed a page body"

    # The project's pipeline saw its two items, nothing of ours; its feed holds one.
    assert [json.loads(line) for line in seen.read_text().splitlines()] == ["dict", "dict"]
    items = [json.loads(line) for line in (tmp_path / "items.jsonl").read_text().splitlines()]
    assert [i["title"] for i in items] == ["Home"]

    # The WARC output holds both pages, whatever the project's pipeline dropped.
    uris = set()
    for path in (out / "warc").glob("*.warc.gz"):
        with path.open("rb") as stream:
            uris |= {
                r.rec_headers.get_header("WARC-Target-URI")
                for r in ArchiveIterator(stream)
                if r.rec_type == "response"
            }
    assert {u.rsplit("/", 1)[1] for u in uris} == {"", "ok.html"}
    kept = sqlite3.connect(out / "audit.sqlite").execute("select count(*) from kept").fetchone()
    assert kept[0] == 2

    # The log is in DIR as with the CLI, besides the project's own (stderr here).
    log = (out / "tdmcrawl.log").read_text(encoding="utf-8")
    assert "Spider closed (finished)" in log
    assert BODY_MARKER not in log


# --- warcinfo names the AI-agents list version the audit records --------------------------------


def _warcinfo_policy(path: Path) -> dict:
    with path.open("rb") as stream:
        record = next(iter(ArchiveIterator(stream)))
        assert record.rec_type == "warcinfo"
        body = record.content_stream().read().decode("utf-8")
    fields = dict(line.split(": ", 1) for line in body.splitlines() if ": " in line)
    return json.loads(fields["tdmcrawl-policy"])


def test_warcinfo_ai_agents_list_version_is_the_audits(tmp_path):
    site = Site(
        "site",
        {
            "/robots.txt": text_reply("User-agent: *\nAllow: /\n"),
            "/": page("Home", KAZAKH),
        },
    )
    out = tmp_path / "out"
    with LoopbackWeb([site]) as web:
        proc = tdmcrawl("crawl", web.url("site", "/"), "--out", str(out), "--progress", "0", *FAST)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (versions,) = sqlite3.connect(out / "audit.sqlite").execute("select versions from crawls")
    audited = json.loads(versions[0])["ai_training_tokens"]
    assert audited and audited != "unknown"
    files = sorted(out.glob("warc/*.warc.gz")) + sorted(out.glob("evidence/*.warc.gz"))
    assert len(files) >= 2
    for path in files:
        assert _warcinfo_policy(path)["ai-agents-list-version"] == audited, path.name
