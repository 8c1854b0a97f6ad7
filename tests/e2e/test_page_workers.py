"""Page workers (``TDMCRAWL_WORKERS``): real worker processes, same decisions, fail closed.

A page is prepared (main text, fingerprint, response record) in a worker
process while the crawl evaluates its signals. The crawl must decide exactly
as it does without workers, and a page whose worker died has no
near-duplicate verdict, so it is not kept; the crawl goes on with a new
worker.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import signal
import sqlite3
import struct
import termios
import threading
import time
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from tdmcrawl.crawler.demo.loopback import LoggedRequest, LoopbackWeb, Reply, Site, text_reply
from tdmcrawl.crawler.gates.neardup import _matches
from tdmcrawl.crawler.reserved import ReservedWorks
from tdmcrawl.crawler.warc.records import RecordFactory, serialize_record
from tdmcrawl.crawler.workers import MAX_RESTARTS, Job, WorkerPool, page_text
from tdmcrawl.dedup import Fingerprint
from tdmcrawl.dedup.extract import QUERY_ENGINE
from tests.e2e.test_neardup_crawl import _crawl, _exclusions, _responses
from tests.support.neardup import ORIGINAL_KK, article_html, capture, filler, html
from tests.support.web import FAST, start_tdmcrawl

# --- the pool on its own: real worker processes, an asyncio loop ---------------------------


def _job(body: bytes, warcinfo: str | None = "<urn:uuid:info>") -> Job:
    url = "http://127.0.0.1/a.html"
    return Job(
        url=url,
        body=body,
        content_type="text/html; charset=utf-8",
        capture=capture(url, body),
        warcinfo_id=warcinfo,
    )


def _run(coro):
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro(loop))
    finally:
        loop.close()


def test_worker_answer_is_what_the_crawl_would_compute():
    body = article_html("Жаңа мұражай", ORIGINAL_KK)
    job = _job(body)

    async def go(loop):
        pool = WorkerPool(1, loop)
        try:
            return await pool.submit(job)
        finally:
            pool.close()

    answer = _run(go)
    assert answer.error is None and answer.checked
    works = ReservedWorks.in_memory(None)
    expected, _ = _matches(works, page_text(body, job.content_type, job.url, None, QUERY_ENGINE))
    assert expected is not None
    assert Fingerprint.from_bytes(answer.fingerprint).to_bytes() == expected.to_bytes()
    # The response record: the bytes the writer would build, with the worker's record id.
    warcinfo, record_id, member = answer.record
    assert warcinfo == job.warcinfo_id
    factory = RecordFactory(record_id=lambda: record_id)
    own = serialize_record(factory.response(job.capture, warcinfo_id=warcinfo))
    assert member == own


def test_a_dead_worker_fails_its_jobs_and_the_next_job_starts_a_new_one():
    body = article_html("Күнделік", filler(1))

    async def go(loop):
        pool = WorkerPool(1, loop)
        try:
            pool.start()
            (worker,) = pool.workers
            os.kill(worker.proc.pid, signal.SIGSTOP)  # the job waits in the pipe
            pending = pool.submit(_job(body))
            os.kill(worker.proc.pid, signal.SIGKILL)
            lost = await asyncio.wait_for(pending, 30)
            again = await asyncio.wait_for(pool.submit(_job(body)), 30)
            return lost, again, worker.proc.pid, pool.pids(), pool.restarts
        finally:
            pool.close()

    lost, again, dead, pids, restarts = _run(go)
    assert lost.error and "exited" in lost.error and lost.fingerprint is None
    assert again.error is None and again.checked and again.fingerprint
    assert restarts == 1 and pids and dead not in pids


def test_closing_the_pool_fails_the_jobs_under_way():
    body = article_html("Күнделік", filler(3))

    async def go(loop):
        pool = WorkerPool(1, loop)
        pool.start()
        (worker,) = pool.workers
        os.kill(worker.proc.pid, signal.SIGSTOP)  # it never answers
        pending = pool.submit(_job(body))
        pool.close(timeout=0.5)  # then killed
        return await asyncio.wait_for(pending, 5), worker.proc.returncode

    answer, returncode = _run(go)
    assert answer.error == "the crawl closed its page workers" and answer.fingerprint is None
    assert returncode == -signal.SIGKILL


def test_a_worker_that_stops_answering_is_stopped_and_its_jobs_fail():
    # A worker stuck on a page (here: stopped) holds its jobs; after the stall timeout it
    # is killed and its pages fail (not kept), and the next job gets a new worker.
    body = article_html("Күнделік", filler(4))

    async def go(loop):
        pool = WorkerPool(1, loop, stall_timeout=0.5)
        try:
            pool.start()
            (worker,) = pool.workers
            os.kill(worker.proc.pid, signal.SIGSTOP)  # alive, but it never answers
            started = time.monotonic()
            stuck = await asyncio.wait_for(pool.submit(_job(body)), 30)
            waited = time.monotonic() - started
            pool.stall_timeout = 300  # a new worker's start (its imports) is not a stall
            again = await asyncio.wait_for(pool.submit(_job(body)), 30)
            return stuck, waited, worker.proc.returncode, again, pool.restarts
        finally:
            pool.close()

    stuck, waited, returncode, again, restarts = _run(go)
    assert stuck.error and "no answer for" in stuck.error and stuck.fingerprint is None
    assert waited >= 0.5  # not before the timeout
    assert returncode == -signal.SIGKILL and restarts == 1
    assert again.error is None and again.checked and again.fingerprint


def test_after_too_many_deaths_the_pool_is_no_longer_available():
    async def go(loop):
        pool = WorkerPool(1, loop)
        try:
            for _ in range(MAX_RESTARTS + 1):
                pool.start()
                (worker,) = pool.workers
                worker.proc.kill()
                while pool.workers:  # the loop sees the pipe close
                    await asyncio.sleep(0.01)
            answer = await pool.submit(_job(b"<p>x</p>"))
            return pool.available, answer
        finally:
            pool.close()

    available, answer = _run(go)
    # The crawl then prepares pages in its own thread (session.prepare_page returns None).
    assert available is False and answer.error == "no page worker"


# --- whole crawls --------------------------------------------------------------------------


def _path(url: str) -> str:
    """A URL without its origin: the loopback ports differ between runs."""
    return "/" + url.split("/", 3)[3]


def _outcome(crawl: dict) -> dict:
    out = crawl["out"]
    db = sqlite3.connect(out / "audit.sqlite")
    kept = {_path(url) for (url,) in db.execute("select url from kept")}
    excluded = {_path(url): (row["reason"], row["stage"]) for url, row in _exclusions(out).items()}
    payloads = {}
    for path in sorted((out / "warc").glob("*.warc.gz")):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type == "response":
                    headers = record.rec_headers
                    url = _path(headers.get_header("WARC-Target-URI"))
                    payloads[url] = headers.get_header("WARC-Payload-Digest")
    stats = json.loads(db.execute("select stats from crawls").fetchone()[0])
    return {"kept": kept, "excluded": excluded, "payloads": payloads, "stats": stats}


def test_same_decisions_and_records_with_and_without_page_workers(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "none").mkdir()
    with_workers = _outcome(_crawl(tmp_path / "one", "-s", "TDMCRAWL_WORKERS=1"))
    without = _outcome(_crawl(tmp_path / "none", "-s", "TDMCRAWL_WORKERS=0"))
    # The workers prepared the pages in one crawl, and none in the other.
    assert with_workers["stats"].get("tdmcrawl/workers/jobs", 0) >= len(with_workers["kept"])
    assert "tdmcrawl/workers/jobs" not in without["stats"]
    assert with_workers["kept"] == without["kept"] == set(with_workers["payloads"])
    assert len(without["kept"]) >= 8
    assert with_workers["excluded"] == without["excluded"]
    assert {reason for reason, _ in without["excluded"].values()} >= {
        "registry-content",
        "reserved-copy",
        "noai",
    }
    # The same bodies archived for the same pages.
    assert with_workers["payloads"] == without["payloads"]
    for outcome in (with_workers, without):
        assert "tdmcrawl/neardup/unverified" not in outcome["stats"]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"tdmcrawl.crawler.workers" in cmdline:
            found.append(int(entry.name))
    return found


def _queued(pid: int) -> int:
    """Bytes waiting in a process's standard input pipe (FIONREAD on its read end)."""
    fd = os.open(f"/proc/{pid}/fd/0", os.O_RDONLY | os.O_NONBLOCK)
    try:
        raw = fcntl.ioctl(fd, termios.FIONREAD, struct.pack("i", 0))
        return struct.unpack("i", raw)[0]
    finally:
        os.close(fd)


def test_worker_killed_mid_crawl_its_page_is_not_kept_and_the_crawl_goes_on(tmp_path):
    stopped = threading.Event()  # set once the test has paused the crawl's worker

    def first(web: LoopbackWeb, request: LoggedRequest) -> Reply:
        stopped.wait(60)  # the page reaches the crawl only when its worker is paused
        links = ("/a.html", "/b.html")
        return html(article_html("Басты бет", filler(100), links=links))

    site = Site(
        "site",
        {
            "/robots.txt": text_reply("User-agent: *\nAllow: /\n"),
            "/": first,
            "/a.html": html(article_html("Күнделік 1", filler(1))),
            "/b.html": html(article_html("Күнделік 2", filler(2))),
        },
    )
    out = tmp_path / "out"
    with LoopbackWeb([site]) as web:
        seed, a, b = (web.url("site", path) for path in ("/", "/a.html", "/b.html"))
        proc = start_tdmcrawl(
            "crawl", web.url("site", "/"), "--out", str(out), "--progress", "0", "--json", *FAST
        )
        try:
            deadline = time.monotonic() + 60
            while not (workers := _children(proc.pid)):
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
            (worker,) = workers
            os.kill(worker, signal.SIGSTOP)
            stopped.set()
            while _queued(worker) == 0:  # the seed page's job is in the worker's pipe
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
            os.kill(worker, signal.SIGKILL)
            stdout, stderr = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, stderr[-3000:]
    report = json.loads(stdout)
    responses = _responses(out)
    # The seed page lost its worker before its verdict: not kept, not audited as kept.
    assert seed not in responses
    assert set(responses) == {a, b}
    db = sqlite3.connect(out / "audit.sqlite")
    kept = {url for (url,) in db.execute("select url from kept")}
    assert kept == set(responses) and report["kept"] == 2
    stats = json.loads(db.execute("select stats from crawls").fetchone()[0])
    assert stats["tdmcrawl/neardup/unverified"] == 1
    log = (out / "tdmcrawl.log").read_text(encoding="utf-8")
    assert f"{seed} not kept: its near-duplicate check failed" in log
    assert "a page worker failed" in log
    # Its links were still followed (by a new worker: the crawl went on).
    assert stats["tdmcrawl/workers/jobs"] == 3
