"""Content-Usage / Content-Signal records, size limits and bad input in optout.robots."""

from __future__ import annotations

import pytest

from tdmcrawl.optout.robots import MAX_PARSE_BYTES, RobotsTxt

# draft-ietf-aipref-attach-05, section "robots.txt": the example file.
ATTACH_EXAMPLE = (
    b"User-Agent: *\n"
    b"Allow: /\n"
    b"Disallow: /never/\n"
    b"Content-Usage: train-ai=n\n"
    b"Content-Usage: /ai-ok/ train-ai=y\n"
    b"\n"
    b"User-Agent: ExampleBot\n"
    b"Allow: /\n"
    b"Content-Usage: train-ai=y\n"
)


@pytest.mark.parametrize(
    ("token", "path", "crawl", "usage_lines"),
    [
        ("tdmcrawl", "/test", True, [4]),
        ("tdmcrawl", "/never/test", False, [4]),  # preference moot: not crawlable
        ("tdmcrawl", "/ai-ok/test", True, [5]),
        ("ExampleBot", "/test", True, [9]),
        ("examplebot", "/ai-ok/test", True, [9]),  # own group: * rules not inherited
    ],
)
def test_aipref_attach_example(token: str, path: str, crawl: bool, usage_lines: list) -> None:
    robots = RobotsTxt.parse(ATTACH_EXAMPLE)
    url = "https://example.com" + path
    assert robots.allowed(url, token) is crawl
    assert [line.line_no for line in robots.content_usage(url, token)] == usage_lines


def test_policy_content_usage_tie_returns_all_and_path_beats_pathless() -> None:
    robots = RobotsTxt.parse(
        b"User-agent: *\n"
        b"Content-Usage: /docs/ train-ai=y\n"
        b"Content-Usage: /docs/ train-ai=n\n"
        b"Content-Usage: search=y\n"
        b"Content-Usage: / train-ai=n\n"
        b"Allow: /\n"
    )
    lines = robots.content_usage("https://h/docs/a", "bot")
    assert [(line.line_no, line.value) for line in lines] == [
        (2, "/docs/ train-ai=y"),
        (3, "/docs/ train-ai=n"),
    ]
    # "/" (length 1) is more specific than a pathless rule (length 0).
    assert [line.line_no for line in robots.content_usage("https://h/other", "bot")] == [5]
    assert RobotsTxt.parse(b"User-agent: *\nAllow: /\n").content_usage("https://h/", "b") == ()


def test_aipref_content_usage_only_under_star_is_not_inherited() -> None:
    robots = RobotsTxt.parse(
        b"User-agent: *\nContent-Usage: train-ai=n\nAllow: /\n\nUser-agent: tdmcrawl\nAllow: /\n"
    )
    assert robots.content_usage("https://h/a", "tdmcrawl") == ()
    assert len(robots.content_usage("https://h/a", "other")) == 1


def test_content_usage_uses_wildcards_and_unicode_paths() -> None:
    robots = RobotsTxt.parse(
        "User-agent: *\nContent-Usage: /*.pdf$ train-ai=n\n"
        "Content-Usage: /кітап/ train-ai=n\n".encode()
    )
    assert [x.line_no for x in robots.content_usage("https://h/a/b.pdf", "x")] == [2]
    assert robots.content_usage("https://h/a/b.pdf?x", "x") == ()
    found = robots.content_usage("https://h/%D0%BA%D1%96%D1%82%D0%B0%D0%BF/1", "x")
    assert [(x.line_no, x.value) for x in found] == [(3, "/кітап/ train-ai=n")]


def test_content_signals_of_selected_group() -> None:
    # Cloudflare's managed robots.txt shape.
    robots = RobotsTxt.parse(
        b"# As a condition of accessing this website...\n"
        b"User-agent: *\n"
        b"Content-Signal: search=yes,ai-train=no\n"
        b"Allow: /\n"
        b"\n"
        b"User-agent: GPTBot\n"
        b"Disallow: /\n"
    )
    signals = robots.content_signals("tdmcrawl")
    assert [(s.line_no, s.value) for s in signals] == [(3, "search=yes,ai-train=no")]
    assert robots.content_signals("GPTBot") == ()


# Our choice: RFC 9309 2.5 asks for at least 500 KiB; a file is read whole (up to 2 MiB)
# or not at all, so a Disallow past 500 KiB is never dropped.
def test_policy_robots_past_500_kib_is_read_whole() -> None:
    head = b"User-agent: *\nDisallow: /early\n"
    filler = b"# " + b"x" * 78 + b"\n"
    body = head + filler * (600 * 1024 // len(filler)) + b"Disallow: /late\n"
    assert 600 * 1024 < len(body) <= MAX_PARSE_BYTES
    robots = RobotsTxt.parse(body)
    assert not robots.allowed("http://h/early", "bot")
    assert not robots.allowed("http://h/late", "bot")
    assert robots.unread is None and robots.warnings == ()


def test_policy_robots_over_the_parse_limit_is_not_read_in_part() -> None:
    body = b"User-agent: *\nAllow: /\n" + b"#" * MAX_PARSE_BYTES + b"\n"
    robots = RobotsTxt.parse(body)
    assert robots.unread and str(MAX_PARSE_BYTES) in robots.unread
    assert robots.directive_count == 0
    assert any("not parsed" in w for w in robots.warnings)


def test_policy_non_utf8_is_read_leniently() -> None:
    body = b"User-agent: *\nDisallow: /caf\xe9\nDisallow: /ok\n"
    robots = RobotsTxt.parse(body)
    assert any("not valid UTF-8" in w for w in robots.warnings)
    # The Latin-1 byte is matched as the octet it is (%E9) ...
    assert not robots.allowed("http://h/caf%E9", "bot")
    assert robots.allowed("http://h/caf%C3%A9", "bot")
    # ... and the evidence is printable text.
    verdict = robots.verdict("http://h/caf%e9/x", "bot")
    assert verdict.rule is not None and verdict.rule.raw == "Disallow: /caf\ufffd"
    assert not robots.allowed("http://h/ok", "bot")


@pytest.mark.parametrize(
    "body",
    [
        b"\x00\x01\x02\xff\xfe",
        b"<html><body><h1>404 Not Found</h1></body></html>",
        b"# Our AI policy\n\nWe do not allow training on this site.\n",
        b":::\n:\n::: :::\n",
        b"\xd0",
    ],
)
def test_policy_garbage_gives_no_rules_and_a_warning(body: bytes) -> None:
    robots = RobotsTxt.parse(body)
    assert robots.allowed("http://h/x", "bot")
    assert robots.directive_count == 0
    assert any("no User-agent/Allow/Disallow" in w for w in robots.warnings)


@pytest.mark.parametrize("body", [None, "User-agent: *\nDisallow: /x\n", bytearray(b"")])
def test_policy_parse_accepts_none_str_and_bytearray(body: object) -> None:
    robots = RobotsTxt.parse(body)  # type: ignore[arg-type]
    assert robots.allowed("http://h/y", "bot")


def test_policy_parse_of_an_unreadable_object_warns() -> None:
    robots = RobotsTxt.parse(12.5)  # type: ignore[arg-type]
    assert robots.directive_count == 0 and robots.warnings


def test_verdicts_for_many_tokens_share_work() -> None:
    names = [f"Bot{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(200)]
    agents = "".join(f"User-agent: {name}\n" for name in names)
    robots = RobotsTxt.parse((agents + "Disallow: /private\n").encode())
    tokens = [*names, "tdmcrawl"]
    verdicts = robots.verdicts("https://h/private/x", tokens)
    assert sum(not v.allowed for v in verdicts.values()) == 200
    assert verdicts["tdmcrawl"].allowed
    assert verdicts["Botah"] is verdicts["Bothr"]  # one group, matched once


def test_policy_user_agent_with_digits_is_filed_under_both_readings() -> None:
    robots = RobotsTxt.parse(b"User-agent: AI2Bot\nUser-agent: Ai2Bot-Dolma\nDisallow: /\n")
    assert robots.has_group("AI2Bot") and robots.has_group("ai2bot-dolma")
    assert not robots.allowed("http://h/x", "AI2Bot")
    assert not robots.allowed("http://h/x", "ai")  # Google's reading: the token is "AI"
    assert robots.allowed("http://h/x", "AI2")


def test_hostile_wildcard_pattern_is_fast_and_correct() -> None:
    pattern = "/" + "*a" * 200 + "*b"
    robots = RobotsTxt.parse(f"User-agent: *\nDisallow: {pattern}\n".encode())
    assert robots.allowed("http://h/" + "a" * 5000, "bot")
    assert not robots.allowed("http://h/" + "a" * 300 + "b", "bot")
