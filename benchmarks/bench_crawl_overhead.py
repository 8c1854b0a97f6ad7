"""What tdmcrawl's compliance and faithful WARC output cost, against bare Scrapy + warcio.

Serves a generated site of N linked pages on 127.0.0.1 (a threaded server in
its own process), then crawls it twice, one after the other:

* ``tdmcrawl``: the real ``tdmcrawl crawl`` (gates, origin files, evidence
  WARC, audit database, wire capture, WARC output), politeness overridden
  with ``-s`` so both crawlers may go as fast as the machine allows;
* ``bare scrapy``: a minimal link-following spider and a naive warcio
  pipeline (one response record per page), defined in this file.

Prints pages/s for each and the overhead ratio, side by side.

    python benchmarks/bench_crawl_overhead.py --pages 3000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FANOUT = 10
BODY_TEXT = (
    "Қазақ тілі — мемлекеттік тіл. Русский язык используется широко. "
    "Plain English text too, so the page has a realistic size. "
) * 12


def page_html(n: int, total: int) -> bytes:
    links = "".join(
        f'<li><a href="/p/{child}">page {child}</a></li>'
        for child in range(n * FANOUT + 1, min(total, n * FANOUT + FANOUT + 1))
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Бет {n}</title></head>"
        f"<body><h1>Бет {n}</h1><p>{BODY_TEXT}</p><ul>{links}</ul></body></html>"
    ).encode()


def serve(total: int, port_queue: multiprocessing.Queue) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path == "/robots.txt":
                self._reply(200, "text/plain", b"User-agent: *\nAllow: /\n")
            elif self.path.startswith("/p/") and self.path[3:].isdigit():
                n = int(self.path[3:])
                if n < total:
                    self._reply(200, "text/html; charset=utf-8", page_html(n, total))
                    return
                self._reply(404, "text/plain", b"not found")
            else:
                self._reply(404, "text/plain", b"not found")

        def _reply(self, status: int, ctype: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


SPEED = {
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "False",
    "CONCURRENT_REQUESTS": "16",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "16",
    "LOG_LEVEL": "WARNING",
}


def run_tdmcrawl(seed: str, out: Path) -> float:
    command = [
        sys.executable,
        "-m",
        "tdmcrawl.crawler.cli",
        "crawl",
        seed,
        "--out",
        str(out),
        "--progress",
        "0",
        "--max-depth",
        "100",
    ]
    for name, value in SPEED.items():
        command += ["-s", f"{name}={value}"]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, text=True)
    return time.perf_counter() - started


def run_bare(seed: str, out: Path) -> float:
    command = [sys.executable, __file__, "--bare-crawl", json.dumps([seed, str(out)])]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, text=True)
    return time.perf_counter() - started


def bare_crawl(seed: str, out: str) -> None:
    """The alternative: a plain spider and a naive warcio pipeline (decoded bodies)."""
    from io import BytesIO

    import scrapy
    from scrapy.crawler import CrawlerProcess
    from scrapy.linkextractors import LinkExtractor
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    class NaiveWarcPipeline:
        def open_spider(self) -> None:
            Path(out, "warc").mkdir(parents=True, exist_ok=True)
            self.file = open(Path(out, "warc", "bare.warc.gz"), "wb")  # noqa: SIM115
            self.writer = WARCWriter(self.file, gzip=True, warc_version="1.1")

        def close_spider(self) -> None:
            self.file.close()

        def process_item(self, item: dict) -> dict:
            headers = StatusAndHeaders(f"{item['status']} OK", item["headers"], protocol="HTTP/1.1")
            record = self.writer.create_warc_record(
                item["url"], "response", payload=BytesIO(item["body"]), http_headers=headers
            )
            self.writer.write_record(record)
            return item

    class BareSpider(scrapy.Spider):
        name = "bare"
        start_urls = (seed,)
        links = LinkExtractor()

        def parse(self, response: scrapy.http.Response):  # type: ignore[no-untyped-def]
            headers = [(k.decode(), v.decode()) for k, v in response.headers.items() for v in v]
            yield {
                "url": response.url,
                "status": response.status,
                "headers": headers,
                "body": response.body,
            }
            for link in self.links.extract_links(response):
                yield response.follow(link.url, callback=self.parse)

    settings = {key: value for key, value in SPEED.items()}
    settings.update(
        {
            "ROBOTSTXT_OBEY": True,
            "ITEM_PIPELINES": {NaiveWarcPipeline: 1000},
            "TELNETCONSOLE_ENABLED": False,
            "DEPTH_LIMIT": 100,
        }
    )
    process = CrawlerProcess(settings=settings)
    process.crawl(BareSpider)
    process.start()


def count_pages(out: Path) -> int:
    from warcio.archiveiterator import ArchiveIterator

    pages = 0
    for path in (out / "warc").glob("*.warc.gz"):
        with open(path, "rb") as stream:
            pages += sum(1 for r in ArchiveIterator(stream) if r.rec_type == "response")
    return pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--bare-crawl", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_crawl:
        bare_crawl(*json.loads(args.bare_crawl))
        return

    ports: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(args.pages, ports), daemon=True)
    server.start()
    seed = f"http://127.0.0.1:{ports.get(timeout=30)}/p/0"
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, runner in (("bare scrapy + warcio", run_bare), ("tdmcrawl", run_tdmcrawl)):
                out = Path(tmp, name.split()[0])
                seconds = runner(seed, out)
                pages = count_pages(out)
                size = sum(p.stat().st_size for p in out.rglob("*.warc.gz"))
                rows.append((name, pages, seconds, pages / seconds, size))
    finally:
        server.terminate()

    print(f"site: {args.pages} pages on loopback, concurrency {SPEED['CONCURRENT_REQUESTS']}")
    print(f"{'crawler':<22} {'pages':>6} {'seconds':>8} {'pages/s':>8} {'WARC bytes':>11}")
    for name, pages, seconds, rate, size in rows:
        print(f"{name:<22} {pages:>6} {seconds:>8.2f} {rate:>8.1f} {size:>11}")
    bare_rate, tdm_rate = rows[0][3], rows[1][3]
    print(f"overhead: tdmcrawl takes {bare_rate / tdm_rate:.2f}x the time per page of bare Scrapy")


if __name__ == "__main__":
    main()
