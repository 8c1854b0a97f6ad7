"""The Redis frontier: what a queued request costs, and what a second node buys.

Starts its own redis-server on loopback (needs ``redis-server`` installed).

1. Queue round trip (push + pop through scrapy-redis' PriorityQueue) of a
   typical followed link and of a retried 5xx request whose meta still holds
   the raw capture of the failed response: scrapy-redis' default pickle
   serializer against tdmcrawl's ``JsonSerializer`` (JSON, per-fetch meta
   dropped). Bytes stored per request and round trips per second.
2. With ``--crawl``: wall time of one node against two nodes sharing the
   frontier, crawling a loopback site whose pages each take ``--delay`` s.
3. With ``--politeness``: one node against three nodes (the third joining
   late) on a host with ``Crawl-delay: 1`` and a slow host without one
   (per-host concurrency 2), with Scrapy's own throttling off: per host, the
   smallest gap between two requests as the origin logged them, the most
   requests in flight, robots.txt fetches, and the wall time. Also the cost
   of a turn at a shared host slot (acquire + release, two Redis calls).

    python benchmarks/bench_frontier.py [--requests 5000] [--crawl --pages 60] [--politeness]
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


def bench_slots(host: str, port: int, n: int = 5000) -> None:
    import redis

    from tdmcrawl.crawler.cluster import Cluster

    cluster = Cluster(redis.Redis(host=host, port=port), "bench", "node", 15)
    start = time.perf_counter()
    for _ in range(n):
        member = cluster.new_member()
        cluster.acquire("example.kz", member, 0.0, 2)
        cluster.release("example.kz", member)
    elapsed = time.perf_counter() - start
    print(
        f"\nshared host slot: {n} turns (acquire + release) in {elapsed:.2f} s, "
        f"{elapsed / n * 1e6:.0f} µs a turn, redis on loopback"
    )


def bench_politeness(host: str, port: int) -> None:
    from itertools import pairwise

    from tests.support.frontier import DELAYED_PAGES, FREE_PAGES, polite_web, request_times
    from tests.support.web import FAST, start_tdmcrawl

    args = [*FAST, "-s", "CONCURRENT_REQUESTS=2", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2"]
    args += ["--scope", "any", "--progress", "0"]
    print(f"\npoliteness: host 'delayed' asks Crawl-delay: 1 ({DELAYED_PAGES} pages), host 'free'")
    print(f"has none ({FREE_PAGES} pages of 0.3 s); DOWNLOAD_DELAY=0, AutoThrottle off, 2 per host")
    print(
        f"{'setup':<26}{'min gap delayed':>16}{'min gap free':>13}{'in flight free':>15}"
        f"{'robots.txt':>11}{'seconds':>9}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for nodes in (1, 3):
            web, in_flight = polite_web()
            with web:
                url = f"redis://{host}:{port}/{nodes + 4}"
                start = time.perf_counter()
                procs = []
                for i in range(nodes):
                    if i == 2:  # the third node joins late
                        while len([p for p in web.requested_paths("delayed") if p[:2] == "/d"]) < 3:
                            time.sleep(0.05)
                    redis_args = ["--redis", url] if nodes > 1 else []
                    procs.append(
                        start_tdmcrawl(
                            "crawl",
                            web.url("delayed", "/"),
                            "--out",
                            f"{tmp}/n{nodes}-{i}",
                            *redis_args,
                            *args,
                        )
                    )
                for proc in procs:
                    proc.communicate(timeout=600)
                elapsed = time.perf_counter() - start
                gaps = {
                    site: min(b - a for a, b in pairwise(request_times(web, site)))
                    for site in ("delayed", "free")
                }
                robots = sum(web.requested_paths(site).count("/robots.txt") for site in web.sites)
            label = "1 node" if nodes == 1 else f"{nodes} nodes (--redis)"
            print(
                f"{label:<26}{gaps['delayed']:>15.3f}s{gaps['free']:>12.3f}s"
                f"{in_flight.most:>15}{robots:>11}{elapsed:>9.1f}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--crawl", action="store_true", help="also time one node against two")
    ap.add_argument("--pages", type=int, default=60)
    ap.add_argument("--delay", type=float, default=0.2)
    ap.add_argument("--politeness", action="store_true", help="gaps per host, 1 node vs 3")
    args = ap.parse_args()
    from tests.support.redis import redis_server

    with redis_server() as (host, port):
        bench_queue(host, port, args.requests)
        if args.crawl:
            bench_crawl(host, port, args.pages, args.delay)
        if args.politeness:
            bench_slots(host, port)
            bench_politeness(host, port)


if __name__ == "__main__":
    main()
