"""Two `tdmcrawl crawl --redis` nodes sharing one frontier, against a single-node crawl.

Real parts only: a redis-server on a free loopback port, the loopback web, the
CLI in subprocesses. The nodes are told apart on the server side by the
contact URL in their User-Agent.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest
import redis

from tests.support.frontier import (
    NODE_FAST,
    PAGES,
    audit_rows,
    crawl_ids,
    fetched_by,
    frontier_web,
    site_path,
)
from tests.support.redis import redis_server
from tests.support.web import slow_web, start_tdmcrawl, tdmcrawl

ORIGIN_FILES = ("/robots.txt", "/.well-known/tdmrep.json", "/ai.txt")


def _contact(name: str) -> str:
    return f"https://{name}.example/"


def _pages(paths: list[str]) -> list[str]:
    return [p for p in paths if p.split(":", 1)[1] not in ORIGIN_FILES]


@pytest.fixture(scope="module")
def crawls(tmp_path_factory):
    """One single-node crawl and one two-node crawl of the same web; both webs' logs."""
    tmp = tmp_path_factory.mktemp("frontier")
    with contextlib.ExitStack() as stack:
        single_web = stack.enter_context(frontier_web())
        done = tdmcrawl(
            "crawl",
            single_web.url("home", "/"),
            "--out",
            str(tmp / "single"),
            "--contact",
            _contact("single"),
            *NODE_FAST,
        )
        assert done.returncode == 0, done.stderr
        host, port = stack.enter_context(redis_server())
        web = stack.enter_context(frontier_web())
        url = f"redis://{host}:{port}/0"
        procs = {
            name: start_tdmcrawl(
                "crawl",
                web.url("home", "/"),
                "--out",
                str(tmp / name),
                "--redis",
                url,
                "--contact",
                _contact(name),
                "--json",
                *NODE_FAST,
            )
            for name in ("node1", "node2")
        }
        reports = {}
        for name, proc in procs.items():
            stdout, stderr = proc.communicate(timeout=180)
            assert proc.returncode == 0, stderr
            reports[name] = json.loads(stdout)
        client = redis.Redis(host=host, port=port)
        keys = sorted(k.decode("latin-1") for k in client.keys("*"))
        yield {"tmp": tmp, "single_web": single_web, "web": web, "reports": reports, "keys": keys}


def test_every_page_is_fetched_once_across_the_nodes(crawls):
    web = crawls["web"]
    fetched = {name: _pages(fetched_by(web, _contact(name))) for name in ("node1", "node2")}
    counts = Counter(fetched["node1"] + fetched["node2"])
    assert counts, "nothing was fetched"
    assert [p for p, n in counts.items() if n > 1] == []
    # Both nodes did real work: the frontier was shared, not taken by the first one.
    assert len(fetched["node1"]) >= 3 and len(fetched["node2"]) >= 3
    single = Counter(_pages(fetched_by(crawls["single_web"], _contact("single"))))
    assert set(counts) == set(single)
    assert "home:/private/x.html" not in counts


def test_origin_files_are_fetched_once_for_the_cluster(crawls):
    web, tmp = crawls["web"], crawls["tmp"]
    fetched = fetched_by(web, _contact("node1")) + fetched_by(web, _contact("node2"))
    assert fetched.count("home:/robots.txt") == 1
    assert fetched.count("reserved:/.well-known/tdmrep.json") == 1
    # The node that fetched them keeps the evidence; both audits point to that file.
    evidence = {p.name for n in ("node1", "node2") for p in (tmp / n / "evidence").glob("*")}
    for name in ("node1", "node2"):
        db = sqlite3.connect(tmp / name / "audit.sqlite")
        try:
            files = {row[0] for row in db.execute("select warc_file from evidence")}
        finally:
            db.close()
        assert files and files <= evidence, name


def test_union_of_the_nodes_equals_the_single_node_crawl(crawls):
    tmp, web, single_web = crawls["tmp"], crawls["web"], crawls["single_web"]
    kept_single, excluded_single = audit_rows(single_web, tmp / "single")
    kept1, excluded1 = audit_rows(web, tmp / "node1")
    kept2, excluded2 = audit_rows(web, tmp / "node2")
    assert kept1 and kept2
    assert not kept1 & kept2
    assert kept1 | kept2 == kept_single
    assert len(kept_single) == PAGES + 1  # the index and its pages; never the copy
    assert excluded1 | excluded2 == excluded_single
    reasons = {reason for _, _, reason in excluded_single}
    assert {"robots", "noai", "tdmrep", "reserved-copy"} <= reasons


def test_exclusions_are_audited_on_the_node_that_saw_them(crawls):
    tmp, web = crawls["tmp"], crawls["web"]
    for name in ("node1", "node2"):
        _, excluded = audit_rows(web, tmp / name)
        fetched = set(fetched_by(web, _contact(name)))
        for page, stage, _reason in excluded:
            if stage == "post-fetch":
                assert page in fetched, (name, page)
    _, excluded1 = audit_rows(web, tmp / "node1")
    _, excluded2 = audit_rows(web, tmp / "node2")
    assert not {p for p, _, _ in excluded1} & {p for p, _, _ in excluded2}


def test_nodes_share_the_crawl_id_and_never_a_file_name(crawls):
    tmp, reports = crawls["tmp"], crawls["reports"]
    assert reports["node1"]["crawl_id"] == reports["node2"]["crawl_id"]
    assert crawl_ids(tmp / "node1") == crawl_ids(tmp / "node2")
    names = [Path(p).name for r in reports.values() for p in r["warc_files"] + r["evidence_files"]]
    assert len(names) == len(set(names))
    for name in ("node1", "node2"):
        state = json.loads((tmp / name / "tdmcrawl-state.json").read_text(encoding="utf-8"))
        node = state["frontier"]["node"]
        assert all(
            Path(p).name.startswith(f"tdmcrawl-{node}-") for p in reports[name]["warc_files"]
        )


def test_frontier_keys_are_namespaced_and_marked_finished(crawls):
    keys = crawls["keys"]
    assert keys, "nothing in Redis"
    prefixes = {k.split(":")[2] for k in keys if k.startswith("tdmcrawl:frontier:")}
    assert len(prefixes) == 1  # one crawl, one namespace (frontier and reserved index)
    assert any(k.endswith(":dupefilter") for k in keys)
    assert any(k.endswith(":done") for k in keys)
    assert not any(":busy:" in k for k in keys)  # every node cleared its mark on closing
    assert any(":dedup" in k for k in keys)  # --redis shares the reserved-works index too


def test_merged_audit_equals_the_single_node_audit(crawls):
    tmp, web, single_web = crawls["tmp"], crawls["web"], crawls["single_web"]
    merged = tmp / "merged"
    done = tdmcrawl("audit", "merge", str(merged), str(tmp / "node1"), str(tmp / "node2"))
    if done.returncode == 2 and "No such command" in done.stderr:
        pytest.skip("tdmcrawl audit merge is not available")
    assert done.returncode == 0, done.stderr
    kept_single, excluded_single = audit_rows(single_web, tmp / "single")
    kept, excluded = audit_rows(web, merged)
    assert (kept, excluded) == (kept_single, excluded_single)
    assert len(crawl_ids(merged)) == 1


def test_a_second_crawl_of_a_finished_frontier_is_refused(crawls, tmp_path):
    # The frontier of the fixture's crawl is finished; its Redis is gone by now, so use a new
    # one and finish a frontier there first.
    with redis_server() as (host, port), frontier_web() as web:
        url = f"redis://{host}:{port}/0"
        seed = web.url("reserved", "/")
        first = tdmcrawl("crawl", seed, "--out", str(tmp_path / "a"), "--redis", url, *NODE_FAST)
        assert first.returncode == 0, first.stderr
        again = tdmcrawl("crawl", seed, "--out", str(tmp_path / "b"), "--redis", url, *NODE_FAST)
        assert again.returncode == 1
        lines = again.stderr.strip().splitlines()
        assert len(lines) == 1 and "TDMCRAWL_FRONTIER_KEY" in lines[0]
        assert "Traceback" not in again.stderr
        assert not (tmp_path / "b" / "tdmcrawl-state.json").exists()
        fresh = tdmcrawl(
            "crawl",
            seed,
            "--out",
            str(tmp_path / "b"),
            "--redis",
            url,
            "-s",
            "TDMCRAWL_FRONTIER_KEY=second run",
            *NODE_FAST,
            "--json",
        )
        assert fresh.returncode == 0, fresh.stderr
        assert json.loads(fresh.stdout)["excluded"]  # crawled again: the page is reserved


def test_resume_one_node_continues_the_shared_frontier(tmp_path):
    pages = 16
    with redis_server() as (host, port), slow_web(pages, delay=0.1) as web:
        url = f"redis://{host}:{port}/0"
        out = tmp_path / "node"
        args = [
            "crawl",
            web.url("slow", "/p0.html"),
            "--out",
            str(out),
            *NODE_FAST,
            "-s",
            "CONCURRENT_REQUESTS=1",
        ]
        proc = start_tdmcrawl(*args, "--redis", url)
        deadline = time.monotonic() + 60
        while len([p for p in web.requested_paths("slow") if p.startswith("/p")]) < 4:
            assert time.monotonic() < deadline, "the crawl did not get going"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
        assert proc.returncode == 130  # interrupted by Ctrl-C, stopped cleanly
        first = [p for p in web.requested_paths("slow") if p.startswith("/p")]
        assert len(first) < pages
        client = redis.Redis(host=host, port=port)
        assert not any(k.endswith(b":done") for k in client.keys("*"))
        # --resume without --redis: the frontier is remembered in the out dir's state.
        done = tdmcrawl("crawl", "--resume", "--out", str(out), *NODE_FAST)
        assert done.returncode == 0, done.stderr
        fetched = [p for p in web.requested_paths("slow") if p.startswith("/p")]
        assert sorted(fetched) == sorted(f"/p{i}.html" for i in range(pages))
        kept, _ = audit_rows(web, out)
        assert {site_path(web, web.url("slow", p)) for p in fetched} == kept
        assert any(k.endswith(b":done") for k in client.keys("*"))


def test_a_killed_node_gets_its_requests_back_on_resume(tmp_path):
    pages = 12
    with redis_server() as (host, port), slow_web(pages, delay=0.3) as web:
        url = f"redis://{host}:{port}/0"
        out = tmp_path / "node"
        # A chain: the page in flight at the kill is the only way to the rest.
        proc = start_tdmcrawl(
            "crawl",
            web.url("slow", "/p0.html"),
            "--out",
            str(out),
            "--redis",
            url,
            *NODE_FAST,
            "-s",
            "CONCURRENT_REQUESTS=1",
        )
        deadline = time.monotonic() + 60
        while len([p for p in web.requested_paths("slow") if p.startswith("/p")]) < 3:
            assert time.monotonic() < deadline, "the crawl did not get going"
            time.sleep(0.02)
        proc.kill()
        proc.communicate(timeout=60)
        client = redis.Redis(host=host, port=port)
        assert any(b":inflight:" in k for k in client.keys("*"))
        done = tdmcrawl("crawl", "--resume", "--out", str(out), *NODE_FAST)
        assert done.returncode == 0, done.stderr
        fetched = {p for p in web.requested_paths("slow") if p.startswith("/p")}
        assert fetched == {f"/p{i}.html" for i in range(pages)}
        kept = [site_path(web, row) for row in _kept_urls(out)]
        assert sorted(kept) == sorted(set(kept))  # written once, even when fetched twice
        assert set(kept) == {f"slow:/p{i}.html" for i in range(pages)}
        assert not any(b":inflight:" in k and client.hlen(k) for k in client.keys("*"))


def _kept_urls(out):
    import sqlite3

    db = sqlite3.connect(out / "audit.sqlite")
    try:
        return [row[0] for row in db.execute("select url from kept")]
    finally:
        db.close()
