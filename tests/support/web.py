"""The loopback test web for crawl, check and add-on tests, and a runner for the CLI.

Every site is a real HTTP server on 127.0.0.1 (port 0) with a request log, so
tests assert what was *never requested*. Crawls run in a subprocess: the
Twisted reactor can run only once per process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tdmcrawl.crawler.demo.loopback import (
    LoggedRequest,
    LoopbackWeb,
    Reply,
    Site,
    free_port,
    html_reply,
    text_reply,
)
from tests.support import paths

REPO = paths.ROOT

# Politeness off for loopback servers the test owns.
FAST = [
    "-s",
    "DOWNLOAD_DELAY=0",
    "-s",
    "AUTOTHROTTLE_ENABLED=False",
    "-s",
    "CONCURRENT_REQUESTS_PER_DOMAIN=16",
    "-s",
    "RETRY_TIMES=0",
    "-s",
    "DOWNLOAD_TIMEOUT=10",
    "-s",
    "TDMCRAWL_ORIGIN_TIMEOUT=10",
]

KAZAKH = "Қазақ тілі: ә ғ қ ң ө ұ ү һ і. Бұл мәтінді оқытуға пайдалануға болады."
RUSSIAN = "Русский текст: этот абзац можно использовать для обучения моделей."

BIG_ROBOTS_SIZE = 600 * 1024


def redirect(location: str, status: int = 302) -> Reply:
    return Reply(status, [("Location", location), ("Content-Type", "text/plain")], b"moved\n")


def redirect_chain(site: Site, prefix: str, hops: int, final: Reply) -> str:
    """``hops`` redirects ``prefix0 -> prefix1 -> ... -> final``; returns the first path."""
    for i in range(hops):
        site.add(f"{prefix}{i}", redirect(f"{prefix}{i + 1}"))
    site.add(f"{prefix}{hops}", final)
    return f"{prefix}0"


def big_robots() -> bytes:
    """600 KiB: a rule at the start, padding, and a rule past RFC 9309's 500 KiB."""
    head = b"User-agent: *\nDisallow: /early/\n"
    filler_line = b"# padding padding padding padding padding padding padding padding\n"
    filler = filler_line * ((520 * 1024) // len(filler_line))
    tail = b"Disallow: /late/\n"
    body = head + filler + tail
    return body + b"#" * (BIG_ROBOTS_SIZE - len(body) - 1) + b"\n"


def binary_garbage(size: int = 4096) -> bytes:
    return bytes((i * 7919 + 13) % 256 for i in range(size))


def page(
    title: str,
    text: str,
    links: list[str] = (),
    *,
    head: str = "",
    lang: str = "en",
    headers: list[tuple[str, str]] | None = None,
) -> Reply:
    anchors = "".join(f'<li><a href="{href}">{href}</a></li>' for href in links)
    return html_reply(
        f"<article><h1>{title}</h1><p>{text}</p></article><ul>{anchors}</ul>",
        title=title,
        head=head,
        lang=lang,
        headers=headers,
    )


def _slow(seconds: float, reply: Reply):
    def route(web: LoopbackWeb, request: LoggedRequest) -> Reply:
        time.sleep(seconds)
        return reply

    return route


def check_web() -> LoopbackWeb:
    """One origin per robots.txt situation, for ``tdmcrawl check``."""
    allow_all = text_reply("User-agent: *\nAllow: /\n")
    sites = [
        Site(
            "open",
            {
                "/robots.txt": text_reply(
                    "User-agent: tdmcrawl\nDisallow: /private/\n\nUser-agent: *\nAllow: /\n"
                ),
                "/page.html": page("Open", KAZAKH),
                "/private/x.html": page("Private", "never requested"),
                "/noai.html": page("No AI", RUSSIAN, head='<meta name="robots" content="noai">'),
                "/scoped.html": page(
                    "Scoped", "otherbot only", headers=[("X-Robots-Tag", "otherbot: noai")]
                ),
                "/binary.html": Reply(200, [("Content-Type", "text/html")], binary_garbage()),
                "/to-private": redirect("/private/x.html"),
                "/to-page": redirect("/page.html"),
                "/missing.html": text_reply("gone", status=404),
            },
        ),
        Site(
            "r503",
            {
                "/robots.txt": text_reply("busy", status=503),
                "/page.html": page("503", "never requested"),
            },
        ),
        Site(
            "r429",
            {
                "/robots.txt": text_reply("slow down", status=429),
                "/page.html": page("429", "never requested"),
            },
        ),
        Site("r404", {"/page.html": page("404 robots", "allowed")}),
        Site("chain6", {"/page.html": page("chain6", "never requested: robots unreachable")}),
        Site("chain5", {"/page.html": page("chain5", "never requested")}),
        Site(
            "big",
            {
                "/robots.txt": Reply(200, [("Content-Type", "text/plain")], big_robots()),
                "/early/a.html": page("early", "never requested"),
                "/late/a.html": page("late", "never requested: rule past 500 KiB"),
            },
        ),
        Site(
            "tdmbad",
            {
                "/robots.txt": allow_all,
                "/.well-known/tdmrep.json": Reply(
                    200,
                    [("Content-Type", "application/json")],
                    b'[{"location": "/", "tdm-reservation": 1',
                ),
                "/page.html": page("tdmbad", "reserved: the file is cut short"),
            },
        ),
        Site(
            "tdm",
            {
                "/robots.txt": allow_all,
                "/.well-known/tdmrep.json": Reply(
                    200,
                    [("Content-Type", "application/json")],
                    b'[{"location": "/res/", "tdm-reservation": 1}]',
                ),
                "/res/a.html": page("reserved", KAZAKH),
                "/free.html": page("free", RUSSIAN),
            },
        ),
        Site(
            "garbage",
            {
                "/robots.txt": Reply(200, [("Content-Type", "text/plain")], binary_garbage()),
                "/page.html": page("garbage robots", "allowed"),
            },
        ),
        Site(
            "aitxt",
            {
                "/robots.txt": allow_all,
                "/ai.txt": text_reply("User-Agent: *\nDisallow: /\n"),
                "/page.html": page("ai.txt", "reserved"),
            },
        ),
    ]
    redirect_chain(sites[4], "/robots-hop", 6, allow_all)
    sites[4].add("/robots.txt", redirect("/robots-hop0"))
    redirect_chain(sites[5], "/robots-hop", 4, text_reply("User-agent: *\nDisallow: /\n"))
    sites[5].add("/robots.txt", redirect("/robots-hop0"))
    return LoopbackWeb(sites)


def crawl_web() -> LoopbackWeb:
    """A small web for real crawls: signals, a copy, broken pages, several origins."""
    dead = f"http://127.0.0.1:{free_port()}/"
    home = Site(
        "home",
        {
            "/robots.txt": text_reply(
                "User-agent: *\nDisallow: /private/\nDisallow: /out-private\n"
            ),
            "/": page(
                "Home",
                KAZAKH,
                [
                    "/a.html",
                    "/kk.html",
                    "/ru.html",
                    "/private/secret.html",
                    "/noai.html",
                    "/tdm.html",
                    "/err.html",
                    "/binary.bin",
                    "/huge.html",
                    "/redir",
                    "/to-private",
                    "/doc.txt",
                    "/image.png",
                    "{{origin:reserved}}/",
                    "{{origin:copy}}/",
                    "{{origin:down}}/",
                    dead,
                    "http://localhost:{{port:home}}/out-of-scope.html",
                ],
            ),
            "/a.html": page("A", "Plain English page that may be used.", ["/b.html"]),
            "/b.html": page("B", "Second level page.", ["/c.html"]),
            "/c.html": page("C", "Third level page."),
            "/kk.html": page("Қазақша", KAZAKH, lang="kk"),
            "/ru.html": page("По-русски", RUSSIAN, lang="ru"),
            "/private/secret.html": page("Secret", "never requested"),
            "/noai.html": page(
                "noai",
                "reserved by header",
                ["/from-noai.html"],
                headers=[("X-Robots-Tag", "noai")],
            ),
            "/from-noai.html": page("From noai", "reached through a reserved page"),
            "/tdm.html": page(
                "tdm", "reserved by meta", head='<meta name="tdm-reservation" content="1">'
            ),
            "/err.html": text_reply("server error", status=500),
            "/binary.bin": Reply(
                200, [("Content-Type", "application/octet-stream")], binary_garbage()
            ),
            "/huge.html": Reply(200, [("Content-Type", "text/html")], b"<p>" + b"x" * (3 << 20)),
            "/redir": redirect("/a.html"),
            "/to-private": redirect("/private/secret.html"),
            "/doc.txt": text_reply("A plain text document, kept as text/plain.\n"),
        },
    )
    reserved = Site(
        "reserved",
        {
            "/robots.txt": text_reply("User-agent: *\nAllow: /\n"),
            "/.well-known/tdmrep.json": Reply(
                200,
                [("Content-Type", "application/json")],
                b'[{"location": "/", "tdm-reservation": 1}]',
            ),
            "/": page("Reserved work", KAZAKH + " Авторлық шығарма."),
        },
    )
    copy = Site("copy", {"/": page("Copy", KAZAKH + " Авторлық шығарма.")})
    down = Site(
        "down",
        {"/robots.txt": text_reply("busy", status=503), "/": page("Down", "never requested")},
    )
    web = LoopbackWeb([home, reserved, copy, down])
    web.dead_url = dead  # a loopback port nobody listens on
    return web


def start_crawl_web() -> LoopbackWeb:
    web = crawl_web()
    web.start()
    # The out-of-scope link needs the home port, known only now.
    home = web.sites["home"]
    port = web.origin("home").rsplit(":", 1)[1]
    root = home.routes["/"]
    home.routes["/"] = Reply(
        root.status, root.headers, root.body.replace(b"{{port:home}}", port.encode())
    )
    home.add("/out-of-scope.html", page("Out of scope", "never requested"))
    return web


def slow_web(pages: int = 40, delay: float = 0.15) -> LoopbackWeb:
    """A chain of slow pages, for interrupting a crawl half-way."""
    site = Site("slow", {"/robots.txt": text_reply("User-agent: *\nAllow: /\n")})
    for i in range(pages):
        links = [f"/p{i + 1}.html"] if i + 1 < pages else []
        site.add(f"/p{i}.html", _slow(delay, page(f"Page {i}", f"{KAZAKH} {i}", links)))
    return LoopbackWeb([site])


def tdmcrawl(*args: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """Run the CLI in a fresh process (the reactor runs once per process)."""
    return subprocess.run(
        [sys.executable, "-m", "tdmcrawl.crawler.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=kwargs.pop("cwd", REPO),
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        **kwargs,
    )


def start_tdmcrawl(*args: str, cwd: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tdmcrawl.crawler.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd or REPO,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
