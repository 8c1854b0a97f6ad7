"""The registry service under load: registrations and feed requests per second with
1 and with 50 concurrent clients, and the feed's size per 100,000 entries.

The service is the real one (`tdmcrawl registry serve`, rate limits off) on a free
loopback port; the load generator runs in another process (this script started
again with --client), 50 threads with one keep-alive connection each. Every loop
is bounded in requests and in time.

    python benchmarks/bench_registry_service.py [--requests 2000] [--works 2000]
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TDMCRAWL = Path(sys.executable).with_name("tdmcrawl")
TIME_LIMIT = 120.0  # seconds, per measured case


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the load generator (runs in its own process) ----------------------------------


def client_main(port: int, case: str, clients: int, total: int, offset: int) -> None:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(total))
    deadline = time.monotonic() + TIME_LIMIT
    etag: dict[str, str] = {}
    if case == "feed-304":
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", "/api/v1/feed?since=999999999")
        answer = conn.getresponse()
        answer.read()
        etag["value"] = answer.getheader("ETag") or ""
        conn.close()

    def worker() -> None:
        nonlocal errors
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < deadline:
            with lock:
                number = next(counter, None)
            if number is None:
                break
            started = time.perf_counter()
            if case == "register":
                body = json.dumps(
                    {"kind": "domain", "pattern": f"site{offset + number}.kz", "author": "Бенч"}
                )
                conn.request("POST", "/api/v1/entries", body, {"Content-Type": "application/json"})
            elif case == "feed-page":
                conn.request(
                    "GET", "/api/v1/feed?since=0&limit=1000", headers={"Accept-Encoding": "gzip"}
                )
            else:  # a crawler polling with nothing new: 304
                conn.request(
                    "GET", "/api/v1/feed?since=999999999", headers={"If-None-Match": etag["value"]}
                )
            answer = conn.getresponse()
            answer.read()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if answer.status not in (200, 201, 304):
                    errors += 1
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    latencies.sort()
    print(
        json.dumps(
            {
                "requests": len(latencies),
                "errors": errors,
                "rps": len(latencies) / wall,
                "p50_ms": 1000 * statistics.median(latencies),
                "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
            }
        )
    )


# -- the benchmark --------------------------------------------------------------------


def run_clients(port: int, case: str, clients: int, total: int, offset: int) -> dict:
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--client",
            str(port),
            case,
            str(clients),
            str(total),
            str(offset),
        ],
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT + 60,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def feed_size(db: Path) -> tuple[int, int, int]:
    """(entries, bytes, gzip bytes) of the whole feed read page by page."""
    from tdmcrawl.registry.feed import MAX_LIMIT, feed_chunks
    from tdmcrawl.registry.schema import open_readonly

    conn = open_readonly(db)
    since, entries, raw, packed = 0, 0, 0, 0
    while True:
        text = "".join(feed_chunks(conn, since, MAX_LIMIT))
        page = json.loads(text)
        data = text.encode()
        raw += len(data)
        packed += len(gzip.compress(data, 6))
        entries += len(page["entries"])
        since = int(page["cursor"])
        if not page["more"]:
            break
    conn.close()
    return entries, raw, packed


def build_rules(db: Path, count: int) -> None:
    from tdmcrawl.registry import Registry, tokens
    from tdmcrawl.registry.store import new_entry
    from tdmcrawl.registry.urlrules import parse_domain, parse_url_pattern

    token_hash = tokens.hash_token(tokens.new_token())
    with Registry(db) as reg, reg._write():
        for i in range(count):
            host = f"сайт{i}.kz" if i % 5 == 0 else f"site{i}.example.org"
            rule = (
                parse_domain(host)
                if i % 3 == 0
                else parse_url_pattern(f"https://{host}/блог/*")
                if i % 3 == 1
                else parse_url_pattern(f"https://{host}/page/{i}.html")
            )
            reg._insert_unchecked(
                new_entry(
                    f"Автор {i}",
                    f"a{i}@example.kz",
                    None,
                    None,
                    token_hash=token_hash,
                    kind=rule.kind,
                    pattern=rule.pattern,
                    rule_key=rule.key,
                    host=rule.host,
                )
            )


def build_works(db: Path, count: int, words: int) -> None:
    sys.path.insert(0, str(REPO))
    from tdmcrawl.registry import Registry
    from tdmcrawl.registry.works import WorkText
    from tests.support.registry import work_text

    with Registry(db, keep_texts=False) as reg:
        for i in range(count):
            reg.add_work_texts(f"Автор {i}", [WorkText(f"w{i}.txt", work_text(i, words))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--works", type=int, default=2000)
    parser.add_argument("--rules", type=int, default=100_000)
    parser.add_argument("--client", nargs=5, metavar="ARG")
    args = parser.parse_args()
    if args.client:
        port, case, clients, total, offset = args.client
        client_main(int(port), case, int(clients), int(total), int(offset))
        return

    with tempfile.TemporaryDirectory() as scratch:
        db = Path(scratch) / "optout.sqlite"
        port = free_port()
        server = subprocess.Popen(
            [
                str(TDMCRAWL),
                "registry",
                "serve",
                "--registry",
                str(db),
                "--port",
                str(port),
                "--writes-per-minute",
                "0",
                "--reads-per-minute",
                "0",
                "--log-level",
                "error",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.2)
            rows = []
            offset = 0
            # Registrations first, so both feed cases read the same registry.
            for case in ("register", "feed-page", "feed-304"):
                for clients in (1, 50):
                    total = args.requests if clients > 1 else max(200, args.requests // 10)
                    result = run_clients(port, case, clients, total, offset)
                    offset += total
                    rows.append((case, clients, result))
        finally:
            server.terminate()
            server.wait(timeout=30)
        print(
            f"registry service on loopback, load generator in another process "
            f"(cpu count {os.cpu_count()})"
        )
        print(
            f"{'request':<44} {'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'errors':>6}"
        )
        names = {
            "register": "POST /api/v1/entries (a new site each)",
            "feed-page": "GET /api/v1/feed, 1000 entries, gzip",
            "feed-304": "GET /api/v1/feed, If-None-Match: 304",
        }
        for case, clients, r in rows:
            print(
                f"{names[case]:<44} {clients:>7} {r['rps']:>8.0f} {r['p50_ms']:>8.1f} "
                f"{r['p95_ms']:>8.1f} {r['errors']:>6}"
            )

        rules_db = Path(scratch) / "rules.sqlite"
        build_rules(rules_db, args.rules)
        entries, raw, packed = feed_size(rules_db)
        print(
            f"\nfeed of {entries:,} URL rules: {raw / 1e6:.1f} MB "
            f"({raw / entries:.0f} B/entry), gzip {packed / 1e6:.1f} MB; "
            f"per 100k entries: {raw / entries * 1e5 / 1e6:.1f} MB, gzip "
            f"{packed / entries * 1e5 / 1e6:.1f} MB"
        )
        works_db = Path(scratch) / "works.sqlite"
        start = time.perf_counter()
        build_works(works_db, args.works, 300)
        built = time.perf_counter() - start
        entries, raw, packed = feed_size(works_db)
        print(
            f"feed of {entries:,} works (300 words each, built in {built:.0f} s): "
            f"{raw / 1e6:.1f} MB ({raw / entries:.0f} B/entry), gzip {packed / 1e6:.1f} MB; "
            f"per 100k entries: {raw / entries * 1e5 / 1e9:.2f} GB, gzip "
            f"{packed / entries * 1e5 / 1e9:.2f} GB"
        )


if __name__ == "__main__":
    main()
