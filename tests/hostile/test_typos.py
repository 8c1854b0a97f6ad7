"""Typos and bad values that would switch something off: each stops the run before it starts.

A misspelt boolean, an unknown ``TDMCRAWL_*`` name, a size or delay out of range, an
``--out`` that lands in the current directory or inside another crawl, a User-Agent
claiming to be Scrapy: every command (``crawl``, ``check``, ``filter``) and the add-on
refuse them with one line naming the setting, exit 2, and nothing written or fetched.
The page limit is a hard cap on pages fetched, and a crawl that reached no seed host
says so and fails.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tdmcrawl.crawler import settings as tds
from tdmcrawl.crawler.demo.loopback import (
    LoggedRequest,
    LoopbackWeb,
    Reply,
    Site,
    free_port,
    text_reply,
)
from tdmcrawl.optout.origins import ORIGIN_FILES
from tests.support.project import scrapy_crawl, write_project
from tests.support.web import FAST, KAZAKH, page, tdmcrawl

BOOLEAN_SETTINGS = sorted(
    name for name, (default, _doc) in tds.SETTINGS.items() if isinstance(default, bool)
)
ORIGIN_PATHS = {origin_file.path for origin_file in ORIGIN_FILES}


@pytest.fixture(scope="module")
def web() -> Iterator[LoopbackWeb]:
    site = Site(
        "site",
        {
            "/robots.txt": text_reply("User-agent: *\nAllow: /\n"),
            "/": page("Home", KAZAKH, ["/a.html"]),
            "/a.html": page("A", "A page that may be used."),
        },
    )
    with LoopbackWeb([site]) as served:
        yield served


@pytest.fixture(scope="module")
def earlier_crawl(web: LoopbackWeb, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished crawl's DIR, for --out attacks that land inside it."""
    out = tmp_path_factory.mktemp("earlier") / "crawl"
    proc = tdmcrawl("crawl", web.url("site", "/"), "--out", str(out), "--progress", "0", *FAST)
    assert proc.returncode == 0, proc.stderr
    assert (out / "audit.sqlite").exists() and list((out / "warc").glob("*.warc.gz"))
    return out


def error_line(proc) -> str:
    """The one ``Error:`` line of a refused run (Click may print usage lines above it)."""
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, proc.stderr[-3000:]
    return lines[0]


def assert_refused(proc, *fragments: str, status: int = 2) -> None:
    assert proc.returncode == status, (proc.returncode, proc.stdout[-2000:], proc.stderr[-3000:])
    line = error_line(proc)
    for fragment in fragments:
        assert fragment in line, line


def refused_crawl(web: LoopbackWeb, tmp_path: Path, *args: str, cwd: Path | None = None):
    """A crawl that must be refused: returns the process; asserts nothing was fetched or written."""
    before = len(web.requests)
    out = tmp_path / "out"
    proc = tdmcrawl(
        "crawl", web.url("site", "/"), "--out", str(out), "--progress", "0", *FAST, *args, cwd=cwd
    )
    assert len(web.requests) == before, "a refused crawl must not fetch anything"
    assert not out.exists(), f"a refused crawl wrote {sorted(p.name for p in out.iterdir())}"
    return proc


# --- 1. a misspelt boolean, an unknown name -------------------------------------------------


def test_every_setting_has_a_type_and_range():
    """A setting without a rule would escape the validation pass."""
    assert set(tds.RULES) == set(tds.SETTINGS)
    for name, (default, _doc) in tds.SETTINGS.items():
        if default is not None:  # the declared default passes its own rule
            assert tds.value_problem(tds.RULES[name], default) is None, name


@pytest.mark.parametrize("name", BOOLEAN_SETTINGS)
def test_misspelt_boolean_stops_crawl(name, web, tmp_path):
    proc = refused_crawl(web, tmp_path, "-s", f"{name}=flase")
    assert_refused(proc, name, "flase")


@pytest.mark.parametrize("name", ["TDMCRAWL_DEDUP", "TDMCRAWL_NOAI"])
def test_misspelt_boolean_stops_check(name, web):
    before = len(web.requests)
    proc = tdmcrawl("check", web.url("site", "/"), "-s", f"{name}=flase")
    assert_refused(proc, name, "flase")
    assert len(web.requests) == before


@pytest.mark.parametrize("name", ["TDMCRAWL_DEDUP", "TDMCRAWL_TDMREP"])
def test_misspelt_boolean_stops_filter(name, earlier_crawl, tmp_path):
    warc = sorted((earlier_crawl / "warc").glob("*.warc.gz"))[0]
    out = tmp_path / "filtered"
    proc = tdmcrawl("filter", str(warc), "--out", str(out), "-s", f"{name}=flase")
    assert_refused(proc, name, "flase")
    assert not out.exists()


def test_misspelt_boolean_stops_the_addon(web, tmp_path):
    out = tmp_path / "out"
    root = write_project(tmp_path / "project", out)
    before = len(web.requests)
    proc = scrapy_crawl(root, web.url("site", "/"), "-s", "TDMCRAWL_DEDUP=flase")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    named = [line for line in proc.stderr.splitlines() if "TDMCRAWL_DEDUP" in line]
    assert len(named) == 1 and "flase" in named[0], proc.stderr[-3000:]
    assert len(web.requests) == before and not out.exists()


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("TDMCRAWL_DEDUPE", "TDMCRAWL_DEDUP"),
        ("TDMCRAWL_NO_AI", "TDMCRAWL_NOAI"),
        ("TDMCRAWL_WARC_MAXSIZE", "TDMCRAWL_WARC_MAX_SIZE"),
        ("tdmcrawl_dedup", "TDMCRAWL_DEDUP"),
        ("TDMCRAW_FETCH_RESERVED", "TDMCRAWL_FETCH_RESERVED"),
    ],
)
def test_unknown_setting_name_is_refused_with_did_you_mean(typo, meant, web, tmp_path):
    proc = refused_crawl(web, tmp_path, "-s", f"{typo}=False")
    assert_refused(proc, typo, f"did you mean {meant}")


def test_unknown_setting_name_in_project_settings_stops_the_addon(web, tmp_path):
    out = tmp_path / "out"
    root = write_project(tmp_path / "project", out, "TDMCRAWL_FETCH_RESERVD = False\n")
    before = len(web.requests)
    proc = scrapy_crawl(root, web.url("site", "/"))
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "did you mean TDMCRAWL_FETCH_RESERVED" in proc.stderr
    assert len(web.requests) == before and not out.exists()


# --- 2. values that switch something off -----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["-s", "TDMCRAWL_WARC_MAX_SIZE=-1"], "TDMCRAWL_WARC_MAX_SIZE"),
        (["-s", "TDMCRAWL_WARC_MAX_SIZE=0"], "TDMCRAWL_WARC_MAX_SIZE"),
        (["-s", "TDMCRAWL_WARC_MAX_SIZE=big"], "TDMCRAWL_WARC_MAX_SIZE"),
        (["--progress", "-1"], "--progress"),
        (["-s", "DOWNLOAD_DELAY=-1"], "DOWNLOAD_DELAY"),
        (["-s", "AUTOTHROTTLE_START_DELAY=-2"], "AUTOTHROTTLE_START_DELAY"),
        (["-s", "AUTOTHROTTLE_MAX_DELAY=-1"], "AUTOTHROTTLE_MAX_DELAY"),
        (["-s", "AUTOTHROTTLE_TARGET_CONCURRENCY=0"], "AUTOTHROTTLE_TARGET_CONCURRENCY"),
        (["-s", "CONCURRENT_REQUESTS=0"], "CONCURRENT_REQUESTS"),
        (["-s", "CONCURRENT_REQUESTS_PER_DOMAIN=0"], "CONCURRENT_REQUESTS_PER_DOMAIN"),
        (["-s", "DOWNLOAD_TIMEOUT=0"], "DOWNLOAD_TIMEOUT"),
        (["-s", "RETRY_TIMES=-1"], "RETRY_TIMES"),
        (["-s", "DEPTH_LIMIT=-1"], "DEPTH_LIMIT"),
        (["-s", "TDMCRAWL_TEXT_TYPES="], "TDMCRAWL_TEXT_TYPES"),
        (["-s", "TDMCRAWL_TEXT_TYPES= , "], "TDMCRAWL_TEXT_TYPES"),
        (["-s", "TDMCRAWL_TEXT_TYPES=html"], "TDMCRAWL_TEXT_TYPES"),
        (["-s", "TDMCRAWL_MAX_PAGES=-5"], "TDMCRAWL_MAX_PAGES"),
        (["-s", "TDMCRAWL_ORIGIN_MAXSIZE=0"], "TDMCRAWL_ORIGIN_MAXSIZE"),
        (["-s", "TDMCRAWL_ORIGIN_TIMEOUT=0"], "TDMCRAWL_ORIGIN_TIMEOUT"),
        (["-s", "TDMCRAWL_ORIGIN_TTL=-1"], "TDMCRAWL_ORIGIN_TTL"),
        (["-s", "TDMCRAWL_ORIGIN_RETRY=soon"], "TDMCRAWL_ORIGIN_RETRY"),
        (["-s", "TDMCRAWL_PROGRESS_INTERVAL=-1"], "TDMCRAWL_PROGRESS_INTERVAL"),
        (["-s", "TDMCRAWL_SCOPE=hots"], "TDMCRAWL_SCOPE"),
        (["-s", "TDMCRAWL_WARC_PREFIX="], "TDMCRAWL_WARC_PREFIX"),
        (["-s", "TDMCRAWL_WARC_PREFIX=../elsewhere"], "TDMCRAWL_WARC_PREFIX"),
        (["-s", "TDMCRAWL_DEDUP_NAMESPACE="], "TDMCRAWL_DEDUP_NAMESPACE"),
        (["-s", "TDMCRAWL_REGISTRY="], "TDMCRAWL_REGISTRY"),
        (["-s", "TDMCRAWL_DEDUP_REDIS=localhost:6379"], "TDMCRAWL_DEDUP_REDIS"),
        (["-s", "TDMCRAWL_HTML_META_MAX_BYTES=10"], "TDMCRAWL_HTML_META_MAX_BYTES"),
        (["-s", "TDMCRAWL_WORKERS=-1"], "TDMCRAWL_WORKERS"),
        (["-s", "TDMCRAWL_WORKERS=two"], "TDMCRAWL_WORKERS"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_value_that_switches_something_off_is_refused(args, named, web, tmp_path):
    proc = refused_crawl(web, tmp_path, *args)
    assert_refused(proc, named)


def test_negative_warc_max_size_is_refused_by_the_addon(web, tmp_path):
    out = tmp_path / "out"
    root = write_project(tmp_path / "project", out, "TDMCRAWL_WARC_MAX_SIZE = -1\n")
    before = len(web.requests)
    proc = scrapy_crawl(root, web.url("site", "/"))
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "TDMCRAWL_WARC_MAX_SIZE" in proc.stderr and "Traceback" not in proc.stderr
    assert len(web.requests) == before and not out.exists()


# --- 3. --out in the current directory or inside another crawl ------------------------------


@pytest.mark.parametrize("command", ["crawl", "filter"])
def test_empty_out_is_refused_and_writes_nothing_here(command, web, earlier_crawl, tmp_path):
    here = tmp_path / "here"
    here.mkdir()
    if command == "crawl":
        args = ["crawl", web.url("site", "/"), "--progress", "0", *FAST]
    else:
        args = ["filter", str(sorted((earlier_crawl / "warc").glob("*.warc.gz"))[0])]
    proc = tdmcrawl(*args, "--out", "", cwd=here)
    assert_refused(proc, "--out")
    assert list(here.iterdir()) == []


@pytest.mark.parametrize("inside", ["warc", "evidence", "warc/more", "notes"])
@pytest.mark.parametrize("command", ["crawl", "filter"])
def test_out_inside_another_crawl_is_refused(command, inside, web, earlier_crawl, tmp_path):
    target = earlier_crawl / inside
    before = sorted(p.relative_to(earlier_crawl) for p in earlier_crawl.rglob("*"))
    if command == "crawl":
        args = ["crawl", web.url("site", "/"), "--progress", "0", *FAST]
    else:
        args = ["filter", str(sorted((earlier_crawl / "warc").glob("*.warc.gz"))[0])]
    proc = tdmcrawl(*args, "--out", str(target))
    assert_refused(proc, "--out", str(earlier_crawl))
    assert sorted(p.relative_to(earlier_crawl) for p in earlier_crawl.rglob("*")) == before


# --- 4. one User-Agent rule for every command -------------------------------------------------

SCRAPY_AGENT = "Scrapy/2.0 (+https://scrapy.org)"


@pytest.mark.parametrize(
    "args",
    [
        ["--user-agent", SCRAPY_AGENT],
        ["-s", f"USER_AGENT={SCRAPY_AGENT}"],
        ["-s", f"TDMCRAWL_USER_AGENT={SCRAPY_AGENT}"],
        ["-s", "TDMCRAWL_CONTACT=https://example.org/scrapy-bot"],
        ["-s", "USER_AGENT=тдмкраул/1.0"],
    ],
    ids=["--user-agent", "-s USER_AGENT", "-s TDMCRAWL_USER_AGENT", "contact", "non-ASCII"],
)
@pytest.mark.parametrize("command", ["crawl", "check"])
def test_user_agent_claiming_scrapy_is_refused_by_every_command(command, args, web, tmp_path):
    if command == "crawl":
        proc = refused_crawl(web, tmp_path, *args)
    else:
        before = len(web.requests)
        proc = tdmcrawl("check", web.url("site", "/"), *args)
        assert len(web.requests) == before
    assert_refused(proc)
    line = error_line(proc)
    assert "Scrapy" in line or "printable ASCII" in line, line


def test_contact_naming_scrapy_is_refused_by_crawl(web, tmp_path):
    proc = refused_crawl(web, tmp_path, "--contact", "https://example.org/scrapy-bot")
    assert_refused(proc, "Scrapy")


def test_user_agent_claiming_scrapy_stops_the_addon(web, tmp_path):
    out = tmp_path / "out"
    root = write_project(tmp_path / "project", out)
    before = len(web.requests)
    proc = scrapy_crawl(root, web.url("site", "/"), "-s", f"USER_AGENT={SCRAPY_AGENT}")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "USER_AGENT" in proc.stderr and "Traceback" not in proc.stderr
    assert len(web.requests) == before and not out.exists()


# --- 5. --max-pages is a hard cap on pages fetched --------------------------------------------


def _slow_page(seconds: float, reply: Reply):
    def route(_web: LoopbackWeb, _request: LoggedRequest) -> Reply:
        time.sleep(seconds)
        return reply

    return route


def test_max_pages_caps_pages_fetched_under_high_concurrency(tmp_path):
    pages = 60
    site = Site("wide", {"/robots.txt": text_reply("User-agent: *\nAllow: /\n")})
    for i in range(pages):
        links = [f"/p{j}.html" for j in range(pages) if j != i]
        site.add(f"/p{i}.html", _slow_page(0.2, page(f"Page {i}", f"{KAZAKH} {i}", links)))
    out = tmp_path / "out"
    with LoopbackWeb([site]) as wide:
        proc = tdmcrawl(
            "crawl",
            wide.url("wide", "/p0.html"),
            "--out",
            str(out),
            "--max-pages",
            "3",
            "--progress",
            "0",
            *FAST,
            "-s",
            "CONCURRENT_REQUESTS=64",
            "-s",
            "CONCURRENT_REQUESTS_PER_DOMAIN=64",
        )
        fetched = [p for p in wide.requested_paths("wide") if p not in ORIGIN_PATHS]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(fetched) == 3, fetched
    kept = sqlite3.connect(out / "audit.sqlite").execute("select count(*) from kept").fetchone()
    assert kept[0] == 3


# --- 6. no seed host answered -------------------------------------------------------------------


def test_crawl_of_unreachable_seed_hosts_fails(tmp_path):
    dead = [f"http://127.0.0.1:{free_port()}/", f"http://127.0.0.1:{free_port()}/a.html"]
    out = tmp_path / "out"
    proc = tdmcrawl("crawl", *dead, "--out", str(out), "--progress", "0", "--json", *FAST)
    assert proc.returncode == 1, (proc.stdout, proc.stderr[-3000:])
    line = error_line(proc)
    assert "no seed host answered" in line
    for url in dead:
        assert url.rsplit("/", 1)[0].removeprefix("http://") in line
    report = json.loads(proc.stdout)  # the report is still printed
    assert report["kept"] == 0


def test_crawl_with_one_unreachable_seed_host_warns(web, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}/"
    out = tmp_path / "out"
    proc = tdmcrawl(
        "crawl", web.url("site", "/"), dead, "--out", str(out), "--progress", "0", *FAST
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("Warning:")]
    assert len(warnings) == 1 and dead.removeprefix("http://").rstrip("/") in warnings[0]
    assert "never answered" in warnings[0]
