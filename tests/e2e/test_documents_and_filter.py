"""PDF and EPUB through the near-duplicate gate, and `tdmcrawl filter` on PDF/EPUB records
and RSL licence captures in existing WARC files (built with warcio)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from tdmcrawl.crawler.cli import main
from tdmcrawl.crawler.demo.loopback import LoggedRequest, LoopbackWeb, Reply, Site, text_reply
from tests.support.documents import epub_file, pdf_file, xmp_packet
from tests.support.filter import Cap, output_files, payloads_of, robots, write_warc
from tests.support.neardup import REGISTERED_RU
from tests.support.web import FAST, KAZAKH, page, tdmcrawl

PDF = [("Content-Type", "application/pdf")]
EPUB = [("Content-Type", "application/epub+zip")]
RSL = 'xmlns="https://rslstandard.org/rsl"'


def _register(tmp: Path) -> Path:
    registry = tmp / "registry.sqlite"
    work = tmp / "masterskaya.txt"
    work.write_text(REGISTERED_RU, encoding="utf-8")
    proc = tdmcrawl(
        "registry", "add", "--registry", str(registry), "--author", "Анна Иванова",
        "--file", str(work), "--json", timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return registry


def test_a_pdf_copy_of_a_registered_work_is_caught_by_the_near_duplicate_gate(tmp_path):
    registry = _register(tmp_path)

    def index(web: LoopbackWeb, request: LoggedRequest) -> Reply:
        return page("books", KAZAKH, ["/copy.pdf", "/copy.epub", "/own.pdf"])

    # The registered text split over two pages, as a book's PDF would be.
    half = len(REGISTERED_RU) // 2
    cut = REGISTERED_RU.rfind(" ", 0, half)
    site = Site(
        "books",
        {
            "/robots.txt": text_reply("User-agent: *\nAllow: /\n"),
            "/": index,
            "/copy.pdf": Reply(200, PDF, pdf_file([REGISTERED_RU[:cut], REGISTERED_RU[cut:]])),
            "/copy.epub": Reply(200, EPUB, epub_file([REGISTERED_RU])),
            "/own.pdf": Reply(200, PDF, pdf_file([KAZAKH * 3])),
        },
    )
    out = tmp_path / "out"
    with LoopbackWeb([site]) as web:
        proc = tdmcrawl(
            "crawl", web.url("books", "/"), "--out", str(out), "--registry", str(registry),
            "--progress", "0", "--json", *FAST,
            "-s", "TDMCRAWL_TEXT_TYPES=text/html,application/pdf,application/epub+zip",
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        db = sqlite3.connect(out / "audit.sqlite")
        excluded = dict(db.execute("select url, reason || ':' || stage from exclusions"))
        kept = {url for (url,) in db.execute("select url from kept")}
        assert excluded[web.url("books", "/copy.pdf")] == "registry-content:near-duplicate"
        assert excluded[web.url("books", "/copy.epub")] == "registry-content:near-duplicate"
        assert web.url("books", "/own.pdf") in kept


def _input_warc(tmp: Path) -> tuple[Path, dict[str, str | None]]:
    site = "https://books.example.kz"
    licence = (
        f'<rsl {RSL}><content url="/closed/"><license><prohibits type="usage">ai-train'
        "</prohibits></license></content></rsl>"
    ).encode()
    caps = [
        robots(site, f"License: {site}/license.xml\nUser-agent: *\nAllow: /\n"),
        Cap(f"{site}/license.xml", licence, headers=[("Content-Type", "application/rsl+xml")]),
        Cap(f"{site}/open/kitap.pdf", pdf_file([KAZAKH]), headers=PDF),
        Cap(f"{site}/open/reserved.pdf", pdf_file([KAZAKH], xmp=xmp_packet("1")), headers=PDF),
        Cap(f"{site}/open/reserved.epub", epub_file([KAZAKH], reservation="1"), headers=EPUB),
        Cap(f"{site}/open/copy.pdf", pdf_file([REGISTERED_RU]), headers=PDF),
        Cap(f"{site}/closed/page.html", f"<html><body><p>{KAZAKH}</p></body></html>"),
    ]  # fmt: skip
    path = tmp / "in.warc.gz"
    write_warc(path, caps)
    expected = {
        f"{site}/open/kitap.pdf": None,
        f"{site}/open/reserved.pdf": "tdmrep",
        f"{site}/open/reserved.epub": "tdmrep",
        f"{site}/open/copy.pdf": "registry-content",
        f"{site}/closed/page.html": "rsl",
    }
    return path, expected


def test_filter_reads_pdf_epub_metadata_rsl_licences_and_document_copies(tmp_path):
    registry = _register(tmp_path)
    path, expected = _input_warc(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["filter", str(path), "--out", str(out), "--registry", str(registry), "--json"]
    )
    assert result.exit_code == 0, result.output
    db = sqlite3.connect(out / "audit.sqlite")
    rows = {url: (reason, source) for url, reason, source in
            db.execute("select url, reason, source from exclusions")}  # fmt: skip
    for url, reason in expected.items():
        assert (rows.get(url, (None, None))[0]) == reason, url
    assert rows["https://books.example.kz/closed/page.html"][1] == "robots.txt"
    assert rows["https://books.example.kz/open/reserved.pdf"][1] == "pdf"
    kept = payloads_of(output_files(out))
    assert ("response", "https://books.example.kz/open/kitap.pdf") in kept
    assert ("response", "https://books.example.kz/license.xml") in kept  # evidence, copied as is
    summary = json.loads(result.output)
    assert summary["excluded_by_reason"]["tdmrep"] == 2


def test_filter_holding_a_prohibiting_licence_changes_nothing(tmp_path):
    path, _ = _input_warc(tmp_path)
    held = "https://books.example.kz/license.xml"
    # Only a licence that permits training on terms can be held; a prohibition stands.
    result = CliRunner().invoke(
        main, ["filter", str(path), "--out", str(tmp_path / "out"), "--rsl-license", held, "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["excluded_by_reason"].get("rsl") == 1


@pytest.mark.parametrize("kind", ["pdf", "epub"])
def test_text_types_include_documents_only_when_asked(tmp_path, kind):
    # Without the document types the PDF/EPUB is fetched and decided but not kept as a page.
    body = pdf_file([KAZAKH]) if kind == "pdf" else epub_file([KAZAKH])
    headers = PDF if kind == "pdf" else EPUB
    site = Site(
        "s",
        {
            "/robots.txt": text_reply("User-agent: *\nAllow: /\n"),
            "/": lambda web, req: page("i", KAZAKH, [f"/f.{kind}"]),
            f"/f.{kind}": Reply(200, headers, body),
        },
    )
    out = tmp_path / "out"
    with LoopbackWeb([site]) as web:
        proc = tdmcrawl("crawl", web.url("s", "/"), "--out", str(out), "--progress", "0", *FAST)
        assert proc.returncode == 0, proc.stderr
        kept = {u for (u,) in sqlite3.connect(out / "audit.sqlite").execute("select url from kept")}
        assert web.url("s", f"/f.{kind}") not in kept
        # PDF links are not even followed by default (Scrapy's ignored extensions).
        assert web.was_requested(web.url("s", f"/f.{kind}")) is (kind == "epub")
