"""RSL licences, readings of evident intent and PDF/EPUB metadata, end to end on loopback:
``tdmcrawl check`` for every new signal, and a real crawl that keeps the licence as
evidence and writes only what no signal reserves."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tdmcrawl.crawler.demo.loopback import LoggedRequest, LoopbackWeb, Reply, Site, text_reply
from tests.support.documents import epub_file, pdf_file, xmp_packet
from tests.support.web import FAST, KAZAKH, RUSSIAN, page, tdmcrawl

RSL = 'xmlns="https://rslstandard.org/rsl"'
PROHIBIT = (
    f'<rsl {RSL}><content url="/"><license><permits type="usage">search</permits>'
    '<prohibits type="usage">ai-train</prohibits></license></content></rsl>'
).encode()
FREE = (
    f'<rsl {RSL}><content url="/"><license><permits type="usage">all</permits>'
    '<payment type="attribution"/></license></content></rsl>'
).encode()
PAID = (
    f'<rsl {RSL}><content url="/"><license><permits type="usage">ai-all</permits>'
    '<payment type="crawl"><amount currency="USD">0.01</amount></payment></license>'
    "</content></rsl>"
).encode()
ALLOW = text_reply("User-agent: *\nAllow: /\n")
LICENCE_TYPE = [("Content-Type", "application/rsl+xml")]


def _robots_with_licence(site: str, path: str, extra: str = "") -> object:
    def route(web: LoopbackWeb, request: LoggedRequest) -> Reply:
        return text_reply(f"License: {web.url(site, path)}\n{extra}User-agent: *\nAllow: /\n")

    return route


def _linked(site: str, path: str) -> object:
    def route(web: LoopbackWeb, request: LoggedRequest) -> Reply:
        link = f'<{web.url(site, path)}>; rel="license"; type="application/rsl+xml"'
        return page("linked", KAZAKH, headers=[("Link", link)])

    return route


def _sites() -> list[Site]:
    return [
        Site(
            "rslrobots",
            {
                "/robots.txt": _robots_with_licence("rslrobots", "/license.xml"),
                "/license.xml": Reply(200, LICENCE_TYPE, PROHIBIT),
                "/a.html": page("a", KAZAKH),
                "/b.html": page("b", RUSSIAN),
            },
        ),
        Site(
            "rsllink",
            {
                "/robots.txt": ALLOW,
                "/terms/rsl.xml": Reply(200, LICENCE_TYPE, PAID),
                "/a.html": _linked("rsllink", "/terms/rsl.xml"),
                "/b.html": _linked("rsllink", "/terms/rsl.xml"),
            },
        ),
        Site(
            "rslhtml",
            {
                "/robots.txt": ALLOW,
                "/free.xml": Reply(200, LICENCE_TYPE, FREE),
                "/a.html": page(
                    "html",
                    KAZAKH,
                    head='<link rel="license" type="application/rsl+xml" href="/free.xml">',
                ),
            },
        ),
        Site(
            "comment",
            {
                "/robots.txt": text_reply(
                    "# Мазмұнды жасанды интеллектті оқыту үшін пайдалануға тыйым салынады.\n"
                    "# Content on this site may not be used to train AI models.\n"
                    "User-agent: *\nAllow: /\n"
                ),
                "/a.html": page("comment", KAZAKH),
            },
        ),
        Site(
            "tdmobject",
            {
                "/robots.txt": ALLOW,
                "/.well-known/tdmrep.json": Reply(
                    200, [("Content-Type", "application/json")], b'{"tdm_reservation": 1}'
                ),
                "/a.html": page("object", KAZAKH),
            },
        ),
        Site(
            "variants",
            {
                "/robots.txt": ALLOW,
                "/header.html": page("x-tdm", KAZAKH, headers=[("X-TDM-Reservation", "1")]),
                "/zero.html": page("x-tdm 0", KAZAKH, headers=[("X-TDM-Reservation", "0")]),
            },
        ),
        Site(
            "lookalike",
            {
                "/robots.txt": text_reply(
                    "User-agent: Mozilla/5.0 (compatible; ImagesiftBot; +imagesift.com)\n"
                    "Disallow: /\n\nUser-agent: Google\u2011Extended\nDisallow: /\n\n"
                    "User-agent: *\nAllow: /\n"
                ),
                "/a.html": page("lookalike", KAZAKH),
            },
        ),
        Site(
            "books",
            {
                "/robots.txt": ALLOW,
                "/reserved.pdf": Reply(
                    200,
                    [("Content-Type", "application/pdf")],
                    pdf_file([KAZAKH], xmp=xmp_packet("1", "https://books.example/policy")),
                ),
                "/open.pdf": Reply(200, [("Content-Type", "application/pdf")], pdf_file([KAZAKH])),
                "/reserved.epub": Reply(
                    200,
                    [("Content-Type", "application/epub+zip")],
                    epub_file([KAZAKH], reservation="1"),
                ),
            },
        ),
    ]


CASES = {
    "rsl_robots": ("rslrobots", "/a.html"),
    "rsl_robots_b": ("rslrobots", "/b.html"),
    "rsl_link": ("rsllink", "/a.html"),
    "rsl_link_b": ("rsllink", "/b.html"),
    "rsl_html_free": ("rslhtml", "/a.html"),
    "comment": ("comment", "/a.html"),
    "tdm_object": ("tdmobject", "/a.html"),
    "tdm_variant": ("variants", "/header.html"),
    "tdm_variant_zero": ("variants", "/zero.html"),
    "lookalike": ("lookalike", "/a.html"),
    "pdf": ("books", "/reserved.pdf"),
    "pdf_open": ("books", "/open.pdf"),
    "epub": ("books", "/reserved.epub"),
}


@pytest.fixture(scope="module")
def checked():
    with LoopbackWeb(_sites()) as web:
        urls = {name: web.url(site, path) for name, (site, path) in CASES.items()}
        proc = tdmcrawl("check", "--json", *urls.values(), *FAST)
        assert proc.returncode == 0, proc.stderr
        lines = [json.loads(line) for line in proc.stdout.splitlines()]
        human = tdmcrawl("check", urls["rsl_html_free"], urls["comment"], *FAST)
        yield web, urls, dict(zip(urls, lines, strict=True)), human.stdout


def _reasons(result: dict) -> list[tuple[str, str]]:
    return [(r["code"], r["source"]) for r in result["reasons"]]


def test_check_rsl_from_robots_txt_license(checked):
    web, _urls, results, _ = checked
    assert _reasons(results["rsl_robots"]) == [("rsl", "robots.txt")]
    reason = results["rsl_robots"]["reasons"][0]
    assert reason["line"] == 1 and "License: http://127.0.0.1:" in reason["evidence"]
    assert "prohibits usage ai-train" in reason["evidence"]
    # Fetched once per origin, whatever the number of pages.
    assert web.requested_paths("rslrobots").count("/license.xml") == 1


def test_check_rsl_from_link_header_paid_licence(checked):
    web, _urls, results, _ = checked
    assert _reasons(results["rsl_link"]) == [("rsl", "header")]
    assert (
        "permits ai-train only with payment crawl" in results["rsl_link"]["reasons"][0]["evidence"]
    )
    assert _reasons(results["rsl_link_b"]) == [("rsl", "header")]
    assert web.requested_paths("rsllink").count("/terms/rsl.xml") == 1


def test_check_rsl_free_licence_in_html_is_a_grant(checked):
    _web, _urls, results, human = checked
    assert results["rsl_html_free"]["allowed"] is True
    assert "grant: rsl html" in human


def test_check_robots_comment(checked):
    _web, _urls, results, human = checked
    assert _reasons(results["comment"]) == [("robots-comment", "robots.txt")]
    reason = results["comment"]["reasons"][0]
    assert reason["line"] == 1 and "жасанды интеллектті оқыту" in reason["evidence"]
    assert "robots-comment" in human


def test_check_evident_intent_readings(checked):
    _web, _urls, results, _ = checked
    assert _reasons(results["tdm_object"]) == [("tdmrep", "well-known")]
    assert any("JSON object" in w for w in results["tdm_object"]["warnings"])
    assert _reasons(results["tdm_variant"]) == [("tdmrep", "header")]
    assert results["tdm_variant_zero"]["allowed"] is True
    assert [c for c, _ in _reasons(results["lookalike"])] == [
        "robots-ai-agents",
        "robots-ai-agents",
    ]
    evidence = " ".join(r["evidence"] for r in results["lookalike"]["reasons"])
    assert "read as ImagesiftBot" in evidence and "read as Google-Extended" in evidence


def test_check_pdf_and_epub_metadata(checked):
    _web, _urls, results, _ = checked
    assert _reasons(results["pdf"]) == [("tdmrep", "pdf")]
    assert results["pdf_open"]["allowed"] is True
    assert _reasons(results["epub"]) == [("tdmrep", "epub")]


# --- a real crawl -------------------------------------------------------------------------


def _crawl_sites() -> list[Site]:
    def index(web: LoopbackWeb, request: LoggedRequest) -> Reply:
        return page(
            "index",
            KAZAKH,
            ["/a.html", "/b.html", "/open.pdf", "/reserved.pdf", "/kitap.epub"],
        )

    return [
        Site(
            "site",
            {
                "/robots.txt": _robots_with_licence(
                    "site", "/license.xml", "# No AI training on /b.html? read the licence.\n"
                ),
                "/license.xml": Reply(
                    200,
                    LICENCE_TYPE,
                    (
                        f'<rsl {RSL}><content url="/b.html"><license><prohibits type="usage">'
                        'all</prohibits></license></content><content url="/"><license>'
                        '<permits type="usage">all</permits></license></content></rsl>'
                    ).encode(),
                ),
                "/": index,
                "/a.html": page("a", KAZAKH),
                "/b.html": page("b", RUSSIAN),
                "/open.pdf": Reply(200, [("Content-Type", "application/pdf")], pdf_file([KAZAKH])),
                "/reserved.pdf": Reply(
                    200,
                    [("Content-Type", "application/pdf")],
                    pdf_file([RUSSIAN], xmp=xmp_packet("1")),
                ),
                "/kitap.epub": Reply(
                    200,
                    [("Content-Type", "application/epub+zip")],
                    epub_file([KAZAKH + " " + RUSSIAN]),
                ),
            },
        )
    ]


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    out = tmp_path_factory.mktemp("i13") / "out"
    with LoopbackWeb(_crawl_sites()) as web:
        proc = tdmcrawl(
            "crawl",
            web.url("site", "/"),
            "--out",
            str(out),
            "--progress",
            "0",
            "--json",
            *FAST,
            "-s",
            "TDMCRAWL_TEXT_TYPES=text/html,application/pdf,application/epub+zip",
            "-s",
            "TDMCRAWL_ROBOTS_COMMENTS=warn",
        )
        assert proc.returncode == 0, proc.stderr
        yield web, out


def _records(directory: Path) -> dict[str, tuple[str, bytes]]:
    found = {}
    for path in sorted(directory.glob("*.warc.gz")):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type in ("response", "warcinfo"):
                    key = record.rec_headers.get_header("WARC-Target-URI") or record.rec_type
                    found[key] = (record.rec_type, record.content_stream().read())
    return found


def test_crawl_keeps_only_what_no_signal_reserves_pdf_and_epub_included(crawled):
    web, out = crawled
    kept = _records(out / "warc")
    assert web.url("site", "/a.html") in kept
    assert web.url("site", "/open.pdf") in kept
    assert kept[web.url("site", "/open.pdf")][1].startswith(b"%PDF-")
    assert web.url("site", "/kitap.epub") in kept
    assert web.url("site", "/b.html") not in kept  # the licence prohibits all use of /b.html
    assert web.url("site", "/reserved.pdf") not in kept
    db = sqlite3.connect(out / "audit.sqlite")
    rows = dict(db.execute("select url, reason || ':' || source from exclusions"))
    assert rows[web.url("site", "/b.html")] == "rsl:robots.txt"
    assert rows[web.url("site", "/reserved.pdf")] == "tdmrep:pdf"


def test_crawl_fetches_the_licence_once_into_the_evidence_warc(crawled):
    web, out = crawled
    assert web.requested_paths("site").count("/license.xml") == 1
    evidence = _records(out / "evidence")
    assert evidence[web.url("site", "/license.xml")][1].startswith(b"<rsl")
    db = sqlite3.connect(out / "audit.sqlite")
    kinds = {kind for (kind,) in db.execute("select kind from evidence")}
    assert {"robots.txt", "rsl"} <= kinds


def test_crawl_records_the_new_switches_and_the_agent_list_in_warcinfo(crawled):
    _web, out = crawled
    info = _records(out / "warc")["warcinfo"][1].decode()
    policy = json.loads(info.split("tdmcrawl-policy: ", 1)[1].split("\r\n", 1)[0])
    assert policy["rsl"] is True and policy["robots-comments"] == "warn"
    assert policy["ai-agents-list-version"]
