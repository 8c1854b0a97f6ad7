"""Invariants of evaluate() that tables can't cover (hypothesis)."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tdmcrawl.optout.decision import Decision
from tdmcrawl.optout.policy import OriginSignals, ResponseSignals, evaluate
from tests.support.signals import origin

PATHS = ["/", "/a", "/a/", "/a/b", "/b", "/x.jpg", "/kk/қала", "/a*", "/*.jpg$", "/a/$"]
AGENTS = ["*", "tdmcrawl", "TDMCrawl", "GPTBot", "otherbot", "Google-Extended"]

robots_lines = st.one_of(
    st.sampled_from(AGENTS).map(lambda a: f"User-agent: {a}"),
    st.tuples(st.sampled_from(["Allow", "Disallow"]), st.sampled_from(PATHS)).map(
        lambda t: f"{t[0]}: {t[1]}"
    ),
    st.tuples(
        st.sampled_from(["", "/a/ ", "/b "]),
        st.sampled_from(["train-ai=n", "train-ai=y", "bots=n", "X=1"]),
    ).map(lambda t: f"Content-Usage: {t[0]}{t[1]}"),
    st.sampled_from(
        ["Content-Signal: ai-train=no", "Content-Signal: ai-train=yes", "Crawl-delay: 1", "# c"]
    ),
)
tdm_rules = st.lists(
    st.fixed_dictionaries(
        {"location": st.sampled_from(PATHS), "tdm-reservation": st.sampled_from([0, 1, 2, "1"])}
    ),
    max_size=4,
)
header_items = st.tuples(
    st.sampled_from(
        ["tdm-reservation", "TDM-Reservation", "X-Robots-Tag", "Content-Usage", "tdm-policy"]
    ),
    st.sampled_from(
        ["0", "1", "1, 0", "noai", "noimageai", "otherbot: noai", "train-ai=y", "train-ai=n", "x"]
    ),
)
meta_tags = st.lists(
    st.tuples(
        st.sampled_from(["robots", "tdm-reservation", "tdmcrawl", "description"]),
        st.sampled_from(["0", "1", "noai", "noimageai", "noindex"]),
    ),
    max_size=3,
)
content_types = st.sampled_from(["text/html", "image/png", "text/plain", None])


def _html(tags) -> bytes:
    metas = "".join(f'<meta name="{n}" content="{c}">' for n, c in tags)
    return f"<html><head>{metas}</head><body>x</body></html>".encode()


@st.composite
def scenarios(draw):
    robots = "\n".join(draw(st.lists(robots_lines, max_size=8)))
    tdm = json.dumps(draw(tdm_rules))
    url = "https://a.example" + draw(st.sampled_from(PATHS)).replace("*", "z").rstrip("$")
    headers = draw(st.lists(header_items, max_size=4))
    ctype = draw(content_types)
    response = ResponseSignals(200, headers, _html(draw(meta_tags)), ctype)
    return robots, tdm, url, response


@settings(max_examples=150, deadline=None)
@given(scenarios(), st.integers(min_value=0, max_value=10))
def test_policy_adding_tdm_reservation_1_never_allows_a_denied_url(scenario, position):
    robots, tdm, url, response = scenario
    o = origin(robots=robots, tdmrep=tdm)
    before = evaluate(url, o, response)
    headers = list(response.headers)
    headers.insert(min(position, len(headers)), ("tdm-reservation", "1"))
    after = evaluate(url, o, ResponseSignals(200, headers, response.body, response.content_type))
    assert before.allowed or not after.allowed


@settings(max_examples=150, deadline=None)
@given(scenarios(), st.sampled_from(PATHS), st.integers(min_value=0, max_value=20))
def test_policy_adding_a_disallow_line_never_allows_a_denied_url(scenario, path, position):
    robots, tdm, url, response = scenario
    lines = robots.split("\n") if robots else []
    # A Disallow joins the group it is written in: after a rule line or at the
    # end (between two User-agent lines it would split their group instead).
    slots = [i + 1 for i, line in enumerate(lines) if line.startswith(("Allow", "Disallow"))]
    slots.append(len(lines))
    at = slots[position % len(slots)]
    grown = "\n".join([*lines[:at], f"Disallow: {path}", *lines[at:]])
    for resp in (None, response):
        before = evaluate(url, origin(robots=robots, tdmrep=tdm), resp)
        after = evaluate(url, origin(robots=grown, tdmrep=tdm), resp)
        assert before.allowed or not after.allowed
        assert before.fetch_allowed or not after.fetch_allowed


@settings(max_examples=100, deadline=None)
@given(
    st.binary(max_size=400),
    st.binary(max_size=400),
    st.binary(max_size=200),
    st.lists(st.tuples(st.text(max_size=20), st.text(max_size=40)), max_size=5),
    st.binary(max_size=600),
    st.one_of(st.none(), st.text(max_size=30)),
    st.text(max_size=40),
)
def test_policy_evaluate_never_raises(robots, tdm, ai_txt, headers, body, ctype, path):
    o = OriginSignals.from_bodies(robots, tdm, ai_txt)
    url = "https://a.example/" + path
    for decision in (
        evaluate(url, o),
        evaluate(url, o, ResponseSignals(200, headers, body, ctype)),
    ):
        assert isinstance(decision, Decision)
        assert Decision.from_json(decision.to_json()) == decision
