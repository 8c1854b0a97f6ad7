"""URL normalisation, rule parsing and the host-indexed matcher."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tdmcrawl.registry.errors import InvalidInput
from tdmcrawl.registry.matcher import UrlMatcher
from tdmcrawl.registry.urlrules import (
    RuleKind,
    fast_host,
    key_host,
    match_key,
    normalize_url,
    parse_domain,
    parse_url_pattern,
)
from tests.support.registry import HOSTS, URLS


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTPS://Example.KZ/Blog", "https://example.kz/Blog"),  # host case, not path case
        ("https://example.kz:443/a", "https://example.kz/a"),  # default port
        ("http://example.kz:80/a", "http://example.kz/a"),
        ("http://example.kz:8080/a", "http://example.kz:8080/a"),  # other ports kept
        ("https://example.kz", "https://example.kz/"),  # empty path
        ("https://example.kz/a%7eb", "https://example.kz/a~b"),  # unreserved decoded
        ("https://example.kz/%d0%b1", "https://example.kz/%D0%B1"),  # hex upper-cased
        ("https://example.kz/блог", "https://example.kz/%D0%B1%D0%BB%D0%BE%D0%B3"),
        ("https://қазақ.kz/ә", "https://xn--80aau21bd.kz/%D3%99"),  # IDN host
        ("https://ҚАЗАҚ.KZ/", "https://xn--80aau21bd.kz/"),
        ("https://example.kz/a#frag", "https://example.kz/a"),
        ("https://example.kz/p?b=2&a=1", "https://example.kz/p?a=1&b=2"),
        ("https://user:pw@example.kz/", "https://example.kz/"),
        ("https://example.kz./a", "https://example.kz/a"),
        ("https://example.kz/a/../b", "https://example.kz/b"),
        ("  https://example.kz/  ", "https://example.kz/"),
    ],
)
def test_normalize_url_table(raw, expected):
    assert normalize_url(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "empty"),
        ("example.kz/blog", "http:// or https://"),
        ("ftp://example.kz/", "http:// or https://"),
        ("https:///blog", "no host"),
        ("/blog/*", "http:// or https://"),
        ("https://exa mple.kz/", "not a host name"),
        ("https://example.kz:99999/", "Port"),
        ("https://-bad-.kz/", "not a host name"),
        ("https://example.kz/\x00", "control"),
    ],
)
def test_invalid_urls_say_why(raw, message):
    with pytest.raises(InvalidInput, match=message):
        normalize_url(raw)


def test_pattern_kinds():
    exact = parse_url_pattern("https://Example.kz/page")
    assert (exact.kind, exact.host, exact.key) == (RuleKind.URL, "example.kz", "example.kz/page")
    prefix = parse_url_pattern("https://example.kz/blog/*")
    assert (prefix.kind, prefix.key, prefix.pattern) == (
        RuleKind.PREFIX,
        "example.kz/blog/",
        "https://example.kz/blog/*",
    )
    with pytest.raises(InvalidInput, match="only allowed at the end"):
        parse_url_pattern("https://*.example.kz/")
    with pytest.raises(InvalidInput, match="no host"):
        parse_url_pattern("https://*")


@pytest.mark.parametrize(
    ("raw", "host"),
    [
        ("Example.KZ", "example.kz"),
        ("*.example.kz", "example.kz"),
        ("https://example.kz/", "example.kz"),
        ("қазақ.kz", "xn--80aau21bd.kz"),
        ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
    ],
)
def test_domains(raw, host):
    assert parse_domain(raw).host == host


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("kz", "two labels"),
        ("192.0.2.1", "IP address"),
        ("https://example.kz/blog/", "prefix rule"),
        ("example .kz", "host name"),
        ("", "empty"),
        ("exa_mple..kz", "not a host name"),
    ],
)
def test_bad_domains(raw, message):
    with pytest.raises(InvalidInput, match=message):
        parse_domain(raw)


def _matcher(*rules: tuple[str, str]) -> UrlMatcher[str]:
    matcher: UrlMatcher[str] = UrlMatcher()
    for kind, pattern in rules:
        rule = parse_domain(pattern) if kind == "domain" else parse_url_pattern(pattern)
        matcher.add(rule, f"{kind}:{pattern}")
    return matcher


def test_most_specific_rule_wins_and_match_all_lists_every_one():
    matcher = _matcher(
        ("domain", "example.kz"),
        ("domain", "blog.example.kz"),
        ("url", "https://blog.example.kz/a/b"),
        ("url", "https://blog.example.kz/a/*"),
        ("url", "https://blog.example.kz/*"),
    )
    assert matcher.match("https://blog.example.kz/a/b") == ["url:https://blog.example.kz/a/b"]
    assert matcher.match("http://BLOG.example.kz/a/c") == ["url:https://blog.example.kz/a/*"]
    assert matcher.match("https://blog.example.kz/z") == ["url:https://blog.example.kz/*"]
    assert matcher.match("https://x.blog.example.kz/") == ["domain:blog.example.kz"]
    assert matcher.match("https://www.example.kz:8443/") == ["domain:example.kz"]
    assert matcher.match("https://notexample.kz/") == []
    assert matcher.match("https://example.kz.evil.com/") == []
    assert len(matcher.match_all("https://blog.example.kz/a/b")) == 5


def test_unparseable_urls_match_nothing():
    matcher = _matcher(("domain", "example.kz"))
    for url in ("", "not a url", "https://example.kz:99999/", "mailto:a@example.kz", "https://"):
        assert matcher.match(url) == []


def test_idn_urls_match_rules_given_either_way():
    matcher = _matcher(("url", "https://xn--80aau21bd.kz/блог/*"))
    assert matcher.match("https://ҚАЗАҚ.kz/%D0%B1%D0%BB%D0%BE%D0%B3/пост") != []
    assert matcher.match("https://қазақ.kz/басқа") == []


# -- properties --------------------------------------------------------------


def _normal_or_none(url: str) -> str | None:
    try:
        return normalize_url(url)
    except InvalidInput:
        return None


@settings(max_examples=300, deadline=None)
@given(URLS)
def test_normalisation_is_idempotent(url):
    once = _normal_or_none(url)
    if once is not None:
        assert normalize_url(once) == once


@settings(max_examples=300, deadline=None)
@given(URLS)
def test_fast_host_agrees_with_full_normalisation(url):
    normal = _normal_or_none(url)
    fast = fast_host(url)
    if normal is not None and fast is not None:
        assert fast == key_host(match_key(normal))


@settings(max_examples=400, deadline=None)
@given(URLS, URLS)
def test_url_matches_prefix_rule_iff_it_starts_with_it_after_normalisation(url, prefix_url):
    prefix = _normal_or_none(prefix_url)
    normal = _normal_or_none(url)
    if prefix is None:
        return
    matcher = _matcher(("url", prefix + "*"), ("url", "https://unrelated.kz/*"))
    expected = normal is not None and match_key(normal).startswith(match_key(prefix))
    assert (matcher.match(url) == [f"url:{prefix}*"]) == expected
    if normal is not None and normal.split("://")[0] == prefix.split("://")[0]:
        # Same scheme: the plain reading of the rule holds on the full URL too.
        assert expected == normal.startswith(prefix)


@settings(max_examples=300, deadline=None)
@given(URLS, st.lists(URLS, min_size=1, max_size=8))
def test_indexed_matcher_equals_a_linear_scan(url, patterns):
    rules = []
    for i, pattern in enumerate(patterns):
        normal = _normal_or_none(pattern)
        if normal is None:
            continue
        rules.append(parse_url_pattern(normal + ("*" if i % 2 else "")))
    matcher: UrlMatcher[int] = UrlMatcher((rule, i) for i, rule in enumerate(rules))
    normal = _normal_or_none(url)
    key = match_key(normal) if normal else None
    linear = [
        i
        for i, rule in enumerate(rules)
        if key is not None
        and (key == rule.key if rule.kind is RuleKind.URL else key.startswith(rule.key))
    ]
    assert sorted(matcher.match_all(url)) == sorted(linear)


@settings(max_examples=200, deadline=None)
@given(HOSTS, st.sampled_from(["", "www.", "a.b."]), URLS)
def test_domain_rule_matches_exactly_its_host_and_subdomains(domain, sub, url):
    rule = parse_domain(domain)
    matcher: UrlMatcher[str] = UrlMatcher([(rule, "d")])
    normal = _normal_or_none(url)
    host = key_host(match_key(normal)) if normal else None
    expected = host is not None and (host == rule.host or host.endswith("." + rule.host))
    assert (matcher.match(url) == ["d"]) == expected
    assert matcher.match(f"https://{sub}{domain}/x") == ["d"]
