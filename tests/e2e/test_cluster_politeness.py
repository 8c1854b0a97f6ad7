"""Three `tdmcrawl crawl --redis` nodes are polite as one crawler, against one node.

Real parts only: a redis-server on a free loopback port, loopback origins (one
with `Crawl-delay: 1`, one slow, one with a tdmrep.json reservation), the CLI
in subprocesses; the third node joins late. The origins' request logs are
the measure: gaps between requests, requests in flight, robots.txt fetches.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from itertools import pairwise

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.support.frontier import (
    DELAYED_PAGES,
    RSL_PAGE,
    audit_rows,
    fetched_by,
    polite_web,
    request_times,
)
from tests.support.redis import redis_server
from tests.support.web import FAST, start_tdmcrawl, tdmcrawl

NODES = ("node1", "node2", "node3")
# Politeness comes from the sites alone (Crawl-delay) and from the per-host concurrency.
POLITE = [
    *FAST,
    "-s",
    "CONCURRENT_REQUESTS=2",
    "-s",
    "CONCURRENT_REQUESTS_PER_DOMAIN=2",
    "--scope",
    "any",  # the sites have hosts of their own
    "--progress",
    "0",
]


ORIGIN_FILES = ("/robots.txt", "/.well-known/tdmrep.json", "/ai.txt", "/licence.xml")


def _contact(name: str) -> str:
    return f"https://{name}.example/"


def _pages(paths: list[str]) -> list[str]:
    """``site:path`` or plain paths, without the origin files."""
    return [p for p in paths if p.rsplit(":", 1)[-1] not in ORIGIN_FILES]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("polite")
    with contextlib.ExitStack() as stack:
        single_web, single_flight = polite_web()
        stack.enter_context(single_web)
        done = tdmcrawl(
            "crawl",
            single_web.url("delayed", "/"),
            "--out",
            str(tmp / "single"),
            "--contact",
            _contact("single"),
            *POLITE,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr
        host, port = stack.enter_context(redis_server())
        web, in_flight = polite_web()
        stack.enter_context(web)
        url = f"redis://{host}:{port}/0"

        def node(name: str):
            return start_tdmcrawl(
                "crawl",
                web.url("delayed", "/"),
                "--out",
                str(tmp / name),
                "--redis",
                url,
                "--contact",
                _contact(name),
                "--json",
                *POLITE,
            )

        procs = {name: node(name) for name in NODES[:2]}
        # The third node joins once the crawl is well under way.
        deadline = time.monotonic() + 60
        while len([p for p in web.requested_paths("delayed") if p.startswith("/d")]) < 3:
            assert time.monotonic() < deadline, "the crawl did not get going"
            time.sleep(0.05)
        procs["node3"] = node("node3")
        reports = {}
        for name, proc in procs.items():
            stdout, stderr = proc.communicate(timeout=180)
            assert proc.returncode == 0, stderr
            reports[name] = json.loads(stdout)
        merged = tdmcrawl("audit", "merge", str(tmp / "merged"), *(str(tmp / n) for n in NODES))
        assert merged.returncode == 0, merged.stderr
        yield {
            "tmp": tmp,
            "web": web,
            "in_flight": in_flight,
            "single_web": single_web,
            "single_flight": single_flight,
            "reports": reports,
        }


def test_no_two_requests_to_the_delayed_host_are_closer_than_its_crawl_delay(cluster):
    web = cluster["web"]
    times = request_times(web, "delayed")
    # robots.txt, tdmrep.json, ai.txt, the index and its pages (never /private/).
    assert len(times) == 4 + DELAYED_PAGES
    gaps = [b - a for a, b in pairwise(times)]
    assert min(gaps) >= 1.0, gaps
    # All three nodes sent some of them: the delay held across nodes, not within one.
    senders = {n for n in NODES if any(p[:8] == "delayed:" for p in fetched_by(web, _contact(n)))}
    assert len(senders) >= 2, senders


def test_one_node_never_goes_below_the_crawl_delay_either(cluster):
    # Scrapy draws its delay between 0.5 and 1.5 times the slot's; the floor holds anyway.
    times = request_times(cluster["single_web"], "delayed")
    assert len(times) == 4 + DELAYED_PAGES
    assert min(b - a for a, b in pairwise(times)) >= 1.0


def test_per_host_concurrency_holds_for_the_cluster(cluster, tmp_path):
    assert cluster["in_flight"].most <= 2
    assert cluster["single_flight"].most <= 2
    # Only the slow host, four requests at once on each node, two per host: two in flight
    # for the whole cluster, although three nodes were at it.
    with redis_server() as (host, port):
        web, in_flight = polite_web()
        with web:
            procs = [
                start_tdmcrawl(
                    "crawl",
                    web.url("free", "/"),
                    "--out",
                    str(tmp_path / name),
                    "--redis",
                    f"redis://{host}:{port}/0",
                    "--contact",
                    _contact(name),
                    *POLITE,
                    "-s",
                    "CONCURRENT_REQUESTS=4",
                )
                for name in NODES
            ]
            for proc in procs:
                _, stderr = proc.communicate(timeout=120)
                assert proc.returncode == 0, stderr
            by_node = {n: _pages(fetched_by(web, _contact(n))) for n in NODES}
    assert in_flight.most == 2
    assert sum(len(p) for p in by_node.values()) == 1 + 12  # the index and its pages
    assert len([n for n, pages in by_node.items() if pages]) >= 2


def test_origin_files_are_fetched_once_for_the_cluster(cluster):
    web = cluster["web"]
    for site in ("delayed", "free", "reserved"):
        paths = web.requested_paths(site)
        assert paths.count("/robots.txt") == 1, (site, paths)
        assert paths.count("/.well-known/tdmrep.json") == 1, (site, paths)
    # The RSL licence free's robots.txt names, too: one node fetched it for all three.
    assert web.requested_paths("free").count("/licence.xml") == 1
    rsl = [r for r in audit_rows(web, cluster["tmp"] / "merged")[1] if r[2] == "rsl"]
    assert [r[0] for r in rsl] == [f"free:{RSL_PAGE}"], rsl


def test_a_node_that_joins_late_takes_a_share(cluster):
    assert _pages(fetched_by(cluster["web"], _contact("node3"))), "the late node fetched nothing"


def test_other_nodes_refer_to_the_evidence_of_the_node_that_fetched(cluster):
    tmp = cluster["tmp"]
    files = {n: {p.name: p for p in (tmp / n / "evidence").glob("*.warc.gz")} for n in NODES}
    everywhere = {name: path for per_node in files.values() for name, path in per_node.items()}
    referred = 0
    for name in NODES:
        db = sqlite3.connect(tmp / name / "audit.sqlite")
        try:
            rows = db.execute("select url, warc_file, warc_offset, record_id from evidence")
            rows = rows.fetchall()
            exclusions = db.execute(
                "select url, evidence_warc, evidence_offset, evidence_record_id from exclusions"
                " where evidence_warc is not null"
            ).fetchall()
        finally:
            db.close()
        assert rows, name
        for url, warc_file, offset, record_id in rows + exclusions:
            assert warc_file in everywhere, (name, url, warc_file)
            referred += warc_file not in files[name]
            with open(everywhere[warc_file], "rb") as handle:
                handle.seek(offset)
                record = next(iter(ArchiveIterator(handle)))
                assert record.rec_headers.get_header("WARC-Record-ID") == record_id
    # Every origin was fetched by one node, and the others used its evidence.
    assert referred > 0


def test_the_merged_audit_equals_the_single_node_crawl(cluster):
    tmp = cluster["tmp"]
    kept_single, excluded_single = audit_rows(cluster["single_web"], tmp / "single")
    kept, excluded = audit_rows(cluster["web"], tmp / "merged")
    assert (kept, excluded) == (kept_single, excluded_single)
    assert len(kept_single) == 2 + DELAYED_PAGES + 11  # two indexes, their pages but one
    assert {r for _, _, r in excluded_single} == {"robots", "tdmrep", "rsl"}


def test_max_pages_is_a_cap_for_the_whole_cluster(tmp_path):
    with redis_server() as (host, port):
        web, _ = polite_web()
        with web:
            url = f"redis://{host}:{port}/0"
            procs = [
                start_tdmcrawl(
                    "crawl",
                    web.url("free", "/"),
                    "--out",
                    str(tmp_path / f"n{i}"),
                    "--redis",
                    url,
                    "--max-pages",
                    "5",
                    "--json",
                    *POLITE,
                )
                for i in range(3)
            ]
            kept = 0
            for proc in procs:
                stdout, stderr = proc.communicate(timeout=120)
                assert proc.returncode == 0, stderr
                kept += json.loads(stdout)["kept"]
            pages = _pages(web.requested_paths("free")) + _pages(web.requested_paths("delayed"))
    assert len(pages) == 5, pages  # three nodes, one budget
    # Every page sent was kept but the one the licence reserves (fetched for its fingerprint).
    assert kept == len([p for p in pages if p != RSL_PAGE])


def test_robots_txt_is_fetched_once_per_ttl_for_the_cluster(tmp_path):
    ttl = 4
    with redis_server() as (host, port):
        web, _ = polite_web()
        with web:
            procs = [
                start_tdmcrawl(
                    "crawl",
                    web.url("delayed", "/"),
                    "--out",
                    str(tmp_path / name),
                    "--redis",
                    f"redis://{host}:{port}/0",
                    *POLITE,
                    "-s",
                    f"TDMCRAWL_ORIGIN_TTL={ttl}",
                )
                for name in NODES[:2]
            ]
            for proc in procs:
                _, stderr = proc.communicate(timeout=120)
                assert proc.returncode == 0, stderr
            robots = [
                r.at for r in list(web.requests) if r.site == "delayed" and r.path == "/robots.txt"
            ]
            span = max(request_times(web, "delayed")) - min(request_times(web, "delayed"))
    # The crawl of the delayed host outlasts the TTL a few times: fetched again after each
    # TTL, by one node, never sooner.
    assert 2 <= len(robots) <= span / ttl + 1, (robots, span)
    assert min(b - a for a, b in pairwise(sorted(robots))) >= ttl
