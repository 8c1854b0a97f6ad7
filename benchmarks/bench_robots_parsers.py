"""robots.txt parsers side by side: conformance and matching speed.

Runs the case table the tests use (tests/data/robots/google_cases.json:
google/robotstxt robots_test.cc plus AI-specific rows) against optout.robots,
Protego, robotspy and fast-robotstxt (bindings to Google's C++ parser), then
times URL checks on an ai.robots.txt-style file (tests/data/robots/
ai_robots_style.txt: ~166 AI agents in one group plus a typical ``*`` group).

    python benchmarks/bench_robots_parsers.py [--urls N] [--show-failures]

Parsers that are not installed are reported as such
(``pip install protego robotspy fast-robotstxt``).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tdmcrawl.optout.ai_agents import ai_training_tokens  # noqa: E402
from tdmcrawl.optout.robots import RobotsTxt  # noqa: E402

DATA = ROOT / "tests" / "data" / "robots"

# A checker answers (robots.txt text, agent, url) -> allowed; a "prepared"
# checker parses once and returns a function of (agent, url).
Prepare = Callable[[str], Callable[[str, str], bool]]


def _ours(text: str) -> Callable[[str, str], bool]:
    robots = RobotsTxt.parse(text.encode("utf-8"))
    return lambda agent, url: robots.allowed(url, agent)


def _protego(text: str) -> Callable[[str, str], bool]:
    from protego import Protego

    robots = Protego.parse(text)
    return lambda agent, url: bool(robots.can_fetch(url, agent))


def _robotspy(text: str) -> Callable[[str, str], bool]:
    import robots

    parser = robots.RobotsParser.from_string(text)
    return lambda agent, url: bool(parser.can_fetch(agent, url))


def _fast_robotstxt(text: str) -> Callable[[str, str], bool]:
    from robotstxt import RobotsMatcher

    matcher = RobotsMatcher()
    # Its API re-parses the file on every call (Google's matcher is one-shot).
    return lambda agent, url: bool(matcher.is_allowed(text, agent, url))


PARSERS: list[tuple[str, str | None, Prepare]] = [
    ("optout.robots", None, _ours),
    ("protego", "protego", _protego),
    ("robotspy", "robotspy", _robotspy),
    ("fast-robotstxt", "fast-robotstxt", _fast_robotstxt),
]


def _version(dist: str | None) -> str:
    if dist is None:
        return "tdmcrawl " + metadata.version("tdmcrawl")
    return metadata.version(dist)


def _available(prepare: Prepare) -> bool:
    try:
        prepare("User-agent: *\nDisallow: /x\n")("a", "http://h/x")
    except ImportError:
        return False
    return True


def conformance(cases: list[dict], prepare: Prepare) -> dict[str, list[str]]:
    """Failed case ids, by yardstick."""
    failed: dict[str, list[str]] = {"rfc_all": [], "rfc_required": [], "google": []}
    for case in cases:
        try:
            got: bool | None = prepare(case["robotstxt"])(case["agent"], case["url"])
        except Exception:  # a crash counts as a failure, whatever its type
            got = None
        if got is not case["expected"]:
            failed["rfc_all"].append(case["id"])
            if case["authority"] != "googleonly":
                failed["rfc_required"].append(case["id"])
        if got is not case.get("google", case["expected"]):
            failed["google"].append(case["id"])
    return failed


def _urls(count: int) -> list[str]:
    rng = random.Random(9309)
    paths = [
        "/",
        "/news/{n}",
        "/news/2026/11/{n}.html",
        "/wp-admin/{n}",
        "/wp-admin/admin-ajax.php",
        "/private/press/{n}",
        "/private/{n}",
        "/search?q={n}",
        "/files/{n}.pdf",
        "/tag/ai/page/{n}/",
        "/post/{n}?replytocom={n}",
        "/қазақша/жабық/{n}",
        "/%D0%BA%D0%B0%D0%B7/{n}",
        "/category/{n}/feed/",
    ]
    return [
        "https://news.example.kz" + rng.choice(paths).format(n=rng.randrange(10_000))
        for _ in range(count)
    ]


def _large_file(text: str, rules: int = 5000) -> str:
    """The realistic file plus thousands of per-article Disallow lines, as
    news sites with generated robots.txt files have."""
    rng = random.Random(2309)
    extra = "".join(
        f"Disallow: /{rng.choice(['news', 'blog', 'archive'])}/{rng.randrange(10**6)}/\n"
        for _ in range(rules)
    )
    return text + extra


def speed(prepare: Prepare, text: str, agents: list[str], urls: list[str]) -> tuple[float, float]:
    """(parse ms, checks per second) for every (url, agent) pair."""
    start = time.perf_counter()
    check = prepare(text)
    parse_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    for url in urls:
        for agent in agents:
            check(agent, url)
    elapsed = time.perf_counter() - start
    return parse_ms, len(urls) * len(agents) / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=5000, help="URLs per speed run")
    parser.add_argument("--show-failures", action="store_true", help="list every failed case")
    args = parser.parse_args(argv)

    table = json.loads((DATA / "google_cases.json").read_text("utf-8"))["cases"]
    n_all = len(table)
    n_required = sum(c["authority"] != "googleonly" for c in table)
    text = (DATA / "ai_robots_style.txt").read_text("utf-8")
    urls = _urls(args.urls)
    ai_tokens = list(ai_training_tokens().tokens)

    print(f"Conformance: {n_all} cases ({n_required} RFC-required: rfc9309 + ai rows)")
    print(
        f"{'parser':16} {'version':16} {'RFC required':>13} {'all (RFC)':>10} {'all (Google)':>13}"
    )
    results = {}
    for name, dist, prepare in PARSERS:
        if not _available(prepare):
            print(f"{name:16} {'not installed':16}")
            continue
        failed = conformance(table, prepare)
        results[name] = (dist, prepare, failed)
        print(
            f"{name:16} {_version(dist):16} "
            f"{n_required - len(failed['rfc_required']):>6}/{n_required:<6} "
            f"{n_all - len(failed['rfc_all']):>4}/{n_all:<5} "
            f"{n_all - len(failed['google']):>6}/{n_all:<6}"
        )
    print()
    for name, (_, _, failed) in results.items():
        ids = failed["rfc_required"]
        tests = sorted({i.split("#")[0] for i in ids})
        print(
            f"{name}: fails {len(ids)} RFC-required case(s) in {len(tests)} test(s)"
            + (f": {', '.join(tests)}" if tests else "")
        )
        if args.show_failures and failed["rfc_all"]:
            print("   all failures:", ", ".join(failed["rfc_all"]))

    print(
        f"\nSpeed on {DATA.name}/ai_robots_style.txt ({len(text.splitlines())} lines), "
        f"{len(urls)} URLs"
    )
    print(f"{'parser':16} {'parse ms':>9} {'own token checks/s':>19} {'AI-token checks/s':>18}")
    for name, (_, prepare, _) in results.items():
        parse_ms, own = speed(prepare, text, ["tdmcrawl"], urls)
        ai_urls = urls[: max(1, len(urls) // 10)]
        _, ai = speed(prepare, text, ai_tokens, ai_urls)
        print(f"{name:16} {parse_ms:>9.2f} {own:>19,.0f} {ai:>18,.0f}")
    big = _large_file(text)
    big_urls = urls[: max(1, len(urls) // 10)]
    print(
        f"\nLarge file: {len(big) // 1024} KiB, {len(big.splitlines())} lines, "
        f"{len(big_urls)} URLs, own token"
    )
    print(f"{'parser':16} {'parse ms':>9} {'checks/s':>19}")
    for name, (_, prepare, _) in results.items():
        parse_ms, own = speed(prepare, big, ["tdmcrawl"], big_urls)
        print(f"{name:16} {parse_ms:>9.2f} {own:>19,.0f}")
    print(
        "\n(fast-robotstxt's API takes the file text on every check and re-parses it, so its "
        "parse time is inside checks/s)"
    )
    print(
        f"(AI-token checks: {len(ai_tokens)} tokens x {max(1, len(urls) // 10)} URLs, one "
        "check per pair; optout.ai_agents batches them with RobotsTxt.verdicts)"
    )
    robots = RobotsTxt.parse(text.encode("utf-8"))
    start = time.perf_counter()
    for url in urls:
        robots.verdicts(url, ai_tokens)
    rate = len(urls) * len(ai_tokens) / (time.perf_counter() - start)
    print(f"{'optout verdicts':16} {'':>9} {'':>19} {rate:>18,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
