"""Real-world-like fixture files (tests/data/signals/): every combination gives a
Decision and never raises, and the notable ones give the expected verdict."""

import itertools

import pytest

from tdmcrawl.optout.decision import Decision
from tdmcrawl.optout.policy import ResponseSignals, evaluate
from tdmcrawl.optout.tdmrep import TdmRepFile
from tests.support.signals import fixture_files, header_pairs, origin

URLS = [
    "https://a.example/",
    "https://a.example/directory-a/x.html",
    "https://a.example/open-access/paper.pdf",
    "https://a.example/kk/жаңалықтар/1",
    "https://a.example/ru/новости/2?page=3",
    "https://a.example/ashyq/deректер.jpg",
    "https://a.example/archive/1999/",
]
TDMREP = fixture_files("tdmrep")
HEADERS = fixture_files("headers")
HTML = fixture_files("html")
ROBOTS = fixture_files("robots")


def _response(headers_file, html_file) -> ResponseSignals:
    headers = header_pairs(headers_file)
    return ResponseSignals(200, headers, html_file.read_bytes())


@pytest.mark.parametrize(
    "path", TDMREP + HEADERS + HTML + ROBOTS, ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_policy_fixture_returns_a_decision_never_raises(path):
    kind = path.parent.name
    for url, other in itertools.product(URLS, range(3)):
        if kind == "tdmrep":
            o = origin(robots=ROBOTS[other].read_bytes(), tdmrep=path.read_bytes())
            response = _response(HEADERS[other], HTML[other])
        elif kind == "robots":
            o = origin(robots=path.read_bytes(), tdmrep=TDMREP[other].read_bytes())
            response = _response(HEADERS[other], HTML[other])
        elif kind == "headers":
            o = origin(tdmrep=TDMREP[other].read_bytes())
            response = _response(path, HTML[other])
        else:
            o = origin(robots=ROBOTS[other].read_bytes())
            response = _response(HEADERS[-1], path)
        for decision in (evaluate(url, o), evaluate(url, o, response)):
            assert isinstance(decision, Decision)
            assert Decision.from_json(decision.to_json()) == decision


@pytest.mark.parametrize(
    ("name", "valid", "warns"),
    [
        ("spec-example.json", True, False),
        ("publisher-whole-site.json", True, False),
        ("press-first-match.json", True, False),
        ("kz-news.json", True, False),
        ("string-values.json", True, True),
        ("bom.json", True, False),
        ("empty-array.json", True, False),
        ("invalid-not-array.json", False, True),
        # our choice: a comma before "]" loses no rule; read, with a warning
        ("invalid-trailing-comma.json", True, True),
        ("invalid-html-404.json", False, True),
    ],
)
def test_policy_fixture_tdmrep_files(name, valid, warns):
    tdm = TdmRepFile.parse((TDMREP[0].parent / name).read_bytes())
    assert tdm.valid is valid
    assert bool(tdm.warnings) is warns


@pytest.mark.parametrize(
    ("url", "reservation"),
    [
        ("https://a.example/kk/жаңалықтар/1", 1),
        ("https://a.example/kk/%D0%B6%D0%B0%D2%A3%D0%B0%D0%BB%D1%8B%D2%9B%D1%82%D0%B0%D1%80/1", 1),
        ("https://a.example/ru/новости/2?page=3", 1),
        ("https://a.example/ashyq/x", 0),
        ("https://a.example/kk/", None),
    ],
)
def test_policy_fixture_kazakh_tdmrep_paths(url, reservation):
    rule = TdmRepFile.parse((TDMREP[0].parent / "kz-news.json").read_bytes()).match(url)
    assert (rule.reservation if rule else None) == reservation


@pytest.mark.parametrize(
    ("html_name", "headers_name", "codes", "warning"),
    [
        ("kz-news-tdm.html", "plain.txt", ["tdmrep"], None),
        ("ru-cp1251-noai.html", "plain.txt", ["noai"], "not its text"),
        ("deviantart-like-noimageai.html", "plain.txt", [], "not its text"),
        ("bot-meta-tdmcrawl.html", "plain.txt", ["noai"], None),
        ("tdm-open-meta.html", "tdm-reserved.txt", [], "supersedes"),
        ("meta-in-body.html", "plain.txt", ["tdmrep"], "outside <head>"),
        ("broken-truncated.html", "plain.txt", ["noai"], None),
        ("binary-garbage.html", "plain.txt", [], None),
        ("binary-garbage.html", "tdm-folded.txt", ["tdmrep"], None),
        ("binary-garbage.html", "xrobots-scoped.txt", ["noai"], None),
        ("binary-garbage.html", "xrobots-noai.txt", ["noai"], None),
        ("binary-garbage.html", "content-usage.txt", ["content-usage"], None),
        ("binary-garbage.html", "content-usage-garbage.txt", [], "structured dictionary"),
    ],
)
def test_policy_fixture_pages(html_name, headers_name, codes, warning):
    html_file = HTML[0].parent / html_name
    headers_file = HEADERS[0].parent / headers_name
    decision = evaluate("https://a.example/page", origin(), _response(headers_file, html_file))
    assert [c.value for c in decision.codes] == codes
    if warning:
        assert any(warning in w for w in decision.warnings)
