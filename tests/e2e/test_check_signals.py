"""`tdmcrawl check` end to end for every signal family, Unicode paths and the
registry, against real loopback servers, in one CLI process."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tdmcrawl.crawler.demo.loopback import LoopbackWeb, Reply, Site, html_reply, text_reply
from tdmcrawl.registry import Registry
from tests.support.web import KAZAKH, RUSSIAN, tdmcrawl

ALLOW_ALL = text_reply("User-agent: *\nAllow: /\n")
NEWS = "/жаңалықтар/"  # Kazakh path: robots.txt has it raw, requests percent-encode it
NEWS_Q = quote(NEWS)


def _page(text: str, head: str = "", headers: list[tuple[str, str]] | None = None) -> Reply:
    return html_reply(
        f"<article><p>{text}</p></article>", title="t", head=head, lang="kk", headers=headers
    )


def _sites() -> list[Site]:
    return [
        Site(
            "agents",
            {
                "/robots.txt": text_reply(
                    "User-agent: GPTBot\nUser-agent: CCBot\nDisallow: /\n\n"
                    "User-agent: Googlebot\nDisallow: /search-only/\n\n"
                    "User-agent: *\nAllow: /\n"
                ),
                "/a.html": _page(KAZAKH),
            },
        ),
        Site(
            "usage",
            {
                "/robots.txt": text_reply(
                    "User-agent: *\nAllow: /\nContent-Usage: train-ai=y\n"
                    "Content-Usage: /closed/ train-ai=n\n"
                ),
                "/closed/a.html": _page(RUSSIAN),
                "/open.html": _page(RUSSIAN),
                "/header.html": _page(RUSSIAN, headers=[("Content-Usage", "train-ai=n")]),
                "/old-label.html": _page(RUSSIAN, headers=[("Content-Usage", "train-genai=n")]),
            },
        ),
        Site(
            "signal",
            {
                "/robots.txt": text_reply(
                    "User-agent: *\nContent-Signal: search=yes, ai-train=no\nAllow: /\n"
                ),
                "/a.html": _page(KAZAKH),
            },
        ),
        Site(
            "tdmhdr",
            {
                "/robots.txt": ALLOW_ALL,
                "/header.html": _page(KAZAKH, headers=[("TDM-Reservation", "1")]),
                "/meta.html": _page(KAZAKH, head='<meta name="tdm-reservation" content="1">'),
                # The header says 1, the meta tag 0: later sources override earlier ones.
                "/both.html": _page(
                    KAZAKH,
                    head='<meta name="tdm-reservation" content="0">',
                    headers=[("tdm-reservation", "1")],
                ),
            },
        ),
        Site(
            "xrobots",
            {
                "/robots.txt": ALLOW_ALL,
                "/noai.html": _page(
                    KAZAKH,
                    headers=[("X-Robots-Tag", "noindex"), ("X-Robots-Tag", "tdmcrawl: NoAI")],
                ),
                "/noindex.html": _page(KAZAKH, headers=[("X-Robots-Tag", "noindex")]),
                "/own-meta.html": _page(KAZAKH, head='<meta name="tdmcrawl" content="noai">'),
            },
        ),
        Site(
            "kazakh",
            {
                "/robots.txt": text_reply(f"User-agent: tdmcrawl\nDisallow: {NEWS}\n".encode()),
                f"{NEWS_Q}1.html": _page(KAZAKH),
                "/other.html": _page(KAZAKH),
            },
        ),
        Site(
            "registered",
            {"/robots.txt": ALLOW_ALL, "/blog/a.html": _page(KAZAKH), "/else.html": _page(KAZAKH)},
        ),
    ]


CASES = {
    "agents": ("agents", "/a.html"),
    "usage_robots": ("usage", "/closed/a.html"),
    "usage_open": ("usage", "/open.html"),
    "usage_header": ("usage", "/header.html"),
    "usage_old_label": ("usage", "/old-label.html"),
    "signal": ("signal", "/a.html"),
    "tdm_header": ("tdmhdr", "/header.html"),
    "tdm_meta": ("tdmhdr", "/meta.html"),
    "tdm_both": ("tdmhdr", "/both.html"),
    "noai_header": ("xrobots", "/noai.html"),
    "noindex": ("xrobots", "/noindex.html"),
    "own_meta": ("xrobots", "/own-meta.html"),
    "kazakh_raw": ("kazakh", f"{NEWS}1.html"),
    "kazakh_encoded": ("kazakh", f"{NEWS_Q}1.html"),
    "kazakh_other": ("kazakh", "/other.html"),
    "registered": ("registered", "/blog/a.html"),
    "unregistered": ("registered", "/else.html"),
}


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    db = str(tmp_path_factory.mktemp("reg") / "optout.sqlite")
    with LoopbackWeb(_sites()) as web:
        with Registry(db) as reg:
            entry_id = reg.add_url("Әлия Қасымова", web.url("registered", "/blog/*")).entry.id
        urls = {name: web.url(site, path) for name, (site, path) in CASES.items()}
        proc = tdmcrawl(
            "check",
            "--json",
            "--registry",
            db,
            *urls.values(),
            "-s",
            "DOWNLOAD_DELAY=0",
            "-s",
            "RETRY_TIMES=0",
        )
        assert proc.returncode == 0, proc.stderr
        lines = [json.loads(line) for line in proc.stdout.splitlines()]
        assert [line["url"] for line in lines] == list(urls.values())
        urls["registry_entry"] = entry_id
        yield web, urls, dict(zip(urls, lines, strict=False))


def _codes(result: dict) -> list[str]:
    return [r["code"] for r in result["reasons"]]


def test_ai_training_groups_reserve_but_do_not_block_fetching(checked):
    web, urls, results = checked
    reasons = results["agents"]["reasons"]
    assert _codes(results["agents"]) == ["robots-ai-agents"]
    assert "GPTBot" in reasons[0]["evidence"] and "CCBot" in reasons[0]["evidence"]
    assert "Googlebot" not in reasons[0]["evidence"]  # a search bot is no AI-training token
    assert web.was_requested(urls["agents"])  # only our own group forbids fetching


def test_content_usage_in_robots_and_header_and_compat_labels(checked):
    _web, _urls, results = checked
    assert _codes(results["usage_robots"]) == ["content-usage"]
    assert results["usage_robots"]["reasons"][0]["source"] == "robots.txt"
    assert results["usage_open"]["allowed"] is True  # train-ai=y for the rest of the site
    assert _codes(results["usage_header"]) == ["content-usage"]
    assert results["usage_header"]["reasons"][0]["source"] == "header"
    assert _codes(results["usage_old_label"]) == ["content-usage"]


def test_content_signal_reserves(checked):
    _web, _urls, results = checked
    assert _codes(results["signal"]) == ["content-signal"]
    assert "ai-train=no" in results["signal"]["reasons"][0]["evidence"]


def test_tdmrep_header_meta_and_processing_order(checked):
    _web, _urls, results = checked
    assert [(r["code"], r["source"]) for r in results["tdm_header"]["reasons"]] == [
        ("tdmrep", "header")
    ]
    assert [(r["code"], r["source"]) for r in results["tdm_meta"]["reasons"]] == [
        ("tdmrep", "meta")
    ]
    assert results["tdm_both"]["allowed"] is True


def test_noai_in_repeated_scoped_headers_and_own_meta(checked):
    _web, _urls, results = checked
    assert _codes(results["noai_header"]) == ["noai"]
    assert results["noindex"]["allowed"] is True  # noindex alone is no AI reservation
    assert _codes(results["own_meta"]) == ["noai"]


@pytest.mark.parametrize("name", ["kazakh_raw", "kazakh_encoded"])
def test_kazakh_robots_rule_matches_the_url_either_way_and_is_never_fetched(checked, name):
    web, urls, results = checked
    assert _codes(results[name]) == ["robots"]
    assert results[name]["reasons"][0]["evidence"] == f"Disallow: {NEWS}"
    assert results[name]["url"] == urls[name]  # as given, not percent-encoded by us
    assert not any(NEWS_Q in p for p in web.requested_paths("kazakh"))
    assert results["kazakh_other"]["allowed"] is True


def test_registry_url_rule_excludes(checked):
    # Fetched all the same (TDMCRAWL_FETCH_RESERVED, on by default): only robots.txt
    # forbids fetching; the page's signature keeps its copies out.
    web, urls, results = checked
    reason = results["registered"]["reasons"][0]
    assert (reason["code"], reason["source"]) == ("registry-url", "registry")
    assert reason["evidence"] == f"prefix {web.url('registered', '/blog/*')}"
    assert reason["matched_work"] == urls["registry_entry"]
    assert _codes(results["registered"]) == ["registry-url"]
    assert results["unregistered"]["allowed"] is True
