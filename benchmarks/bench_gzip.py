"""The gzip members of WARC records: Python's zlib against zlib-ng (the ``zlib-ng`` package).

Every page a crawl keeps is one gzip member of its response record
(``crawler.warc.records.gzip_member``), compressed in the page workers; it is
most of the workers' time. This compares, on the realistic pages of
``benchmarks/realweb`` (20-80 KB of HTML, each as a whole response record
would hold it), the time per page and the compressed size of:

* ``zlib``: ``gzip.compress`` of the standard library (level 9 is warcio's);
* ``zlib-ng``: ``zlib_ng.gzip_ng.compress``, what tdmcrawl uses (level
  ``GZIP_LEVEL``).

Each member is read back with the standard library's gzip (and a file of them
with warcio) and must give the same bytes: the output stays standard gzip.

    python benchmarks/bench_gzip.py [--pages 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path

from zlib_ng import gzip_ng

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE / "realweb"))

import realweb  # noqa: E402  (benchmarks/realweb, by path)

from tdmcrawl.crawler.warc.records import GZIP_LEVEL, RecordFactory, serialize_record  # noqa: E402


def records(pages: int) -> list[bytes]:
    """Whole uncompressed response records of the realistic web's pages."""
    from tdmcrawl.crawler.clock import utc_now
    from tdmcrawl.crawler.warc.capture import Capture

    origins, _ = realweb.build(pages, n_origins=1, start=False)
    factory = RecordFactory()
    out = []
    for origin in origins:
        for path, route in origin.routes.items():
            if not path.startswith("/p/"):
                continue
            capture = Capture(
                url=f"{origin.base}{path}",
                protocol="HTTP/1.1",
                status=200,
                reason="OK",
                headers=(
                    (b"Content-Type", b"text/html; charset=utf-8"),
                    (b"Content-Length", str(len(route.body)).encode()),
                ),
                body=route.body,
                request_method="GET",
                request_target=path,
                request_protocol="HTTP/1.1",
                request_headers=((b"Host", origin.base.split("//")[1].encode()),),
                request_body=b"",
                peer_ip="127.0.0.1",
                fetched_at=utc_now(),
            )
            out.append(serialize_record(factory.response(capture), compress=False))
    return out[:pages]


def measure(data: list[bytes], compress: Callable[[bytes], bytes], rounds: int) -> tuple:
    best = float("inf")
    members: list[bytes] = []
    for _ in range(rounds):
        started = time.process_time()
        members = [compress(d) for d in data]
        best = min(best, time.process_time() - started)
    assert all(gzip.decompress(m) == d for m, d in zip(members, data, strict=True))
    return best / len(data), sum(map(len, members)), b"".join(members)


def warcio_reads(joined: bytes, count: int) -> bool:
    from warcio.archiveiterator import ArchiveIterator

    seen = sum(1 for r in ArchiveIterator(io.BytesIO(joined)) if r.rec_type == "response")
    return seen == count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    data = records(args.pages)
    raw = sum(map(len, data))
    print(
        f"{len(data)} response records of the realistic web, {raw / len(data) / 1e3:.0f} KB "
        f"each on average; CPU time per record (best of {args.rounds} rounds)"
    )
    print(f"{'compressor':<22} {'ms/record':>10} {'size':>7} {'vs zlib 6':>10}  warcio reads")
    base = None
    rows = []
    for level in (9, GZIP_LEVEL, 3, 1):
        for name, fn in (("zlib", gzip.compress), ("zlib-ng", gzip_ng.compress)):
            per, size, joined = measure(
                data, lambda d, f=fn, lv=level: f(d, compresslevel=lv, mtime=0), args.rounds
            )
            rows.append((f"{name} level {level}", per, size, joined))
            if name == "zlib" and level == GZIP_LEVEL:
                base = per
    for label, per, size, joined in rows:
        ok = "yes" if warcio_reads(joined, len(data)) else "NO"
        print(f"{label:<22} {per * 1e3:>10.3f} {size / raw:>7.1%} {per / base:>9.2f}x  {ok}")


if __name__ == "__main__":
    main()
