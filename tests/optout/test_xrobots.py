"""X-Robots-Tag and robots meta forms, from MDN ("X-Robots-Tag") and Google
("Robots meta tag, data-nosnippet, and X-Robots-Tag specifications"), applied
to the DeviantArt directives noai / noimageai.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tdmcrawl.optout.xrobots import directives_for, noai_from_headers, noai_from_meta

TOKEN = "tdmcrawl"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("noai", ("noai",)),
        ("noai, noimageai", ("noai", "noimageai")),
        ("NoAI", ("noai",)),  # Google: "The rules are case-insensitive"
        ("noindex", ("noindex",)),
        # MDN: "X-Robots-Tag: <bot-name>: <indexing-rule>, ..., <indexing-ruleN>"
        ("tdmcrawl: noai", ("noai",)),
        ("TDMCrawl: noai", ("noai",)),  # bot names case-insensitive
        ("tdmcrawl:noai", ("noai",)),
        ("otherbot: noai", ()),
        # the scope covers the rules after it, until the next bot name
        ("otherbot: noindex, noai", ()),
        ("otherbot: noindex, tdmcrawl: noai, noimageai", ("noai", "noimageai")),
        ("noarchive, otherbot: noai", ("noarchive",)),
        ("tdmcrawl: noindex, otherbot: noai", ("noindex",)),
        # directives with their own colon value are not bot names
        ("max-snippet: 20, noai", ("max-snippet: 20", "noai")),
        ("unavailable_after: 2030-01-01, noai", ("unavailable_after: 2030-01-01", "noai")),
        # "mybot" is not our token, nor a prefix match of it
        ("tdmcrawler: noai", ()),
        ("tdm: noai", ()),
        # malformed values degrade to "no rule" (datadiligence's ":," test)
        (":,", (":",)),
        ("", ()),
        (" , ,", ()),
    ],
)
def test_xrobots_header_value_scoping(value, expected):
    assert directives_for(value, TOKEN) == expected


@pytest.mark.parametrize(
    ("headers", "directives"),
    [
        ([("X-Robots-Tag", "noai")], ["noai"]),
        ([("x-robots-tag", "noimageai")], ["noimageai"]),
        # Google: "multiple X-Robots-Tag headers can be combined"; most restrictive applies
        ([("X-Robots-Tag", "all"), ("X-Robots-Tag", "noai")], ["noai"]),
        ([("X-Robots-Tag", "noai"), ("X-Robots-Tag", "all")], ["noai"]),
        # each header line starts scoped to all crawlers again
        ([("X-Robots-Tag", "otherbot: noindex"), ("X-Robots-Tag", "noai")], ["noai"]),
        ([("X-Robots-Tag", "otherbot: noai"), ("X-Robots-Tag", "noindex")], []),
        # noindex alone is a search directive, not an AI reservation
        ([("X-Robots-Tag", "noindex, nofollow")], []),
        ([("X-Robots-Tag", "none")], []),
        ([("Robots", "noai")], []),
    ],
)
def test_xrobots_header_lines(headers, directives):
    hits = noai_from_headers(headers, TOKEN)
    assert [h.directive for h in hits] == directives
    assert all(h.source == "header" for h in hits)


def test_xrobots_evidence_is_the_header_line_as_received():
    (hit,) = noai_from_headers([("X-Robots-Tag", "noarchive, TDMCRAWL: NoAI")], TOKEN)
    assert hit.evidence == "X-Robots-Tag: noarchive, TDMCRAWL: NoAI"


@pytest.mark.parametrize(
    ("tags", "directives"),
    [
        ([("robots", "noai, noimageai")], ["noai", "noimageai"]),
        ([("ROBOTS", "NOAI")], ["noai"]),
        # <meta name="MyBot" content="noai"> -- our token's own meta name
        ([("tdmcrawl", "noai")], ["noai"]),
        ([("TdmCrawl", "noimageai")], ["noimageai"]),
        ([("googlebot", "noai")], []),
        ([("robots", "noindex")], []),
        ([("description", "noai")], []),
        ([("robots", "otherbot: noai")], []),
    ],
)
def test_xrobots_meta_tags(tags, directives):
    hits = noai_from_meta([(n, c, f'<meta name="{n}" content="{c}">') for n, c in tags], TOKEN)
    assert [h.directive for h in hits] == directives
    assert all(h.source == "meta" for h in hits)


def test_xrobots_other_token():
    assert directives_for("mybot: noai", "MyBot") == ("noai",)
    assert noai_from_meta([("mybot", "noai", "<meta>")], "MyBot")[0].directive == "noai"


@given(
    st.lists(st.tuples(st.sampled_from(["X-Robots-Tag", "x-robots-tag", "other"]), st.text())),
    st.text(min_size=1, max_size=12),
)
def test_xrobots_never_raises(headers, token):
    hits = noai_from_headers(headers, token)
    assert all(h.directive in ("noai", "noimageai") for h in hits)
    meta_hits = noai_from_meta([(n, v, v) for n, v in headers], token)
    assert all(h.source == "meta" for h in meta_hits)
