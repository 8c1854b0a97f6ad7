"""The links each fetched page led to, so ``--resume`` after a kill need not fetch kept pages again.

A clean stop (end, Ctrl-C) leaves Scrapy's JOBDIR queue consistent; a kill
does not, and the JOBDIR is dropped. Without its queue, the only way to find
the rest of the crawl would be to fetch the kept pages again for their links.
Instead the spider appends one JSON line per page it followed links from
(``DIR/tdmcrawl-links.jsonl``: url, depth, in-scope links), flushed at once,
and the resumed crawl starts from those links. A line cut by the kill is
skipped; a kept page whose line is missing is fetched again for its links
(never written again).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)

LINKS_NAME = "tdmcrawl-links.jsonl"


@dataclass(frozen=True)
class FollowedPage:
    url: str
    depth: int
    links: tuple[str, ...]


class LinkLog:
    """Append-only, one flushed line per page; ``close`` is safe to call twice."""

    def __init__(self, path: Path, *, append: bool) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[str] | None = path.open("a" if append else "w", encoding="utf-8")

    def record(self, url: str, depth: int, links: Iterable[str]) -> None:
        if self._file is None:
            return
        line = json.dumps(
            {"url": url, "depth": depth, "links": list(links)},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        self._file.write(line + "\n")
        self._file.flush()  # a kill loses at most the line being written

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_link_log(path: Path) -> dict[str, FollowedPage]:
    """url -> its last recorded line; unreadable or cut lines are skipped, a missing file is {}."""
    pages: dict[str, FollowedPage] = {}
    try:
        handle = path.open("r", encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return pages
    except OSError as exc:
        logger.warning("cannot read %s (%s): kept pages will be fetched again", path, exc)
        return pages
    skipped = 0
    with handle:
        for line in handle:
            try:
                row = json.loads(line)
                page = FollowedPage(
                    str(row["url"]), int(row["depth"]), tuple(str(link) for link in row["links"])
                )
            except (ValueError, KeyError, TypeError):
                skipped += 1
                continue
            pages[page.url] = page
    if skipped:
        logger.info("%s: %d unreadable line(s) skipped (cut by a kill?)", path.name, skipped)
    return pages
