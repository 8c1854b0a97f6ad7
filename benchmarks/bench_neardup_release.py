"""What the near-duplicate gate and the release step cost per page, and the spool per page.

Offline (no crawl): pages are made of random runs of real Kazakh, Russian and
English sentences (benchmarks/corpus). It measures, on one core:

* the gate: fingerprint (no positions) + verified query of one page against an
  index of ``--reserved`` works, and the spool write that follows;
* the end-of-crawl pass over ``--pages`` spooled pages, side by side:
  batched (what ``NearDuplicateGate.release_all`` does: 512 pages per
  ``query_many``, fingerprints read back from the SQLite spool) against one
  query per page, and against the generation skip (nothing added since the
  pages were checked: nothing to query);
* bytes on disk per spooled page against the bytes of its text.

    python benchmarks/bench_neardup_release.py --pages 5000 --reserved 5000
"""

from __future__ import annotations

import argparse
import gzip
import random
import tempfile
import time
from pathlib import Path

from tdmcrawl.crawler.gates.neardup import BATCH, PageSpool
from tdmcrawl.crawler.reserved import CRAWL_PREFIX, ReservedWorks
from tdmcrawl.dedup import DEFAULT_CONFIG, Fingerprint, MemoryIndex, fingerprint
from tdmcrawl.optout.decision import Decision

CORPUS = Path(__file__).resolve().parent / "corpus"


def sentences() -> list[str]:
    lines: list[str] = []
    for lang in ("kk", "ru", "en"):
        with gzip.open(CORPUS / f"{lang}.lines.gz", "rt", encoding="utf-8") as fh:
            lines += [line.strip() for line in fh if len(line.split()) >= 4]
    return lines


def make_text(pool: list[str], rng: random.Random, words: int = 300) -> str:
    out: list[str] = []
    while sum(len(s.split()) for s in out) < words:
        start = rng.randrange(len(pool) - 20)
        out += pool[start : start + rng.randint(3, 8)]
    return " ".join(out)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--reserved", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    pool = sentences()
    rng.shuffle(pool)
    half = len(pool) // 2  # reserved works and pages from disjoint sentences
    reserved = [make_text(pool[:half], rng) for _ in range(args.reserved)]
    pages = [make_text(pool[half:], rng) for _ in range(args.pages)]
    # One page in 50 copies a reserved work: the release step has something to find.
    for i in range(0, args.pages, 50):
        pages[i] = "Көшірме. " + reserved[i % args.reserved]

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        works = ReservedWorks(MemoryIndex(DEFAULT_CONFIG, shingle_file=work / "shingles.bin"))
        fps = [fingerprint(t) for t in reserved]
        t_index = timed(
            lambda: works.index.add_many(
                (f"{CRAWL_PREFIX}https://r.example/{i}", fp) for i, fp in enumerate(fps) if fp
            )
        )
        spool = PageSpool(work / "spool.sqlite")
        page_fps: list[Fingerprint] = []

        def gate() -> None:
            for text in pages:
                fp = fingerprint(text, DEFAULT_CONFIG, positions=False)
                works.matches([fp])
                page_fps.append(fp)

        t_gate = timed(gate)

        def spool_pages() -> None:
            for i, fp in enumerate(page_fps):
                url = f"https://p.example/{i}"
                spool.put(url, fp.to_bytes(), Decision(url=url), 0)
                spool.release(url, f"f{i // 1000}.warc.gz", f"<urn:uuid:{i}>", 0)

        t_spool = timed(spool_pages)
        works._bump()  # something was added after the pages were checked

        found = [0]

        def batched() -> None:
            for batch in spool.released_unchecked(works.generation):
                fp_batch = [Fingerprint.from_bytes(row[1]) for row in batch]
                found[0] += sum(1 for m in works.matches(fp_batch) if m)

        t_batched = timed(batched)
        single = [0]

        def one_by_one() -> None:
            for batch in spool.released_unchecked(works.generation):
                for row in batch:
                    single[0] += bool(works.index.query(Fingerprint.from_bytes(row[1])))

        t_single = timed(one_by_one)
        t_skip = timed(lambda: sum(1 for _ in spool.released_unchecked(0)))
        spool.close()
        spool_bytes = sum(p.stat().st_size for p in work.glob("spool.sqlite*"))
        text_bytes = sum(len(t.encode()) for t in pages)

    n = args.pages
    print(
        f"near-duplicate gate and release step: {n} pages, {args.reserved} reserved works, "
        f"batch {BATCH}, one core\n"
    )
    rows = [
        ("index build (reserved works)", t_index, args.reserved),
        ("gate: fingerprint + query", t_gate, n),
        ("spool: put + release", t_spool, n),
        ("final pass: batched (release_all)", t_batched, n),
        ("final pass: one query per page", t_single, n),
        ("final pass: generation skip", t_skip, n),
    ]
    print(f"{'step':36} {'total s':>9} {'µs/page':>9} {'pages/s':>10}")
    for name, seconds, count in rows:
        rate = f"{count / seconds:10.0f}" if seconds > 1e-3 else f"{'no query':>10}"
        print(f"{name:36} {seconds:9.3f} {seconds / count * 1e6:9.0f} {rate}")
    print(
        f"\ncopies found by the final pass: batched {found[0]}, one by one {single[0]} "
        f"(planted: {len(range(0, n, 50))})"
    )
    print(
        f"spool on disk: {spool_bytes / n:.0f} bytes/page; page text: {text_bytes / n:.0f} "
        f"bytes/page (never stored)"
    )


if __name__ == "__main__":
    main()
