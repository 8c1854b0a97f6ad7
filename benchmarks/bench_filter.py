"""`tdmcrawl filter` throughput beside plain warcio and FastWARC iteration (issue 15).

The realistic figure: several WARC files of a ``tdmcrawl crawl`` of the
benchmark web (``benchmarks/realweb``: 4 origins of 20-80 KB news pages, every
10th page ``noai``, crawled with ``TDMCRAWL_NOAI=False`` so those pages are in
the input; 2,000+ pages), timed side by side in one run, rounds alternating:

- ``warcio iteration``: ``ArchiveIterator`` over every record, reading its
  content stream to the end (the issue's baseline, "plain warcio iteration");
- ``fastwarc iteration``: the same with FastWARC (HTTP parsed, payload read);
- ``filter --no-near-duplicates``: the three passes, policy only;
- ``filter``: the same plus text extraction, fingerprints and the LSH check.

Then the old figure, for continuity: one generated WARC of N small pages
(request, response and metadata records; 20 origins; one page in ten reserved
by a header, a meta tag or robots.txt), the same four rows plus ``warcio copy``.

    python benchmarks/bench_filter.py [--per-origin 600] [--pages 2000] [--rounds 3]
    python benchmarks/bench_filter.py --keep DIR      # keep the generated inputs in DIR
    python benchmarks/bench_filter.py --inputs DIR    # time inputs kept before (e.g. with
                                                      # /work/main/.venv/bin/python: main's code)
    python benchmarks/bench_filter.py --inputs DIR --profile   # cProfile of the full filter
    python benchmarks/bench_filter.py --inputs DIR --floor     # its unavoidable CPU by stage

``--scaling``: the same filter over at least 20 WARC files of a crawl of the
realistic web, in one process and on a Dask local cluster of 1, 2 and 4
workers, side by side: records/s with and without the cluster's start (the
workers' imports count with the start), and the CPU seconds of all processes.

    python benchmarks/bench_filter.py --scaling [--per-origin 300] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' WARC builders
sys.path.insert(0, str(Path(__file__).resolve().parent / "realweb"))

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
    """A crawl of the realistic web into ``out``: its WARC files (``warc_size`` each)."""
    import realweb  # benchmarks/realweb, by path

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


def _all_cpu_seconds() -> float:
    """User + system CPU seconds of this process and its children that have ended (the
    filter's worker processes end with the run)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


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


def warcio_iterate(paths: list[Path]) -> int:
    """Plain warcio iteration: every record, its content stream read to the end."""
    count = 0
    for path in paths:
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle):
                stream = record.content_stream()
                while stream.read(1 << 16):
                    pass
                count += 1
    return count


def fastwarc_iterate(paths: list[Path]) -> int:
    """The same with FastWARC: HTTP heads parsed, every payload read to the end."""
    from fastwarc.warc import ArchiveIterator as FastIterator

    count = 0
    for path in paths:
        with open(path, "rb") as handle:
            for record in FastIterator(handle, parse_http=True):
                reader = record.reader
                while reader.read(1 << 16):
                    pass
                count += 1
    return count


def run_filter(
    inputs: list[Path], out: Path, evidence: list[Path], near: bool, profile: Path | None = None
) -> FilterResult:
    options = FilterOptions(near_duplicates=near)
    if profile is None:
        return filter_warc_files(inputs, out, evidence=evidence, options=options)
    # One process, so that the profile sees every part (workers would hide extraction).
    options = FilterOptions(near_duplicates=near, workers=0)  # type: ignore[call-arg]
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        return filter_warc_files(inputs, out, evidence=evidence, options=options)
    finally:
        profiler.disable()
        profiler.dump_stats(profile)


def compare(
    label: str, inputs: list[Path], evidence: list[Path], rounds: int, copy: bool = False
) -> None:
    """The four (five with ``copy``) rows side by side, best of ``rounds`` alternating."""
    times: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}  # this process and its worker processes
    counts: dict[str, int] = {}
    outcome: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for round_ in range(rounds):
            runs: list[tuple[str, Any]] = [
                ("warcio iteration", lambda: warcio_iterate(inputs)),
                ("fastwarc iteration", lambda: fastwarc_iterate(inputs)),
            ]
            if copy:
                runs.append(
                    ("warcio copy (no decisions)", lambda: warcio_copy(inputs[0], root / "c"))
                )
            for name, near in (("filter --no-near-duplicates", False), ("filter", True)):
                out = root / f"{name.replace(' ', '_')}-{round_}"
                runs.append(
                    (name, lambda out=out, near=near: run_filter(inputs, out, evidence, near))
                )
            for name, run in runs:
                start, cpu = time.perf_counter(), _all_cpu_seconds()
                done = run()
                times.setdefault(name, []).append(time.perf_counter() - start)
                cpus.setdefault(name, []).append(_all_cpu_seconds() - cpu)
                if isinstance(done, int):
                    counts[name] = done
                else:
                    counts[name] = done.records_in
                    excluded = sum(done.excluded.values())
                    outcome[name] = f"{done.pages_kept} kept, {excluded} excluded"
                    shutil.rmtree(root / f"{name.replace(' ', '_')}-{round_}")
    size = sum(p.stat().st_size for p in inputs)
    print(
        f"\n{label}: {len(inputs)} WARC file(s), {size / 1e6:.1f} MB gzipped, "
        f"{counts['warcio iteration']} records; best of {rounds} round(s); "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'method':<30} {'records':>8} {'seconds':>8} {'records/s':>10} {'/warcio':>8}"
        f" {'CPU s':>6} {'rec/CPU s':>9}  rounds (s)  outcome"
    )
    base = counts["warcio iteration"] / min(times["warcio iteration"])
    for name, measured in times.items():
        rate = counts[name] / min(measured)
        each = ", ".join(f"{t:.2f}" for t in measured)
        cpu = min(cpus[name])
        print(
            f"{name:<30} {counts[name]:>8} {min(measured):>8.2f} {rate:>10.0f} "
            f"{rate / base:>7.2f}x {cpu:>6.2f} {counts[name] / cpu:>9.0f}  {each}  "
            f"{outcome.get(name, '')}"
        )


def realistic_inputs(root: Path, per_origin: int, warc_size: int) -> tuple[list[Path], list[Path]]:
    """The crawl's WARC files under ``root/realweb`` (crawled once, reused after)."""
    crawl = root / "realweb"
    if not (crawl / "warc").is_dir():
        crawl_realweb(crawl, per_origin, warc_size)
    return sorted((crawl / "warc").glob("*.warc.gz")), [crawl / "evidence"]


def small_input(root: Path, pages: int) -> Path:
    source = root / "small" / "in.warc.gz"
    if not source.is_file():
        source.parent.mkdir(parents=True, exist_ok=True)
        build(source, pages)
    return source


def profile_summary(inputs: list[Path], evidence: list[Path], top: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        stats_file = Path(tmp) / "filter.prof"
        start = time.perf_counter()
        run_filter(inputs, Path(tmp) / "out", evidence, True, profile=stats_file)
        print(f"full filter under cProfile: {time.perf_counter() - start:.2f} s")
        stats = pstats.Stats(str(stats_file))
        stats.sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(top)
        shares(stats)


# (label, file ending, function): the filter's parts, by cumulative time under cProfile.
PARTS = [
    ("pass 1: origin files (scan, captures)", "filter/origins.py", "collect_origin_files"),
    ("pass 2: reading records (WARC + HTTP heads)", "filter/read.py", "iter_records"),
    ("pass 2: reading bodies", "filter/read.py", "read_body"),
    ("policy: optout.evaluate", "optout/policy.py", "evaluate"),
    ("  of which <meta> scan (lxml)", "optout/html_meta.py", "extract_meta"),
    ("text: trafilatura (reserved pages, index side)", "dedup/extract.py", "_trafilatura"),
    ("text: resiliparse (kept pages, query side)", "dedup/extract.py", "_resiliparse"),
    ("fingerprints", "dedup/fingerprint.py", "fingerprint"),
    ("near-duplicate check (LSH, spool)", "filter/neardup.py", "release"),
    ("copy: kept records + audit rows", "filter/copy.py", "copy_kept"),
    ("audit: exclusion rows", "filter/pipeline.py", "audit_exclusions"),
    ("manifest (digests from WARC heads)", "filter/pipeline.py", "finish_filter"),
]


def shares(stats: Any) -> None:
    """Each part's share of the whole filter (one process, so the parts add up)."""
    cumulative: dict[tuple[str, str], float] = {}
    for (file_, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():
        for _label, ending, name in [*PARTS, ("", "filter/pipeline.py", "filter_warc_files")]:
            if func == name and file_.endswith(ending):
                cumulative[(ending, name)] = cumulative.get((ending, name), 0.0) + ct
    total = cumulative.get(("filter/pipeline.py", "filter_warc_files"), 0.0)
    print(f"\nshares of the full filter under cProfile ({total:.2f} s, one process):")
    for label, ending, name in PARTS:
        seconds = cumulative.get((ending, name), 0.0)
        print(f"  {label:<48} {seconds:>6.2f} s {100 * seconds / total:>5.1f} %")


def floor(inputs: list[Path], evidence: list[Path], rounds: int) -> None:
    """The CPU the full filter cannot do without, stage by stage, each timed alone in this
    process at its fastest (min of ``rounds``): the filter without near-duplicates (three
    reads, policy, copy, audit, manifest), then the near-duplicate stages over the same
    pages. Their sum over the cores is the shortest wall time any split of the work
    could reach here, against warcio iteration's wall time: the best ratio this machine
    allows, and the cores the issue's 0.5x needs."""
    import sqlite3

    from fastwarc.warc import ArchiveIterator as FastIterator
    from fastwarc.warc import WarcRecordType

    from tdmcrawl.dedup import MemoryIndex, extract_main_text, extract_query_text, fingerprint
    from tdmcrawl.dedup.config import DEFAULT_CONFIG

    def best(run: Any) -> tuple[float, Any]:
        spent, out = [], None
        for _ in range(rounds):
            cpu = _all_cpu_seconds()
            out = run()
            spent.append(_all_cpu_seconds() - cpu)
        return min(spent), out

    with tempfile.TemporaryDirectory() as tmp:
        warcio_wall = []
        for _ in range(rounds):
            start = time.perf_counter()
            warcio_iterate(inputs)
            warcio_wall.append(time.perf_counter() - start)
        out = Path(tmp) / "nonear"
        filter_cpu, _ = best(
            lambda: (
                shutil.rmtree(out, ignore_errors=True),
                run_filter(inputs, out, evidence, False),
            )
        )
        db = sqlite3.connect(out / "audit.sqlite")
        reserved_urls = {url for (url,) in db.execute("SELECT url FROM exclusions")}
        db.close()
    pages: list[tuple[str, bytes]] = []
    for path in inputs:
        with open(path, "rb") as handle:
            for record in FastIterator(handle, record_types=WarcRecordType.response):
                url = record.headers.get("WARC-Target-URI", "")
                kind = (record.http_headers.get("Content-Type", "") or "").lower()
                if record.http_headers.status_code == 200 and "html" in kind:
                    pages.append((url, record.reader.read()))
    kept = [(u, b) for u, b in pages if u not in reserved_urls]
    reserved = [(u, b) for u, b in pages if u in reserved_urls]
    query_cpu, query_texts = best(lambda: [extract_query_text(b, u) for u, b in kept])
    index_cpu, index_texts = best(lambda: [extract_main_text(b, u) for u, b in reserved])
    fp_cpu, fps = best(
        lambda: (
            [fingerprint(t, DEFAULT_CONFIG, positions=True) for t in index_texts],
            [fingerprint(t, DEFAULT_CONFIG, positions=False) for t in query_texts],
        )
    )
    works, queries = fps
    index = MemoryIndex(DEFAULT_CONFIG)
    index.add_many([(f"w{n}", fp) for n, fp in enumerate(works) if fp is not None])
    live = [fp for fp in queries if fp is not None]
    lsh_cpu, _ = best(lambda: index.query_many(live))
    stages = [
        ("filter --no-near-duplicates (3 reads, policy, copy, audit, manifest)", filter_cpu),
        (f"query-side text, resiliparse ({len(kept)} kept pages)", query_cpu),
        (f"index-side text, trafilatura ({len(reserved)} reserved pages)", index_cpu),
        ("fingerprints", fp_cpu),
        ("near-duplicate check (LSH + verification)", lsh_cpu),
    ]
    total = sum(cpu for _, cpu in stages)
    base = min(warcio_wall)
    print(f"\nthe full filter's unavoidable CPU, stage by stage (best of {rounds}):")
    for name, cpu in stages:
        print(f"  {name:<72} {cpu:6.2f} s")
    print(f"  {'total':<72} {total:6.2f} s")
    cores = os.cpu_count() or 1
    print(f"warcio iteration: {base:.2f} s wall")
    for n in sorted({1, 2, cores, 4, 8}):
        print(
            f"  {n} core(s): the filter needs at least {total / n:.2f} s wall, "
            f"at best {base / (total / n):.2f}x of warcio iteration"
        )
    print(f"0.5x of warcio iteration needs at least {total / (2 * base):.1f} cores' worth of CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000, help="small pages (the old figure)")
    parser.add_argument("--per-origin", type=int, default=600, help="realistic pages per origin")
    parser.add_argument("--warc-size", type=int, default=4_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="generate the inputs into this directory")
    parser.add_argument("--inputs", type=Path, help="time the inputs --keep generated")
    parser.add_argument("--profile", action="store_true", help="cProfile the full filter")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--scaling", action="store_true", help="one process against Dask")
    parser.add_argument(
        "--floor", action="store_true", help="the full filter's unavoidable CPU by stage"
    )
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    if args.scaling:
        workers = [int(n) for n in args.workers.split(",")]
        scaling(args.per_origin, workers, 600_000, args.rounds)
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = args.inputs or args.keep or Path(tmp)
        inputs, evidence = realistic_inputs(root, args.per_origin, args.warc_size)
        if args.profile:
            profile_summary(inputs, evidence, args.top)
            return
        if args.floor:
            floor(inputs, evidence, args.rounds)
            return
        compare("realistic pages (benchmarks/realweb crawl)", inputs, evidence, args.rounds)
        source = small_input(root, args.pages)
        compare(f"small pages ({args.pages} generated)", [source], [], args.rounds, copy=True)


if __name__ == "__main__":
    main()
