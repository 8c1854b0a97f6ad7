"""robots-ai-agents (optout-signals.md 5.1/5.2) and Spawning ai.txt (section 4)."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from tdmcrawl.optout.ai_agents import (
    AiTokenList,
    ai_agent_reasons,
    ai_training_tokens,
    ai_txt_reasons,
    leading_token,
    parse_ai_txt,
)
from tdmcrawl.optout.decision import Decision, ReasonCode
from tdmcrawl.optout.robots import RobotsTxt
from tests.support import paths

URL = "https://news.example.kz/жаңалықтар/1"


def _reasons(body: str, url: str = URL) -> tuple:
    return ai_agent_reasons(RobotsTxt.parse(body.encode("utf-8")), url)


# --- the token list -----------------------------------------------------------


def test_token_list_is_versioned_and_holds_the_usual_training_tokens() -> None:
    tokens = ai_training_tokens()
    assert tokens.version
    names = {t.lower() for t in tokens.tokens}
    for required in [
        "GPTBot",
        "CCBot",
        "Google-Extended",
        "Applebot-Extended",
        "ClaudeBot",
        "anthropic-ai",
        "Bytespider",
        "meta-externalagent",
        "cohere-training-data-crawler",
    ]:
        assert required.lower() in names, required
    assert set(tokens.control) == {"Google-Extended", "Applebot-Extended"}


@pytest.mark.parametrize(
    "search_bot",
    [
        "Googlebot",
        "Bingbot",
        "OAI-SearchBot",
        "Claude-SearchBot",
        "ChatGPT-User",
        "PerplexityBot",
        "Perplexity-User",
        "Claude-User",
    ],
)
def test_search_bots_are_not_training_tokens(search_bot: str) -> None:
    tokens = ai_training_tokens()
    assert not tokens.is_training_token(search_bot)
    assert search_bot in tokens.not_training or search_bot in ("Bingbot", "Googlebot")
    assert _reasons(f"User-agent: {search_bot}\nDisallow: /\n") == ()


def test_token_list_file_is_consistent() -> None:
    text = resources.files("optout").joinpath("data", "ai_training_tokens.json").read_text()
    data = json.loads(text)
    names = [entry["token"] for entry in data["agents"]]
    assert len({n.lower() for n in names}) == len(names)
    for entry in data["agents"]:
        # Every entry records its operator, its stated purpose with the source, its category.
        assert entry["operator"] and entry["purpose"] and entry["source"], entry["token"]
        assert entry["category"] in ("training", "training-and-answers", "answers-search")
        assert isinstance(entry["reserves"], bool)
        # An entry whose stated purpose is not training but that still reserves says why.
        if entry["reserves"] and entry["category"] == "answers-search":
            assert "restrictive" in entry["decision"], entry["token"]
        # Each name has a leading product token a robots.txt group can be filed under.
        assert leading_token(entry["token"]), entry["token"]
    assert AiTokenList.from_json(text) == ai_training_tokens()


@pytest.mark.parametrize(
    "name",
    [
        "YandexAdditional",
        "YandexAdditionalBot",
        "Google-CloudVertexBot",
        "ImagesiftBot",
        "Amazonbot",
        "Diffbot",
    ],
)
def test_reexamined_entries_keep_the_restrictive_reading_with_a_documented_decision(
    name: str,
) -> None:
    entry = ai_training_tokens().entry(name)
    assert entry is not None and entry.reserves
    assert "re-examined" in entry.decision and "restrictive" in entry.decision


@pytest.mark.parametrize(
    "name",
    [
        "Kangaroo Bot",
        "aiHitBot",
        "Sidetrade indexer bot",
        "Linguee Bot",
        "CloudVertexBot",
        "Poseidon Research Crawler",
    ],
)
def test_training_crawlers_of_robots_json_are_in_the_list(name: str) -> None:
    assert ai_training_tokens().is_training_token(name)


@pytest.mark.parametrize(
    ("group", "name"),
    [
        ("Kangaroo Bot", "Kangaroo Bot"),
        ("Kangaroo", "Kangaroo Bot"),
        ("kangaroo bot/1.0", "Kangaroo Bot"),
        ("Sidetrade indexer bot", "Sidetrade indexer bot"),
        ("Linguee Bot", "Linguee Bot"),
        ("Poseidon Research Crawler", "Poseidon Research Crawler"),
        ("Brightbot 1.0", "Brightbot"),
    ],
)
def test_multi_word_names_match_by_their_leading_product_token(group: str, name: str) -> None:
    # RFC 9309 2.2.1: a User-agent value counts by its leading product token, so
    # "User-agent: Kangaroo Bot" is the group of "kangaroo", and so is the list's name.
    reasons = _reasons(f"User-agent: {group}\nDisallow: /\n")
    assert [r.line for r in reasons] == [2]
    assert name in reasons[0].evidence


def test_a_multi_word_name_does_not_match_another_leading_token() -> None:
    assert _reasons("User-agent: IndexerBot\nDisallow: /\n") == ()
    assert _reasons("User-agent: Bot\nDisallow: /\n") == ()


# --- robots-ai-agents (policy, optout-signals.md 5.2) ---------------------------


@pytest.mark.parametrize(
    ("body", "url", "lines"),
    [
        # explicit AI group disallowing everything
        ("User-agent: GPTBot\nDisallow: /\n", URL, [2]),
        # control-only token
        ("User-agent: Google-Extended\nDisallow: /\n", URL, [2]),
        # per URL: only some paths reserved
        ("User-agent: CCBot\nDisallow: /private/\n", "https://h/private/x", [2]),
        ("User-agent: CCBot\nDisallow: /private/\n", "https://h/public/x", []),
        # a more specific Allow for the AI token wins for that URL
        ("User-agent: ClaudeBot\nDisallow: /\nAllow: /open/\n", "https://h/open/a", []),
        # '*' alone is no AI-specific signal
        ("User-agent: *\nDisallow: /\n", URL, []),
        # AI token sharing a group with '*' is an explicit group
        ("User-agent: GPTBot\nUser-agent: *\nDisallow: /\n", URL, [3]),
        # the GPTBot group does not fall back to '*': no rule for it, no reason
        ("User-agent: *\nDisallow: /\n\nUser-agent: GPTBot\nAllow: /\n", URL, []),
        # empty last group for the AI token: allow all
        ("User-agent: *\nDisallow: /\nUser-agent: GPTBot\n", URL, []),
        # unknown records never split the group (RFC 9309 2.2.4)
        (
            "User-agent: GPTBot\nContent-Usage: train-ai=n\nUser-agent: *\nDisallow: /private/\n",
            "https://h/private/x",
            [4],
        ),
        # case-insensitive token, no substring matching
        ("User-agent: gptbot\nDisallow: /\n", URL, [2]),
        ("User-agent: NotGPTBot\nDisallow: /\n", URL, []),
        # Unicode path in the rule, encoded URL
        (
            "User-agent: Bytespider\nDisallow: /жаңалықтар/\n",
            "https://h/%D0%B6%D0%B0%D2%A3%D0%B0%D0%BB%D1%8B%D2%9B%D1%82%D0%B0%D1%80/1",
            [2],
        ),
    ],
)
def test_policy_robots_ai_agents(body: str, url: str, lines: list) -> None:
    reasons = _reasons(body, url)
    assert [r.line for r in reasons] == lines
    assert all(r.code is ReasonCode.ROBOTS_AI_AGENTS and r.source == "robots.txt" for r in reasons)
    assert all(not r.blocks_fetch for r in reasons)


def test_policy_one_reason_per_line_naming_the_tokens() -> None:
    body = "".join(f"User-agent: {t}\n" for t in ai_training_tokens().tokens) + "Disallow: /\n"
    (reason,) = _reasons(body)
    assert reason.evidence.startswith("User-agent: Google-Extended, Applebot-Extended, GPTBot")
    assert reason.evidence.endswith("more; Disallow: /")
    assert reason.line == len(ai_training_tokens().tokens) + 1


def test_policy_distinct_lines_give_distinct_reasons() -> None:
    reasons = _reasons(
        "User-agent: GPTBot\nDisallow: /a\n\nUser-agent: CCBot\nDisallow: /\n",
        "https://h/a/b",
    )
    assert [(r.line, r.evidence) for r in reasons] == [
        (2, "User-agent: GPTBot; Disallow: /a"),
        (5, "User-agent: CCBot; Disallow: /"),
    ]
    decision = Decision("https://h/a/b", reasons=reasons)
    assert not decision.allowed and decision.fetch_allowed
    assert Decision.from_json(decision.to_json()) == decision


def test_policy_custom_token_list() -> None:
    robots = RobotsTxt.parse(b"User-agent: MyTrainer\nDisallow: /\n")
    assert ai_agent_reasons(robots, URL) == ()
    assert [r.line for r in ai_agent_reasons(robots, URL, tokens=["MyTrainer"])] == [2]


# --- Spawning ai.txt -------------------------------------------------------------

SPAWNING = b"""# Spawning AI
# Prevent datasets from using the following file types

User-Agent: *
Disallow: *.txt
Disallow: *.pdf
Disallow: *.jpg
Allow: /public/*.jpg
"""


@pytest.mark.parametrize(
    ("url", "line"),
    [
        ("https://h/img/cat.jpg", 7),
        ("https://h/docs/a.pdf", 6),
        ("https://h/public/cat.jpg", None),  # more specific Allow
        ("https://h/page.html", None),
    ],
)
def test_ai_txt_spawning_generator_file(url: str, line: int | None) -> None:
    reasons = ai_txt_reasons(parse_ai_txt(SPAWNING), url, "tdmcrawl")
    assert [r.line for r in reasons] == ([line] if line else [])
    assert all(r.code is ReasonCode.AI_TXT and r.source == "ai.txt" for r in reasons)


def test_ai_txt_own_group_beats_star() -> None:
    aitxt = parse_ai_txt(b"User-agent: *\nDisallow: /\n\nUser-agent: tdmcrawl\nDisallow: /x\n")
    assert ai_txt_reasons(aitxt, "https://h/y", "tdmcrawl") == ()
    assert [r.evidence for r in ai_txt_reasons(aitxt, "https://h/y", "other")] == ["Disallow: /"]


@pytest.mark.parametrize(
    "body",
    [
        b"# ai.txt\n\nThis site's content may not be used for AI training.\n\n- no scraping\n",
        b"<!doctype html><title>Not found</title>",
        b"",
    ],
)
def test_ai_txt_that_is_not_robots_style_gives_no_signal(body: bytes) -> None:
    aitxt = parse_ai_txt(body)
    assert ai_txt_reasons(aitxt, "https://h/a.jpg", "tdmcrawl") == ()
    if body:
        assert any(w.startswith("ai.txt:") and "no User-agent" in w for w in aitxt.warnings)


def test_ai_robots_txt_file_with_site_section() -> None:
    # The ai.robots.txt generated group (~166 agents, Disallow: /) plus a typical
    # "*" section: AI tokens reserve every URL, our own token only loses /wp-admin/.
    body = (paths.DATA / "robots" / "ai_robots_style.txt").read_bytes()
    robots = RobotsTxt.parse(body)
    assert robots.warnings == ()
    url = "https://news.example.kz/news/2026/11/1.html"
    (reason,) = ai_agent_reasons(robots, url)
    assert reason.evidence.endswith("; Disallow: /") and reason.line == 170
    assert robots.allowed(url, "tdmcrawl")
    assert not robots.allowed("https://news.example.kz/wp-admin/x", "tdmcrawl")
    assert robots.allowed("https://news.example.kz/wp-admin/admin-ajax.php", "tdmcrawl")
    assert not robots.allowed("https://news.example.kz/қазақша/жабық/1", "tdmcrawl")
    assert robots.crawl_delay("tdmcrawl") == 1.0
    assert [s.value for s in robots.content_signals("tdmcrawl")] == ["search=yes, ai-train=no"]
    assert robots.sitemaps == ("https://news.example.kz/sitemap.xml",)
    # "Scrapy" is in the list: a crawler sending that token is blocked outright.
    assert not robots.allowed(url, "Scrapy")
