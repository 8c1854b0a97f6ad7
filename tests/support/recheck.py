"""A loopback web that changes after it was crawled, for ``tdmcrawl recheck`` tests.

``RecheckWeb`` serves two origins whose pages answer conditional requests
(``ETag`` / ``If-None-Match`` -> 304), so ``--pages`` can be seen to send the
stored validators. After the first crawl a test calls ``change()``: a kept
page gains ``TDM-Reservation: 1``, an origin's robots.txt disallows our token
for a page, and ``registered_copy_text`` (the text of a kept page) is what an
author registers.
"""

from __future__ import annotations

import hashlib
import random
import threading

from tdmcrawl.crawler.demo.loopback import LoggedRequest, LoopbackWeb, Reply, Site, text_reply
from tests.support.web import page

WORDS = [
    "дала",
    "тау",
    "өзен",
    "көл",
    "жел",
    "күн",
    "ай",
    "жұлдыз",
    "бұлт",
    "жаңбыр",
    "қар",
    "орман",
    "шөп",
    "гүл",
    "құс",
    "жылқы",
    "түйе",
    "қой",
    "ауыл",
    "қала",
    "жол",
    "көпір",
    "үй",
    "есік",
    "терезе",
    "кітап",
    "сөз",
    "өлең",
    "ән",
    "күй",
    "домбыра",
    "әже",
    "ата",
    "бала",
    "ана",
    "әке",
    "мектеп",
    "мұғалім",
    "оқушы",
    "дәптер",
    "қалам",
    "хат",
    "жаңалық",
    "тарих",
    "мәдениет",
    "тіл",
    "дәстүр",
    "мереке",
    "той",
    "дос",
    "көрші",
    "жұмыс",
    "еңбек",
    "нан",
    "сүт",
    "шай",
    "ет",
    "бал",
    "алма",
    "өрік",
    "жүзім",
    "қарбыз",
    "қауын",
    "бидай",
    "арпа",
    "тары",
]

ALLOW_ALL = "User-agent: *\nAllow: /\n"


def text_of(seed: int, words: int = 140) -> str:
    """A deterministic Kazakh text, distinct per seed (long enough to fingerprint)."""
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(words)) + "."


class RecheckWeb:
    """Two origins, ``blog`` and ``press``; see the module docstring."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tdm_header: set[str] = set()  # paths answering TDM-Reservation: 1
        self.conditional: list[tuple[str, str]] = []  # (path, If-None-Match) received
        self.not_modified = 0
        blog = Site("blog", {"/robots.txt": text_reply(ALLOW_ALL)})
        press = Site("press", {"/robots.txt": text_reply(ALLOW_ALL)})
        self.texts: dict[str, str] = {}
        for site, paths, seed in (
            (blog, ["/a.html", "/b.html", "/c.html", "/d.html"], 1),
            (press, ["/p1.html", "/p2.html"], 10),
        ):
            links = []
            for i, path in enumerate(paths):
                key = f"{site.name}{path}"
                self.texts[key] = text_of(seed + i)
                site.add(path, self._route(key))
                links.append(path)
            site.add("/", page(site.name, text_of(seed + 100), links))
        self.web = LoopbackWeb([blog, press])

    def _route(self, key: str):
        def route(web: LoopbackWeb, request: LoggedRequest) -> Reply:
            path = request.path.split("?", 1)[0]
            with self.lock:
                reserved = key in self.tdm_header
            headers = [("TDM-Reservation", "1")] if reserved else []
            reply = page(key, self.texts[key], headers=headers)
            etag = '"' + hashlib.sha1(reply.body + repr(headers).encode()).hexdigest() + '"'
            sent = dict((k.lower(), v) for k, v in request.headers).get("if-none-match")
            if sent is not None:
                with self.lock:
                    self.conditional.append((path, sent))
            if sent == etag:
                with self.lock:
                    self.not_modified += 1
                return Reply(304, [("ETag", etag), *headers], b"")
            return Reply(reply.status, [*reply.headers, ("ETag", etag)], reply.body)

        return route

    def start(self) -> RecheckWeb:
        self.web.start()
        return self

    def stop(self) -> None:
        self.web.stop()

    def url(self, site: str, path: str = "/") -> str:
        return self.web.url(site, path)

    def change(self) -> None:
        """After the crawl: b.html reserved by header, p1.html disallowed for our token."""
        with self.lock:
            self.tdm_header.add("blog/b.html")
        self.web.sites["press"].add(
            "/robots.txt",
            text_reply("User-agent: tdmcrawl\nDisallow: /p1.html\n\nUser-agent: *\nAllow: /\n"),
        )

    @property
    def registered_copy_text(self) -> str:
        """What an author registers after the crawl: the text of the kept page c.html."""
        return self.texts["blog/c.html"]
