"""Invariants of optout.robots that tables can't cover (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tdmcrawl.optout.robots import (
    RobotsTxt,
    _path_params_query,
    _Pattern,
    normalise_path,
    request_path,
)

# Paths drawn from a small alphabet so that rules and URLs actually collide,
# with Kazakh and Russian letters and escapes in the mix.
_PATH_CHARS = st.sampled_from([*"ab/.*$%?=ә ғқөжЖ", "%41", "%2F", "%d3%99"])
_PATTERNS = st.lists(_PATH_CHARS, max_size=8).map(lambda parts: "/" + "".join(parts))
_URL_PATHS = st.lists(_PATH_CHARS.filter(lambda c: c not in "*$"), max_size=10).map(
    lambda parts: "/" + "".join(parts)
)
_AGENTS = st.sampled_from(["*", "tdmcrawl", "GPTBot", "other-bot"])
_RULES = st.tuples(st.sampled_from(["Allow", "Disallow"]), _PATTERNS)
_GROUPS = st.lists(
    st.tuples(st.lists(_AGENTS, min_size=1, max_size=3), st.lists(_RULES, min_size=1, max_size=5)),
    max_size=4,
)
_TOKENS = st.sampled_from(["tdmcrawl", "GPTBot", "nobody"])


def _render(groups: list) -> str:
    lines = []
    for agents, rules in groups:
        lines += [f"User-agent: {agent}" for agent in agents]
        lines += [f"{kind}: {pattern}" for kind, pattern in rules]
        lines.append("")
    return "\n".join(lines)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.text(max_size=40))
def test_parse_never_raises_on_arbitrary_bytes(body: bytes, url: str) -> None:
    robots = RobotsTxt.parse(body)
    verdict = robots.verdict(url, "tdmcrawl")
    assert isinstance(verdict.allowed, bool)
    assert robots.content_usage(url, "tdmcrawl") is not None
    for warning in robots.warnings:
        warning.encode("utf-8")  # printable, storable evidence


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "User-agent: *",
                "User-agent: tdmcrawl",
                "Disallow: /",
                "Allow: /a",
                "Disallow",
                "Content-Usage: /a train-ai=n",
                "Crawl-delay: x",
                "# c",
                "",
                "\ufeff",
                "a: b: c",
                "Disallow: /қ*$",
                "user agent tdmcrawl",
                "\x00",
                "Allow: %",
            ]
        ),
        max_size=30,
    ),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.text(max_size=30),
)
def test_parse_never_raises_on_robots_like_text(lines: list, eol: str, url: str) -> None:
    robots = RobotsTxt.parse(eol.join(lines).encode("utf-8"))
    verdict = robots.verdict(url, "tdmcrawl")
    if verdict.rule is not None:
        assert verdict.rule.field in ("allow", "disallow")
        assert verdict.rule.line_no in range(1, len(lines) + 1)
    robots.crawl_delay("tdmcrawl")
    robots.content_signals("tdmcrawl")


@settings(max_examples=300, deadline=None)
@given(_GROUPS, st.data(), _URL_PATHS, _TOKENS)
def test_adding_a_disallow_never_turns_denied_into_allowed(
    groups: list, data: st.DataObject, path: str, token: str
) -> None:
    url = "https://h.example" + path
    before = RobotsTxt.parse(_render(groups).encode("utf-8")).verdict(url, token)
    if groups:
        index = data.draw(st.integers(0, len(groups) - 1))
        pattern = data.draw(_PATTERNS)
        agents, rules = groups[index]
        groups = [*groups[:index], (agents, [*rules, ("Disallow", pattern)]), *groups[index + 1 :]]
    after = RobotsTxt.parse(_render(groups).encode("utf-8")).verdict(url, token)
    if not before.allowed:
        assert not after.allowed


@settings(max_examples=200, deadline=None)
@given(_URL_PATHS)
def test_request_path_is_idempotent(path: str) -> None:
    once = request_path("https://h" + path)
    assert request_path("https://h" + once) == once
    assert once.startswith("/")


_URL_PIECES = st.sampled_from(
    ["http", "https", "://", "//", "/", "?", ";", "#", ":", "a", "h.kz", "ә", "%41", "@", "."]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_URL_PIECES, max_size=12).map("".join))
def test_request_path_fast_path_agrees_with_google_algorithm(url: str) -> None:
    assert request_path(url) == normalise_path(_path_params_query(url))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_normalise_path_is_idempotent(text: str) -> None:
    once = normalise_path(text)
    assert normalise_path(once) == once
    assert once.isascii()


@settings(max_examples=400, deadline=None)
@given(st.lists(_RULES, min_size=1, max_size=12), _URL_PATHS)
def test_indexed_matcher_agrees_with_plain_longest_match(rules: list, path: str) -> None:
    body = "User-agent: *\n" + "".join(f"{kind}: {pattern}\n" for kind, pattern in rules)
    verdict = RobotsTxt.parse(body.encode("utf-8")).verdict("https://h" + path, "bot")
    numbered = [(kind, pattern, n) for n, (kind, pattern) in enumerate(rules, start=2)]
    expected = _reference_verdict(numbered, normalise_path(path))
    assert (verdict.allowed, verdict.rule.line_no if verdict.rule else None) == expected


def _reference_verdict(rules: list, path: str) -> tuple[bool, int | None]:
    """Plain RFC 9309 2.2.2 longest match over (kind, pattern, line_no)."""
    best: tuple[int, bool, int] | None = None
    for kind, pattern, line_no in rules:
        compiled = _Pattern(pattern.strip(" \t"))  # values are trimmed when parsed
        if not compiled.matches(path):
            continue
        key = (compiled.priority, kind == "Allow", -line_no)
        if best is None or key > best:
            best = key
    return (True, None) if best is None else (best[1], -best[2])
