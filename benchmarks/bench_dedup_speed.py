"""Signature and end-to-end speed on 5 KB pages, side by side in one run, plus estimate accuracy.

    python benchmarks/bench_dedup_speed.py [--docs 2000] [--rounds 3]

Every method gets the same documents (5 KB of real English, Russian and
Kazakh text from benchmarks/corpus) and, end to end, goes from raw text to
LSH candidates: normalise, shingle (word 5-grams), sign (128 values), query
an index of 100 distinct reserved works (LSH at scale: bench_dedup_lsh.py).
Methods are timed round-robin (each round times every method once) and the
median is reported: the VM is noisy.

- datasketch: MinHash.update_batch (SHA-1, affine32) and MinHash.bulk, MinHashLSH(0.5)
- rensa: RMinHash.update on the same Python shingles, RMinHashLSH
- numpy-classic: 128 affine permutations over our uint64 shingle hashes
- tdmcrawl: dedup.fingerprint (NumPy shingle hashing + one-permutation MinHash)
  and MemoryIndex.query / query_many (bands + anchors + exact verification)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.corpus.build import pool
from tdmcrawl.dedup import DEFAULT_CONFIG, MemoryIndex, fingerprint, normalize
from tdmcrawl.dedup.fingerprint import overlap
from tdmcrawl.dedup.minhash import estimate_jaccard
from tdmcrawl.dedup.text import shingle_hashes

NUM_PERM = 128


def make_docs(
    count: int, region: tuple[float, float] = (0.0, 0.7), langs=("en", "ru", "kk"), size=5000
) -> list[str]:
    """``count`` pages of ``size`` bytes: consecutive lines of a region of each language's pool.

    The pools are small, so pages repeat once a region is used up; the reserved
    works come from another region, so pages share no text with them by chance.
    """
    docs = []
    spans = {}
    for lang in langs:
        n = len(pool(lang))
        spans[lang] = (int(n * region[0]), max(int(n * region[0]) + 1, int(n * region[1])))
    offsets = {lang: spans[lang][0] for lang in langs}
    for i in range(count):
        lang = langs[i % len(langs)]
        lines, out, n = pool(lang), [], 0
        lo, hi = spans[lang]
        while n < size:
            line = lines[offsets[lang]]
            offsets[lang] = offsets[lang] + 1 if offsets[lang] + 1 < hi else lo
            out.append(line)
            n += len(line.encode())
        docs.append(" ".join(out).encode()[:size].decode(errors="ignore"))
    return docs


def py_shingles(text: str, n: int = 5) -> set[bytes]:
    words = normalize(text).split()
    return {" ".join(words[i : i + n]).encode() for i in range(len(words) - n + 1)}


class Classic:
    """Classic MinHash in NumPy: 128 affine permutations of 32-bit mixed shingle hashes."""

    def __init__(self, seed: int = 1) -> None:
        rng = np.random.default_rng(seed)
        self.a = (rng.integers(0, 2**31, NUM_PERM, dtype=np.uint64) * 2 + 1)[:, None]
        self.b = rng.integers(0, 2**32, NUM_PERM, dtype=np.uint64)[:, None]

    def __call__(self, shingles: np.ndarray) -> np.ndarray:
        h = (shingles >> np.uint64(32)) ^ (shingles & np.uint64(0xFFFFFFFF))
        return ((self.a * h[None, :] + self.b) & np.uint64(0xFFFFFFFF)).min(axis=1)


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def accuracy(docs: list[str], pairs: int = 200) -> dict[str, tuple[float, float]]:
    """Bias and MAE of each method's Jaccard estimate against the exact value."""
    import rensa
    from datasketch import MinHash

    rng = np.random.default_rng(3)
    classic = Classic()
    errors: dict[str, list[float]] = {
        "datasketch": [],
        "rensa": [],
        "numpy-classic": [],
        "tdmcrawl-oph": [],
    }
    for i in range(pairs):
        words = docs[i].split()
        share = rng.uniform(0.02, 0.35)
        edited = list(words)
        for j in rng.choice(len(words), int(len(words) * share), replace=False):
            edited[j] = "zx" + edited[j]
        a_text, b_text = docs[i], " ".join(edited)
        sa, sb = py_shingles(a_text), py_shingles(b_text)
        exact_py = len(sa & sb) / len(sa | sb)
        ha, hb = shingle_hashes(a_text), shingle_hashes(b_text)
        exact = overlap(ha, hb) / (ha.size + hb.size - overlap(ha, hb))
        m1, m2 = MinHash(num_perm=NUM_PERM), MinHash(num_perm=NUM_PERM)
        m1.update_batch(list(sa))
        m2.update_batch(list(sb))
        errors["datasketch"].append(m1.jaccard(m2) - exact_py)
        r1, r2 = rensa.RMinHash(NUM_PERM, 1), rensa.RMinHash(NUM_PERM, 1)
        r1.update([s.decode() for s in sa])
        r2.update([s.decode() for s in sb])
        errors["rensa"].append(r1.jaccard(r2) - exact_py)
        errors["numpy-classic"].append(float(np.mean(classic(ha) == classic(hb))) - exact)
        fa, fb = fingerprint(a_text), fingerprint(b_text)
        errors["tdmcrawl-oph"].append(estimate_jaccard(fa.signature(), fb.signature()) - exact)
    return {k: (float(np.mean(v)), float(np.mean(np.abs(v)))) for k, v in errors.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)

    import rensa
    from datasketch import MinHash, MinHashLSH

    docs = make_docs(args.docs)
    # distinct reserved works: as many 5 KB texts as the held-out English/Russian lines give
    works = make_docs(100, region=(0.7, 1.0), langs=("en", "ru"))
    # a tenth of the pages copy a work, so queries also pay for verification
    for i in range(0, len(docs), 10):
        docs[i] = "Home | News | Login\n" + works[i % len(works)] + "\nAll rights reserved."
    mb = sum(len(d.encode()) for d in docs) / 1e6
    print(
        f"{len(docs)} pages, {mb * 1e6 / len(docs):.0f} bytes each on average, "
        f"{len(works)} reserved works indexed; {args.rounds} rounds, medians\n"
    )

    # indexes for each stack
    ds_lsh = MinHashLSH(threshold=0.5, num_perm=NUM_PERM)
    r_lsh = rensa.RMinHashLSH(0.5, NUM_PERM, 16)
    ours = MemoryIndex(DEFAULT_CONFIG)
    for k, w in enumerate(works):
        sh = py_shingles(w)
        m = MinHash(num_perm=NUM_PERM)
        m.update_batch(list(sh))
        ds_lsh.insert(f"w{k}", m)
        r = rensa.RMinHash(NUM_PERM, 1)
        r.update([s.decode() for s in sh])
        r_lsh.insert(k, r)
        ours.add(f"w{k}", fingerprint(w))

    pre_shingles = [list(py_shingles(d)) for d in docs]
    pre_hashes = [shingle_hashes(d) for d in docs]
    classic = Classic()
    proto = MinHash(num_perm=NUM_PERM)

    def ds_e2e() -> None:
        for d in docs:
            m = MinHash(num_perm=NUM_PERM)
            m.update_batch(list(py_shingles(d)))
            ds_lsh.query(m)

    def ds_bulk_e2e() -> None:
        for m in MinHash.bulk([list(py_shingles(d)) for d in docs], num_perm=NUM_PERM):
            ds_lsh.query(m)

    def rensa_e2e() -> None:
        for d in docs:
            r = rensa.RMinHash(NUM_PERM, 1)
            r.update([s.decode() for s in py_shingles(d)])
            r_lsh.query(r)

    def ours_e2e() -> None:
        for d in docs:
            fp = fingerprint(d, positions=False)  # a page to check, not a work to add
            if fp is not None:
                ours.query(fp)

    def ours_batch_e2e() -> None:
        for start in range(0, len(docs), 256):
            fps = [fingerprint(d, positions=False) for d in docs[start : start + 256]]
            ours.query_many([f for f in fps if f is not None])

    def ds_sign() -> None:
        for s in pre_shingles:
            m = proto.copy()
            m.update_batch(s)

    def rensa_sign() -> None:
        for s in pre_shingles:
            r = rensa.RMinHash(NUM_PERM, 1)
            r.update([x.decode() for x in s])

    def classic_sign() -> None:
        for h in pre_hashes:
            classic(h)

    def oph_sign() -> None:
        from tdmcrawl.dedup.minhash import signature

        for h in pre_hashes:
            signature(h, NUM_PERM)

    def py_pre() -> None:
        for d in docs:
            py_shingles(d)

    def np_pre() -> None:
        for d in docs:
            shingle_hashes(d)

    def ours_fp() -> None:
        for d in docs:
            fingerprint(d, positions=False)

    def ours_fp_pos() -> None:
        for d in docs:
            fingerprint(d)

    methods: list[tuple[str, Callable[[], None]]] = [
        ("pre: Python normalise + 5-gram string set", py_pre),
        ("pre: tdmcrawl NumPy normalise + 5-gram hashes", np_pre),
        ("sign: datasketch copy()+update_batch (sha1)", ds_sign),
        ("sign: rensa RMinHash.update (strings)", rensa_sign),
        ("sign: numpy classic 128 permutations (uint64 in)", classic_sign),
        ("sign: tdmcrawl one-permutation (uint64 in)", oph_sign),
        ("fingerprint: tdmcrawl page (text in)", ours_fp),
        ("fingerprint: tdmcrawl work, with positions", ours_fp_pos),
        ("e2e: datasketch update_batch + MinHashLSH", ds_e2e),
        ("e2e: datasketch MinHash.bulk + MinHashLSH", ds_bulk_e2e),
        ("e2e: rensa (Python shingles) + RMinHashLSH", rensa_e2e),
        ("e2e: tdmcrawl fingerprint + query (verified)", ours_e2e),
        ("e2e: tdmcrawl fingerprint + query_many(256)", ours_batch_e2e),
    ]
    times: dict[str, list[float]] = {name: [] for name, _ in methods}
    for _ in range(args.rounds):
        for name, fn in methods:
            times[name].append(timed(fn))
    med = {name: statistics.median(v) for name, v in times.items()}
    ds = med["e2e: datasketch update_batch + MinHashLSH"]
    rs = med["e2e: rensa (Python shingles) + RMinHashLSH"]
    print(
        f"{'method':<50} {'pages/s':>9} {'us/page':>8} {'MB/s':>6} {'x ds e2e':>9} "
        f"{'x rensa e2e':>11}"
    )
    for name, _ in methods:
        t = med[name]
        print(
            f"{name:<50} {len(docs) / t:>9,.0f} {t / len(docs) * 1e6:>8.0f} {mb / t:>6.1f} "
            f"{ds / t:>9.2f} {rs / t:>11.2f}"
        )

    print("\nJaccard estimate vs exact (200 pairs, 2-35 % of words edited):")
    print(f"{'sketch':<16} {'bias':>8} {'MAE':>8}")
    for name, (bias, mae) in accuracy(docs).items():
        print(f"{name:<16} {bias:>+8.4f} {mae:>8.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
