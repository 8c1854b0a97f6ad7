"""`tdmcrawl export` speed and memory on a crawl of the realistic web, beside datatrove.

Crawls the realistic loopback web (``../shared/bench/realweb.py``, 20-80 KB
news pages) once, then exports its kept pages in each format, each run in a
process of its own whose peak resident memory is sampled. Side by side, the
pipeline a data engineer would otherwise write with datatrove over the same
WARC files (``WarcReader`` -> ``Trafilatura`` -> ``JsonlWriter``), which
knows nothing of what the audit kept.

    python benchmarks/bench_export.py [--per-origin 300]
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' support package
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_filter import crawl_realweb

DATATROVE = """
import sys
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.extractors import Trafilatura
from datatrove.pipeline.readers import WarcReader
from datatrove.pipeline.writers import JsonlWriter
LocalPipelineExecutor(
    [WarcReader(sys.argv[1]), Trafilatura(), JsonlWriter(sys.argv[2])],
    tasks=1, logging_dir=sys.argv[3],
).run()
"""


def run(command: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (bytes) of the process and its children, stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watched = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            procs = [watched, *watched.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in procs))
        except psutil.Error:
            pass
        time.sleep(0.05)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{command[:4]} failed: {err[-2000:]}")
    return time.perf_counter() - start, peak, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-origin", type=int, default=300)
    args = parser.parse_args()
    cli = [sys.executable, "-m", "tdmcrawl.crawler.cli", "export"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        warcs = crawl_realweb(root / "crawl", args.per_origin, 10_000_000)
        size = sum(p.stat().st_size for p in warcs)
        rows = []
        for label, name, extra in (
            ("export jsonl", "pages.jsonl", []),
            ("export jsonl.gz", "pages.jsonl.gz", []),
            ("export jsonl.zst", "pages.jsonl.zst", []),
            ("export parquet", "pages.parquet", []),
            ("export --urls-only", "urls.jsonl", ["--urls-only"]),
        ):
            out = root / name
            seconds, peak, stdout = run(
                [*cli, str(root / "crawl"), "--out", str(out), *extra, "--json"]
            )
            pages = json.loads(stdout)["rows"]
            rows.append((label, pages, seconds, peak, out.stat().st_size))
        seconds, peak, _ = run(
            [
                sys.executable,
                "-c",
                DATATROVE,
                str(root / "crawl" / "warc"),
                str(root / "dt"),
                str(root / "dt-logs"),
            ]
        )
        written = sum(p.stat().st_size for p in (root / "dt").rglob("*") if p.is_file())
        dt_pages = 0
        for path in (root / "dt").rglob("*.jsonl.gz"):
            with gzip.open(path) as lines:
                dt_pages += sum(1 for _ in lines)
        rows.append(("datatrove Warc->Trafilatura", dt_pages, seconds, peak, written))
    print(f"input: a crawl of {len(warcs)} WARC files, {size / 1e6:.1f} MB gzipped")
    print(
        f"{'run (own process)':<30}{'pages':>7}{'seconds':>9}{'pages/s':>9}{'peak MB':>9}"
        f"{'out MB':>8}"
    )
    for label, pages, seconds, peak, written in rows:
        print(
            f"{label:<30}{pages:>7}{seconds:>9.2f}{pages / seconds:>9.0f}{peak / 1e6:>9.0f}"
            f"{written / 1e6:>8.1f}"
        )


if __name__ == "__main__":
    main()
