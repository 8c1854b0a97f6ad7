"""`tdmcrawl filter` throughput on a generated WARC, beside a plain warcio copy.

Builds one gzipped WARC of N pages (request, response and metadata records
each; 20 origins with robots.txt captures; about one page in ten reserved by
a header, a meta tag or robots.txt; Kazakh and Russian text), then times:

- ``warcio copy``: ArchiveIterator -> WARCWriter of every record (re-serialised,
  what a naive filter that decides nothing would cost);
- ``filter --no-near-duplicates``: the three passes, policy only;
- ``filter``: the same plus text extraction, fingerprints and the LSH check.

    python benchmarks/bench_filter.py [--pages 2000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' WARC builders

from tdmcrawl.crawler.filter import FilterOptions, filter_warc_files
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    args = parser.parse_args()
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
