"""Kills, signals and resume: whatever stops a crawl, nothing collected is lost or written twice.

Real ``tdmcrawl crawl`` processes on real loopback servers get a real SIGKILL,
SIGINT or SIGTERM half-way; ``--resume`` then finishes the crawl. After it,
the WARC files and the audit tell the same story: every page exactly once in
the WARC files, one ``kept`` row per response record at its file and offset,
and a copy of a reserved page in no WARC file and never both kept and excluded.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tdmcrawl.crawler.demo.loopback import LoggedRequest, LoopbackWeb, Reply, Site, text_reply
from tests.support.neardup import ORIGINAL_KK, article_html, filler, html
from tests.support.web import FAST, start_tdmcrawl, tdmcrawl

ALLOW_ALL = text_reply("User-agent: *\nAllow: /\n")


# --- the webs ------------------------------------------------------------------------------


def _slow(seconds: float, reply: Reply):
    def route(web: LoopbackWeb, request: LoggedRequest) -> Reply:
        time.sleep(seconds)
        return reply

    return route


def chain_web(pages: int, delay: float) -> LoopbackWeb:
    """A chain of slow pages ``/p0 -> /p1 -> ...``; ``/p1`` links to a copy of a reserved
    article, ``/p8`` to the article itself (``X-Robots-Tag: noai``): the copy is written,
    and its file renamed, long before its original is found reserved."""
    site = Site("site", {"/robots.txt": ALLOW_ALL})
    for i in range(pages):
        links = [f"/p{i + 1}.html"] if i + 1 < pages else []
        if i == 1:
            links.append("/copy.html")
        if i == 8:
            links.append("/original.html")
        body = article_html(f"Бет {i}", filler(i) + " " + filler(i + 1000), links=tuple(links))
        site.add(f"/p{i}.html", _slow(delay, html(body)))
    site.add("/copy.html", html(article_html("Көшірме", ORIGINAL_KK)))
    site.add(
        "/original.html",
        html(article_html("Түпнұсқа", ORIGINAL_KK), headers=[("X-Robots-Tag", "noai")]),
    )
    return LoopbackWeb([site])


def fan_web(pages: int, delay: float) -> LoopbackWeb:
    """An index linking to ``pages`` slow pages: with a download delay, many requests wait
    in the downloader, so a graceful stop takes seconds (time for a second signal)."""
    site = Site("site", {"/robots.txt": ALLOW_ALL})
    links = tuple(f"/f{i}.html" for i in range(pages))
    site.add("/", html(article_html("Индекс", filler(0), links=links)))
    for i in range(pages):
        site.add(links[i], _slow(delay, html(article_html(f"Бет {i}", filler(i + 1)))))
    return LoopbackWeb([site])


# --- reading what a crawl left ----------------------------------------------------------------


def responses(out: Path) -> list[tuple[str, str, int, str]]:
    """(url, file, offset, record id) of every response record in DIR/warc, .open files too."""
    found = []
    for path in sorted((out / "warc").glob("*.warc.gz*")):
        with path.open("rb") as stream:
            records = ArchiveIterator(stream)
            for record in records:
                if record.rec_type == "response":
                    found.append(
                        (
                            record.rec_headers.get_header("WARC-Target-URI"),
                            path.name,
                            records.get_record_offset(),
                            record.rec_headers.get_header("WARC-Record-ID"),
                        )
                    )
    return found


def kept_rows(out: Path) -> list[tuple[str, str, int, str]]:
    db = sqlite3.connect(out / "audit.sqlite")
    try:
        return db.execute("select url, warc_file, warc_offset, record_id from kept").fetchall()
    finally:
        db.close()


def excluded_urls(out: Path) -> set[str]:
    db = sqlite3.connect(out / "audit.sqlite")
    try:
        return {row[0] for row in db.execute("select url from exclusions")}
    finally:
        db.close()


def state(out: Path) -> dict:
    return json.loads((out / "tdmcrawl-state.json").read_text(encoding="utf-8"))


def assert_consistent(out: Path, expected_urls: set[str]) -> None:
    """The WARC files and the audit tell one story, and it holds every expected page once."""
    assert not list(out.rglob("*.open"))
    found = responses(out)
    urls = [url for url, *_ in found]
    twice = sorted({u for u in urls if urls.count(u) > 1})
    assert not twice, f"{len(twice)} URLs written twice: {twice[:5]}"
    assert set(urls) == expected_urls
    assert sorted(kept_rows(out)) == sorted(found)  # url, file, offset, record id
    assert not set(urls) & excluded_urls(out)  # never both kept and excluded


# --- running and stopping crawls ------------------------------------------------------------------


class Crawl:
    """A ``tdmcrawl crawl`` process whose stderr is read as it comes (for the stop message)."""

    def __init__(self, *args: str) -> None:
        self.proc = start_tdmcrawl(*args)
        self.stderr: list[tuple[float, str]] = []
        self.stdout = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append((time.monotonic(), line))

    def signal(self, signum: int) -> float:
        self.proc.send_signal(signum)
        return time.monotonic()

    def wait(self, timeout: float = 120) -> int:
        assert self.proc.stdout is not None
        self.stdout = self.proc.stdout.read()
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code

    def err_text(self) -> str:
        return "".join(line for _, line in self.stderr)


def wait_for(predicate, timeout: float = 60.0, what: str = "the crawl") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def pages_requested(web: LoopbackWeb, prefix: str) -> int:
    return len([p for p in web.requested_paths("site") if p.startswith(prefix)])


MAX_SIZE = "5000"  # two or three pages per WARC file: files rotate all through the crawl


def chain_args(web: LoopbackWeb, out: Path, *extra: str) -> list[str]:
    return [
        "crawl",
        web.url("site", "/p0.html"),
        "--out",
        str(out),
        "--progress",
        "0",
        *FAST,
        "-s",
        "CONCURRENT_REQUESTS=1",
        "-s",
        f"TDMCRAWL_WARC_MAX_SIZE={MAX_SIZE}",
        *extra,
    ]


def resume_args(out: Path, *extra: str) -> list[str]:
    return [
        "crawl",
        "--out",
        str(out),
        "--resume",
        "--progress",
        "0",
        *FAST,
        "-s",
        "CONCURRENT_REQUESTS=1",
        "-s",
        f"TDMCRAWL_WARC_MAX_SIZE={MAX_SIZE}",
        *extra,
    ]


# --- 4. kill -9 after a rotation, then --resume ---------------------------------------------------

CHAIN = 40


def test_kill_after_a_warc_rotation_then_resume_writes_every_page_once(tmp_path):
    """Pages of files renamed before the kill had their audit rows still in the writer's
    batch: the resume must not write them again, and must audit them from the WARC files."""
    out = tmp_path / "out"
    with chain_web(CHAIN, 0.12) as web:
        origin = web.origin("site")
        # Two kills: the second lands in the run that recovered from the first.
        for at, args in ((14, chain_args(web, out)), (26, resume_args(out))):
            proc = start_tdmcrawl(*args)
            try:
                wait_for(lambda at=at: pages_requested(web, "/p") >= at, what=f"page {at}")
            finally:
                proc.kill()
                proc.communicate(timeout=60)
            assert len(list((out / "warc").glob("*.warc.gz"))) >= 2  # rotated before the kill
            assert state(out)["running"] is True
        final = tdmcrawl(*resume_args(out, "--json"), timeout=240)
        assert final.returncode == 0, final.stderr
    expected = {f"{origin}/p{i}.html" for i in range(CHAIN)}
    assert_consistent(out, expected)
    copy = f"{origin}/copy.html"
    # The copy of the reserved article: in no WARC file, excluded, never kept.
    assert copy not in {url for url, *_ in responses(out)}
    assert copy in excluded_urls(out)
    story = json.loads(tdmcrawl("audit", str(out), "--url", copy, "--json").stdout)
    assert story["status"] == "excluded" and story["kept"] == []


def big_chain_web(pages: int) -> LoopbackWeb:
    """The chain, with eight pages of about 3 MB (inline script, not text) written next to
    the copy: the copy's file is big, so removing the copy from it at the end takes a while."""
    web = chain_web(pages, 0.02)
    site = web.sites["site"]
    bigs = [f"/big{i}.html" for i in range(8)]
    links = ("/p2.html", *bigs, "/copy.html")  # LIFO: the copy first, then the big pages
    site.add("/p1.html", html(article_html("Бет 1", filler(1), links=links)))
    for i, path in enumerate(bigs):
        script = f"<script>var blob = '{os.urandom(1_500_000).hex()}';</script>"
        body = article_html(f"Үлкен {i}", filler(i + 500)).replace(
            b"</body>", script.encode() + b"</body>"
        )
        site.add(path, html(body))
    return web


@pytest.mark.parametrize(
    "max_size",
    ["40000000", "10000000"],
    ids=["copy-file-still-open-at-the-end", "copy-file-finished-before-the-end"],
)
def test_kill_during_the_end_of_crawl_release_leaves_no_copy(tmp_path, max_size):
    """At the end of the crawl the release step audits the copy as excluded, then cuts it
    out of its (big) file, still open or finished long before: a kill between the two must
    not leave the copy in a WARC file while the audit says "EXCLUDED at release"."""
    out = tmp_path / "out"
    with big_chain_web(12) as web:
        origin = web.origin("site")
        copy = f"{origin}/copy.html"
        proc = start_tdmcrawl(*chain_args(web, out, "-s", f"TDMCRAWL_WARC_MAX_SIZE={max_size}"))

        def released() -> bool:
            try:
                db = sqlite3.connect(f"file:{out / 'audit.sqlite'}?mode=ro", uri=True)
                try:
                    return bool(
                        db.execute("select 1 from exclusions where stage = 'release'").fetchone()
                    )
                finally:
                    db.close()
            except sqlite3.Error:
                return False

        try:
            wait_for(released, timeout=120, what="the release step")
        finally:
            proc.kill()
            proc.communicate(timeout=60)
        assert state(out)["running"] is True
        resumed = tdmcrawl(
            *resume_args(out, "-s", f"TDMCRAWL_WARC_MAX_SIZE={max_size}"), timeout=240
        )
        assert resumed.returncode == 0, resumed.stderr
    assert copy not in {url for url, *_ in responses(out)}
    assert copy in excluded_urls(out)
    expected = {f"{origin}/p{i}.html" for i in range(12)} | {
        f"{origin}/big{i}.html" for i in range(8)
    }
    assert_consistent(out, expected)


# --- 5. a second Ctrl-C, or SIGTERM after it ----------------------------------------------------

FAN = 30


def fan_args(web: LoopbackWeb, out: Path, *extra: str) -> list[str]:
    """Politeness on (a delay per request): a graceful stop waits for the downloader."""
    return [
        "crawl",
        web.url("site", "/"),
        "--out",
        str(out),
        "--progress",
        "0",
        "-s",
        "AUTOTHROTTLE_ENABLED=False",
        "-s",
        "DOWNLOAD_DELAY=0.4",
        "-s",
        "RANDOMIZE_DOWNLOAD_DELAY=False",
        "-s",
        "RETRY_TIMES=0",
        "-s",
        "CONCURRENT_REQUESTS_PER_DOMAIN=1",
        "-s",
        f"TDMCRAWL_WARC_MAX_SIZE={MAX_SIZE}",
        *extra,
    ]


@pytest.mark.parametrize(
    "signals",
    [(signal.SIGINT, signal.SIGINT), (signal.SIGINT, signal.SIGTERM), (signal.SIGTERM,) * 2],
    ids=["ctrl-c-twice", "ctrl-c-then-sigterm", "sigterm-twice"],
)
def test_a_second_signal_forces_a_stop_that_resumes_like_a_kill(tmp_path, signals):
    out = tmp_path / "out"
    with fan_web(FAN, 0.05) as web:
        origin = web.origin("site")
        crawl = Crawl(*fan_args(web, out))
        wait_for(lambda: pages_requested(web, "/f") >= 5, what="five pages")
        crawl.signal(signals[0])
        time.sleep(0.5)
        assert crawl.proc.poll() is None, "the graceful stop should still be draining"
        crawl.signal(signals[1])
        code = crawl.wait()
        assert code == 128 + signals[1], crawl.err_text()
        assert "Traceback" not in crawl.err_text()
        assert "--resume" in crawl.err_text()
        assert state(out)["running"] is True  # a forced stop is not a clean stop
        assert pages_requested(web, "/f") < FAN

        resumed = tdmcrawl(*resume_args(out), timeout=240)
        assert resumed.returncode == 0, resumed.stderr
    expected = {f"{origin}/", *(f"{origin}/f{i}.html" for i in range(FAN))}
    assert_consistent(out, expected)


# --- 6. one Ctrl-C: say so at once, exit non-zero, report the crawl's totals --------------------


def test_one_ctrl_c_says_at_once_how_to_stop_and_go_on(tmp_path):
    out = tmp_path / "out"
    with fan_web(FAN, 0.05) as web:
        origin = web.origin("site")
        crawl = Crawl(*fan_args(web, out, "--json"))
        wait_for(lambda: pages_requested(web, "/f") >= 4, what="four pages")
        sent = crawl.signal(signal.SIGINT)
        wait_for(lambda: "stopping" in crawl.err_text(), timeout=2.0, what="the stop message")
        said_at = next(at for at, line in crawl.stderr if "stopping" in line)
        assert said_at - sent < 1.0
        message = crawl.err_text()
        assert "Ctrl-C again" in message and "--resume" in message
        code = crawl.wait()
        assert code == 130, crawl.err_text()
        report = json.loads(crawl.stdout)
        assert report["interrupted"] is True
        assert report["kept"] == len(kept_rows(out))
        assert state(out)["running"] is False  # one Ctrl-C is a clean stop
        first_kept = len(kept_rows(out))

        # The resumed run is interrupted too: its totals are the crawl's, both runs'.
        crawl = Crawl(*resume_args(out, "--json"))
        wait_for(lambda: len(kept_rows(out)) >= first_kept + 2, what="two more pages")
        crawl.signal(signal.SIGINT)
        assert crawl.wait() == 130
        report = json.loads(crawl.stdout)
        assert report["interrupted"] is True
        assert report["kept"] == len(kept_rows(out)) > report["run"]["kept"]

        done = tdmcrawl(*resume_args(out, "--json"), timeout=240)
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["interrupted"] is False
        assert report["kept"] == FAN + 1
    assert_consistent(out, {f"{origin}/", *(f"{origin}/f{i}.html" for i in range(FAN))})


def test_sigterm_stops_cleanly_with_its_own_status(tmp_path):
    out = tmp_path / "out"
    with fan_web(FAN, 0.05) as web:
        origin = web.origin("site")
        crawl = Crawl(*fan_args(web, out))
        wait_for(lambda: pages_requested(web, "/f") >= 4, what="four pages")
        crawl.signal(signal.SIGTERM)
        assert crawl.wait() == 128 + signal.SIGTERM
        assert "interrupted" in crawl.stdout
        assert state(out)["running"] is False
        assert not list(out.rglob("*.open"))
        done = tdmcrawl(*resume_args(out), timeout=240)
        assert done.returncode == 0, done.stderr
    assert_consistent(out, {f"{origin}/", *(f"{origin}/f{i}.html" for i in range(FAN))})


# --- 7. the audit of a killed crawl says it is incomplete -----------------------------------------


def test_audit_of_a_killed_crawl_says_it_is_incomplete_and_how_to_repair(tmp_path):
    out = tmp_path / "out"
    with chain_web(CHAIN, 0.12) as web:
        proc = start_tdmcrawl(*chain_args(web, out))
        try:
            wait_for(lambda: pages_requested(web, "/p") >= 8, what="page 8")
        finally:
            proc.kill()
            proc.communicate(timeout=60)
        summary = tdmcrawl("audit", str(out))
        as_json = tdmcrawl("audit", str(out), "--json")
        story = tdmcrawl("audit", str(out), "--url", web.url("site", "/p1.html"))
        assert summary.returncode == 0, summary.stderr
        for proc in (summary, story):
            assert "incomplete" in proc.stderr
            assert f"tdmcrawl crawl --out {out} --resume" in proc.stderr
        incomplete = json.loads(as_json.stdout)["incomplete"]
        assert incomplete["open_files"] and incomplete["unfinished_crawls"]

        resumed = tdmcrawl(*resume_args(out), timeout=240)
        assert resumed.returncode == 0, resumed.stderr
    after = tdmcrawl("audit", str(out), "--json")
    assert "incomplete" not in after.stderr
    assert json.loads(after.stdout)["incomplete"] is None
