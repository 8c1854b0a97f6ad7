"""Readings of evident intent (optout/lenient.py): each one our choice, each a switch.

Every test here is named ``test_our_choice_...``: these forms are not in any
specification. Each reading reserves, with a warning saying how it was read,
and never grants; with its switch off the strict reading is back.
"""

from __future__ import annotations

import pytest

from tdmcrawl.optout.decision import ReasonCode
from tdmcrawl.optout.policy import PolicyConfig, evaluate
from tests.support.signals import html, origin

URL = "https://a.example/мақала/1"
ALLOW = "User-agent: *\nAllow: /\n"


# --- tdmrep.json written as one object ---------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reserved"),
    [
        ('{"tdm-reservation": 1}', True),
        ('{"tdm-reservation": 1, "tdm-policy": "https://a.example/policy.json"}', True),
        ('{"tdm_reservation": 1}', True),
        ('{"tdm-reservation": "1"}', True),
        ('{"location": "/мақала/", "tdm-reservation": 1}', True),
        ('{"location": "/other/", "tdm-reservation": 1}', False),  # its location is kept
        ('{"tdm-reservation": 0}', False),  # an object that grants grants nothing
        ('{"tdm-reservation": "yes"}', False),  # cannot be read: nothing
        ('{"policy": "x"}', False),
    ],
)
def test_our_choice_tdmrep_object_reserving_is_a_site_wide_rule(body: str, reserved: bool) -> None:
    decision = evaluate(URL, origin(robots=ALLOW, tdmrep=body))
    assert (decision.codes == (ReasonCode.TDMREP,)) is reserved
    assert decision.grants == ()
    assert any("JSON object" in w for w in decision.warnings)
    if reserved:
        assert decision.reasons[0].source == "well-known"
        assert "tdm" in decision.reasons[0].evidence


def test_our_choice_tdmrep_object_wrapping_rules_reads_the_reserving_ones() -> None:
    body = (
        '{"policies": [{"location": "/мақала/*", "tdm-reservation": 1, "tdm-policy": "https://p"},'
        ' {"location": "/", "tdm-reservation": 0}]}'
    )
    decision = evaluate(URL, origin(robots=ALLOW, tdmrep=body))
    assert decision.codes == (ReasonCode.TDMREP,)
    assert "https://p" in decision.reasons[0].evidence
    assert evaluate("https://a.example/other", origin(robots=ALLOW, tdmrep=body)).grants == ()


def test_our_choice_tdmrep_object_with_underscore_policy() -> None:
    body = '{"tdm_reservation": 1, "tdm_policy": "https://a.example/policy"}'
    decision = evaluate(URL, origin(robots=ALLOW, tdmrep=body))
    assert "https://a.example/policy" in decision.reasons[0].evidence


def test_our_choice_tdmrep_object_switch_off_is_the_strict_reading() -> None:
    decision = evaluate(
        URL, origin(tdmrep='{"tdm-reservation": 1}'), config=PolicyConfig(tdmrep_object=False)
    )
    assert decision.allowed and any("not an array" in w for w in decision.warnings)


def test_our_choice_tdmrep_object_is_superseded_by_a_header_like_a_file() -> None:
    response = html("<p>x</p>", ("tdm-reservation", "0"))
    decision = evaluate(URL, origin(tdmrep='{"tdm-reservation": 1}'), response)
    assert decision.allowed  # processing priority: the header's valid value supersedes


# --- "1" as a string in tdmrep.json ----------------------------------------------------


def test_our_choice_tdmrep_string_one_reserves_with_a_warning() -> None:
    tdm = '[{"location": "/", "tdm-reservation": "1"}]'
    decision = evaluate(URL, origin(tdmrep=tdm))
    assert decision.codes == (ReasonCode.TDMREP,)
    assert any("evident intent" in w for w in decision.warnings)
    off = evaluate(URL, origin(tdmrep=tdm), config=PolicyConfig(tdmrep_string=False))
    assert off.allowed and any("TDMCRAWL_TDMREP_STRING" in w for w in off.warnings)


def test_our_choice_tdmrep_string_zero_is_never_a_grant() -> None:
    decision = evaluate(URL, origin(tdmrep='[{"location": "/", "tdm-reservation": "0"}]'))
    assert decision.allowed and decision.grants == ()


# --- header, meta and robots.txt spellings ----------------------------------------------


@pytest.mark.parametrize(
    "name", ["X-TDM-Reservation", "x-tdm-reservation", "TDM_Reservation", "tdm:reservation"]
)
def test_our_choice_tdm_header_variants_reserve(name: str) -> None:
    decision = evaluate(URL, origin(robots=ALLOW), html("<p>x</p>", (name, "1")))
    assert decision.codes == (ReasonCode.TDMREP,)
    assert decision.reasons[0].source == "header"
    assert decision.reasons[0].evidence == f"{name}: 1"
    assert any("not TDMRep's" in w for w in decision.warnings)


def test_our_choice_tdm_header_variant_zero_grants_nothing() -> None:
    decision = evaluate(URL, origin(robots=ALLOW), html("<p>x</p>", ("X-TDM-Reservation", "0")))
    assert decision.allowed and decision.grants == ()


def test_our_choice_tdm_meta_variants_reserve() -> None:
    page = '<html><head><meta name="tdm:reservation" content="1"></head><body>x</body></html>'
    decision = evaluate(URL, origin(robots=ALLOW), html(page))
    assert decision.codes == (ReasonCode.TDMREP,)
    assert decision.reasons[0].source == "meta"


def test_our_choice_tdm_records_in_robots_txt_reserve() -> None:
    robots = (
        "User-agent: *\nDisallow: /admin/\n\n# TDM Reservation (EU Directive 2019/790)\n"
        "X-TDM-Reservation: 1\n"
    )
    decision = evaluate(URL, origin(robots=robots), config=PolicyConfig(robots_comments="off"))
    assert decision.codes == (ReasonCode.TDMREP,)
    assert decision.reasons[0].source == "robots.txt" and decision.reasons[0].line == 5


def test_our_choice_tdm_variants_switch_off() -> None:
    config = PolicyConfig(tdmrep_variants=False)
    decision = evaluate(
        URL, origin(robots=ALLOW), html("<p>x</p>", ("X-TDM-Reservation", "1")), config
    )
    assert decision.allowed


# --- User-agent lines naming an AI crawler without its product token --------------------


@pytest.mark.parametrize(
    ("agent", "token", "how"),
    [
        (
            "Mozilla/5.0 (compatible; ImagesiftBot; +imagesift.com)",
            "ImagesiftBot",
            "full user-agent",
        ),
        (
            "mozilla/5.0 (compatible; gptbot/1.2; +https://openai.com/gptbot)",
            "GPTBot",
            "full user-agent",
        ),
        ("anthropic\\-ai", "anthropic-ai", "regex escapes"),
        ("Google\u2011Extended", "Google-Extended", "look-alike hyphens"),
        ("Applebot\u2010Extended", "Applebot-Extended", "look-alike hyphens"),
        ("meta\\-externalagent", "meta-externalagent", "regex escapes"),
    ],
)
def test_our_choice_lookalike_agent_lines_are_read_for_robots_ai_agents(
    agent: str, token: str, how: str
) -> None:
    robots = f"User-agent: {agent}\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
    decision = evaluate(URL, origin(robots=robots))
    assert decision.codes == (ReasonCode.ROBOTS_AI_AGENTS,)
    assert f"read as {token}" in decision.reasons[0].evidence
    assert decision.reasons[0].line == 2
    assert any(how in w for w in decision.warnings)
    off = evaluate(URL, origin(robots=robots), config=PolicyConfig(ai_agent_lookalikes=False))
    assert off.allowed


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1)",  # a search crawler, not a training one
        "NotGPTBot",  # a longer word, not the token
        "GPTBotanist",
        "*",
    ],
)
def test_our_choice_lookalike_reading_does_not_invent_names(agent: str) -> None:
    robots = f"User-agent: {agent}\nDisallow: /\n"
    decision = evaluate(URL, origin(robots=robots), config=PolicyConfig(token="otherbot"))
    assert ReasonCode.ROBOTS_AI_AGENTS not in decision.codes


def test_our_choice_our_own_token_keeps_strict_rfc9309_matching() -> None:
    # A look-alike of our token names no group of ours: fetching stays allowed.
    for agent in ("tdm\u2011crawl", "Mozilla/5.0 (compatible; tdmcrawl/1.0)", "tdm\\-crawl"):
        robots = f"User-agent: {agent}\nDisallow: /\n"
        decision = evaluate(URL, origin(robots=robots))
        assert decision.fetch_allowed and ReasonCode.ROBOTS not in decision.codes, agent


def test_our_choice_lookalike_reading_uses_its_own_group_only() -> None:
    robots = (
        "User-agent: Mozilla/5.0 (compatible; ClaudeBot/1.0)\nDisallow: /private/\n\n"
        "User-agent: *\nDisallow: /\n"
    )
    blocked = evaluate(
        "https://a.example/private/x", origin(robots=robots), config=PolicyConfig(token="x")
    )
    assert ReasonCode.ROBOTS_AI_AGENTS in blocked.codes
    open_page = evaluate(
        "https://a.example/open/x", origin(robots=robots), config=PolicyConfig(token="x")
    )
    assert ReasonCode.ROBOTS_AI_AGENTS not in open_page.codes
