"""Attacks on the private network: a public page must never lead the crawler inward.

The public site is played by ``localhost`` declared public
(``TDMCRAWL_NETGUARD_PUBLIC_HOSTS``); the private targets are servers on
127.0.0.11, reached by its dotted, decimal, hexadecimal and IPv4-mapped IPv6
names. Every test asserts what the private server never received, and what
no WARC file holds.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tdmcrawl.crawler.demo.loopback import LoopbackWeb, Site, text_reply
from tdmcrawl.crawler.gates.netguard import (
    AddressResolver,
    NetGuardBlocked,
    NetGuardMiddleware,
    normalise_host,
)
from tests.support.web import FAST, page, slow_web, start_tdmcrawl, tdmcrawl

PRIVATE_HOST = "127.0.0.11"
ALLOW_ALL = "User-agent: *\nAllow: /\n"


def _private_web() -> LoopbackWeb:
    inner = Site(
        "inner",
        {
            "/robots.txt": text_reply(ALLOW_ALL),
            **{f"/{name}.html": page(name, "private network") for name in "abcdef"},
        },
    )
    return LoopbackWeb([inner], host=PRIVATE_HOST)


def _private_links(port: int) -> list[str]:
    """The same private server under each name a resolver turns into 127.0.0.11."""
    return [
        f"http://{PRIVATE_HOST}:{port}/a.html",
        f"http://2130706443:{port}/b.html",  # decimal
        f"http://0x7f00000b:{port}/c.html",  # hexadecimal
        f"http://[::ffff:{PRIVATE_HOST}]:{port}/d.html",  # IPv4-mapped IPv6
        f"http://0177.0.0.11:{port}/e.html",  # octal
        f"http://127.11:{port}/f.html",  # short form
    ]


def _port(web: LoopbackWeb, name: str) -> int:
    return int(web.origin(name).rsplit(":", 1)[1])


def _warc_uris(out: Path) -> list[str]:
    uris = []
    for path in sorted((out / "warc").glob("*.warc.gz*")):
        with path.open("rb") as stream:
            uris += [
                r.rec_headers.get_header("WARC-Target-URI")
                for r in ArchiveIterator(stream)
                if r.rec_type == "response"
            ]
    return uris


def _crawl_public(port: int, out: Path, *extra: str) -> list[str]:
    return [
        "crawl",
        f"http://localhost:{port}/",
        "--out",
        str(out),
        "--scope",
        "any",
        "--progress",
        "0",
        *FAST,
        "-s",
        "TDMCRAWL_NETGUARD_PUBLIC_HOSTS=localhost",
        *extra,
    ]


@pytest.mark.parametrize(
    "policy",
    [
        [("Referrer-Policy", "no-referrer")],
        [("Referrer-Policy", "same-origin")],
        [("Referrer-Policy", "origin-when-cross-origin, no-referrer")],
    ],
    ids=["no-referrer", "same-origin", "list-ending-no-referrer"],
)
def test_referrer_policy_does_not_turn_private_links_into_seeds(tmp_path, policy):
    out = tmp_path / "out"
    public = Site("public", {"/robots.txt": text_reply(ALLOW_ALL)})
    with _private_web() as private, LoopbackWeb([public]) as web:
        links = _private_links(_port(private, "inner"))
        public.add("/", page("Public", "links inward, no Referer", links, headers=policy))
        proc = tdmcrawl(*_crawl_public(_port(web, "public"), out))
        assert proc.returncode == 0, proc.stderr
        assert web.requested_paths("public")  # the public page was crawled
        assert private.requested_paths("inner") == []  # not even its robots.txt
    assert not [u for u in _warc_uris(out) if "localhost" not in u]


def test_links_of_a_reserved_public_page_do_not_lead_inward(tmp_path):
    """A reserved page's links are followed from the errback, where Scrapy sets no Referer."""
    out = tmp_path / "out"
    public = Site("public", {"/robots.txt": text_reply(ALLOW_ALL)})
    with _private_web() as private, LoopbackWeb([public]) as web:
        links = _private_links(_port(private, "inner"))
        public.add("/", page("Reserved", "noai", links, headers=[("X-Robots-Tag", "noai")]))
        proc = tdmcrawl(*_crawl_public(_port(web, "public"), out))
        assert proc.returncode == 0, proc.stderr
        assert private.requested_paths("inner") == []
    assert _warc_uris(out) == []


def _wait_for(predicate, timeout: float = 60.0, what: str = "the crawl") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _slow_page(seconds: float, title: str, links: list[str]):
    reply = page(title, f"{title}: a slow public page", links)

    def route(web: LoopbackWeb, request: object):
        time.sleep(seconds)
        return reply

    return route


def test_resume_after_a_kill_does_not_fetch_refused_private_links(tmp_path):
    """The link log's links carry their parent: the resumed crawl refuses them again."""
    out = tmp_path / "out"
    public = Site("public", {"/robots.txt": text_reply(ALLOW_ALL)})
    for i in range(20):  # a chain of slow public pages keeps the crawl busy until the kill
        public.add(f"/s{i}.html", _slow_page(0.3, f"s{i}", [f"/s{i + 1}.html"] if i < 19 else []))
    with _private_web() as private, LoopbackWeb([public]) as web:
        links = _private_links(_port(private, "inner"))
        public.add("/", page("Public", "links inward", [*links, "/s0.html"]))
        proc = start_tdmcrawl(
            *_crawl_public(_port(web, "public"), out, "-s", "CONCURRENT_REQUESTS=1")
        )

        def slow_pages() -> int:
            return len([p for p in web.requested_paths("public") if p.startswith("/s")])

        try:
            _wait_for(lambda: slow_pages() >= 3, what="the slow pages")
            assert "2130706443" in (out / "tdmcrawl-links.jsonl").read_text(encoding="utf-8")
        finally:
            proc.kill()
            proc.communicate(timeout=60)
        assert private.requested_paths("inner") == []  # refused in the first run
        before = slow_pages()

        resumed = tdmcrawl(
            "crawl",
            "--out",
            str(out),
            "--resume",
            "--progress",
            "0",
            *FAST,
            "-s",
            "TDMCRAWL_NETGUARD_PUBLIC_HOSTS=localhost",
            timeout=180,
        )
        assert resumed.returncode == 0, resumed.stderr
        assert private.requested_paths("inner") == []  # and again on resume
        assert slow_pages() > before  # the resume did go on
    uris = _warc_uris(out)
    assert uris and all(u.startswith("http://localhost:") for u in uris)


@pytest.mark.parametrize(
    ("spelling", "address"),
    [
        ("127.0.0.11", "127.0.0.11"),
        ("2130706443", "127.0.0.11"),
        ("0x7f00000b", "127.0.0.11"),
        ("0X7F00000B", "127.0.0.11"),
        ("0177.0.0.11", "127.0.0.11"),
        ("0x7f.0.0.0xb", "127.0.0.11"),
        ("127.11", "127.0.0.11"),
        ("127.0.11", "127.0.0.11"),
        ("[::ffff:127.0.0.11]", "127.0.0.11"),
        ("::ffff:7f00:b", "127.0.0.11"),
        ("[::FFFF:7F00:000B]", "127.0.0.11"),
        ("0", "0.0.0.0"),
        ("167772161", "10.0.0.1"),
        ("[::1]", "::1"),
        ("localhost.", "localhost"),
        ("Example.ORG", "example.org"),
        ("1.2.3.4.5", "1.2.3.4.5"),  # not a number: a name, left to the resolver
    ],
)
def test_numeric_host_spellings_are_normalised_before_the_check(spelling, address):
    assert normalise_host(spelling) == address


@pytest.mark.parametrize("host", ["2130706443", "0x7f00000b", "[::ffff:127.0.0.11]", "127.11"])
def test_numeric_private_hosts_are_refused_without_asking_a_resolver(host):
    """The numeric spellings are read as addresses, never handed to DNS (which a hostile
    network could answer with anything)."""
    resolver = AddressResolver(["news.example"])
    guard = NetGuardMiddleware(resolver)
    with pytest.raises(NetGuardBlocked):
        asyncio.run(guard.check(f"http://{host}:8080/a.html", "http://news.example/"))
    assert resolver._cache == {normalise_host(host): [normalise_host(host)]}


def test_an_unresolvable_host_linked_from_a_public_page_is_refused():
    """Fail closed: the downloader's resolver might answer what ours could not."""
    resolver = AddressResolver(["news.example"])
    resolver._cache["gone.example"] = []  # what an unresolvable name leaves in the cache
    guard = NetGuardMiddleware(resolver)
    with pytest.raises(NetGuardBlocked, match="cannot be resolved"):
        asyncio.run(guard.check("http://gone.example/a.html", "http://news.example/"))
    # From a private page (or as a seed) nothing is refused.
    asyncio.run(guard.check("http://gone.example/a.html", "http://127.0.0.1:8/"))
    asyncio.run(guard.check("http://gone.example/a.html", None))


# --- listeners ---------------------------------------------------------------------------


def listening_ports(pid: int) -> set[int]:
    """TCP ports a process listens on, from /proc (its socket inodes in LISTEN state)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def _watch_listeners(proc: subprocess.Popen, web: LoopbackWeb, pages: int) -> set[int]:
    """Every port ``proc`` listened on while it crawled ``pages`` slow pages."""
    seen: set[int] = set()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            seen |= listening_ports(proc.pid)
        except OSError:
            break  # the process ended
        if len(web.requested_paths("slow")) >= pages:
            break
        time.sleep(0.05)
    assert len(web.requested_paths("slow")) >= pages, "the crawl did not get going"
    return seen


def test_a_crawl_opens_no_listening_socket(tmp_path):
    """Scrapy 2.19 starts an HTTP server running Python sent to it (remote control), and a
    telnet console: neither may listen during a crawl unless asked for."""
    with slow_web(12, 0.2) as web:
        proc = start_tdmcrawl(
            "crawl",
            web.url("slow", "/p0.html"),
            "--out",
            str(tmp_path / "out"),
            "--progress",
            "0",
            *FAST,
            "-s",
            "CONCURRENT_REQUESTS=1",
        )
        try:
            seen = _watch_listeners(proc, web, 6)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=60)
    assert seen == set()


ADDON_SETTINGS = """
BOT_NAME = "plainproj"
SPIDER_MODULES = ["plainproj.spiders"]
ADDONS = {{"tdmcrawl.crawler.addon.TdmcrawlAddon": 0}}
TDMCRAWL_OUT_DIR = {out!r}
DOWNLOAD_DELAY = 0
AUTOTHROTTLE_ENABLED = False
CONCURRENT_REQUESTS = 1
{extra}
"""

ADDON_SPIDER = """
import os
import scrapy


class SiteSpider(scrapy.Spider):
    name = "site"
    start_urls = [os.environ["PLAIN_START"]]

    def parse(self, response):
        yield from response.follow_all(css="a", callback=self.parse)
"""


def _addon_project(root: Path, extra: str = "") -> None:
    (root / "plainproj" / "spiders").mkdir(parents=True)
    (root / "scrapy.cfg").write_text("[settings]\ndefault = plainproj.settings\n")
    (root / "plainproj" / "__init__.py").write_text("")
    (root / "plainproj" / "spiders" / "__init__.py").write_text("")
    (root / "plainproj" / "spiders" / "site.py").write_text(ADDON_SPIDER)
    (root / "plainproj" / "settings.py").write_text(
        textwrap.dedent(ADDON_SETTINGS).format(out=str(root / "out"), extra=extra)
    )


def _addon_crawl(root: Path, web: LoopbackWeb) -> subprocess.Popen:
    env = {**os.environ, "PLAIN_START": web.url("slow", "/p0.html"), "PYTHONPATH": str(root)}
    return subprocess.Popen(
        [sys.executable, "-m", "scrapy", "crawl", "site"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_addon_switches_every_listener_off_in_a_scrapy_project(tmp_path):
    _addon_project(tmp_path)
    with slow_web(12, 0.2) as web:
        proc = _addon_crawl(tmp_path, web)
        try:
            seen = _watch_listeners(proc, web, 6)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=60)
    assert seen == set()


def test_a_project_can_still_ask_for_the_remote_control(tmp_path):
    """Our choice: off at the add-on's priority, so a project's explicit setting wins."""
    jobs = tmp_path / "jobs"
    _addon_project(
        tmp_path, f"REMOTE_CONTROL_ENABLED = True\nREMOTE_CONTROL_JOBS_DIR = {str(jobs)!r}\n"
    )
    with slow_web(12, 0.2) as web:
        proc = _addon_crawl(tmp_path, web)
        try:
            seen = _watch_listeners(proc, web, 6)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=60)
    assert len(seen) == 1
