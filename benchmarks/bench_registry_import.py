"""Bulk `registry import` of rows without a token hash: 100k rows, new against old.

Each such row gets a new removal token. The old code stored a salted scrypt
hash of it (about 50 ms a row); the new one a SHA-256 digest (the token is 192
random bits: see registry/tokens.py). The old way is timed on a sample and
extrapolated (100,000 rows would take over an hour); the new one imports all
rows into a new registry, as `tdmcrawl registry import` does, and reports the
rows per second of each step.

    python benchmarks/bench_registry_import.py [--rows 100000] [--sample 200]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from tdmcrawl.registry import Registry, tokens
from tdmcrawl.registry.transfer import import_text


def make_rows(n: int) -> str:
    kinds = ("domain", "prefix", "url")
    lines = []
    for i in range(n):
        kind = kinds[i % 3]
        host = f"сайт{i}.kz" if i % 5 == 0 else f"site{i}.example.org"
        pattern = {
            "domain": host,
            "prefix": f"https://{host}/блог/*",
            "url": f"https://{host}/page/{i}",
        }[kind]
        lines.append(json.dumps({"kind": kind, "pattern": pattern, "author": f"Автор {i}"}))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=200)
    args = parser.parse_args()

    start = time.perf_counter()
    for _ in range(args.sample):
        tokens.scrypt_hash_token(tokens.new_token())
    scrypt_each = (time.perf_counter() - start) / args.sample

    start = time.perf_counter()
    for _ in range(args.sample * 100):
        tokens.hash_token(tokens.new_token())
    sha_each = (time.perf_counter() - start) / (args.sample * 100)

    text = make_rows(args.rows)
    steps: dict[str, float] = {}
    last = [time.perf_counter()]

    def progress(done: int, total: int, step: str) -> None:
        if done == total or step == "written":
            now = time.perf_counter()
            steps[step] = now - last[0]
            last[0] = now

    with tempfile.TemporaryDirectory() as scratch:
        db = Path(scratch) / "r.sqlite"
        start = time.perf_counter()
        with Registry(db) as reg:
            last[0] = time.perf_counter()
            report = import_text(reg, text, "jsonl", "bench", progress=progress)
        total = time.perf_counter() - start
        size = db.stat().st_size
    assert len(report.added) == args.rows

    print(f"registry import of {args.rows:,} rows without token_hash (jsonl)")
    print(f"{'method':<44} {'per row':>10} {'rows':>10} {'total':>10}")
    old_total = scrypt_each * args.rows
    print(
        f"{'old: scrypt hash per new token (extrapolated)':<44} {scrypt_each * 1e3:>8.2f}ms"
        f" {args.rows:>10,} {old_total / 60:>8.1f}min"
    )
    print(
        f"{'  of which hashing, new: sha256 per token':<44} {sha_each * 1e6:>8.2f}µs"
        f" {args.rows:>10,} {sha_each * args.rows:>9.2f}s"
    )
    print(
        f"{'new: whole import (check + write)':<44} {total / args.rows * 1e6:>8.1f}µs"
        f" {args.rows:>10,} {total:>9.1f}s"
    )
    for step, seconds in steps.items():
        print(f"{'  ' + step:<44} {seconds / args.rows * 1e6:>8.1f}µs {'':>10} {seconds:>9.1f}s")
    print(f"speed-up: {old_total / total:,.0f}x; registry file {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
