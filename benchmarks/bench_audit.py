"""`tdmcrawl audit` on a large crawl: summary, URL lookup and exports of 1,000,000 exclusions.

Builds a synthetic audit database with the crawler's schema and indexes
(executemany in one transaction), then times each command's library call.
Memory is the growth of the process's peak RSS (``getrusage``) over each
step: streaming exports should add next to nothing, unlike the naive
alternative run last (every row fetched into a list, then written), shown
side by side. The crawler's own write path (``AuditLog``, batched on a
thread) is timed on a smaller number of rows.

    python benchmarks/bench_audit.py [--rows 1000000] [--kept 100000] [--auditlog-rows 100000]
"""

from __future__ import annotations

import argparse
import csv
import gc
import io
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the tests' support package


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn) -> tuple[float, float, object]:
    """Wall time of ``fn`` and how much it raised the process's peak RSS (MiB)."""
    gc.collect()
    before = _peak_rss_mib()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, _peak_rss_mib() - before, result


def _naive_export(db, out) -> int:
    # The alternative: fetch every row, then write (what a quick script would do).
    from tdmcrawl.crawler.audit.db import EXCLUSION_COLUMNS

    rows = db.execute(f"SELECT {', '.join(EXCLUSION_COLUMNS)} FROM exclusions").fetchall()
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    csv.writer(text).writerows(rows)
    text.flush()
    text.detach()
    return len(rows)


def _auditlog_rate(n: int) -> float:
    """Rows per second through the crawler's writer (AuditLog.record_exclusion)."""
    from tdmcrawl.crawler.audit.db import AuditLog
    from tdmcrawl.optout.decision import Decision, Reason, ReasonCode

    with tempfile.TemporaryDirectory(prefix="bench-auditlog-") as tmp:
        start = time.perf_counter()
        log = AuditLog.open(Path(tmp), batch_size=5000)
        log.start_crawl(settings={}, versions={}, seeds=[])
        for i in range(n):
            url = f"https://сайт{i % 5000}.kz/мақала/{i}"
            reason = Reason(ReasonCode.ROBOTS, "robots.txt", "Disallow: /мақала/", 2)
            log.record_exclusion(Decision(url, reasons=(reason,)), stage="pre-fetch")
        log.close()
        return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--kept", type=int, default=100_000)
    parser.add_argument("--auditlog-rows", type=int, default=100_000)
    args = parser.parse_args()

    from tdmcrawl.crawler.audit.db import open_database
    from tdmcrawl.crawler.audit.export import export_exclusions
    from tdmcrawl.crawler.audit.queries import explain, summary
    from tdmcrawl.crawler.audit.report import write_report
    from tests.support.audit import build_bulk

    results: list[tuple[str, float, float | None, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        directory = Path(tmp)
        start = time.perf_counter()
        build_bulk(directory, exclusions=args.rows, kept=args.kept)
        build = time.perf_counter() - start
        size = (directory / "audit.sqlite").stat().st_size / 2**20
        print(
            f"built {args.rows:,} exclusions + {args.kept:,} kept in {build:.1f} s "
            f"({size:.0f} MiB)",
            flush=True,
        )
        db = open_database(directory)
        try:
            for by in ("reason", "domain", "source", "day"):
                t, _, data = _timed(lambda by=by: summary(db, by=by))
                results.append((f"summary --by {by}", t, None, f"{len(data['groups'])} groups"))
            for url in ("https://сайт0.kz/бет/0", "https://nowhere.example/x"):
                t, _, story = _timed(lambda url=url: explain(db, url))
                results.append((f"--url ({story['status']})", t, None, ""))
            report = directory / "report.html"
            t, _, _ = _timed(lambda: write_report(db, report))
            results.append(
                ("--html (5000-row table)", t, None, f"{report.stat().st_size / 2**20:.1f} MiB")
            )
            with open(os.devnull, "wb") as sink:
                t, _, n = _timed(
                    lambda sink=sink: export_exclusions(db, sink, fmt="csv", reason="robots")
                )
            results.append(("--export csv --reason robots", t, None, f"{n:,} rows"))
            for fmt in ("csv", "jsonl"):
                with open(os.devnull, "wb") as sink:
                    t, grew, n = _timed(
                        lambda fmt=fmt, sink=sink: export_exclusions(db, sink, fmt=fmt)
                    )
                results.append((f"--export {fmt} (streaming)", t, grew, f"{n:,} rows"))
            with open(os.devnull, "wb") as sink:
                t, grew, n = _timed(lambda sink=sink: _naive_export(db, sink))
            results.append(("naive csv (fetchall first)", t, grew, f"{n:,} rows"))
        finally:
            db.close()

    print(f"\n{'operation':<32} {'seconds':>8} {'+RSS MiB':>9}  note")
    print("-" * 68)
    for name, t, grew, note in results:
        grew_text = f"{grew:9.0f}" if grew is not None else f"{'':>9}"
        print(f"{name:<32} {t:8.3f} {grew_text}  {note}")
    print(f"\nprocess peak RSS: {_peak_rss_mib():.0f} MiB")
    if args.auditlog_rows:
        rate = _auditlog_rate(args.auditlog_rows)
        print(f"crawler write path (AuditLog, {args.auditlog_rows:,} rows): {rate:,.0f} rows/s")


if __name__ == "__main__":
    main()
