"""The reserved-works index at scale: build time, memory per work, queries per second.

    python benchmarks/bench_dedup_lsh.py [--works 1000000] [--queries 20000] [--compare 100000]

Works are synthetic fingerprints (140 random 64-bit shingle hashes each, so a
work keeps the full 16 band keys and 32 anchors, as a 5 KB text does); their
verification records go to an on-disk shingle file, as in production. Pages
are 650 shingles: "member" pages contain a work, "other" pages none.
Run in a fresh process: memory is the RSS growth while building, divided by
the number of works.

Rows:
- LSH bands: the 16 band look-ups alone (what datasketch's and rensa's LSH do); one
  query at a time with the fixed-width probe, and without it (the general path)
- candidates: bands + the page's anchors (~160 look-ups) -> works to verify
- verified query: candidates + exact verification read from the shingle file
Targets (issue 5): >= 100,000 queries/s on one core, <= 1 KiB per work.
--compare N also builds datasketch MinHashLSH and rensa RMinHashLSH with N works
(random signatures; they hold no verification data and no anchors).
--redis also times RedisIndex on a redis-server it starts on loopback.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.corpus.build import make_works
from tdmcrawl.dedup import DEFAULT_CONFIG, Fingerprint, MemoryIndex, fingerprint
from tdmcrawl.dedup.index import verify

CFG = DEFAULT_CONFIG


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def random_fp(rng: np.random.Generator, n: int) -> Fingerprint:
    sh = np.unique(rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True))
    pos = rng.permutation(sh.size).astype(np.uint32)
    return Fingerprint(sh, int(sh.size) + 4, CFG.identity, pos)


def page_with(work: Fingerprint | None, rng: np.random.Generator, size: int = 650) -> Fingerprint:
    extra = random_fp(rng, size - (0 if work is None else work.shingles.size)).shingles
    sh = extra if work is None else np.union1d(work.shingles, extra)
    return Fingerprint(sh, int(sh.size) + 4, CFG.identity)


def rate(label: str, count: int, seconds: float, unit: str = "queries/s") -> None:
    print(f"  {label:<46} {count / seconds:>12,.0f} {unit:<10} {seconds / count * 1e6:>8.1f} us")


def bench_ours(args: argparse.Namespace, tmp: Path) -> None:
    rng = np.random.default_rng(1)
    gc.collect()
    before = rss()
    t0 = time.perf_counter()
    index = MemoryIndex(CFG, shingle_file=tmp / "shingles.bin")
    chunk = 50_000
    sample: list[Fingerprint] = []
    for start in range(0, args.works, chunk):
        batch = [random_fp(rng, 140) for _ in range(min(chunk, args.works - start))]
        if len(sample) < 2000:
            sample += batch[: 2000 - len(sample)]
        index.add_many((f"w{start + i:07d}", fp) for i, fp in enumerate(batch))
        del batch
    build = time.perf_counter() - t0
    gc.collect()
    grown = rss() - before - sum(fp.shingles.nbytes + fp.positions.nbytes + 200 for fp in sample)
    table = index._table
    print(
        f"tdmcrawl MemoryIndex: {args.works:,} works built in {build:.1f}s "
        f"({args.works / build:,.0f} works/s)"
    )
    print(
        f"  memory: {grown / args.works:,.0f} B per work (RSS growth; candidate table "
        f"{table.nbytes / args.works:,.0f} B, {len(table) / args.works:.1f} keys per work; "
        f"the rest is keys and per-work bytes); verification file "
        f"{(tmp / 'shingles.bin').stat().st_size / args.works:,.0f} B per work on disk"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"  peak RSS while building: {peak:.2f} GB")
    t = time.perf_counter()
    index.save(tmp / "saved")
    saved = time.perf_counter() - t
    # steady-state memory: load the saved index in a fresh process (no build garbage)
    probe = (
        "import os, sys, time\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from tdmcrawl.dedup import MemoryIndex\n"
        "def rss():\n"
        "    pages = int(open('/proc/self/statm').read().split()[1])\n"
        "    return pages * os.sysconf('SC_PAGE_SIZE')\n"
        "b = rss(); t = time.perf_counter(); i = MemoryIndex.load(sys.argv[2])\n"
        "print(rss() - b, time.perf_counter() - t, len(i))\n"
    )
    root = str(Path(__file__).resolve().parents[1])
    out = subprocess.run(
        [sys.executable, "-c", probe, root, str(tmp / "saved")],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded_bytes, load_s, count = out.stdout.split()
    print(
        f"  saved in {saved:.1f}s; loaded in {float(load_s):.1f}s in a fresh process holding "
        f"{int(loaded_bytes) / int(count):,.0f} B per work in RAM (the figure for the target)"
    )

    q = args.queries
    members = [page_with(sample[i % len(sample)], rng) for i in range(q // 2)]
    others = [page_with(None, rng) for _ in range(q - q // 2)]
    pages = members + others
    for fp in pages:  # derived keys are cached per fingerprint; build them outside the timing
        fp.band_keys(CFG)
    # band look-ups: members are near-exact copies (what document-level LSH is for)
    bands = [fp.band_keys(CFG) for fp in sample[: q // 2]] + [fp.band_keys(CFG) for fp in others]

    t = time.perf_counter()
    hits = 0
    for b in bands:
        hits += table.lookup(b)[1].size > 0
    rate("LSH bands, one query at a time", len(bands), time.perf_counter() - t)
    found_members = hits

    def expand(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The general look-up path (exact bucket sizes, expansion): the alternative."""
        bucket = keys >> np.uint64(table._shift)
        lo = table._offsets[bucket].astype(np.intp)
        counts = table._offsets[bucket + 1].astype(np.intp) - lo
        return table._expand_lookup(keys, lo, counts)

    t = time.perf_counter()
    for b in bands:
        expand(b)
    rate("LSH bands, one at a time, without probing", len(bands), time.perf_counter() - t)
    t = time.perf_counter()
    for start in range(0, len(bands), 1000):
        table.lookup(np.concatenate(bands[start : start + 1000]))
    rate("LSH bands, batches of 1000", len(bands), time.perf_counter() - t)

    t = time.perf_counter()
    ncand = 0
    for fp in pages:
        ncand += index.candidates_many([fp]).size
    rate("candidates (bands + anchors), one at a time", q, time.perf_counter() - t)
    t = time.perf_counter()
    for start in range(0, q, 1000):
        index.candidates_many(pages[start : start + 1000])
    rate("candidates (bands + anchors), batches of 1000", q, time.perf_counter() - t)

    t = time.perf_counter()
    matched = sum(bool(m) for m in (index.query(fp) for fp in pages))
    rate("verified query, one at a time", q, time.perf_counter() - t)
    t = time.perf_counter()
    for start in range(0, q, 1000):
        index.query_many(pages[start : start + 1000])
    rate("verified query, batches of 1000", q, time.perf_counter() - t)
    print(
        f"  member pages found: {matched}/{len(members)} (exact copies with a band hit: "
        f"{found_members}/{len(sample[: q // 2])}, other pages with one: "
        f"{found_members - len(sample[: q // 2])}); "
        f"candidates per query {ncand / q:.2f}; false matches on other pages: "
        f"{matched - len(members) if matched > len(members) else 0}"
    )
    index.close()


def bench_verification() -> None:
    """Exact verification on real 5 KB texts: the cost per candidate pair."""
    works = [w for w in make_works() if len(w.text) > 1200][:400]
    fps = [fingerprint(w.text) for w in works]
    pages = [
        fingerprint("Home News\n" + w.text + " footer " + works[(i + 7) % len(works)].text)
        for i, w in enumerate(works)
    ]
    records = [(f.shingles, f.positions, f.words) for f in fps]
    pairs = [(p, r) for p in pages[:200] for r in records[:20]]
    t = time.perf_counter()
    for p, r in pairs:
        verify(p, "k", r, CFG)
    sizes = np.mean([len(f) for f in fps[:20]]), np.mean([len(p) for p in pages[:200]])
    rate(
        f"verify (work {sizes[0]:.0f} / page {sizes[1]:.0f} shingles)",
        len(pairs),
        time.perf_counter() - t,
        "pairs/s",
    )


def bench_redis() -> None:
    """RedisIndex on a real redis-server started on loopback (needs redis-server installed)."""
    from tdmcrawl.dedup import RedisIndex
    from tests.support.redis import redis_server

    works = make_works()
    fps = [(w.key, fingerprint(w.text)) for w in works]
    pages = [
        fingerprint("Home | News\n" + w.text + "\nFooter", positions=False) for w in works[:1000]
    ]
    with redis_server() as (host, port):
        index = RedisIndex(CFG, host=host, port=port, namespace="bench")
        t = time.perf_counter()
        index.add_many(fps)
        rate(
            f"RedisIndex add ({len(fps)} real works)", len(fps), time.perf_counter() - t, "works/s"
        )
        t = time.perf_counter()
        found = sum(bool(index.query(fp)) for fp in pages)
        rate(
            "RedisIndex verified query (copies), one at a time", len(pages), time.perf_counter() - t
        )
        t = time.perf_counter()
        index.query_many(pages)
        rate("RedisIndex verified query, one batch", len(pages), time.perf_counter() - t)
        print(f"  copies found: {found}/{len(pages)}")


def bench_compare(n: int, library: str) -> None:
    import rensa
    from datasketch import LeanMinHash, MinHashLSH

    rng = np.random.default_rng(2)
    sigs = rng.integers(0, 2**32, size=(n, 128), dtype=np.uint64).astype(np.uint32)
    names = {
        "datasketch": "datasketch MinHashLSH(params=(16, 8))",
        "rensa": "rensa RMinHashLSH(0.5, 128, 16)",
    }
    for name in (names[library],):
        gc.collect()
        before = rss()
        t = time.perf_counter()
        if name.startswith("datasketch"):
            lsh = MinHashLSH(num_perm=128, params=(16, 8))
            mhs = []
            for i in range(n):
                m = LeanMinHash(seed=1, hashvalues=sigs[i], scheme="affine32")
                lsh.insert(i, m, check_duplication=False)
                if i < 20000:
                    mhs.append(m)
            query = lsh.query
        else:
            lsh = rensa.RMinHashLSH(0.5, 128, 16)
            mhs = []
            for start in range(0, n, 10000):
                batch = []
                for i in range(start, min(n, start + 10000)):
                    r = rensa.RMinHash(128, 1)
                    r.update([str(x) for x in sigs[i, :8].tolist()])
                    batch.append(r)
                for j, r in enumerate(batch):
                    lsh.insert(start + j, r)
                if len(mhs) < 20000:
                    mhs += batch[: 20000 - len(mhs)]
            query = lsh.query
        build = time.perf_counter() - t
        gc.collect()
        per = (rss() - before) / n
        t = time.perf_counter()
        for m in mhs:
            query(m)
        dt = time.perf_counter() - t
        print(
            f"{name}: {n:,} works built in {build:.1f}s; {per:,.0f} B per work (RSS, incl. "
            "the signatures it needs); "
            f"{len(mhs) / dt:,.0f} member queries/s ({dt / len(mhs) * 1e6:.1f} us)"
        )
        del lsh, mhs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--works", type=int, default=200_000, help="works to index (the issue's figure: 1000000)"
    )
    ap.add_argument("--queries", type=int, default=20_000)
    ap.add_argument(
        "--compare",
        type=int,
        default=0,
        help="also build datasketch and rensa LSH with this many works",
    )
    ap.add_argument("--redis", action="store_true", help="also time RedisIndex (redis-server)")
    ap.add_argument("--compare-only", choices=["datasketch", "rensa"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.compare_only:
        bench_compare(args.compare, args.compare_only)
        return 0
    with tempfile.TemporaryDirectory(prefix="dedup-lsh-") as tmp:
        bench_ours(args, Path(tmp))
    print("verification on real texts:")
    bench_verification()
    if args.redis:
        print("Redis (loopback):")
        bench_redis()
    for library in ("datasketch", "rensa") if args.compare else ():
        # each in a fresh process, so that one's freed memory is not the other's RSS
        subprocess.run(
            [sys.executable, __file__, "--compare", str(args.compare), "--compare-only", library],
            check=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
