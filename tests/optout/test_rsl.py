"""RSL 1.0 (Really Simple Licensing): discovery, the licence document, what it says of training.

Conformance rows follow the specification's sections (RSL-SPEC-1.0, 2025-12-10):
3 the document model, 3.4.1 the usage vocabulary, 3.7 payment, 3.12 reporting,
4.4 the robots.txt ``License`` record, 4.5 the ``Link`` header, 4.6 HTML. The
documents are written for these tests after the specification's examples.
Our own choices (malformed documents, spelling variants, held licences, user and
geo restrictions) are tested separately, named as choices.
"""

from __future__ import annotations

import pytest

from tdmcrawl.optout import rsl
from tdmcrawl.optout.decision import ReasonCode
from tdmcrawl.optout.fetched import FetchResult
from tdmcrawl.optout.policy import OriginSignals, PolicyConfig, ResponseSignals, evaluate
from tdmcrawl.optout.robots import RobotsTxt
from tests.support.signals import html

SITE = "https://news.example.kz"
LICENCE = f"{SITE}/license.xml"
PAGE = f"{SITE}/жаңалықтар/1"
NS = 'xmlns="https://rslstandard.org/rsl"'


def doc(licence: str, url: str = "/", extra: str = "") -> str:
    return f'<rsl {NS}><content url="{url}"{extra}><license>{licence}</license></content></rsl>'


def terms(body: str, page: str = PAGE, **kwargs: object) -> rsl.TrainingTerms:
    return rsl.training_terms(rsl.RslDocument.parse(body, LICENCE), page, **kwargs)  # type: ignore[arg-type]


# --- 3.4.1 usage vocabulary and 3.7 payment: conformance ------------------------------


@pytest.mark.parametrize(
    ("licence", "expected"),
    [
        # prohibits: the token itself, or a broader one (ai-all, all cover ai-train)
        ('<prohibits type="usage">ai-train</prohibits>', rsl.Terms.PROHIBITED),
        ('<prohibits type="usage">ai-all</prohibits>', rsl.Terms.PROHIBITED),
        ('<prohibits type="usage">all</prohibits>', rsl.Terms.PROHIBITED),
        # a prohibition of other uses says nothing of training
        ('<prohibits type="usage">ai-input</prohibits>', rsl.Terms.FREE),
        ('<prohibits type="usage">search ai-index</prohibits>', rsl.Terms.FREE),
        # permits is a closed list: training left out is training not permitted
        ('<permits type="usage">search</permits>', rsl.Terms.PROHIBITED),
        ('<permits type="usage">search ai-input ai-index</permits>', rsl.Terms.PROHIBITED),
        ('<permits type="usage">ai-train</permits>', rsl.Terms.FREE),
        ('<permits type="usage">ai-all</permits>', rsl.Terms.FREE),
        ('<permits type="usage">all</permits>', rsl.Terms.FREE),
        # prohibits beats permits for the same type
        (
            '<permits type="usage">all</permits><prohibits type="usage">ai-train</prohibits>',
            rsl.Terms.PROHIBITED,
        ),
        # no payment element: free; free, attribution, contribution: no money
        ("", rsl.Terms.FREE),
        ('<permits type="usage">ai-train</permits><payment type="free"/>', rsl.Terms.FREE),
        ('<permits type="usage">ai-train</permits><payment type="attribution"/>', rsl.Terms.FREE),
        (
            '<permits type="usage">ai-train</permits><payment type="contribution"/>',
            rsl.Terms.FREE,
        ),
        # paid licences: per crawl, per training use, per use, purchase, subscription
        *[
            (
                f'<permits type="usage">ai-train</permits><payment type="{kind}">'
                '<amount currency="USD">0.01</amount></payment>',
                rsl.Terms.TERMS,
            )
            for kind in ("crawl", "training", "use", "purchase", "subscription")
        ],
        # 3.12: a reporting duty the client cannot meet leaves the use unlicensed
        (
            '<permits type="usage">ai-train</permits>'
            '<reporting type="telemetry" profile="https://example.org/p"/>',
            rsl.Terms.TERMS,
        ),
    ],
)
def test_rsl_usage_and_payment_conformance(licence: str, expected: rsl.Terms) -> None:
    assert terms(doc(licence)).terms is expected


def test_rsl_server_attribute_requires_a_licence_token_even_for_a_free_licence() -> None:
    # 3.2: "If this attribute is present, clients must obtain a license for this asset,
    # even if the license is free."
    body = doc('<permits type="usage">ai-train</permits>', extra=' server="https://api.rsl.test"')
    result = terms(body)
    assert result.terms is rsl.Terms.TERMS
    assert "server https://api.rsl.test" in result.why


def test_rsl_collective_style_royalty_licence_is_terms() -> None:
    body = doc(
        '<permits type="usage">ai-all</permits><payment type="use">'
        "<standard>https://collective.test/license</standard></payment>",
        extra=' server="https://api.collective.test"',
    )
    assert terms(body).terms is rsl.Terms.TERMS


# --- 3 document model: content url patterns (RFC 9309 matching) -----------------------


@pytest.mark.parametrize(
    ("pattern", "page", "matches"),
    [
        ("/", PAGE, True),
        ("/premium/", f"{SITE}/premium/a", True),
        ("/premium/", f"{SITE}/free/a", False),
        ("/*.pdf$", f"{SITE}/books/a.pdf", True),
        ("/*.pdf$", f"{SITE}/books/a.pdf?x=1", False),
        (f"{SITE}/*", f"{SITE}/x", True),
        ("https://other.example/*", f"{SITE}/x", False),
        ("/жаңалықтар/", PAGE, True),  # non-ASCII patterns percent-normalised like paths
    ],
)
def test_rsl_content_url_matching(pattern: str, page: str, matches: bool) -> None:
    body = doc('<prohibits type="usage">ai-train</prohibits>', url=pattern)
    found = terms(body, page)
    assert (found.terms is rsl.Terms.PROHIBITED) is matches
    assert (found.terms is rsl.Terms.SILENT) is not matches


def test_rsl_most_specific_content_wins() -> None:
    body = (
        f'<rsl {NS}><content url="/"><license><permits type="usage">all</permits></license>'
        '</content><content url="/premium/"><license><prohibits type="usage">ai-train'
        "</prohibits></license></content></rsl>"
    )
    assert terms(body, f"{SITE}/premium/x").terms is rsl.Terms.PROHIBITED
    assert terms(body, f"{SITE}/free/x").terms is rsl.Terms.FREE


def test_rsl_conflicting_licences_of_one_content_resolve_most_restrictively() -> None:
    body = (
        f'<rsl {NS}><content url="/"><license><permits type="usage">ai-train</permits>'
        '</license><license><prohibits type="usage">ai-train</prohibits></license>'
        "</content></rsl>"
    )
    assert terms(body).terms is rsl.Terms.PROHIBITED


def test_rsl_alternative_offers_free_one_wins_over_paid_one() -> None:
    body = (
        f'<rsl {NS}><content url="/"><license><permits type="usage">search</permits></license>'
        '<license><permits type="usage">ai-train</permits><payment type="crawl"/></license>'
        "</content></rsl>"
    )
    # A search-only licence and a paid training licence: training needs the paid one.
    assert terms(body).terms is rsl.Terms.TERMS


def test_rsl_elements_of_other_namespaces_are_ignored() -> None:
    body = (
        f'<rsl {NS} xmlns:x="https://ext.example/"><x:note>hi</x:note><content url="/">'
        '<license><prohibits type="usage">ai-train</prohibits></license></content></rsl>'
    )
    parsed = rsl.RslDocument.parse(body, LICENCE)
    assert parsed.valid and parsed.warnings == ()
    assert terms(body).terms is rsl.Terms.PROHIBITED


# --- 4.4 robots.txt License, 4.5 Link header, 4.6 HTML: discovery conformance -----------


def test_rsl_robots_license_before_the_first_group_is_global() -> None:
    robots = RobotsTxt.parse(f"License: {LICENCE}\nUser-agent: *\nAllow: /\n")
    assert [line.value for line in robots.licenses_for("tdmcrawl")] == [LICENCE]
    # It is a License record, not the "record before the first User-agent" of RFC 9309.
    assert not any("before the first User-agent" in w for w in robots.warnings)


def test_rsl_robots_group_license_replaces_the_global_one_for_that_group() -> None:
    text = (
        f"License: {SITE}/global.xml\n\nUser-agent: tdmcrawl\nAllow: /\n"
        f"License: {SITE}/ours.xml\n\nUser-agent: *\nAllow: /\nLicense: {SITE}/star.xml\n"
    )
    robots = RobotsTxt.parse(text)
    assert [x.value for x in robots.licenses_for("tdmcrawl")] == [f"{SITE}/ours.xml"]
    assert [x.value for x in robots.licenses_for("OtherBot")] == [f"{SITE}/star.xml"]
    plain = RobotsTxt.parse(f"License: {SITE}/global.xml\nUser-agent: *\nAllow: /\n")
    assert [x.value for x in plain.licenses_for("OtherBot")] == [f"{SITE}/global.xml"]


@pytest.mark.parametrize(
    ("value", "found"),
    [
        (f'<{LICENCE}>; rel="license"; type="application/rsl+xml"', [LICENCE]),
        ('</license.xml>; rel="license"; type="application/rsl+xml"', [LICENCE]),
        (f'<{LICENCE}>; rel="license"', [LICENCE]),  # no type, an .xml URL
        ('<https://creativecommons.org/licenses/by/4.0/>; rel="license"', []),  # a CC deed
        (
            f'<{SITE}/next>; rel="next", <{LICENCE}>; rel="license"; type="application/rsl+xml"',
            [LICENCE],
        ),
        (f'<{LICENCE}>; rel="alternate"; type="application/rsl+xml"', []),
    ],
)
def test_rsl_link_header_discovery(value: str, found: list[str]) -> None:
    refs = rsl.from_link_headers([("Link", value)], PAGE)
    assert [r.url for r in refs] == found
    assert all(r.source == "header" for r in refs)


def test_rsl_html_link_and_inline_script_discovery() -> None:
    page = (
        '<html><head><link rel="license" type="application/rsl+xml" href="/license.xml">'
        '<link rel="license" href="https://creativecommons.org/licenses/by/4.0/">'
        f'<script type="application/rsl+xml"><rsl {NS}><content url=""><license>'
        '<prohibits type="usage">ai-all</prohibits></license></content></rsl></script>'
        "</head><body>x</body></html>"
    ).encode()
    refs = rsl.from_html(page, PAGE)
    assert [r.url for r in refs] == [LICENCE, PAGE]
    assert refs[1].inline is not None
    # url="" in an HTML association means the element it is attached to: the page.
    assert rsl.training_terms(refs[1].inline, PAGE).terms is rsl.Terms.PROHIBITED


# --- the decision: reason rsl, source by where the licence was named ---------------------


def _origin(robots: str, licence: str | None, status: int = 200) -> OriginSignals:
    fetches = {}
    if licence is not None or status != 200:
        fetches = {LICENCE: FetchResult(LICENCE, status, (licence or "").encode())}
    return OriginSignals.from_fetches(
        robots=FetchResult(f"{SITE}/robots.txt", 200, robots.encode()), rsl=fetches
    )


def test_rsl_prohibition_found_in_robots_txt_reserves_with_source_robots() -> None:
    origin = _origin(
        f"User-agent: *\nAllow: /\nLicense: {LICENCE}\n",
        doc('<prohibits type="usage">all</prohibits>'),
    )
    decision = evaluate(PAGE, origin)
    assert decision.codes == (ReasonCode.RSL,)
    reason = decision.reasons[0]
    assert reason.source == "robots.txt" and reason.line == 3
    assert f"License: {LICENCE}" in reason.evidence and "prohibits usage all" in reason.evidence
    assert decision.fetch_allowed  # RSL never changes access (4.4)


def test_rsl_found_in_link_header_reserves_with_source_header() -> None:
    origin = _origin("User-agent: *\nAllow: /\n", doc('<permits type="usage">search</permits>'))
    response = html(
        "<p>мәтін</p>", ("Link", f'<{LICENCE}>; rel="license"; type="application/rsl+xml"')
    )
    decision = evaluate(PAGE, origin, response)
    assert decision.codes == (ReasonCode.RSL,)
    assert decision.reasons[0].source == "header"


def test_rsl_found_in_html_reserves_with_source_html() -> None:
    origin = _origin(
        "User-agent: *\nAllow: /\n", doc('<prohibits type="usage">ai-train</prohibits>')
    )
    page = (
        f'<html><head><link rel="license" type="application/rsl+xml" href="{LICENCE}">'
        "</head></html>"
    )
    decision = evaluate(PAGE, origin, html(page))
    assert decision.codes == (ReasonCode.RSL,)
    assert decision.reasons[0].source == "html"


def test_rsl_free_training_licence_is_a_grant_not_a_reason() -> None:
    origin = _origin(
        f"License: {LICENCE}\nUser-agent: *\nAllow: /\n", doc('<permits type="usage">all</permits>')
    )
    decision = evaluate(PAGE, origin)
    assert decision.allowed
    assert [g.code for g in decision.grants] == [ReasonCode.RSL]


def test_rsl_paid_licence_reserves_unless_the_operator_holds_it() -> None:
    body = doc(
        '<permits type="usage">ai-train</permits><payment type="training">'
        "<standard>https://collective.test/license</standard></payment>"
    )
    origin = _origin(f"License: {LICENCE}\nUser-agent: *\nAllow: /\n", body)
    assert evaluate(PAGE, origin).codes == (ReasonCode.RSL,)
    for held in (LICENCE, "https://collective.test/license"):
        decision = evaluate(PAGE, origin, config=PolicyConfig(rsl_licenses=(held,)))
        assert decision.allowed, held
        assert "licence held" in decision.grants[0].evidence


def test_rsl_switched_off_reads_nothing() -> None:
    origin = _origin(
        f"License: {LICENCE}\nUser-agent: *\nAllow: /\n",
        doc('<prohibits type="usage">all</prohibits>'),
    )
    assert evaluate(PAGE, origin, config=PolicyConfig(rsl=False)).allowed


# --- our choices ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "not xml at all",
        "<other/>",
        f"<rsl {NS}></rsl>",  # no <content>
        f'<rsl {NS}><content url="/"></content></rsl>',  # no <license>
        f'<rsl {NS}><content url="/"><license><permits type="usage">all</permits>'
        "<bogus/></license></content></rsl>",  # an unknown RSL element
        '<rsl><content url="/"><license><permits type="usage">all</permits></license>'
        "</content></rsl>",  # no namespace
    ],
)
def test_our_choice_a_malformed_licence_is_a_warning_never_a_grant(body: str) -> None:
    origin = _origin(f"License: {LICENCE}\nUser-agent: *\nAllow: /\n", body)
    decision = evaluate(PAGE, origin)
    assert decision.allowed and decision.grants == ()
    assert any(LICENCE in w for w in decision.warnings)


def test_our_choice_a_malformed_licence_that_prohibits_still_reserves() -> None:
    body = (
        '<rsl><content url="/"><license><prohibits type="usage">ai-train</prohibits>'
        "</license></content></rsl>"
    )
    decision = evaluate(PAGE, _origin(f"License: {LICENCE}\nUser-agent: *\nAllow: /\n", body))
    assert decision.codes == (ReasonCode.RSL,)
    assert any("malformed" in w for w in decision.warnings)


@pytest.mark.parametrize("status", [404, 500])
def test_our_choice_an_unreachable_licence_is_a_warning(status: int) -> None:
    origin = _origin(f"License: {LICENCE}\nUser-agent: *\nAllow: /\n", None, status=status)
    decision = evaluate(PAGE, origin)
    assert decision.allowed and any("unreachable" in w for w in decision.warnings)


def test_our_choice_a_licence_named_but_not_fetched_is_a_warning() -> None:
    origin = _origin(f"License: {LICENCE}\nUser-agent: *\nAllow: /\n", None)
    decision = evaluate(PAGE, OriginSignals(robots=origin.robots))
    assert decision.allowed and any("was not fetched" in w for w in decision.warnings)


@pytest.mark.parametrize("token", ["train-ai", "ai-training", "training"])
def test_our_choice_training_spellings_in_prohibits_are_read_as_ai_train(token: str) -> None:
    body = doc(f'<prohibits type="usage">{token}</prohibits>')
    result = terms(body)
    assert result.terms is rsl.Terms.PROHIBITED
    assert any("evident intent" in w for w in result.warnings)
    assert terms(body, token_variants=False).terms is rsl.Terms.FREE


def test_our_choice_training_spellings_in_permits_never_grant() -> None:
    # permits "train-ai" is not RSL's ai-train: by closure training is not permitted.
    assert terms(doc('<permits type="usage">train-ai</permits>')).terms is rsl.Terms.PROHIBITED


@pytest.mark.parametrize(
    "restriction",
    [
        '<permits type="user">non-commercial</permits>',
        '<permits type="geo">US</permits>',
        '<prohibits type="geo">KZ</prohibits>',
    ],
)
def test_our_choice_user_and_geo_restrictions_are_terms_the_operator_must_hold(
    restriction: str,
) -> None:
    assert (
        terms(doc('<permits type="usage">ai-train</permits>' + restriction)).terms
        is rsl.Terms.TERMS
    )


def test_our_choice_relative_robots_license_is_resolved_against_robots_txt() -> None:
    robots = RobotsTxt.parse("License: /license.xml\nUser-agent: *\nAllow: /\n")
    refs = rsl.from_robots(robots.licenses_for("tdmcrawl"), f"{SITE}/robots.txt")
    assert [r.url for r in refs] == [LICENCE]


def test_rsl_oversized_or_hostile_documents_are_refused_without_expansion() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        f'<rsl {NS}><content url="/"><license><permits type="usage">&b;</permits>'
        "</license></content></rsl>"
    )
    parsed = rsl.RslDocument.parse(bomb, LICENCE)
    tokens = [t for c in parsed.contents for lic in c.licenses for _, ts in lic.permits for t in ts]
    assert not any("aaaa" in t for t in tokens)  # entities are never expanded
    assert rsl.training_terms(parsed, PAGE).terms is not rsl.Terms.FREE
    big = b"<rsl " + NS.encode() + b">" + b" " * (rsl.MAX_FILE_BYTES + 1) + b"</rsl>"
    assert not rsl.RslDocument.parse(big, LICENCE).valid


def test_response_signals_with_rsl_link_on_a_pdf() -> None:
    origin = _origin("User-agent: *\nAllow: /\n", doc('<prohibits type="usage">ai-all</prohibits>'))
    response = ResponseSignals(
        200,
        [
            ("Content-Type", "application/pdf"),
            ("Link", f'<{LICENCE}>; rel="license"; type="application/rsl+xml"'),
        ],
        b"%PDF-1.7\n",
    )
    assert evaluate(f"{SITE}/book.pdf", origin, response).codes == (ReasonCode.RSL,)
