"""Conformance of optout.robots, named by authority.

The shared table tests/data/robots/google_cases.json is transcribed from
google/robotstxt ``robots_test.cc`` (one row per ``EXPECT`` on
``IsUserAgentAllowed``) plus AI-specific rows; benchmarks/bench_robots_parsers.py
runs the same table against other parsers. ``expected`` is RFC 9309 as we read
it; where Google's own library differs (it leaves URL percent-encoding to its
caller) the row says so in ``google``.
"""

from __future__ import annotations

import codecs
import json

import pytest

from tdmcrawl.optout.robots import (
    MAX_LINE_BYTES,
    RobotsTxt,
    normalise_path,
    request_path,
    split_content_usage,
)
from tests.support import paths

TABLE = json.loads((paths.DATA / "robots" / "google_cases.json").read_text("utf-8"))["cases"]


def _rows(authority: str) -> list:
    return [pytest.param(c, id=c["id"]) for c in TABLE if c["authority"] == authority]


def _allowed(robotstxt: str | bytes, agent: str, url: str) -> bool:
    body = robotstxt.encode("utf-8") if isinstance(robotstxt, str) else robotstxt
    return RobotsTxt.parse(body).allowed(url, agent)


# --- the shared table -------------------------------------------------------


@pytest.mark.parametrize("case", _rows("rfc9309"))
def test_rfc9309_google_id_cases(case: dict) -> None:
    # Google's ID_* tests: each names its RFC 9309 section in case["section"].
    assert _allowed(case["robotstxt"], case["agent"], case["url"]) is case["expected"]


@pytest.mark.parametrize("case", _rows("googleonly"))
def test_googleonly_cases(case: dict) -> None:
    assert _allowed(case["robotstxt"], case["agent"], case["url"]) is case["expected"]


@pytest.mark.parametrize("case", _rows("ai"))
def test_rfc9309_ai_crawler_cases(case: dict) -> None:
    # RFC 9309 2.1 / 2.2.1 / 2.2.4 applied to the files AI crawlers meet.
    assert _allowed(case["robotstxt"], case["agent"], case["url"]) is case["expected"]


def test_table_is_complete() -> None:
    # Guards against a truncated table silently shrinking the suite.
    assert len(TABLE) >= 160
    assert {c["authority"] for c in TABLE} == {"rfc9309", "googleonly", "ai"}
    assert len({c["id"] for c in TABLE}) == len(TABLE)


# --- line evidence -----------------------------------------------------------


# RFC 9309 2.2: CR, LF and CRLF line ends; line numbers stay right in all of them
# (Google ID_LinesNumbersAreCountedCorrectly).
@pytest.mark.parametrize(
    "body",
    [
        b"User-Agent: foo\nAllow: /some/path\nUser-Agent: bar\n\n\nDisallow: /\n",
        b"User-Agent: foo\r\nAllow: /some/path\r\nUser-Agent: bar\r\n\r\n\r\nDisallow: /\r\n",
        b"User-Agent: foo\rAllow: /some/path\rUser-Agent: bar\r\r\rDisallow: /\r",
        b"User-Agent: foo\nAllow: /some/path\nUser-Agent: bar\n\n\nDisallow: /",
        b"User-Agent: foo\nAllow: /some/path\r\nUser-Agent: bar\n\r\n\nDisallow: /",
    ],
    ids=["lf", "crlf", "cr", "no-final-newline", "mixed"],
)
def test_google_line_numbers(body: bytes) -> None:
    robots = RobotsTxt.parse(body)
    verdict = robots.verdict("http://foo.bar/x", "bar")
    assert not verdict.allowed
    assert verdict.rule is not None
    assert (verdict.rule.line_no, verdict.rule.raw) == (6, "Disallow: /")
    allow = robots.verdict("http://foo.bar/some/path/x", "foo")
    assert allow.allowed and allow.rule is not None and allow.rule.line_no == 2
    assert [line.line_no for line in robots.lines] == [1, 2, 3, 6]


def test_google_evidence_keeps_raw_line_and_first_of_equal_rules() -> None:
    robots = RobotsTxt.parse(
        b"User-agent: FooBot\nDisallow:   /private   # staff only\nDisallow: /private\n"
    )
    verdict = robots.verdict("https://example.org/private/a", "foobot")
    assert verdict.rule is not None
    assert verdict.rule.line_no == 2
    assert verdict.rule.raw == "Disallow:   /private   # staff only"
    assert (verdict.rule.field, verdict.rule.value) == ("disallow", "/private")


def test_rfc9309_allow_wins_tie_and_is_the_evidence() -> None:
    # RFC 9309 2.2.2: equivalent allow and disallow -> allow SHOULD be used.
    robots = RobotsTxt.parse(b"User-agent: *\nDisallow: /a\nAllow: /a\n")
    verdict = robots.verdict("http://h/a/b", "x")
    assert verdict.allowed and verdict.rule is not None and verdict.rule.line_no == 3


# --- BOM, typos, limits (Google parser details) ------------------------------


@pytest.mark.parametrize(
    ("prefix", "rules_seen"),
    [
        (b"\xef\xbb\xbf", True),  # full BOM skipped
        (b"\xef\xbb", True),  # partial BOMs skipped too
        (b"\xef", True),
        (b"\xef\x11\xbf", False),  # broken BOM: the first line is garbage
    ],
    ids=["full", "partial2", "partial1", "broken"],
)
def test_google_utf8_bom_is_skipped(prefix: bytes, rules_seen: bool) -> None:
    robots = RobotsTxt.parse(prefix + b"User-Agent: foo\nDisallow: /AnyValue\n")
    assert robots.allowed("http://h/AnyValue", "foo") is not rules_seen


def test_google_bom_in_the_middle_is_not_skipped() -> None:
    robots = RobotsTxt.parse(b"User-Agent: foo\n\xef\xbb\xbfDisallow: /AnyValue\n")
    assert robots.allowed("http://h/AnyValue", "foo")


@pytest.mark.parametrize(
    "line",
    [
        "dissallow: /x",
        "dissalow: /x",
        "disalow: /x",
        "diasllow: /x",
        "disallaw: /x",
        "disallow /x",
        "DISALLOW:/x",
    ],
)
def test_googleonly_disallow_typos(line: str) -> None:
    assert not _allowed(f"User-agent: FooBot\n{line}\n", "FooBot", "http://h/x/y")


@pytest.mark.parametrize("line", ["useragent: FooBot", "user agent: FooBot", "user-agent FooBot"])
def test_googleonly_user_agent_typos(line: str) -> None:
    assert not _allowed(f"{line}\nDisallow: /\n", "FooBot", "http://h/x")


def test_googleonly_missing_colon_needs_exactly_two_words() -> None:
    assert _allowed("User-agent: FooBot\ndisallow / extra\n", "FooBot", "http://h/x")


def test_googleonly_sitemap_typo_and_position() -> None:
    robots = RobotsTxt.parse(
        b"Site-map: https://h/a.xml\nUser-agent: *\nDisallow: /x\nSitemap: https://h/b.xml\n"
    )
    assert robots.sitemaps == ("https://h/a.xml", "https://h/b.xml")
    assert not robots.allowed("http://h/x", "any")


def test_googleonly_long_line_is_truncated_with_warning() -> None:
    value = "/" + "a" * (MAX_LINE_BYTES + 50)
    robots = RobotsTxt.parse(f"User-agent: *\nDisallow: {value}\n".encode())
    rule_value = robots.lines[1].value
    assert len("Disallow: " + rule_value) == MAX_LINE_BYTES
    assert any("line 2 longer than" in w for w in robots.warnings)


# --- URL path extraction and percent-normalisation ---------------------------


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("", "/"),
        ("http://www.example.com", "/"),
        ("http://www.example.com/", "/"),
        ("http://www.example.com/a", "/a"),
        ("http://www.example.com/a/", "/a/"),
        ("http://www.example.com/a/b?c=http://d.e/", "/a/b?c=http://d.e/"),
        ("http://www.example.com/a/b?c=d&e=f#fragment", "/a/b?c=d&e=f"),
        ("example.com", "/"),
        ("example.com/", "/"),
        ("example.com/a", "/a"),
        ("example.com/a/", "/a/"),
        ("example.com/a/b?c=d&e=f#fragment", "/a/b?c=d&e=f"),
        ("a", "/"),
        ("a/", "/"),
        ("/a", "/a"),
        ("a/b", "/b"),
        ("example.com?a", "/?a"),
        ("example.com/a;b#c", "/a;b"),
        ("//a/b/c", "/b/c"),
    ],
)
def test_google_get_path_params_query(url: str, path: str) -> None:
    # Google TestGetPathParamsQuery.
    assert request_path(url) == path


@pytest.mark.parametrize(
    ("pattern", "normalised"),
    [
        ("http://www.example.com", "http://www.example.com"),
        ("/a/b/c", "/a/b/c"),
        ("á", "%C3%A1"),
        ("%aa", "%AA"),
        # RFC 9309 2.2.2 / RFC 3986 2.3: unreserved characters are decoded.
        ("/%62%61%7A", "/baz"),
        ("/%7e%2d", "/~-"),
        ("/a%2Fb", "/a%2Fb"),  # reserved stays encoded
        ("/қала/ә", "/%D2%9B%D0%B0%D0%BB%D0%B0/%D3%99"),
        ("/100%", "/100%25"),  # a stray % is encoded, on both sides alike
        ("/%%41b", "/%25Ab"),
        ("/a b", "/a%20b"),
    ],
)
def test_google_escape_pattern(pattern: str, normalised: str) -> None:
    # Google TestMaybeEscapePattern, plus RFC 9309 decoding of unreserved octets.
    assert normalise_path(pattern) == normalised


@pytest.mark.parametrize(
    "url",
    [
        "https://kz.example/жаңалықтар/қала",
        "https://kz.example/%D0%B6%D0%B0%D2%A3%D0%B0%D0%BB%D1%8B%D2%9B%D1%82%D0%B0%D1%80/x",
        "https://kz.example/%d0%b6%d0%b0%d2%a3%d0%b0%d0%bb%d1%8b%d2%9b%d1%82%d0%b0%d1%80",
    ],
)
def test_rfc9309_non_ascii_paths_match_encoded_or_not(url: str) -> None:
    # RFC 9309 2.2.2: octets outside US-ASCII are percent-encoded before comparison,
    # whichever side wrote them raw.
    robots = RobotsTxt.parse("User-agent: *\nDisallow: /жаңалықтар\n".encode())
    verdict = robots.verdict(url, "tdmcrawl")
    assert not verdict.allowed
    assert verdict.rule is not None and verdict.rule.raw == "Disallow: /жаңалықтар"


# --- groups, tokens, other records (RFC 9309 2.1, 2.2.1, 2.2.4) --------------


def test_rfc9309_groups_for_the_same_token_are_merged() -> None:
    # 2.2.1: "If there is more than one group matching the user-agent, the matching
    # groups' rules MUST be combined into one group".
    robots = RobotsTxt.parse(
        b"User-agent: a\nDisallow: /one\n\nUser-agent: b\nDisallow: /\n\n"
        b"User-agent: A\nDisallow: /two\n"
    )
    assert not robots.allowed("http://h/one", "a")
    assert not robots.allowed("http://h/two", "a")
    assert robots.allowed("http://h/three", "a")


def test_rfc9309_specific_group_without_matching_rule_ignores_star() -> None:
    robots = RobotsTxt.parse(b"User-agent: *\nDisallow: /\n\nUser-agent: tdmcrawl\nDisallow: /x\n")
    assert robots.allowed("http://h/y", "tdmcrawl")
    assert robots.has_group("TDMCRAWL") and not robots.has_group("other")
    assert not robots.has_group("*")


@pytest.mark.parametrize(
    "other",
    [
        "Crawl-delay: 10",
        "Content-Usage: train-ai=n",
        "Content-Signal: ai-train=no",
        "Sitemap: https://h/s.xml",
        "Request-rate: 1/5",
        "DisallowAITraining: /",
        "Host: h",
    ],
)
def test_rfc9309_other_records_never_split_a_group(other: str) -> None:
    # 2.2.4: "Parsing of other records MUST NOT interfere with the parsing of
    # explicitly defined records".
    body = f"User-agent: GPTBot\n{other}\nUser-agent: CCBot\nDisallow: /\n"
    robots = RobotsTxt.parse(body.encode())
    assert not robots.allowed("http://h/x", "GPTBot")
    assert not robots.allowed("http://h/x", "CCBot")


def test_rfc9309_rules_before_first_user_agent_ignored_with_warning() -> None:
    # 2.2.2: "rules listed before the first user-agent line SHOULD be ignored" (as per 2.1).
    robots = RobotsTxt.parse(b"Disallow: /\nUser-agent: *\nAllow: /x\n")
    assert robots.allowed("http://h/y", "bot")
    assert any("before the first User-agent" in w for w in robots.warnings)


def test_rfc9309_robots_txt_is_implicitly_allowed() -> None:
    robots = RobotsTxt.parse(b"User-agent: *\nDisallow: /\n")
    assert robots.verdict("http://h/robots.txt", "bot").allowed
    assert not robots.verdict("http://h/robots.txt.bak", "bot").allowed


def test_rfc9309_empty_file_and_empty_disallow_allow_everything() -> None:
    assert RobotsTxt.parse(b"").allowed("http://h/x", "bot")
    empty_rule = RobotsTxt.parse(b"User-agent: *\nDisallow:\n")
    assert empty_rule.verdict("http://h/x", "bot") == empty_rule.verdict("http://h/", "bot")
    assert empty_rule.allowed("http://h/x", "bot")


# --- our own choices -----------------------------------------------------------


def test_policy_keys_are_exact_so_disallow_ai_training_does_not_block_fetching() -> None:
    # Google matches keys by prefix ("DisallowAITraining" would be a Disallow); we
    # keep it as an other record of the group, visible to the policy.
    robots = RobotsTxt.parse(b"User-agent: *\nDisallowAITraining: /\n")
    assert robots.allowed("http://h/x", "tdmcrawl")
    assert [line.field for line in robots.group_lines("tdmcrawl")] == ["disallowaitraining"]


def test_policy_full_user_agent_string_names_no_group() -> None:
    robots = RobotsTxt.parse(b"User-agent: tdmcrawl\nDisallow: /\n")
    assert not robots.allowed("http://h/x", "tdmcrawl")
    assert robots.allowed("http://h/x", "tdmcrawl/0.1 (+https://example.org)")


def test_policy_crawl_delay_of_selected_group() -> None:
    robots = RobotsTxt.parse(
        b"User-agent: *\nCrawl-delay: 2.5\nDisallow: /z\n\nUser-agent: tdmcrawl\n"
        b"Crawl-delay: soon\nCrawl-delay: 7\nDisallow: /x\n"
    )
    assert robots.crawl_delay("tdmcrawl") == 7.0
    assert robots.crawl_delay("other") == 2.5
    # Without a rule line the * run goes on: tdmcrawl shares that group (Google semantics).
    shared = RobotsTxt.parse(b"User-agent: *\nCrawl-delay: 2.5\n\nUser-agent: tdmcrawl\n")
    assert shared.crawl_delay("tdmcrawl") == 2.5
    assert RobotsTxt.parse(b"User-agent: *\nCrawl-delay: -1\n").crawl_delay("a") is None


def test_policy_content_usage_value_split() -> None:
    assert split_content_usage("train-ai=n") == (None, "train-ai=n")
    assert split_content_usage("/ai-ok/ train-ai=y") == ("/ai-ok/", "train-ai=y")
    assert split_content_usage("/only-path") == ("/only-path", "")
    assert split_content_usage("/p\t\ttrain-ai=n, search=y") == ("/p", "train-ai=n, search=y")


def test_googleonly_star_followed_by_text_is_global() -> None:
    robots = RobotsTxt.parse(
        b"User-agent: * everyone\nDisallow: /x\nUser-agent: *bot\nDisallow: /\n"
    )
    assert not robots.allowed("http://h/x", "anybot")
    assert robots.allowed("http://h/y", "anybot")  # "*bot" names no product token
    assert not robots.has_group("bot")


def test_googleonly_index_html_directory_rule_quotes_the_allow_line() -> None:
    robots = RobotsTxt.parse(b"User-agent: *\nDisallow: /\nAllow: /docs/index.html\n")
    verdict = robots.verdict("http://h/docs/", "bot")
    assert verdict.allowed and verdict.rule is not None
    assert verdict.rule.raw == "Allow: /docs/index.html"
    assert not robots.allowed("http://h/docs/other", "bot")


# --- our choice: characters a URL may not hold raw (issue 10) ------------------
# Real robots.txt lines; Scrapy (w3lib) and browsers send these characters
# percent-encoded, so a raw rule never matched. Google's parser, Protego and
# robotspy disallow these URLs; so do we, by encoding both sides alike.


@pytest.mark.parametrize(
    ("rule", "url"),
    [
        ("/?s={searchInput}/", "https://a.kz/?s=%7BsearchInput%7D/"),
        ("/?s={searchInput}/", "https://a.kz/?s={searchInput}/"),
        ("/b/*?*|", "https://a.kz/b/list?page=2%7C"),
        ("/b/*?*|", "https://a.kz/b/list?page=2|"),
        ("/*?q=*\\", "https://a.kz/find?q=a%5C"),
        ("/c/^", "https://a.kz/c/%5Etop"),
        ("/d/`", "https://a.kz/d/%60x"),
        ("/e/[1]", "https://a.kz/e/%5B1%5D"),
        ('/f/"q"', "https://a.kz/f/%22q%22"),
        ("/g/<x>", "https://a.kz/g/%3Cx%3E"),
        ("/*?t='", "https://a.kz/h?t=%27"),
        ("/%7Bx%7D", "https://a.kz/{x}"),  # and the other way round
        ("/%7bx%7d", "https://a.kz/%7Bx%7D"),
    ],
)
def test_policy_robots_raw_unsafe_characters_match_the_encoded_request(rule: str, url: str) -> None:
    robots = f"User-agent: *\nDisallow: {rule}\n"
    assert not _allowed(robots, "tdmcrawl", url)
    verdict = RobotsTxt.parse(robots.encode()).verdict(url, "tdmcrawl")
    assert verdict.rule is not None and verdict.rule.raw == f"Disallow: {rule}"


@pytest.mark.parametrize(
    ("rule", "url"),
    [
        ("/?s={searchInput}/", "https://a.kz/?s=searchInput/"),
        ("/b/*?*|", "https://a.kz/b/list?page=2"),
        ("/c/^", "https://a.kz/c/top"),
    ],
)
def test_policy_robots_unsafe_characters_still_mean_themselves(rule: str, url: str) -> None:
    assert _allowed(f"User-agent: *\nDisallow: {rule}\n", "tdmcrawl", url)


def test_policy_robots_unsafe_characters_normalise_idempotently() -> None:
    once = normalise_path("/a{b}|c\\d^e`f[g]'h\"<i>")
    assert once == "/a%7Bb%7D%7Cc%5Cd%5Ee%60f%5Bg%5D%27h%22%3Ci%3E"
    assert normalise_path(once) == once
    assert normalise_path("/*.php$") == "/*.php$"  # the pattern characters stay


# --- our choice: encodings other than UTF-8 ------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        codecs.BOM_UTF16_LE + "User-agent: *\nDisallow: /private/\n".encode("utf-16-le"),
        codecs.BOM_UTF16_BE + "User-agent: *\nDisallow: /private/\n".encode("utf-16-be"),
        codecs.BOM_UTF32_LE + "User-agent: *\nDisallow: /private/\n".encode("utf-32-le"),
        "User-agent: *\nDisallow: /private/\n".encode("utf-16-le"),  # no BOM, evident
    ],
    ids=["utf-16-le-bom", "utf-16-be-bom", "utf-32-le-bom", "utf-16-le-no-bom"],
)
def test_policy_robots_utf16_file_is_decoded_not_read_as_empty(data: bytes) -> None:
    robots = RobotsTxt.parse(data)
    verdict = robots.verdict("https://a.kz/private/x", "tdmcrawl")
    assert not verdict.allowed and verdict.rule is not None
    assert (verdict.rule.raw, verdict.rule.line_no) == ("Disallow: /private/", 2)
    assert any("not UTF-8" in w for w in robots.warnings)
