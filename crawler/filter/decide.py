"""Decisions on the records of existing WARC files (``tdmcrawl filter``, pass 2).

Every response, resource and revisit record gets ``optout.evaluate`` with
the origin's signals and its own (pre-fetch and post-fetch together), plus
the registry's URL rules: the function the live crawl uses, so the two
cannot disagree. A URL reserved in one capture is dropped in every capture,
with every record tied to it (the most restrictive reading).
"""

from __future__ import annotations

from collections.abc import Container
from pathlib import Path
from typing import Any

from tdmcrawl.crawler.errors import FilterError
from tdmcrawl.crawler.filter.neardup import NearDuplicates
from tdmcrawl.crawler.filter.options import FilterOptions, FilterResult, Warn
from tdmcrawl.crawler.filter.origins import missing_robots
from tdmcrawl.crawler.filter.read import ReadRecord, RecordEntry, http_pairs, read_body
from tdmcrawl.optout.decision import Decision
from tdmcrawl.optout.origins import origin_file_at, origin_key
from tdmcrawl.optout.policy import OriginSignals, ResponseSignals, evaluate
from tdmcrawl.registry import RegistryReader
from tdmcrawl.registry.errors import RegistryError

TEXT_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
_DECIDED = ("response", "resource", "revisit")


class Decider:
    """Decisions for the records of the inputs; reserved pages feed the near-dup index."""

    def __init__(
        self,
        origins: dict[str, OriginSignals],
        options: FilterOptions,
        result: FilterResult,
        warn: Warn,
        scratch: Path,
        *,
        near: NearDuplicates | None = None,
    ) -> None:
        self.origins = origins
        self.options = options
        self.result = result
        self.warn = warn
        self.no_robots: dict[str, OriginSignals] = {}
        self.excluded_urls: dict[str, Decision] = {}
        self.excluded_ids: set[str] = set()
        self.registry = _open_registry(options.registry) if options.registry else None
        # On a Dask worker, ``near`` only collects fingerprints (crawler/filter/parallel.py).
        if near is None and options.near_duplicates:
            near = NearDuplicates.open(scratch, self.registry, result)
        self.near = near

    def origin(self, url: str) -> OriginSignals:
        key = origin_key(url)
        if key in self.origins:
            return self.origins[key]
        if key not in self.no_robots:
            self.no_robots[key] = missing_robots(key, self.options.require_robots)
        return self.no_robots[key]

    def decide(self, path: Path, read: ReadRecord) -> None:
        entry = read.entry
        # Origin files are the evidence the decisions rest on (and RFC 9309 2.2.2
        # allows /robots.txt implicitly): copied as they are, never decided.
        if (
            entry.rtype not in _DECIDED
            or origin_file_at(entry.uri)
            or origin_key(entry.uri) is None
        ):
            return  # dns:, metadata:// and other non-web records carry no opt-out: copied
        self.result.pages_in += 1
        body: bytes | None = b""
        if not read.bad and (read.http is not None or entry.rtype == "resource"):
            body = read_body(read)
        if read.bad or body is None:
            self.warn(
                f"{path}: {entry.rtype} record of {entry.uri}: {read.bad}: "
                "dropped, its signals cannot be read"
            )
            self.result.bad_records += 1
            self.exclude_record(entry)
            return
        response: ResponseSignals | None = None
        if read.http is not None:
            response = ResponseSignals(int(read.http.get_statuscode()), http_pairs(read.http), body)
        elif entry.rtype == "resource":
            response = ResponseSignals(200, (), body, content_type=read.content_type or None)
        decision = evaluate(entry.uri, self.origin(entry.uri), response, self.options.policy)
        if self.registry is not None:
            match = self.registry.match_url(entry.uri)
            if match is not None:
                decision = decision.merge(Decision(entry.uri, (match.to_reason(),)))
        textual = response is not None and _is_text_page(response)
        if decision.allowed:
            entry.decision = decision
            if textual and self.near is not None:
                self.near.spool(entry, body)
            return
        self.exclude(entry, decision)
        if textual and self.near is not None:
            self.near.reserve(entry.uri, body)

    def release_near_duplicates(self) -> int:
        """Drop kept pages that copy a reserved work; returns how many."""
        return self.near.release(self.exclude) if self.near is not None else 0

    def exclude(self, entry: RecordEntry, decision: Decision) -> None:
        self.exclude_record(entry)
        self.excluded_urls.setdefault(entry.uri, decision)

    def exclude_record(self, entry: RecordEntry) -> None:
        """Drop this record and the records tied to it (no audit row: nothing was decided)."""
        entry.decision = None
        self.excluded_ids.add(entry.record_id)
        self.excluded_ids.update(entry.links)

    def drops(self, entry: RecordEntry) -> bool:
        return drops(entry, self.excluded_urls, self.excluded_ids)

    def close(self) -> None:
        if self.registry is not None:
            self.registry.close()
        if self.near is not None:
            self.near.close()


def drops(entry: RecordEntry, excluded_urls: Container[str], excluded_ids: Container[str]) -> bool:
    """Whether the copy leaves ``entry`` out, given the URLs and records excluded."""
    if entry.rtype == "warcinfo":
        return False
    # A dropped record takes its concurrent records and the revisits of it; a dropped
    # revisit does not take the (possibly other URL's) record it refers to.
    return (
        entry.uri in excluded_urls
        or entry.record_id in excluded_ids
        or any(link in excluded_ids for link in entry.links + entry.refers)
    )


def _is_text_page(response: ResponseSignals) -> bool:
    if not 200 <= response.status < 300 or not response.body:
        return False
    content_type = response.content_type or next(
        (v for k, v in response.headers if k.strip().lower() == "content-type"), ""
    )
    return content_type.split(";", 1)[0].strip().lower() in TEXT_TYPES


def _open_registry(path: Path) -> Any:
    try:
        return RegistryReader(path)
    except RegistryError as exc:
        raise FilterError(f"registry {path}: {exc}") from exc
