"""`tdmcrawl filter` throughput on a generated WARC, beside a plain warcio copy.

Builds one gzipped WARC of N pages (request, response and metadata records
each; 20 origins with robots.txt captures; about one page in ten reserved by
a header, a meta tag or robots.txt; Kazakh and Russian text), then times:

- ``warcio copy``: ArchiveIterator -> WARCWriter of every record (re-serialised,
  what a naive filter that decides nothing would cost);
- ``filter --no-near-duplicates``: the three passes, policy only;
- ``filter``: the same plus text extraction, fingerprints and the LSH check.

    python benchmarks/bench_filter.py [--pages 2000]

``--scaling``: the same filter over at least 20 WARC files of a crawl of the
realistic loopback web (``../shared/bench/realweb.py``: 20-80 KB news pages,
every 10th page ``noai``, crawled with ``TDMCRAWL_NOAI=False`` so those pages
are in the input), in one process and on a Dask local cluster of 1, 2 and 4
workers, side by side: records/s with and without the cluster's start (the
workers' imports count with the start), and the CPU seconds of all processes.

    python benchmarks/bench_filter.py --scaling [--per-origin 300] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' WARC builders

from tdmcrawl.crawler.filter import FilterOptions, FilterResult, filter_warc_files
from tests.support.filter import Cap, page, robots, write_warc
from tests.support.registry import work_text

ORIGINS = 20


def build(path: Path, pages: int) -> None:
    caps = []
    for o in range(ORIGINS):
        rules = "User-agent: *\nAllow: /\n" + ("Disallow: /closed/\n" if o % 4 == 0 else "")
        caps.append(robots(f"https://site{o}.kz", rules))
    for i in range(pages):
        origin = f"https://site{i % ORIGINS}.kz"
        text = work_text(i, words=300) + " Русский абзац для проверки."
        headers = [("Content-Type", "text/html; charset=utf-8")]
        head, path_ = "", f"/page/{i}"
        if i % 30 == 1:
            headers.append(("TDM-Reservation", "1"))
        elif i % 30 == 2:
            head = "<meta name='robots' content='noai'>"
        elif i % 30 == 3:
            path_ = f"/closed/{i}"
        caps.append(Cap(origin + path_, page(f"Бет {i}", text, head), headers))
    write_warc(path, caps)


def warcio_copy(source: Path, target: Path) -> int:
    count = 0
    with open(source, "rb") as inp, open(target, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        for record in ArchiveIterator(inp):
            writer.write_record(record)
            count += 1
    return count


def crawl_realweb(out: Path, per_origin: int, warc_size: int) -> list[Path]:
    """A crawl of the realistic web into ``out``: its WARC files (about 20 or more)."""
    shared = Path(__file__).resolve().parents[2] / "shared" / "bench"
    if not shared.is_dir():
        shared = Path("/work/shared/bench")
    sys.path.insert(0, str(shared))
    import realweb  # the shared benchmark web, outside the repository

    from tests.support.web import FAST, tdmcrawl

    origins, _ = realweb.build(per_origin, n_origins=4, reserved_every=10)
    try:
        done = tdmcrawl(
            "crawl",
            *(origin.base + "/" for origin in origins),
            "--out",
            str(out),
            "--progress",
            "0",
            *FAST,
            "-s",
            "CONCURRENT_REQUESTS=32",
            "-s",
            "TDMCRAWL_NOAI=False",
            "-s",
            f"TDMCRAWL_WARC_MAX_SIZE={warc_size}",
            timeout=1800,
        )
        if done.returncode != 0:
            raise SystemExit(f"the crawl of the benchmark web failed: {done.stderr}")
    finally:
        for origin in origins:
            origin.stop()
    return sorted((out / "warc").glob("*.warc.gz"))


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process (run on each Dask worker too)."""
    times = os.times()
    return times.user + times.system


def _warm() -> None:
    """What a worker imports on its first task (Scrapy, trafilatura, lxml...): once per worker."""
    import tdmcrawl.crawler.filter.parallel  # noqa: F401
    from tdmcrawl.dedup import extract_main_text

    extract_main_text("<html><body><article><p>warm</p></article></body></html>")


def _cluster_cpu(client: Any) -> float:
    return sum(client.run(_cpu_seconds).values()) + _cpu_seconds()


def scaling(per_origin: int, workers: list[int], warc_size: int, rounds: int) -> None:
    from tdmcrawl.crawler.filter.parallel import close_client, dask_client, filter_on_dask

    # setup -> per round: (s with the cluster's start, s filtering, CPU s filtering, result)
    runs: dict[str, list[tuple[float, float, float, FilterResult]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        inputs = crawl_realweb(root / "crawl", per_origin, warc_size)
        evidence = root / "crawl" / "evidence"
        size = sum(p.stat().st_size for p in inputs)
        # Rounds alternate the setups, so that a busy minute on a shared machine does not
        # fall on one of them only; the best round of each is reported.
        for round_ in range(rounds):
            start, cpu = time.perf_counter(), _cpu_seconds()
            result = filter_warc_files(inputs, root / f"single{round_}", evidence=[evidence])
            elapsed, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
            runs.setdefault("one process", []).append((elapsed, elapsed, cpu, result))
            for n in workers:
                start = time.perf_counter()
                client = dask_client(workers=n)
                try:
                    client.run(_warm)  # the workers' start and imports count in "s total" only
                    ready, cpu = time.perf_counter(), _cluster_cpu(client)
                    out = root / f"dask{n}-{round_}"
                    result = filter_on_dask(client, inputs, out, evidence=[evidence])
                    done, cpu = time.perf_counter(), _cluster_cpu(client) - cpu
                finally:
                    close_client(client)
                runs.setdefault(f"Dask, {n} worker(s)", []).append(
                    (done - start, done - ready, cpu, result)
                )
    first = runs["one process"][0][3]
    print(
        f"input: {len(inputs)} WARC files, {size / 1e6:.1f} MB gzipped, "
        f"{first.pages_in} pages, {first.records_in} records; best of {rounds} round(s); "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'run':<22} {'s total':>8} {'rec/s':>7} {'s filter':>9} {'rec/s':>7}"
        f"  {'speed-up':>8} {'CPU s':>7} {'rec/CPU s':>9}  rounds (s filter)"
    )
    base = min(m[1] for m in runs["one process"])
    for label, measured in runs.items():
        total = min(m[0] for m in measured)
        work = min(m[1] for m in measured)
        cpu = min(m[2] for m in measured)
        count = measured[0][3].records_in
        each = ", ".join(f"{m[1]:.1f}" for m in measured)
        print(
            f"{label:<22} {total:>8.2f} {count / total:>7.0f} {work:>9.2f} "
            f"{count / work:>7.0f}  {base / work:>7.2f}x {cpu:>7.1f} {count / cpu:>9.0f}  {each}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--scaling", action="store_true", help="one process against Dask")
    parser.add_argument("--per-origin", type=int, default=300)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--warc-size", type=int, default=600_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.scaling:
        workers = [int(n) for n in args.workers.split(",")]
        scaling(args.per_origin, workers, args.warc_size, args.rounds)
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = root / "in.warc.gz"
        build(source, args.pages)
        size = source.stat().st_size
        rows = []
        start = time.perf_counter()
        records = warcio_copy(source, root / "copy.warc.gz")
        rows.append(("warcio copy (no decisions)", records, time.perf_counter() - start, ""))
        for label, near in (("filter --no-near-duplicates", False), ("filter", True)):
            start = time.perf_counter()
            result = filter_warc_files(
                [source],
                root / label.replace(" ", "_"),
                options=FilterOptions(near_duplicates=near),
            )
            elapsed = time.perf_counter() - start
            excluded = sum(result.excluded.values())
            rows.append(
                (
                    label,
                    result.records_in,
                    elapsed,
                    f"{result.pages_kept} kept, {excluded} excluded",
                )
            )
    print(f"input: {args.pages} pages, {records} records, {size / 1e6:.1f} MB gzipped")
    print(f"{'method':<30} {'records':>8} {'seconds':>8} {'records/s':>10}  outcome")
    for label, count, seconds, outcome in rows:
        print(f"{label:<30} {count:>8} {seconds:>8.2f} {count / seconds:>10.0f}  {outcome}")


if __name__ == "__main__":
    main()
