"""The Redis frontier: what a queued request costs, and what a second node buys.

Starts its own redis-server on loopback (needs ``redis-server`` installed).

1. Queue round trip (push + pop through scrapy-redis' PriorityQueue) of a
   typical followed link and of a retried 5xx request whose meta still holds
   the raw capture of the failed response: scrapy-redis' default pickle
   serializer against tdmcrawl's ``JsonSerializer`` (JSON, per-fetch meta
   dropped). Bytes stored per request and round trips per second.
2. With ``--crawl``: wall time of one node against two nodes sharing the
   frontier, crawling a loopback site whose pages each take ``--delay`` s.

    python benchmarks/bench_frontier.py [--requests 5000] [--crawl --pages 60]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the tests' support package


class _Spider:
    name = "bench"

    def parse(self, response):
        return None


def _requests(kind: str, n: int) -> tuple[list, _Spider]:
    from scrapy import Request

    spider = _Spider()
    meta = {"depth": 3, "download_slot": "example.kz"}
    if kind == "retried 5xx":
        body = ("Қате " * 40_000).encode()  # ~360 KB of the failed response, as received
        # Stands in for the Capture the capture middleware leaves in meta (its size is the body).
        meta = {
            **meta,
            "retry_times": 1,
            "tdmcrawl_capture": {"body": body},
            "tdmcrawl_prefetch": {"url": "x", "reasons": []},
        }
    return [
        Request(f"https://example.kz/мақала/{i}", callback=spider.parse, meta=dict(meta))
        for i in range(n)
    ], spider


def bench_queue(host: str, port: int, n: int) -> None:
    import redis
    from scrapy_redis import picklecompat
    from scrapy_redis.queue import PriorityQueue

    from tdmcrawl.crawler.frontier import JsonSerializer

    server = redis.Redis(host=host, port=port)
    print(f"queue round trip, {n} requests (push all, pop all), redis on loopback")
    print(f"{'request':<14}{'serializer':<22}{'bytes/request':>15}{'round trips/s':>15}")
    for kind in ("followed link", "retried 5xx"):
        count = n if kind == "followed link" else max(50, n // 20)
        for label, serializer in (
            ("scrapy-redis pickle", picklecompat),
            ("tdmcrawl JSON", JsonSerializer),
        ):
            requests, spider = _requests(kind, count)
            queue = PriorityQueue(server, spider, f"bench:{label}:{kind}", serializer)
            queue.clear()
            size = len(queue._encode_request(requests[0]))
            start = time.perf_counter()
            for request in requests:
                queue.push(request)
            while queue.pop() is not None:
                pass
            elapsed = time.perf_counter() - start
            print(f"{kind:<14}{label:<22}{size:>15,}{count / elapsed:>15,.0f}")


def bench_crawl(host: str, port: int, pages: int, delay: float) -> None:
    from tests.support.web import FAST, slow_web, start_tdmcrawl

    print(f"\ncrawl of {pages} pages, {delay} s each, CONCURRENT_REQUESTS=4 per node")
    print(f"{'setup':<28}{'seconds':>10}{'pages/s':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for nodes in (1, 2):
            with slow_web(pages, delay=delay) as web:
                # A wide site: the index links every page.
                site = web.sites["slow"]
                index = "".join(f'<a href="/p{i}.html">{i}</a>' for i in range(pages))
                from tdmcrawl.crawler.demo.loopback import html_reply

                site.add("/", html_reply(index))
                url = f"redis://{host}:{port}/{nodes}"
                start = time.perf_counter()
                procs = [
                    start_tdmcrawl(
                        "crawl",
                        web.url("slow", "/"),
                        "--out",
                        f"{tmp}/n{nodes}-{i}",
                        "--redis",
                        url,
                        "--progress",
                        "0",
                        *FAST,
                        "-s",
                        "CONCURRENT_REQUESTS=4",
                    )
                    for i in range(nodes)
                ]
                for proc in procs:
                    proc.communicate(timeout=600)
                elapsed = time.perf_counter() - start
                label = f"{nodes} node{'s' if nodes > 1 else ''} (--redis)"
                print(f"{label:<28}{elapsed:>10.1f}{pages / elapsed:>10.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--crawl", action="store_true", help="also time one node against two")
    ap.add_argument("--pages", type=int, default=60)
    ap.add_argument("--delay", type=float, default=0.2)
    args = ap.parse_args()
    from tests.support.redis import redis_server

    with redis_server() as (host, port):
        bench_queue(host, port, args.requests)
        if args.crawl:
            bench_crawl(host, port, args.pages, args.delay)


if __name__ == "__main__":
    main()
