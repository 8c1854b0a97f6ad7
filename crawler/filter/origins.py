"""Origin signals from captured origin files (``tdmcrawl filter``, pass 1).

robots.txt, ``/.well-known/tdmrep.json`` and ``/ai.txt`` response records in
the inputs and the evidence WARCs (Common Crawl's robotstxt segments, a
crawl's ``DIR/evidence/``) become one :class:`~optout.policy.OriginSignals`
per scheme+host+port, as the crawl would have fetched them: the latest
capture of a file wins and redirects are followed through the captures.
A capture is read up to the crawl's origin-file size limit; a longer one is
marked ``truncated``, which never grants more than the whole file would.

RSL licence documents (served as ``application/rsl+xml``, or an ``.xml`` file
in the RSL namespace) are collected by URL, whatever their origin: a page or a
robots.txt that names one finds it by its URL (:func:`collect_origin_files`).
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from itertools import repeat
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from tdmcrawl.crawler.errors import FilterError
from tdmcrawl.crawler.filter.fastread import Layout, header, scan
from tdmcrawl.crawler.filter.options import FilterOptions, Warn
from tdmcrawl.crawler.filter.read import (
    ReadRecord,
    http_pairs,
    iter_records,
    read_body,
    read_member,
)
from tdmcrawl.optout.fetched import MAX_REDIRECTS, FetchResult
from tdmcrawl.optout.origins import (
    ORIGIN_FILE_MAX_BYTES,
    ROBOTS_TXT,
    origin_file_at,
    origin_key,
)
from tdmcrawl.optout.policy import OriginSignals

# URL -> (WARC-Date without its Z, the capture as a fetch)
Captures = dict[str, tuple[str, FetchResult]]

NO_ROBOTS_WARNING = "robots.txt of this origin is not in the inputs: no robots.txt signal read"
NO_ROBOTS_CAPTURE = "no robots.txt capture in the inputs"
_RSL_NS = b"rslstandard.org/rsl"


def missing_robots(key: str, options: FilterOptions) -> OriginSignals:
    """The signals of an origin with no robots.txt capture (and no other origin file)."""
    if options.require_robots:
        missing = FetchResult(f"{key}/robots.txt", None, error=NO_ROBOTS_CAPTURE)
        return OriginSignals.from_fetches(robots=missing, config=options.policy)
    return OriginSignals(warnings=(NO_ROBOTS_WARNING,))


def collect_origins(
    inputs: Iterable[Path], evidence: Iterable[Path], warn: Warn, options: FilterOptions
) -> dict[str, OriginSignals]:
    """One :class:`OriginSignals` per origin that has any origin-file capture.

    Damage in ``inputs`` is reported once, by the decision pass; here only
    that of the ``evidence`` files.
    """
    return collect_origin_files(inputs, evidence, warn, options)[0]


def collect_origin_files(
    inputs: Iterable[Path],
    evidence: Iterable[Path],
    warn: Warn,
    options: FilterOptions,
    layouts: dict[Path, Layout] | None = None,
) -> tuple[dict[str, OriginSignals], dict[str, FetchResult]]:
    """:func:`collect_origins`, and the RSL licence captures by URL (every origin's
    signals carry them all, so a licence named anywhere is found). ``layouts`` gets the
    inputs FastWARC may read in pass 2 (:mod:`crawler.filter.fastread`)."""
    captures: Captures = {}
    input_list = list(inputs)
    fast = layouts is not None
    for path, (found, layout) in zip(
        input_list, _each_input(input_list, fast, options.workers), strict=True
    ):
        merge_captures(captures, found)  # in input order: the same result as one process
        if layouts is not None and layout is not None:
            layouts[path] = layout
    for path in evidence:
        merge_captures(captures, file_captures(path, warn))
    return origins_from_captures(captures, options)


def input_captures(path: Path, fast_read: bool) -> tuple[Captures, Layout | None]:
    """Pass 1 over one input file: its captures, and the layout FastWARC proved (if
    ``fast_read`` and it did). Damage is not reported here: the decision pass says it."""
    layouts: dict[Path, Layout] | None = {} if fast_read else None
    captures = file_captures(path, lambda message: None, layouts)
    return captures, (layouts or {}).get(path)


def _each_input(
    paths: list[Path], fast_read: bool, workers: int
) -> Iterable[tuple[Captures, Layout | None]]:
    """:func:`input_captures` of every path, in order; several files at once in forked
    processes when the filter has workers (pass 1 reads every byte, as pass 2 does)."""
    processes = min(workers + 1, len(paths))
    if processes < 2:
        return (input_captures(path, fast_read) for path in paths)
    # fork: pass 1 runs before the audit's writer thread exists, and the children need
    # nothing but the parent's imports; they return plain data.
    method = "fork" if sys.platform.startswith("linux") else None
    try:
        with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context(method)) as pool:
            return list(pool.map(input_captures, paths, repeat(fast_read)))
    except BrokenProcessPool as exc:  # a dead process: no origin file may go unread
        raise FilterError(
            f"reading the inputs' origin files in {processes} processes failed "
            f"({type(exc).__name__}: {exc}): stopped before any record was decided"
        ) from exc


def origins_from_captures(
    captures: Captures, options: FilterOptions
) -> tuple[dict[str, OriginSignals], dict[str, FetchResult]]:
    """The origins' signals and the licences from the latest capture of each origin file,
    licence and redirect (:func:`collect_origin_files` once the captures are read)."""
    licences = {}
    for url, (_, result) in captures.items():
        followed = _follow(result, captures)
        if _is_licence_capture(followed):
            licences[url] = followed
    files: dict[str, dict[str, Any]] = {}
    for url, (_, result) in captures.items():
        origin_file = origin_file_at(url)
        key = origin_key(url)
        if origin_file is None or key is None:
            continue
        followed = _follow(result, captures)
        if _is_3xx(followed.status) and followed.redirects <= MAX_REDIRECTS:
            continue  # the redirect target was not captured: as if the file were not
        files.setdefault(key, {})[origin_file.signal] = followed
    origins: dict[str, OriginSignals] = {}
    for key, fetched in files.items():
        if ROBOTS_TXT.signal not in fetched and options.require_robots:
            fetched[ROBOTS_TXT.signal] = FetchResult(
                key + ROBOTS_TXT.path, None, error=NO_ROBOTS_CAPTURE
            )
        signals = OriginSignals.from_fetches(**fetched, rsl=licences, config=options.policy)
        if signals.robots is None:
            signals = replace(signals, warnings=(*signals.warnings, NO_ROBOTS_WARNING))
        origins[key] = signals
    return origins, licences


def _is_licence_capture(result: FetchResult) -> bool:
    kind = (result.header("content-type") or "").lower()
    if "rsl+xml" in kind:
        return True
    body = result.body or b""
    return urlsplit(result.url).path.lower().endswith(".xml") and _RSL_NS in body[:4096]


def file_captures(path: Path, warn: Warn, layouts: dict[Path, Layout] | None = None) -> Captures:
    """URL -> (WARC-Date, fetch) of the latest readable capture in ``path`` of every origin
    file, possible licence and redirect (so a robots.txt redirect can be followed).

    With ``layouts``, FastWARC scans the file first; if it proves clean, its layout goes
    into ``layouts`` and only the records that may be captures are read (by warcio, as
    below); otherwise warcio reads the whole file, as without."""
    if layouts is not None:
        layout, picked = scan(path, _may_be_capture)
        if layout is not None:
            reads = [read_member(path, layout, index) for index in picked]
            if all(read is not None for read in reads):
                layouts[path] = layout
                return _captures(reads)
            # A record warcio cannot read alone: warcio reads the file and says why.
    return _captures(iter_records(path, warn))


def _may_be_capture(rtype: str, headers: Any, record: Any) -> bool:
    """Whether a record FastWARC scanned may be one :func:`_captures` keeps: every response
    that warcio might read as an origin file, a licence or a redirect (when unsure, yes)."""
    if (
        rtype != "response"
        or "application/http" not in (header(headers, "Content-Type") or "").lower()
    ):
        return False
    uri = (header(headers, "WARC-Target-URI") or "").strip("<> ")
    try:
        if origin_file_at(uri) is not None or urlsplit(uri).path.lower().endswith(".xml"):
            return True
        record.parse_http()
        http = record.http_headers
    except Exception:
        return True
    if http is None or http.status_code is None or str(http.status_code).startswith("3"):
        return True
    return any(
        "rsl" in value.lower() for name, value in http.items() if name.lower() == "content-type"
    )


def _captures(reads: Iterable[ReadRecord | None]) -> Captures:
    captures: Captures = {}
    for read in reads:
        if read is None:
            continue
        entry = read.entry
        if entry.rtype != "response" or read.http is None or read.bad:
            continue
        if (
            origin_file_at(entry.uri) is None
            and not _is_redirect(read)
            and not _may_be_licence(read)
        ):
            continue
        body = read_body(read, ORIGIN_FILE_MAX_BYTES + 1)
        if read.bad or body is None:
            continue  # an unreadable capture is no capture
        truncated = len(body) > ORIGIN_FILE_MAX_BYTES
        result = FetchResult(
            entry.uri,
            int(read.http.get_statuscode()),
            body[:ORIGIN_FILE_MAX_BYTES],
            http_pairs(read.http),
            error=f"larger than {ORIGIN_FILE_MAX_BYTES} bytes" if truncated else None,
            truncated=truncated,
        )
        # "...00Z" against "...00.5Z": without the Z, ISO dates compare as strings.
        merge_captures(captures, {entry.uri: (read.date.strip().rstrip("Zz"), result)})
    return captures


def merge_captures(captures: Captures, more: Captures) -> None:
    """Add ``more`` (read after ``captures``): the latest date wins, the later read on a tie,
    so merging files' captures in input order gives what one pass over them gives."""
    for url, (date, result) in more.items():
        previous = captures.get(url)
        if previous is None or date >= previous[0]:
            captures[url] = (date, result)


def _may_be_licence(read: ReadRecord) -> bool:
    kind = (read.http.get_header("Content-Type") or "").lower() if read.http is not None else ""
    return "rsl+xml" in kind or urlsplit(read.entry.uri).path.lower().endswith(".xml")


def _is_3xx(status: int | None) -> bool:
    return status is not None and 300 <= status < 400


def _is_redirect(read: ReadRecord) -> bool:
    return (
        read.http is not None
        and read.http.get_statuscode()[:1] == "3"
        and bool(read.http.get_header("Location"))
    )


def _follow(result: FetchResult, captures: Captures) -> FetchResult:
    """Follow 3xx answers through the captured records, as the fetcher would have."""
    hops = 0
    current = result
    while _is_3xx(current.status) and hops <= MAX_REDIRECTS:
        location = current.header("location")
        target = captures.get(urljoin(current.url, location.strip())) if location else None
        if target is None:
            break
        hops += 1
        current = target[1]
    if hops == 0:
        return result
    # (A two-capture loop ends on the first capture again: count the hops, not identity.)
    return FetchResult(
        result.url,
        current.status,
        current.body,
        current.headers,
        current.error,
        hops,
        current.url,
        current.truncated,
    )
