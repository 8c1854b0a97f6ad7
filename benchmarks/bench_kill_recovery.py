"""What keeping the audit and the WARC files in step across a kill costs, and what the
alternative would cost.

Offline (no crawl): pages of real Kazakh, Russian and English sentences
(benchmarks/corpus, about 4 KB of HTML each) are written the way the output
pipeline writes them (``RotatingWarcWriter`` + a ``kept`` row per page in the
real ``AuditLog``), into files rotated at ``--max-size`` bytes. Side by side:

* writing, with the audit committed before each rename (what the crawl does:
  ``AuditLog.flush`` in ``before_rename``) against without it;
* the recovery after a kill, as ``--resume`` does it (only the one ``.open``
  file is read: ``recover_open_files`` + ``set_file_rows``) against the
  alternative that does not trust finished files: reading every WARC file
  back to find pages without a row.

    python benchmarks/bench_kill_recovery.py --pages 20000 --max-size 20000000
"""

from __future__ import annotations

import argparse
import gzip
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from tdmcrawl.crawler.audit.db import AuditLog, set_file_rows
from tdmcrawl.crawler.warc.capture import Capture
from tdmcrawl.crawler.warc.recover import recover_open_files
from tdmcrawl.crawler.warc.rewrite import pending_pages
from tdmcrawl.crawler.warc.writer import RotatingWarcWriter
from tdmcrawl.optout.decision import Decision

CORPUS = Path(__file__).resolve().parent / "corpus"


def sentences() -> list[str]:
    lines: list[str] = []
    for lang in ("kk", "ru", "en"):
        with gzip.open(CORPUS / f"{lang}.lines.gz", "rt", encoding="utf-8") as fh:
            lines += [line.strip() for line in fh if len(line.split()) >= 4]
    return lines


def page_capture(url: str, text: str) -> Capture:
    body = (
        f'<!DOCTYPE html><html lang="kk"><head><meta charset="utf-8"><title>{url}</title>'
        f"</head><body><article><p>{text}</p></article></body></html>"
    ).encode()
    return Capture(
        url=url,
        protocol="HTTP/1.1",
        status=200,
        reason="OK",
        headers=((b"Content-Type", b"text/html; charset=utf-8"),),
        body=body,
        request_method="GET",
        request_target="/" + url.split("/", 3)[3],
        request_protocol="HTTP/1.1",
        request_headers=((b"Host", b"bench.example"),),
        request_body=b"",
        peer_ip="127.0.0.1",
        fetched_at=datetime(2026, 3, 1, tzinfo=UTC),
    )


def write_crawl(
    out: Path, captures: list[Capture], max_size: int, *, durable: bool, leave_open: bool
) -> tuple[float, int]:
    """Write every page as the output pipeline does; seconds and files renamed."""
    audit = AuditLog.open(out)
    crawl_id = audit.start_crawl(settings={}, versions={}, seeds=[])

    def flush(path: Path, kept: list, gone: list) -> None:
        audit.flush()

    writer = RotatingWarcWriter(
        out / "warc",
        warcinfo={"software": "bench"},
        max_size=max_size,
        before_rename=flush if durable else None,
    )
    start = time.perf_counter()
    for capture in captures:
        decision = Decision(url=capture.url)
        ref = writer.write_page(capture, decision)
        audit.record_kept(
            capture.url,
            warc_file=ref.filename,
            offset=ref.offset,
            record_id=ref.record_id,
            decision=decision,
            crawl_id=crawl_id,
        )
    if not leave_open:
        writer.close()
    audit.close()
    seconds = time.perf_counter() - start
    return seconds, len(writer.finished)


def recover_open(out: Path) -> float:
    """``--resume`` after a kill: only the .open file is read back and audited."""
    audit = AuditLog.open(out)
    crawl_id = audit.start_crawl(settings={}, versions={}, seeds=[], crawl_id=None)
    start = time.perf_counter()

    def rows(path: Path, final_name: str, pages: list) -> None:
        set_file_rows(
            audit,
            crawl_id,
            final_name,
            [
                (p.url, p.offset, p.record_id, (p.decision or Decision(url=p.url)).to_json())
                for p in pages
            ],
        )

    recover_open_files(out / "warc", before_rename=rows)
    seconds = time.perf_counter() - start
    audit.close()
    return seconds


def scan_everything(out: Path) -> tuple[float, int]:
    """The alternative: read every WARC file back to find what the audit lacks."""
    start = time.perf_counter()
    pages = sum(len(pending_pages(path)) for path in sorted((out / "warc").glob("*.warc.gz*")))
    return time.perf_counter() - start, pages


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20000)
    parser.add_argument("--max-size", type=int, default=20_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    pool = sentences()
    captures = []
    for i in range(args.pages):
        start = rng.randrange(len(pool) - 40)
        text = " ".join(pool[start : start + rng.randint(15, 40)])
        captures.append(page_capture(f"https://bench.example/p{i}.html", text))

    with tempfile.TemporaryDirectory() as tmp:
        plain, durable = Path(tmp, "plain"), Path(tmp, "durable")
        t_plain, files = write_crawl(
            plain, captures, args.max_size, durable=False, leave_open=False
        )
        t_durable, _ = write_crawl(durable, captures, args.max_size, durable=True, leave_open=True)
        size = sum(p.stat().st_size for p in (durable / "warc").iterdir())
        t_recover = recover_open(durable)
        t_scan, scanned = scan_everything(durable)

    n = args.pages
    print(
        f"{n} pages, {size / 1e6:.0f} MB of WARC in {files} files "
        f"(rotated at {args.max_size / 1e6:.0f} MB), one core\n"
    )
    print(f"{'step':58} {'total s':>9} {'pages/s':>10}")
    for name, seconds, count in (
        ("write + audit, no commit before rename", t_plain, n),
        ("write + audit, audit committed before each rename (ours)", t_durable, n),
        ("recovery after a kill: the .open file only (ours)", t_recover, None),
        ("alternative: read every WARC file back", t_scan, scanned),
    ):
        rate = f"{count / seconds:10.0f}" if count else f"{'':>10}"
        print(f"{name:58} {seconds:9.3f} {rate}")


if __name__ == "__main__":
    main()
