"""Decisions on the records of existing WARC files (``tdmcrawl filter``, pass 2).

Every response, resource and revisit record gets ``optout.evaluate`` with
the origin's signals and its own (pre-fetch and post-fetch together), plus
the registry's URL rules: the function the live crawl uses, so the two
cannot disagree. A URL reserved in one capture is dropped in every capture,
with every record tied to it (the most restrictive reading).
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from pathlib import Path

from tdmcrawl.crawler.errors import FilterError
from tdmcrawl.crawler.filter.neardup import NearDuplicates
from tdmcrawl.crawler.filter.options import FilterOptions, FilterResult, Warn
from tdmcrawl.crawler.filter.origins import missing_robots
from tdmcrawl.crawler.filter.read import (
    MAX_BODY,
    ReadRecord,
    RecordEntry,
    http_pairs,
    read_body,
)
from tdmcrawl.crawler.registry_follow import REPLICA_NAME, FollowedRegistry, is_remote
from tdmcrawl.optout.decision import Decision
from tdmcrawl.optout.fetched import FetchResult
from tdmcrawl.optout.origins import origin_file_at, origin_key
from tdmcrawl.optout.policy import OriginSignals, ResponseSignals, evaluate
from tdmcrawl.registry.errors import RegistryError

TEXT_TYPES = (
    "text/html",
    "application/xhtml+xml",
    "text/plain",
    "application/pdf",
    "application/epub+zip",
)
# PDF and EPUB records are read further than pages: their XMP or package metadata
# may sit at the end, and a truncated file gives no text.
DOCUMENT_BODY = 32 * 1024 * 1024
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
        licences: Mapping[str, FetchResult] | None = None,
        *,
        near: NearDuplicates | None = None,
    ) -> None:
        self.origins = origins
        self.licences = dict(licences or {})
        self.options = options
        self.result = result
        self.warn = warn
        self.no_robots: dict[str, OriginSignals] = {}
        self._path: Path | None = None
        self._path_text = ""
        self.excluded_urls: dict[str, Decision] = {}
        # The record that decided each excluded URL: the input WARC holds its evidence.
        self.excluded_entries: dict[str, RecordEntry] = {}
        self.excluded_ids: set[str] = set()
        self.follow = (
            open_registry(options.registry, scratch.parent, warn) if options.registry else None
        )
        self.registry = self.follow.reader if self.follow is not None else None
        # On a Dask worker, ``near`` only collects fingerprints (crawler/filter/parallel.py).
        if near is None and options.near_duplicates:
            near = NearDuplicates.open(scratch, self.registry, result, options.workers)
        self.near = near

    def origin(self, url: str) -> OriginSignals:
        key = origin_key(url)
        if key in self.origins:
            return self.origins[key]
        if key not in self.no_robots:
            signals = missing_robots(key, self.options)
            self.no_robots[key] = signals.with_licenses(self.licences)
        return self.no_robots[key]

    def _resolved(self, path: Path) -> str:
        # Once per input file, not per record (a resolve is a system call per component).
        if path != self._path:
            self._path, self._path_text = path, str(path.resolve())
        return self._path_text

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
        entry.path = self._resolved(path)
        body: bytes | None = b""
        limit = DOCUMENT_BODY if _is_document(read) else MAX_BODY
        if not read.bad and (read.http is not None or entry.rtype == "resource"):
            body = read_body(read, limit + 1)  # one byte more tells a cut body
        if read.bad or body is None:
            self.warn(
                f"{path}: {entry.rtype} record of {entry.uri}: {read.bad}: "
                "dropped, its signals cannot be read"
            )
            self.result.bad_records += 1
            self.exclude_record(entry)
            return
        cut = len(body) > limit
        body = body[:limit] if cut else body
        response: ResponseSignals | None = None
        if read.http is not None:
            status, headers = int(read.http.get_statuscode()), http_pairs(read.http)
            response = ResponseSignals(status, headers, body, truncated=cut)
        elif entry.rtype == "resource":
            type_ = read.content_type or None
            response = ResponseSignals(200, (), body, content_type=type_, truncated=cut)
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
        self.excluded_entries.setdefault(entry.uri, entry)

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


def _is_document(read: ReadRecord) -> bool:
    kind = read.http.get_header("Content-Type") if read.http is not None else read.content_type
    media = (kind or "").split(";", 1)[0].strip().lower()
    return media in ("application/pdf", "application/epub+zip") or entry_is_document(read)


def entry_is_document(read: ReadRecord) -> bool:
    path = read.entry.uri.split("?", 1)[0].lower()
    return path.endswith((".pdf", ".epub"))


def _is_text_page(response: ResponseSignals) -> bool:
    if not 200 <= response.status < 300 or not response.body:
        return False
    content_type = response.content_type or next(
        (v for k, v in response.headers if k.strip().lower() == "content-type"), ""
    )
    return content_type.split(";", 1)[0].strip().lower() in TEXT_TYPES


def open_registry(source: Path | str, out_dir: Path, warn: Warn) -> FollowedRegistry:
    """The registry file, or the replica of a registry service kept in the output
    directory (synced now; an unreachable service with no replica stops the run)."""
    replica = out_dir / REPLICA_NAME if is_remote(source) else None
    try:
        return FollowedRegistry(source, replica=replica, warn=warn)
    except RegistryError as exc:
        raise FilterError(f"registry {source}: {exc}") from exc
