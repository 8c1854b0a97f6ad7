"""Our policy choices: how evaluate() combines the signal families into one Decision.

Spec conformance of each parser lives in test_tdmrep / test_aipref / test_xrobots;
this file checks the combination, the switches, and the documented readings
where the specifications leave room.
"""

import pytest

from tdmcrawl.optout.decision import Decision, ReasonCode
from tdmcrawl.optout.fetched import FetchResult
from tdmcrawl.optout.policy import OriginSignals, PolicyConfig, ResponseSignals, evaluate
from tests.support.signals import DATA, html, origin, robots_status

URL = "https://a.example/page"
DATA_ROBOTS = DATA / "robots"
NO_AGENTS = PolicyConfig(ai_agents=False)


def codes(decision: Decision) -> list[str]:
    """The distinct reason codes, decisive first."""
    return [code.value for code in decision.codes]


# -- robots.txt: fetching ------------------------------------------------------


def test_policy_robots_disallow_for_our_token_blocks_fetch_with_line_evidence():
    decision = evaluate(URL, origin(robots="User-agent: tdmcrawl\nDisallow: /page\n"))
    assert codes(decision) == ["robots"]
    assert not decision.fetch_allowed
    reason = decision.reasons[0]
    assert (reason.source, reason.evidence, reason.line) == ("robots.txt", "Disallow: /page", 2)


def test_policy_robots_other_token_or_allowed_path_does_not_block():
    assert evaluate(URL, origin(robots="User-agent: otherbot\nDisallow: /\n")).allowed
    assert evaluate(URL, origin(robots="User-agent: *\nDisallow: /admin/\n")).allowed


@pytest.mark.parametrize(
    ("status", "error", "blocked", "detail"),
    [
        (503, None, True, "HTTP 503"),
        (500, None, True, "HTTP 500"),
        (429, None, True, "HTTP 429"),
        (None, "timeout", True, "timeout"),
        (None, "connection refused", True, "connection refused"),
        (404, None, False, None),
        (410, None, False, None),
        (403, None, False, None),
    ],
)
def test_policy_robots_status_rules(status, error, blocked, detail):
    decision = evaluate(URL, robots_status(status, error))
    assert decision.fetch_allowed is not blocked
    if blocked:
        assert codes(decision) == ["robots-unreachable"]
        assert detail in decision.reasons[0].evidence


def test_policy_without_robots_information_nothing_blocks_fetching():
    assert evaluate(URL, OriginSignals()).allowed


# -- robots.txt: AI-training crawlers -------------------------------------------------


def test_policy_ai_agent_groups_reserve_training_but_not_fetching():
    robots = "User-agent: GPTBot\nUser-agent: CCBot\nDisallow: /\n"
    decision = evaluate(URL, origin(robots=robots))
    assert codes(decision) == ["robots-ai-agents"]
    assert decision.fetch_allowed
    assert "GPTBot" in decision.reasons[0].evidence
    assert evaluate(URL, origin(robots=robots), config=NO_AGENTS).allowed


# -- aipref Content-Usage in robots.txt -------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected", "grant"),
    [
        # draft example, our token has no group: the * group applies
        ("/test", ["content-usage"], False),
        ("/ai-ok/test", [], True),
        # disallowed for crawling: "no preferences are implied"
        ("/never/test", ["robots"], False),
    ],
)
def test_policy_aipref_attach_draft_example(path, expected, grant):
    robots = (DATA_ROBOTS / "aipref-draft-example.txt").read_bytes()
    decision = evaluate("https://a.example" + path, origin(robots=robots), config=NO_AGENTS)
    assert codes(decision) == expected
    assert bool(decision.grants) is grant


def test_policy_aipref_draft_example_for_examplebot_allows():
    robots = (DATA_ROBOTS / "aipref-draft-example.txt").read_bytes()
    decision = evaluate(
        "https://a.example/test", origin(robots=robots), config=PolicyConfig(token="ExampleBot")
    )
    assert decision.allowed
    assert [g.evidence for g in decision.grants] == ["Content-Usage: train-ai=y"]


def test_policy_content_usage_binds_to_our_own_group_only():
    robots = (DATA_ROBOTS / "own-group.txt").read_bytes()
    # the * group's "Content-Usage: train-ai=n" does not reach a bot with its own group
    assert evaluate("https://a.example/x", origin(robots=robots)).allowed
    # conflicting values on one path combine most restrictively; the n line is evidence
    kk = evaluate("https://a.example/kk/a", origin(robots=robots))
    assert codes(kk) == ["content-usage"]
    assert (kk.reasons[0].evidence, kk.reasons[0].line) == ("Content-Usage: /kk/ train-ai=n", 7)
    assert kk.grants == ()


def test_policy_content_usage_compat_label_is_recorded_and_switchable():
    robots = (DATA_ROBOTS / "own-group.txt").read_bytes()
    decision = evaluate("https://a.example/ru/b", origin(robots=robots))
    assert codes(decision) == ["content-usage"]
    assert decision.reasons[0].evidence == "Content-Usage: /ru/ bots=n"
    assert any("line 9: Content-Usage bots=n" in w for w in decision.warnings)
    strict = PolicyConfig(aipref_compat=False)
    assert evaluate("https://a.example/ru/b", origin(robots=robots), config=strict).allowed


def test_policy_content_usage_parse_failure_warns_and_does_not_reserve():
    robots = "User-agent: *\nContent-Usage: Train-AI=n\n"
    decision = evaluate(URL, origin(robots=robots))
    assert decision.allowed
    assert any("line 2" in w and "structured dictionary" in w for w in decision.warnings)


def test_policy_content_signal_in_our_group():
    robots = (DATA_ROBOTS / "cloudflare-managed.txt").read_bytes()
    decision = evaluate(URL, origin(robots=robots), config=NO_AGENTS)
    assert codes(decision) == ["content-signal"]
    assert decision.reasons[0].evidence == "Content-Signal: search=yes,ai-train=no"
    switched = PolicyConfig(ai_agents=False, content_signal=False)
    assert evaluate(URL, origin(robots=robots), config=switched).allowed
    full = evaluate(URL, origin(robots=robots))
    assert codes(full) == ["robots-ai-agents", "content-signal"]


def test_policy_content_signal_of_another_group_is_ignored():
    robots = "User-agent: otherbot\nContent-Signal: ai-train=no\nAllow: /\n"
    assert evaluate(URL, origin(robots=robots)).allowed


# -- TDMRep ---------------------------------------------------------------------------


def test_policy_tdmrep_file_reserves_before_fetch():
    decision = evaluate(URL, origin(tdmrep='[{"location": "/", "tdm-reservation": 1}]'))
    assert codes(decision) == ["tdmrep"]
    assert decision.reasons[0].source == "well-known"
    assert decision.fetch_allowed


def test_policy_tdmrep_first_match_disagreement_is_a_warning():
    tdm = '[{"location": "/", "tdm-reservation": 1}, {"location": "/open/", "tdm-reservation": 0}]'
    decision = evaluate("https://a.example/open/x", origin(tdmrep=tdm))
    assert codes(decision) == ["tdmrep"]
    assert any("first match applies" in w for w in decision.warnings)


def test_policy_tdmrep_invalid_or_unreachable_file_is_no_signal_with_warning():
    # Strictly, an object is no file (the evident-intent reading is switched off here;
    # tests/optout/test_lenient.py has it on).
    strict = PolicyConfig(tdmrep_object=False)
    invalid = evaluate(URL, origin(tdmrep='{"location": "/", "tdm-reservation": 1}'), config=strict)
    assert invalid.allowed and any("not an array" in w for w in invalid.warnings)
    failed = OriginSignals.from_fetches(
        tdmrep=FetchResult("https://a.example/.well-known/tdmrep.json", 503, b"")
    )
    decision = evaluate(URL, failed)
    assert decision.allowed and any("unreachable" in w for w in decision.warnings)
    missing = OriginSignals.from_fetches(
        tdmrep=FetchResult("https://a.example/.well-known/tdmrep.json", 404, b"")
    )
    assert evaluate(URL, missing).warnings == ()


@pytest.mark.parametrize(
    ("file", "header", "meta", "expected", "source"),
    [
        (1, None, None, ["tdmrep"], "well-known"),
        (1, "0", None, [], "header"),
        (None, "1", None, ["tdmrep"], "header"),
        (1, None, "0", [], "meta"),
        (0, "1", None, ["tdmrep"], "header"),
        (0, None, "1", ["tdmrep"], "meta"),
        (1, "0", "1", ["tdmrep"], "meta"),
        (1, "banana", None, ["tdmrep"], "well-known"),
    ],
)
def test_policy_tdmrep_order_spans_file_header_meta(file, header, meta, expected, source):
    tdm = None if file is None else f'[{{"location": "/", "tdm-reservation": {file}}}]'
    headers = [] if header is None else [("tdm-reservation", header)]
    body = (
        "<head><title>t</title></head>"
        if meta is None
        else (f'<head><meta name="tdm-reservation" content="{meta}"></head>')
    )
    decision = evaluate(URL, origin(tdmrep=tdm), html(body, *headers))
    assert codes(decision) == expected
    decided = decision.reasons or decision.grants
    assert decided[0].source == source


def test_policy_tdmrep_zero_is_a_grant_that_never_outweighs_another_family():
    decision = evaluate(
        URL, origin(), html("<p>x</p>", ("tdm-reservation", "0"), ("X-Robots-Tag", "noai"))
    )
    assert codes(decision) == ["noai"]
    assert [(g.code.value, g.evidence) for g in decision.grants] == [
        ("tdmrep", "tdm-reservation: 0")
    ]


def test_policy_tdmrep_switch_off():
    config = PolicyConfig(tdmrep=False)
    decision = evaluate(
        URL,
        origin(tdmrep='[{"location": "/", "tdm-reservation": 1}]'),
        html('<meta name="tdm-reservation" content="1">', ("tdm-reservation", "1")),
        config,
    )
    assert decision.allowed


# -- noai / noimageai -------------------------------------------------------------------


def test_policy_noai_header_and_meta():
    decision = evaluate(
        URL, origin(), html('<meta name="robots" content="noai">', ("X-Robots-Tag", "noai"))
    )
    assert codes(decision) == ["noai"]
    assert sorted(r.source for r in decision.reasons) == ["header", "meta"]
    assert evaluate(URL, origin(), html('<meta name="robots" content="noindex">')).allowed


def test_policy_noimageai_reserves_images_and_warns_on_pages():
    image = ResponseSignals(
        200, [("Content-Type", "image/png"), ("X-Robots-Tag", "noimageai")], b"\x89PNG"
    )
    assert codes(evaluate("https://a.example/a.png", origin(), image)) == ["noai"]
    page = evaluate(URL, origin(), html('<meta name="robots" content="noimageai">'))
    assert page.allowed
    assert any("reserves its images, not its text" in w for w in page.warnings)


def test_policy_content_type_guessed_from_url_when_missing():
    response = ResponseSignals(200, [("X-Robots-Tag", "noimageai")], b"")
    assert codes(evaluate("https://a.example/photo.JPG?x=1", origin(), response)) == ["noai"]


def test_policy_meta_is_read_only_from_html():
    body = b'<meta name="robots" content="noai"><meta name="tdm-reservation" content="1">'
    text = ResponseSignals(200, [("Content-Type", "text/plain")], body)
    assert evaluate(URL, origin(), text).allowed
    xhtml = ResponseSignals(200, [("Content-Type", "application/xhtml+xml")], body)
    assert codes(evaluate(URL, origin(), xhtml)) == ["noai", "tdmrep"]


def test_policy_meta_outside_head_is_honoured_with_warning():
    body = '<head><title>t</title></head><body><meta name="tdm-reservation" content="1"></body>'
    decision = evaluate(URL, origin(), html(body))
    assert codes(decision) == ["tdmrep"]
    assert any("outside <head>" in w for w in decision.warnings)


def test_policy_meta_under_our_token_name_and_bot_scoped_header():
    assert codes(evaluate(URL, origin(), html('<meta name="TDMCRAWL" content="NoAI">'))) == ["noai"]
    other = html("<p>x</p>", ("X-Robots-Tag", "otherbot: noai"))
    assert evaluate(URL, origin(), other).allowed
    mine = PolicyConfig(token="otherbot")
    assert codes(evaluate(URL, origin(), other, mine)) == ["noai"]


def test_policy_noai_switch_off():
    response = html('<meta name="robots" content="noai">', ("X-Robots-Tag", "noai"))
    assert evaluate(URL, origin(), response, PolicyConfig(noai=False)).allowed


# -- Content-Usage header ----------------------------------------------------------------


def test_policy_content_usage_header_lines_combine_most_restrictively():
    response = html("<p/>", ("Content-Usage", "train-ai=y"), ("Content-Usage", "train-ai=n"))
    decision = evaluate(URL, origin(), response)
    assert codes(decision) == ["content-usage"]
    assert decision.reasons[0].evidence == "Content-Usage: train-ai=n"
    assert decision.reasons[0].source == "header"
    # one malformed line does not void the others
    mixed = html("<p/>", ("Content-Usage", "train-ai=n"), ("Content-Usage", "Garbage=1"))
    assert codes(evaluate(URL, origin(), mixed)) == ["content-usage"]


def test_policy_content_usage_header_allow_is_a_grant():
    decision = evaluate(URL, origin(), html("<p/>", ("content-usage", "train-ai=y")))
    assert decision.allowed
    assert [g.source for g in decision.grants] == ["header"]


# -- ai.txt --------------------------------------------------------------------------------


def test_policy_ai_txt_reserves_matching_resources():
    ai_txt = "User-Agent: *\nDisallow: *.jpg\nDisallow: *.pdf\n"
    assert codes(evaluate("https://a.example/x.jpg", origin(ai_txt=ai_txt))) == ["ai-txt"]
    assert evaluate("https://a.example/x.html", origin(ai_txt=ai_txt)).allowed
    assert evaluate(
        "https://a.example/x.jpg", origin(ai_txt=ai_txt), config=PolicyConfig(ai_txt=False)
    ).allowed


@pytest.mark.parametrize("body", ["<!doctype html><p>ai.txt</p>", "# AI policy\n\nWe like AI.\n"])
def test_policy_ai_txt_that_is_not_robots_style_is_ignored(body):
    decision = evaluate("https://a.example/x.jpg", origin(ai_txt=body))
    assert decision.allowed
    assert any("ai.txt" in w and "ignored" in w for w in decision.warnings)


# -- combination and robustness ------------------------------------------------------------


def test_policy_all_families_report_and_fetch_blocking_comes_first():
    robots = (
        "User-agent: tdmcrawl\nDisallow: /page\nContent-Signal: ai-train=no\n\n"
        "User-agent: GPTBot\nDisallow: /\n"
    )
    decision = evaluate(
        URL, origin(robots=robots, tdmrep='[{"location": "/", "tdm-reservation": 1}]')
    )
    assert codes(decision) == ["robots", "robots-ai-agents", "content-signal", "tdmrep"]


def test_policy_config_validates_token_and_serialises():
    with pytest.raises(ValueError, match="product token"):
        PolicyConfig(token="tdm crawl/1.0")
    with pytest.raises(ValueError, match="html_meta_max_bytes"):
        PolicyConfig(html_meta_max_bytes=10)
    assert PolicyConfig().to_dict()["token"] == "tdmcrawl"


def test_policy_bytes_headers_and_odd_header_entries_do_not_raise():
    response = ResponseSignals(
        200, [(b"X-Robots-Tag", b"noai"), ("only-one",), (b"X", b"\xff")], b""
    )  # type: ignore[list-item]
    decision = evaluate(URL, origin(), response)
    assert codes(decision) == ["noai"]
    assert any("malformed response header" in w for w in decision.warnings)


def test_policy_decision_is_json_round_trippable():
    robots = (DATA_ROBOTS / "own-group.txt").read_bytes()
    decision = evaluate(
        "https://a.example/kk/қала",
        origin(robots=robots),
        html('<meta name="robots" content="noai">'),
    )
    assert Decision.from_json(decision.to_json()) == decision


@pytest.mark.parametrize(
    ("body", "reserved"),
    [
        (b'<!DOCTYPE html><html><head><meta name="robots" content="noai">', True),
        (b'\xef\xbb\xbf  <!-- c --><html><meta name="robots" content="noai">', True),
        (b'<meta name="robots" content="noai">', True),
        (b'{"html": "<meta name=robots content=noai>"}', False),
    ],
)
def test_policy_body_without_any_content_type_is_sniffed(body, reserved):
    decision = evaluate("https://a.example/page", origin(), ResponseSignals(200, [], body))
    assert (not decision.allowed) is reserved


def test_policy_mapping_headers_are_accepted():
    headers = {"X-Robots-Tag": ["noindex", "noai"], "Content-Type": "text/plain"}
    response = ResponseSignals(200, headers, b"")  # type: ignore[arg-type]
    assert codes(evaluate(URL, origin(), response)) == ["noai"]


def test_policy_origin_signals_keep_outcome_files_and_warnings():
    signals = OriginSignals.from_fetches(
        robots=FetchResult(
            "https://a.example/robots.txt",
            200,
            b"User-agent: *\nDisallow: /x\n",
            headers=(("Content-Type", "text/html"),),
        ),
        tdmrep=FetchResult("https://a.example/.well-known/tdmrep.json", 200, b'[{"location": 5}]'),
        ai_txt=FetchResult(
            "https://a.example/ai.txt", 200, b"User-agent: *\nDisallow: /\n", redirects=9
        ),
    )
    assert signals.robots is not None and signals.robots.robots.allowed("https://a.example/", "t")
    assert signals.tdmrep is not None and signals.tdmrep.rules == ()
    assert signals.ai_txt is None  # more than five redirects: no file
    assert any("text/html" in w for w in signals.warnings)
    assert any("no location" in w for w in signals.warnings)
    decision = evaluate("https://a.example/y", signals)
    assert decision.allowed
    assert set(signals.warnings) <= set(decision.warnings)


def test_policy_origin_files_not_fetched_give_no_signal():
    signals = OriginSignals.from_fetches()
    assert (signals.robots, signals.tdmrep, signals.ai_txt, signals.warnings) == (
        None,
        None,
        None,
        (),
    )
    assert evaluate(URL, signals, html('<meta name="robots" content="noai">')).codes == (
        ReasonCode.NOAI,
    )


# -- our choices: signals that cannot be read whole reserve (issue 10) -------------------

LATE = (
    "<html><head><title>t</title><script>" + "var x = 1;\n" * 500 + "</script>"
    '<meta name="robots" content="noai"></head><body>x</body></html>'
)


def test_policy_meta_scan_cut_by_the_limit_reserves_as_noai_and_tdmrep():
    decision = evaluate(URL, origin(), html(LATE), PolicyConfig(html_meta_max_bytes=1024))
    assert [(r.code.value, r.source) for r in decision.reasons] == [
        ("noai", "meta"),
        ("tdmrep", "meta"),
    ]
    assert all("html_meta_max_bytes=1024" in r.evidence for r in decision.reasons)
    assert all(r.evidence.endswith("(fail closed)") for r in decision.reasons)
    assert any("meta tags not read" in w for w in decision.warnings)
    # Without the limit the page is read whole and its own tag decides.
    whole = evaluate(URL, origin(), html(LATE))
    assert codes(whole) == ["noai"] and "fail closed" not in whole.reasons[0].evidence


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (PolicyConfig(html_meta_max_bytes=1024, noai=False), ["tdmrep"]),
        (PolicyConfig(html_meta_max_bytes=1024, tdmrep=False), ["noai"]),
        (PolicyConfig(html_meta_max_bytes=1024, noai=False, tdmrep=False), []),
    ],
)
def test_policy_meta_scan_cut_reserves_only_by_families_that_are_on(config, expected):
    assert codes(evaluate(URL, origin(), html(LATE), config)) == expected


def test_policy_cut_meta_scan_outweighs_a_readable_tdm_reservation_0():
    body = '<head><meta name="tdm-reservation" content="0">' + " " * 3000 + "<title>t</title>"
    decision = evaluate(URL, origin(), html(body), PolicyConfig(html_meta_max_bytes=1024))
    assert ReasonCode.TDMREP in decision.codes


def test_policy_truncated_body_reserves_html_only():
    page = ResponseSignals(200, [("Content-Type", "text/html")], b"<p>x</p>", truncated=True)
    assert codes(evaluate(URL, origin(), page)) == ["noai", "tdmrep"]
    image = ResponseSignals(200, [("Content-Type", "image/png")], b"\x89PNG", truncated=True)
    assert evaluate(URL, origin(), image).allowed  # no meta tags to miss


def test_policy_xhtml_with_xml_declaration_and_no_content_type_is_sniffed():
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<html><head><meta name="robots" content="noai"/>'
    )
    assert codes(evaluate("https://a.example/x", origin(), ResponseSignals(200, [], body))) == [
        "noai"
    ]


TDM_URL = "https://a.example/.well-known/tdmrep.json"


def test_policy_tdmrep_read_in_part_reserves_paths_no_read_rule_matches():
    signals = origin(tdmrep=b'[{"location": "/open/", "tdm-reservation": 0}, {"location": "/", ')
    assert evaluate("https://a.example/open/x", signals).allowed  # its rule was read
    decision = evaluate("https://a.example/other", signals)
    assert codes(decision) == ["tdmrep"]
    reason = decision.reasons[0]
    assert reason.source == "well-known" and reason.evidence.endswith("(fail closed)")
    assert "none of the 1 rule(s) read matches this path" in reason.evidence


def test_policy_tdmrep_unread_part_is_superseded_by_a_header_like_any_file_value():
    # TDMRep order: a valid header value supersedes the file's, even to relax it; an unread
    # rule is read as the most a file could say (1), so the header still decides.
    signals = origin(tdmrep=b'[{"location": "/open/", "tdm-reservation": 0}, ')
    response = html("<p>x</p>", ("tdm-reservation", "0"))
    assert evaluate("https://a.example/other", signals, response).allowed


@pytest.mark.parametrize(
    "fetch",
    [
        FetchResult(TDM_URL, None, None, error="larger than 8388608 bytes", truncated=True),
        FetchResult(TDM_URL, 200, b'[{"location": "/a/", "tdm-reservation": 0}', truncated=True),
    ],
    ids=["crawl-cancelled", "filter-prefix"],
)
def test_policy_tdmrep_over_the_size_limit_never_reads_as_no_file(fetch):
    signals = OriginSignals.from_fetches(tdmrep=fetch)
    decision = evaluate("https://a.example/page", signals)
    assert codes(decision) == ["tdmrep"] and "larger than" in decision.reasons[0].evidence
    if fetch.body:  # the rules read from the prefix still decide their own paths
        assert evaluate("https://a.example/a/x", signals).allowed


def test_policy_tdmrep_unreachable_is_still_no_file():
    # A 5xx or a network error is a failure to serve the file (TDMRep: "no protocol").
    signals = OriginSignals.from_fetches(tdmrep=FetchResult(TDM_URL, 503, b"busy"))
    assert evaluate("https://a.example/page", signals).allowed


AI_URL = "https://a.example/ai.txt"


@pytest.mark.parametrize(
    "fetch",
    [
        FetchResult(AI_URL, None, None, error="larger than 8388608 bytes", truncated=True),
        FetchResult(AI_URL, 200, b"User-agent: *\nAllow: /\n" + b"#" * (3 << 20)),
    ],
    ids=["over-size-limit", "over-parse-limit"],
)
def test_policy_ai_txt_too_large_to_read_reserves_every_path(fetch):
    decision = evaluate("https://a.example/any/page", OriginSignals.from_fetches(ai_txt=fetch))
    assert codes(decision) == ["ai-txt"]
    assert decision.reasons[0].evidence.endswith("(fail closed)")
    off = PolicyConfig(ai_txt=False)
    assert evaluate(URL, OriginSignals.from_fetches(ai_txt=fetch), None, off).allowed


def test_policy_ai_txt_too_large_html_page_is_still_ignored():
    fetch = FetchResult(
        AI_URL, 200, b"<!doctype html><html>", (("Content-Type", "text/html"),), truncated=True
    )
    assert evaluate(URL, OriginSignals.from_fetches(ai_txt=fetch)).allowed


def test_policy_utf16_ai_txt_and_tdmrep_are_read():
    utf16 = "\ufeffUser-agent: *\nDisallow: /\n".encode("utf-16-le")
    assert codes(evaluate(URL, origin(ai_txt=utf16))) == ["ai-txt"]
    tdm = '\ufeff[{"location": "/", "tdm-reservation": 1}]'.encode("utf-16-le")
    assert codes(evaluate(URL, origin(tdmrep=tdm))) == ["tdmrep"]


@pytest.mark.parametrize(("lenient", "expected"), [(False, ["robots-unreachable"]), (True, [])])
def test_policy_robots_redirect_limit_reading_is_a_config_switch(lenient, expected):
    loop = FetchResult("https://a.example/robots.txt", 302, b"", redirects=6)
    config = PolicyConfig(robots_redirects_unavailable=lenient)
    signals = OriginSignals.from_fetches(robots=loop, config=config)
    decision = evaluate(URL, signals, None, config)
    assert codes(decision) == expected
    assert any("redirects" in w for w in decision.warnings)


@pytest.mark.parametrize("value", [0, 1023, True, "4096", 10.5])
def test_policy_html_meta_max_bytes_is_none_or_at_least_1024(value):
    with pytest.raises(ValueError, match="html_meta_max_bytes"):
        PolicyConfig(html_meta_max_bytes=value)
