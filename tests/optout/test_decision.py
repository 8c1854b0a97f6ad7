"""Decision values: JSON round trip, ordering, merging, refusal of bad JSON."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tdmcrawl.optout.decision import Decision, Reason, ReasonCode

texts = st.text(max_size=40)
reasons = st.builds(
    Reason,
    code=st.sampled_from(list(ReasonCode)),
    source=st.sampled_from(["robots.txt", "header", "meta", "well-known", "registry", "crawl"]),
    evidence=texts,
    line=st.one_of(st.none(), st.integers(min_value=1, max_value=10**6)),
    matched_work=st.one_of(st.none(), texts),
    similarity=st.one_of(st.none(), st.floats(min_value=0, max_value=1)),
)
decisions = st.builds(
    Decision,
    url=st.text(max_size=60),
    reasons=st.lists(reasons, max_size=5).map(tuple),
    warnings=st.lists(texts, max_size=4).map(tuple),
    grants=st.lists(reasons, max_size=3).map(tuple),
)


@given(decisions)
def test_decision_json_round_trips(decision):
    text = decision.to_json()
    again = Decision.from_json(text)
    assert again == decision
    assert again.to_json() == text
    assert json.loads(text)["allowed"] is decision.allowed


@given(decisions)
def test_decision_fetch_blocking_reasons_come_first(decision):
    blocking = [r.blocks_fetch for r in decision.reasons]
    assert blocking == sorted(blocking, reverse=True)
    assert decision.fetch_allowed is not any(blocking)


def test_decision_keeps_kazakh_and_russian_text_readable():
    reason = Reason("noai", "meta", '<meta name="robots" content="noai"> — Жаңалықтар, новости')
    text = Decision("https://ақпарат.kz/жаңалық", (reason,)).to_json()
    assert "Жаңалықтар" in text and "ақпарат" in text


def test_decision_merge_is_most_restrictive_and_deduplicates():
    tdm = Reason("tdmrep", "header", "tdm-reservation: 1")
    robots = Reason("robots", "robots.txt", "Disallow: /", line=3)
    grant = Reason("content-usage", "header", "Content-Usage: train-ai=y")
    first = Decision("https://a.kz/", (tdm,), ("w1",), (grant,))
    merged = first.merge(Decision("https://a.kz/", (robots, tdm), ("w1", "w2")))
    assert merged.reasons == (robots, tdm)
    assert merged.warnings == ("w1", "w2")
    assert merged.grants == (grant,)
    assert not merged.allowed and not merged.fetch_allowed


def test_decision_codes_are_unique_in_order():
    a = Reason("noai", "header", "X-Robots-Tag: noai")
    b = Reason("noai", "meta", "<meta>")
    c = Reason("tdmrep", "meta", "<meta>")
    assert Decision("u", (a, c, b)).codes == (ReasonCode.NOAI, ReasonCode.TDMREP)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        "{}",
        '{"url": 5}',
        '{"url": "u", "reasons": [{"code": "no-such-code", "source": "s", "evidence": "e"}]}',
        '{"url": "u", "reasons": [{"code": "noai"}]}',
        '{"url": "u", "reasons": "noai"}',
        '{"url": "u", "warnings": "one"}',
        '{"url": "u", "reasons": [{"code": "noai", "source": "s", "evidence": "e", "line": "7"}]}',
    ],
)
def test_decision_bad_json_is_a_clear_value_error(text):
    with pytest.raises(ValueError):
        Decision.from_json(text)
