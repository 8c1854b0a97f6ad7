"""Helpers for the WARC, capture and output tests.

* :class:`RawHttpServer`: a loopback server that answers with exact bytes
  (reason phrases, repeated headers, chunked framing, gzip, non-ASCII
  header bytes), which no framework server would let a test choose.
* :func:`run_crawl`: a real Scrapy crawl in a subprocess (a Twisted reactor
  starts once per process) with the capture middleware, the wire handler and
  the output pipeline; run as ``python -m tests.support.warc ARGS_JSON``.
* readers: gzip members, records via warcio, ``warcio check``.
"""

from __future__ import annotations

import gzip
import json
import socket
import subprocess
import sys
import threading
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.support import paths

ROOT = paths.ROOT
VENV_BIN = Path(sys.executable).parent

# ---------------------------------------------------------------------------- raw server


def chunked(body: bytes, size: int = 7) -> bytes:
    parts = [
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


def raw_response(status_line: bytes, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    head = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    return status_line + b"\r\n" + head + b"\r\n" + body


class RawHttpServer:
    """Serves ``routes[path] -> bytes`` (the whole response) on 127.0.0.1, port 0."""

    def __init__(self, routes: dict[str, bytes]) -> None:
        self.routes = routes
        self.requests: list[bytes] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._stopped = False

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RawHttpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped = True
        self._sock.close()

    def _serve(self) -> None:
        while not self._stopped:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            self.requests.append(data)
            target = data.split(b" ", 2)[1].decode("latin-1")
            answer = self.routes.get(target) or raw_response(
                b"HTTP/1.1 404 Not Found",
                [
                    (b"Content-Type", b"text/plain"),
                    (b"Content-Length", b"9"),
                    (b"Connection", b"close"),
                ],
                b"not found",
            )
            conn.sendall(answer)


# A small site exercising everything the output must keep.
PAGE_HTML = (
    "<html><head><title>Сәлем</title></head><body><p>Қазақ тілі, русский текст.</p>"
    "<p>әғқңөұүһі</p></body></html>".encode()
)


def demo_routes() -> dict[str, bytes]:
    gz = gzip.compress(PAGE_HTML, mtime=0)
    return {
        # gzip content-coding inside chunked transfer-coding, an unusual reason phrase,
        # repeated X-Robots-Tag lines interleaved with another header.
        "/gz": raw_response(
            b"HTTP/1.1 200 Fine Thanks",
            [
                (b"Content-Type", b"text/html; charset=utf-8"),
                (b"X-Robots-Tag", b"index"),
                (b"Content-Encoding", b"gzip"),
                (b"X-Robots-Tag", b"follow"),
                (b"Transfer-Encoding", b"chunked"),
                (b"Connection", b"close"),
            ],
            chunked(gz),
        ),
        # Kazakh/Russian bytes in a header value, Content-Length given.
        "/kz": raw_response(
            b"HTTP/1.1 200 OK",
            [
                (b"Content-Type", b"text/html; charset=utf-8"),
                (b"X-Title", "Қазақша — Русский".encode()),
                (b"Content-Length", str(len(PAGE_HTML)).encode()),
                (b"Connection", b"close"),
            ],
            PAGE_HTML,
        ),
        "/img.png": raw_response(
            b"HTTP/1.1 200 OK",
            [(b"Content-Type", b"image/png"), (b"Content-Length", b"4"), (b"Connection", b"close")],
            b"\x89PNG",
        ),
        "/gone": raw_response(
            b"HTTP/1.1 410 Gone",
            [(b"Content-Type", b"text/html"), (b"Content-Length", b"4"), (b"Connection", b"close")],
            b"gone",
        ),
    }


# ---------------------------------------------------------------------------- crawl


def minimal_settings(out_dir: Path) -> dict[str, Any]:
    """Capture + wire handler + output pipeline, without the gates."""
    return {
        "TDMCRAWL_OUT_DIR": str(out_dir),
        "DOWNLOAD_HANDLERS": {
            "http": "tdmcrawl.crawler.capture.WireHTTP11DownloadHandler",
            "https": "tdmcrawl.crawler.capture.WireHTTP11DownloadHandler",
        },
        "DOWNLOADER_MIDDLEWARES": {"tdmcrawl.crawler.capture.CaptureMiddleware": 595},
        "ITEM_PIPELINES": {"tdmcrawl.crawler.output.WarcOutputPipeline": 1000},
        "ROBOTSTXT_OBEY": False,
        "HTTPERROR_ALLOW_ALL": True,
        "RETRY_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "DEFAULT_REQUEST_HEADERS": {"Accept-Encoding": "gzip, deflate"},
    }


def run_crawl(urls: list[str], settings: dict[str, Any], *, timeout: float = 120) -> dict:
    """Crawl ``urls`` in a subprocess; returns the crawl's stats (JSON-safe values)."""
    args = json.dumps({"urls": urls, "settings": settings})
    proc = subprocess.run(
        [sys.executable, "-m", "tests.support.warc", args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        raise AssertionError(f"crawl failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _crawl_main(args_json: str) -> None:
    import scrapy
    from scrapy.crawler import CrawlerProcess

    from tdmcrawl.crawler.items import PageItem
    from tdmcrawl.optout.decision import Decision

    args = json.loads(args_json)

    class PageSpider(scrapy.Spider):
        name = "warc-test"
        start_urls = args["urls"]

        def parse(self, response: Any) -> Any:
            yield PageItem(
                url=response.url,
                decision=Decision(url=response.url),
                capture=response.meta.get("tdmcrawl_capture"),
            )

    process = CrawlerProcess(settings=args["settings"])
    crawler = process.create_crawler(PageSpider)
    process.crawl(crawler)
    process.start()
    stats = {k: v for k, v in crawler.stats.get_stats().items() if isinstance(v, int | str)}
    print(json.dumps(stats))


# ---------------------------------------------------------------------------- reading back


def gzip_members(data: bytes) -> list[bytes]:
    """Split a .warc.gz into its gzip members (decompressed)."""
    members = []
    while data:
        decomp = zlib.decompressobj(zlib.MAX_WBITS | 16)
        members.append(decomp.decompress(data))
        data = decomp.unused_data
    return members


def read_records(path: Path) -> list[Any]:
    """Type, WARC headers, HTTP head and decoded content of every record, via warcio."""
    from warcio.archiveiterator import ArchiveIterator

    out = []
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream):
            out.append(
                {
                    "type": record.rec_type,
                    "warc": dict(record.rec_headers.headers),
                    "warc_list": list(record.rec_headers.headers),
                    "http": record.http_headers,
                    "content": record.content_stream().read(),
                }
            )
    return out


def warcio_check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "warcio"), "check", "-v", str(path)], capture_output=True, text=True
    )


def fixed_clock(start: datetime | None = None) -> Callable[[], datetime]:
    moment = start or datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    return lambda: moment


def counting_ids(prefix: str = "00000000-0000-0000-0000-") -> Callable[[], str]:
    counter = iter(range(1, 1_000_000))
    return lambda: f"<urn:uuid:{prefix}{next(counter):012d}>"


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    _crawl_main(sys.argv[1])
