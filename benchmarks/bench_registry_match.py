"""URL-rule matching with 100k registry rules: the host index against a linear scan.

Prints one table: microseconds per URL for URLs on hosts without rules (most of
a crawl), on hosts with rules, and for a linear scan over every rule (the naive
alternative), plus the time to load 100k rules from a registry file.

    python benchmarks/bench_registry_match.py [--rules 100000]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from tdmcrawl.registry import RegistryReader, tokens
from tdmcrawl.registry.entries import new_id, utc_now
from tdmcrawl.registry.matcher import UrlMatcher
from tdmcrawl.registry.store import NewEntry, Registry
from tdmcrawl.registry.urlrules import (
    RuleKind,
    UrlRule,
    match_key,
    normalize_url,
    parse_domain,
    parse_url_pattern,
)

WORDS = [
    "news",
    "blog",
    "kitap",
    "adebiet",
    "makala",
    "zhanalyk",
    "sport",
    "ilim",
    "madeniet",
    "tarih",
]
TLDS = ["kz", "ru", "com", "org", "қаз"]


def make_rules(n: int, rng: random.Random) -> list[UrlRule]:
    rules = []
    for i in range(n):
        host = f"{rng.choice(WORDS)}{i}.{rng.choice(TLDS)}"
        kind = i % 10
        if kind < 4:
            rules.append(parse_domain(host))
        elif kind < 7:
            rules.append(parse_url_pattern(f"https://{host}/{rng.choice(WORDS)}/*"))
        else:
            rules.append(parse_url_pattern(f"https://{host}/{rng.choice(WORDS)}/{i}.html"))
    return rules


def make_urls(rules: list[UrlRule], count: int, rng: random.Random) -> tuple[list[str], list[str]]:
    misses = [
        f"https://www.{rng.choice(WORDS)}-{i}.example/{rng.choice(WORDS)}/{i}?page={i % 7}"
        for i in range(count)
    ]
    hits = []
    for i in range(count):
        rule = rng.choice(rules)
        if rule.kind is RuleKind.DOMAIN:
            hits.append(f"https://www.{rule.host}/{rng.choice(WORDS)}/{i}")
        elif rule.kind is RuleKind.PREFIX:
            hits.append(f"http://{rule.key}{i}?utm={i}")
        else:
            # Same host, another page: indexed host, no rule for this path.
            hits.append(f"https://{rule.host}/other/{i}.html")
    return misses, hits


def linear_match(rules: list[UrlRule], url: str) -> bool:
    key = match_key(normalize_url(url))
    host = key.split("/", 1)[0]
    for rule in rules:
        if rule.kind is RuleKind.URL and key == rule.key:
            return True
        if rule.kind is RuleKind.PREFIX and key.startswith(rule.key):
            return True
        if rule.kind is RuleKind.DOMAIN and (host == rule.host or host.endswith("." + rule.host)):
            return True
    return False


def per_url_us(func, urls: list[str], repeat: int = 3) -> float:
    best = []
    for _ in range(repeat):
        start = time.perf_counter()
        for url in urls:
            func(url)
        best.append((time.perf_counter() - start) / len(urls) * 1e6)
    return min(best)


def build_registry_file(path: Path, rules: list[UrlRule]) -> float:
    token_hash = tokens.hash_token(tokens.new_token())  # one hash: the bench is not about scrypt
    start = time.perf_counter()
    with Registry(path) as reg, reg._write():
        for rule in rules:
            now = utc_now()
            reg._insert_unchecked(
                NewEntry(
                    id=new_id(),
                    kind=rule.kind,
                    pattern=rule.pattern,
                    rule_key=rule.key,
                    host=rule.host,
                    scope="train-ai",
                    author="bench",
                    email=None,
                    title=None,
                    created_at=now,
                    updated_at=now,
                    token_hash=token_hash,
                )
            )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=100_000)
    parser.add_argument("--urls", type=int, default=20_000)
    args = parser.parse_args()
    rng = random.Random(42)
    rules = make_rules(args.rules, rng)
    misses, hits = make_urls(rules, args.urls, rng)

    start = time.perf_counter()
    matcher: UrlMatcher[int] = UrlMatcher((rule, i) for i, rule in enumerate(rules))
    build_s = time.perf_counter() - start
    matched = sum(bool(matcher.match(u)) for u in hits)

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.sqlite"
        write_s = build_registry_file(db, rules)
        start = time.perf_counter()
        reader = RegistryReader(db)
        load_s = time.perf_counter() - start
        assert len(reader) == len(rules)
        reader_hit = per_url_us(reader.match_url, hits)
        reader.close()

    linear_sample = hits[:30] + misses[:30]
    rows = [
        ("host index, URL on a host without rules", per_url_us(matcher.match, misses)),
        ("host index, URL on a host with rules", per_url_us(matcher.match, hits)),
        ("RegistryReader.match_url, host with rules", reader_hit),
        ("normalize_url alone (w3lib canonicalize)", per_url_us(normalize_url, hits)),
        (
            "linear scan over every rule (60 URLs)",
            per_url_us(lambda u: linear_match(rules, u), linear_sample, repeat=1),
        ),
    ]
    print(
        f"URL-rule matching, {len(rules):,} rules "
        f"(40% domains, 30% prefixes, 30% exact URLs); {args.urls:,} URLs per row"
    )
    print(f"{'method':<46} {'µs/URL':>10} {'URLs/s':>12}")
    for name, us in rows:
        print(f"{name:<46} {us:>10.2f} {1e6 / us:>12,.0f}")
    print(
        f"\nhits among 'with rules' URLs: {matched:,}/{len(hits):,} "
        f"(exact-rule hosts get other pages, which must not match)"
    )
    print(
        f"build index in memory: {build_s:.2f} s; write {len(rules):,} entries to SQLite: "
        f"{write_s:.2f} s; RegistryReader load: {load_s:.2f} s"
    )


if __name__ == "__main__":
    main()
