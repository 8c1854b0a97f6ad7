"""`tdmcrawl check` end to end against real loopback servers, one process for many URLs."""

from __future__ import annotations

import json

import pytest

from tdmcrawl.crawler.demo.loopback import free_port
from tests.support.web import check_web, tdmcrawl

CASES = {
    # name: (site, path)
    "page": ("open", "/page.html"),
    "private": ("open", "/private/x.html"),
    "noai": ("open", "/noai.html"),
    "scoped": ("open", "/scoped.html"),
    "binary": ("open", "/binary.html"),
    "to_private": ("open", "/to-private"),
    "to_page": ("open", "/to-page"),
    "missing": ("open", "/missing.html"),
    "r503": ("r503", "/page.html"),
    "r429": ("r429", "/page.html"),
    "r404": ("r404", "/page.html"),
    "chain6": ("chain6", "/page.html"),
    "chain5": ("chain5", "/page.html"),
    "big_early": ("big", "/early/a.html"),
    "big_late": ("big", "/late/a.html"),
    "tdmbad": ("tdmbad", "/page.html"),
    "tdm_reserved": ("tdm", "/res/a.html"),
    "tdm_free": ("tdm", "/free.html"),
    "garbage": ("garbage", "/page.html"),
    "aitxt": ("aitxt", "/page.html"),
}


@pytest.fixture(scope="module")
def checked():
    with check_web() as web:
        urls = {name: web.url(site, path) for name, (site, path) in CASES.items()}
        urls["unreachable"] = f"http://127.0.0.1:{free_port()}/x.html"
        # Query and case kept exactly as given in the output.
        urls["as_given"] = web.url("open", "/page.html?q=Қазақ&x=1")
        proc = tdmcrawl(
            "check", "--json", *urls.values(), "-s", "DOWNLOAD_DELAY=0", "-s", "RETRY_TIMES=0"
        )
        yield web, urls, proc


def _results(checked):
    _web, urls, proc = checked
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["url"] for line in lines] == list(urls.values())  # input order, as given
    return dict(zip(urls, lines, strict=True))


def _codes(result):
    return [r["code"] for r in result["reasons"]]


def test_json_lines_follow_the_contract(checked):
    results = _results(checked)
    for result in results.values():
        # sorted keys: the contract's four, and fetched and status (issue 10)
        assert list(result) == ["allowed", "fetched", "reasons", "status", "url", "warnings"]
        assert result["allowed"] is (not result["reasons"])
        assert all(isinstance(w, str) for w in result["warnings"])
        assert isinstance(result["fetched"], bool)
        assert result["status"] is None or isinstance(result["status"], int)
        for reason in result["reasons"]:
            assert set(reason) >= {"code", "source", "evidence", "stage"}
            assert reason["stage"] in ("pre-fetch", "post-fetch", "near-duplicate")
            assert set(reason) <= {
                "code",
                "source",
                "evidence",
                "line",
                "matched_work",
                "similarity",
                "stage",
            }


def test_robots_rules_for_our_token_block_fetching(checked):
    web, urls, _ = checked
    results = _results(checked)
    assert results["page"]["allowed"] is True
    assert _codes(results["private"]) == ["robots"]
    assert results["private"]["reasons"][0]["evidence"] == "Disallow: /private/"
    assert not web.was_requested(urls["private"])


def test_unicode_url_is_not_reported_as_redirected(checked):
    result = _results(checked)["as_given"]
    assert result["allowed"] is True
    assert not any("redirect" in w for w in result["warnings"])


def test_redirect_target_is_checked_again(checked):
    web, urls, _ = checked
    results = _results(checked)
    assert _codes(results["to_private"]) == ["robots"]
    assert results["to_private"]["url"] == urls["to_private"]
    assert "/private/x.html" not in web.requested_paths("open")
    assert results["to_page"]["allowed"] is True
    assert any("redirected" in w for w in results["to_page"]["warnings"])


def test_page_level_signals_are_read_after_fetching(checked):
    results = _results(checked)
    assert _codes(results["noai"]) == ["noai"]
    assert results["scoped"]["allowed"] is True  # "otherbot: noai" is not for us
    assert results["binary"]["allowed"] is True  # garbage body: no signal, no crash
    assert any("404" in w for w in results["missing"]["warnings"])


@pytest.mark.parametrize("name", ["r503", "r429", "unreachable"])
def test_unreachable_robots_means_complete_disallow(checked, name):
    web, urls, _ = checked
    result = _results(checked)[name]
    assert _codes(result) == ["robots-unreachable"]
    assert not web.was_requested(urls[name])


def test_robots_status_and_redirect_rules(checked):
    web, urls, _ = checked
    results = _results(checked)
    assert results["r404"]["allowed"] is True
    # More than five redirects: unreachable (our fail-closed reading), never fetched.
    assert _codes(results["chain6"]) == ["robots-unreachable"]
    assert "redirects" in results["chain6"]["reasons"][0]["evidence"]
    assert not web.was_requested(urls["chain6"])
    assert any("TDMCRAWL_ROBOTS_REDIRECTS_UNAVAILABLE" in w for w in results["chain6"]["warnings"])
    # Exactly five are followed: the Disallow at the end applies.
    assert _codes(results["chain5"]) == ["robots"]
    assert not web.was_requested(urls["chain5"])


def test_robots_over_500_kib_is_read_whole(checked):
    web, urls, _ = checked
    results = _results(checked)
    assert _codes(results["big_early"]) == ["robots"]
    assert not web.was_requested(urls["big_early"])
    assert _codes(results["big_late"]) == ["robots"]  # the rule past 500 KiB applies
    assert not web.was_requested(urls["big_late"])


def test_tdmrep_file_valid_and_invalid(checked):
    results = _results(checked)
    assert _codes(results["tdm_reserved"]) == ["tdmrep"]
    assert results["tdm_reserved"]["reasons"][0]["source"] == "well-known"
    assert results["tdm_free"]["allowed"] is True
    # A JSON array cut short: what cannot be read is reserved (fail closed).
    assert _codes(results["tdmbad"]) == ["tdmrep"]
    assert "fail closed" in results["tdmbad"]["reasons"][0]["evidence"]
    assert any("tdmrep.json" in w for w in results["tdmbad"]["warnings"])


def test_garbage_robots_and_ai_txt(checked):
    results = _results(checked)
    assert results["garbage"]["allowed"] is True
    assert results["garbage"]["warnings"]
    assert _codes(results["aitxt"]) == ["ai-txt"]


def test_each_origin_file_fetched_once_with_our_user_agent(checked):
    web, _urls, _ = checked
    robots = [r for r in web.requests if r.site == "open" and r.path == "/robots.txt"]
    assert len(robots) == 1
    agent = dict(robots[0].headers)["User-Agent"]
    assert agent.startswith("tdmcrawl/") and "+http" in agent and "Scrapy" not in agent
    encodings = dict(robots[0].headers).get("Accept-Encoding", "")
    assert "zstd" not in encodings


def test_human_output_and_token_option():
    with check_web() as web:
        url = web.url("open", "/private/x.html")
        proc = tdmcrawl("check", url, "--product-token", "otherbot", "-s", "DOWNLOAD_DELAY=0")
        assert proc.returncode == 0, proc.stderr
        # Another token: the tdmcrawl group doesn't apply, the page is fetched and allowed.
        assert proc.stdout.startswith("ALLOWED")
        proc = tdmcrawl("check", url, "-s", "DOWNLOAD_DELAY=0")
        assert proc.returncode == 0, proc.stderr
        first, second = proc.stdout.splitlines()[:2]
        assert first.startswith("EXCLUDED") and "never fetched" in first
        assert "robots.txt:2" in second and "Disallow: /private/" in second


@pytest.mark.parametrize(
    "args", [[], ["ftp://example.org/"], ["not a url"], ["http://127.0.0.1:9/", "-s", "NOEQUALS"]]
)
def test_usage_errors_exit_2(args):
    proc = tdmcrawl("check", *args, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


def test_bad_registry_fails_with_one_line(tmp_path):
    bogus = tmp_path / "registry.sqlite"
    bogus.write_bytes(b"this is not a database")
    proc = tdmcrawl(
        "check", f"http://127.0.0.1:{free_port()}/", "--registry", str(bogus), timeout=60
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and "registry" in lines[0]
