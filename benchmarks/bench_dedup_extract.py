"""Main-content extraction: trafilatura vs resiliparse (vs a plain lxml pass), quality and speed.

    python benchmarks/bench_dedup_extract.py [--pages 300]

Generated news/forum pages in English, Russian and Kazakh: a header with
navigation, an advertisement box, the article (real text from
benchmarks/corpus), a "related stories" box with real sentences, a comment
block and a footer. Measured per engine, on word 5-gram shingles:
- kept: share of the article's shingles found in the extraction (higher is better)
- leaked: share of the boilerplate's shingles found in it (lower is better)
- speed: pages per second on one core
"""

from __future__ import annotations

import argparse
import html
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.corpus.build import SITES, pool
from tdmcrawl.dedup.extract import extract_main_text
from tdmcrawl.dedup.fingerprint import overlap
from tdmcrawl.dedup.text import shingle_hashes


def make_page(i: int, rnd: random.Random) -> tuple[str, str, str]:
    lang = ("en", "ru", "kk")[i % 3]
    lines = pool(lang)
    start = rnd.randrange(0, len(lines) - 60)
    article = lines[start : start + rnd.randint(15, 40)]
    other = [lines[rnd.randrange(len(lines))] for _ in range(10)]
    nav, footer = SITES[i % 3]
    esc = html.escape
    menu = "".join(f"<li><a href='/s{k}'>{esc(w)}</a></li>" for k, w in enumerate(nav.split("|")))
    related = "".join(f"<li><a href='/r{k}'>{esc(s)}</a></li>" for k, s in enumerate(other[:5]))
    comments = "".join(
        f"<div class='comment'><b>user{k}</b><p>{esc(s)}</p></div>"
        for k, s in enumerate(other[5:8])
    )
    paras = "".join(
        f"<p>{esc(' '.join(article[k : k + 3]))}</p>" for k in range(0, len(article), 3)
    )
    page = (
        f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'>"
        f"<title>{esc(article[0][:60])}</title><script>var ads = 1;</script>"
        f"<style>.x{{}}</style></head><body>"
        f"<header><div class='logo'>Example</div><nav><ul>{menu}</ul></nav></header>"
        f"<div class='banner ad'>{esc(other[8])}</div>"
        f"<main><article><h1>{esc(article[0][:80])}</h1>{paras}</article>"
        f"<section class='comments'><h3>Comments</h3>{comments}</section></main>"
        f"<aside class='related'><h3>Related stories</h3><ul>{related}</ul></aside>"
        f"<footer><p>{esc(footer)}</p><p>{esc(other[9])}</p></footer></body></html>"
    )
    boiler = " ".join([nav, footer, *other])
    return page, " ".join(article), boiler


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=300)
    args = ap.parse_args(argv)
    rnd = random.Random(5)
    pages = [make_page(i, rnd) for i in range(args.pages)]
    truth = [(shingle_hashes(a), shingle_hashes(b)) for _, a, b in pages]
    print(
        f"{len(pages)} pages (en/ru/kk), {np.mean([len(p[0]) for p in pages]) / 1000:.1f} KB "
        "of HTML each\n"
    )
    print(f"{'engine':<12} {'lang':<4} {'kept':>7} {'leaked':>7} {'empty':>6} {'pages/s':>8}")
    for engine in ("trafilatura", "resiliparse", "lxml"):
        t = time.perf_counter()
        texts = [extract_main_text(p[0], None, engine=engine) for p in pages]
        speed = len(pages) / (time.perf_counter() - t)
        for lang in ("all", "en", "ru", "kk"):
            kept, leaked, empty = [], [], 0
            for i, text in enumerate(texts):
                if lang != "all" and i % 3 != ("en", "ru", "kk").index(lang):
                    continue
                got = shingle_hashes(text)
                art, boil = truth[i]
                kept.append(overlap(got, art) / max(1, art.size))
                leaked.append(overlap(got, boil) / max(1, boil.size))
                empty += not text.strip()
            rate = f"{speed:>8.0f}" if lang == "all" else ""
            print(
                f"{engine:<12} {lang:<4} {np.mean(kept):>7.3f} {np.mean(leaked):>7.3f} "
                f"{empty:>6} {rate}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
