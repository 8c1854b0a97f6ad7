"""The opt-out policy applied to existing WARC files (``tdmcrawl filter``).

Streaming, in three passes over the inputs, never a whole file in memory:

1. **Origin files.** robots.txt, ``/.well-known/tdmrep.json`` and ``/ai.txt``
   response records in the inputs and the ``evidence`` WARCs (Common Crawl's
   robotstxt segments, a crawl's ``DIR/evidence/``) become one
   :class:`~optout.policy.OriginSignals` per scheme+host+port. The latest
   capture of a file wins; redirects are followed through the captures.
2. **Decisions.** Every response, resource and revisit record gets
   ``optout.evaluate`` (pre-fetch and post-fetch signals together) plus the
   registry's URL rules. Pages found reserved feed the near-duplicate index;
   kept pages' fingerprints (never their text) go to a scratch file.
3. **Release and copy.** Kept pages are checked against the complete index
   (registry works and every reserved page of the inputs), so a copy read
   before its original is still dropped. Then kept records are copied
   byte for byte: a gzip member as it is, a plain record compressed into its
   own member. Headers, payload and digests are those of the input.

A URL that is reserved in one capture is dropped in every capture, with every
record tied to it (request, metadata, revisit; by URL, ``WARC-Concurrent-To``
or ``WARC-Refers-To``): the most restrictive reading. See docs/filter.md.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import socket
import tempfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urljoin, urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeadersParser

from crawler import __version__
from crawler.warc import (
    DEFAULT_MAX_SIZE,
    GZIP_LEVEL,
    RecordFactory,
    serialize_record,
)
from optout.decision import Decision, Reason
from optout.fetched import MAX_REDIRECTS, FetchResult
from optout.policy import OriginSignals, PolicyConfig, ResponseSignals, evaluate

_EVIDENCE_KIND = {"robots": "robots.txt", "tdmrep": "tdmrep.json", "ai_txt": "ai.txt"}
ORIGIN_FILES = {"/robots.txt": "robots", "/.well-known/tdmrep.json": "tdmrep", "/ai.txt": "ai_txt"}
TEXT_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
MAX_BODY = 5 * 1024 * 1024  # read per record for signals and text; the copy is always whole
NO_ROBOTS_WARNING = "robots.txt of this origin is not in the inputs: no robots.txt signal read"
_DECIDED = ("response", "resource", "revisit")
_HTTP_HEAD = StatusAndHeadersParser(["HTTP/1.0", "HTTP/1.1", "HTTP/2", "HTTP/2.0"], verify=True)
_FILTER_NOTE = (
    "Records copied byte for byte from the input WARC files by tdmcrawl filter; records "
    "reserved for AI training (and the records tied to them) removed."
)

Warn = Callable[[str], None]


class FilterError(Exception):
    """A fatal problem: an input that is not a WARC file, an unusable registry."""


@dataclass(frozen=True)
class FilterOptions:
    """How to filter. ``require_robots``: an origin with no robots.txt capture is
    excluded as ``robots-unreachable`` instead of read as "no robots signal"."""

    policy: PolicyConfig = field(default_factory=PolicyConfig)
    registry: Path | None = None
    require_robots: bool = False
    near_duplicates: bool = True
    prefix: str = "tdmcrawl-filter"
    max_size: int = DEFAULT_MAX_SIZE
    crawl_id: str | None = None


@dataclass
class FilterResult:
    records_in: int = 0
    records_kept: int = 0
    pages_in: int = 0  # response/resource/revisit records decided
    pages_kept: int = 0
    excluded: Counter[str] = field(default_factory=Counter)  # URLs by decisive reason
    bad_records: int = 0
    origins: int = 0
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    crawl_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "crawl_id": self.crawl_id, "records_in": self.records_in,
            "records_kept": self.records_kept, "pages_in": self.pages_in,
            "pages_kept": self.pages_kept, "excluded_urls": sum(self.excluded.values()),
            "excluded_by_reason": dict(sorted(self.excluded.items())),
            "bad_records": self.bad_records, "origins": self.origins,
            "files": list(self.files), "notes": list(self.notes),
        }


@dataclass
class _Entry:
    """One input record as pass 3 needs it: where it is and what ties it to a page."""

    offset: int
    length: int
    rtype: str
    uri: str
    record_id: str
    links: tuple[str, ...]  # WARC-Concurrent-To ids (tied both ways)
    refers: tuple[str, ...] = ()  # WARC-Refers-To ids (a revisit needs its original)
    decision: Decision | None = None  # decided records that are kept so far


@dataclass
class _Read:
    entry: _Entry
    date: str
    http: Any  # warcio StatusAndHeaders, or None
    stream: Any
    content_type: str = ""  # of the record block (WARC header)
    bad: str | None = None  # why the HTTP head is unreadable


def origin_key(url: str) -> str | None:
    """``scheme://host:port`` (default port spelt out), or None for a URL without a host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    port = port or (443 if parts.scheme.lower() == "https" else 80)
    return f"{parts.scheme.lower()}://{parts.hostname.lower()}:{port}"


# --- reading ------------------------------------------------------------------------------


def iter_records(path: Path, warn: Warn, counts: FilterResult | None = None) -> Iterator[_Read]:
    """Every readable record of ``path``; bad records are warned about and skipped.

    Raises :class:`FilterError` when the file holds no WARC record at all.
    Data after a truncated or corrupt gzip member cannot be resynchronised
    safely, so the rest of that file is skipped with one warning.
    """
    with open(path, "rb") as handle:
        iterator = ArchiveIterator(handle, no_record_parse=True, check_digests=False)
        records = iter(iterator)
        seen = 0
        while True:
            try:
                record = next(records)
            except StopIteration:
                if seen == 0:
                    raise FilterError(f"{path} holds no WARC record") from None
                return
            except Exception as exc:  # warcio, zlib and EOF errors on damaged data
                if seen == 0:
                    raise FilterError(f"{path} is not a WARC file ({_short(exc)})") from exc
                if "non-chunked gzip" in str(exc):
                    raise FilterError(
                        f"{path} is one gzip stream, not one gzip member per record: run "
                        f"`warcio recompress {path} FIXED.warc.gz` and filter that") from exc
                warn(f"{path}: damaged data after record {seen} ({_short(exc)}): rest of file "
                     "skipped")
                if counts is not None:
                    counts.bad_records += 1
                return
            seen += 1
            read = _describe(record)
            yield read
            try:
                # The offset is known only once the record is read to its end.
                iterator.read_to_end(record)
            except Exception as exc:
                warn(f"{path}: record {seen} ({read.entry.uri or read.entry.rtype}) is cut short "
                     f"({_short(exc)}): rest of file skipped")
                if counts is not None:
                    counts.bad_records += 1
                read.bad = read.bad or "cut short"
                return
            if getattr(record.raw_stream, "limit", 0) > 0:
                # Fewer bytes than its Content-Length: the file ends inside this record.
                warn(f"{path}: record {seen} ({read.entry.uri or read.entry.rtype}) is cut short "
                     "(the file ends inside it): skipped")
                if counts is not None:
                    counts.bad_records += 1
                read.bad = "cut short"
                return
            read.entry.offset = iterator.get_record_offset()
            read.entry.length = iterator.get_record_length()


def _describe(record: Any) -> _Read:
    headers = record.rec_headers
    def ids(field_name: str) -> tuple[str, ...]:
        return tuple(v.strip() for k, v in headers.headers if k.lower() == field_name)

    entry = _Entry(
        offset=-1, length=0, rtype=(record.rec_type or "").lower(),
        uri=(headers.get_header("WARC-Target-URI") or "").strip("<> "),
        record_id=(headers.get_header("WARC-Record-ID") or "").strip(),
        links=ids("warc-concurrent-to"), refers=ids("warc-refers-to"),
    )
    content_type = (headers.get_header("Content-Type") or "").lower()
    read = _Read(entry, headers.get_header("WARC-Date") or "", None, record.raw_stream,
                 content_type=content_type)
    if entry.rtype in ("response", "revisit") and "application/http" in content_type:
        if entry.rtype == "revisit" and (headers.get_header("Content-Length") or "0").strip() \
                in ("0", ""):
            return read
        try:
            read.http = _HTTP_HEAD.parse(record.raw_stream)
            int(read.http.get_statuscode())
        except Exception as exc:
            read.http, read.bad = None, f"unreadable HTTP head ({_short(exc)})"
            return read
        record.http_headers = read.http
        try:
            read.stream = record.content_stream()  # de-chunked, content-decoded
        except Exception as exc:
            read.bad = f"unreadable body encoding ({_short(exc)})"
    return read


def _body(read: _Read, limit: int = MAX_BODY) -> bytes | None:
    """The first ``limit`` bytes of the payload, decoded; None when it does not decode
    (bad gzip, broken chunks): its meta tags and text cannot be read."""
    try:
        return read.stream.read(limit) or b""
    except Exception as exc:
        read.bad = f"body does not decode ({_short(exc)})"
        return None


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    # warcio quotes the bytes it could not read: binary noise, not a message.
    text = text.split(", first line:", 1)[0].split(" - Found:", 1)[0]
    text = "".join(c for c in text if c.isprintable())
    return text[:120]


def expand_paths(paths: Iterable[Path | str]) -> list[Path]:
    """Files as given; a directory stands for the ``*.warc.gz``/``*.warc`` files in it."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.name.endswith((".warc.gz", ".warc"))
                          and p.is_file())
        else:
            out.append(path)
    return out


# --- pass 1: origin files -----------------------------------------------------------------


def collect_origins(
    inputs: Iterable[Path], evidence: Iterable[Path], warn: Warn, options: FilterOptions
) -> dict[str, OriginSignals]:
    """One :class:`OriginSignals` per origin that has any origin-file capture.

    Damage in ``inputs`` is reported once, by the decision pass; here only
    that of the ``evidence`` files.
    """
    captures: dict[str, tuple[str, FetchResult]] = {}  # url -> (WARC-Date, result)
    quiet: Warn = lambda message: None  # noqa: E731
    for path, report in [(p, quiet) for p in inputs] + [(p, warn) for p in evidence]:
        for read in iter_records(path, report):
            entry = read.entry
            if entry.rtype != "response" or read.http is None or read.bad:
                continue
            if _origin_file_kind(entry.uri) is None and not _is_redirect(read):
                continue
            body = _body(read, 1024 * 1024)
            if read.bad:
                continue  # an unreadable capture is no capture
            result = FetchResult(entry.uri, int(read.http.get_statuscode()), body,
                                 _pairs(read.http))
            # "...00Z" against "...00.5Z": without the Z, ISO dates compare as strings.
            date = read.date.strip().rstrip("Zz")
            previous = captures.get(entry.uri)
            if previous is None or date >= previous[0]:
                captures[entry.uri] = (date, result)
    files: dict[str, dict[str, FetchResult]] = {}
    for url, (_, result) in captures.items():
        kind = _origin_file_kind(url)
        key = origin_key(url)
        if kind is None or key is None:
            continue
        followed = _follow(result, captures)
        if _is_3xx(followed.status) and followed.redirects <= MAX_REDIRECTS:
            continue  # the redirect target was not captured: as if the file were not
        files.setdefault(key, {})[kind] = followed
    origins: dict[str, OriginSignals] = {}
    for key, fetched in files.items():
        if "robots" not in fetched and options.require_robots:
            fetched["robots"] = FetchResult(key + "/robots.txt", None,
                                            error="no robots.txt capture in the inputs")
        signals = OriginSignals.from_fetches(**fetched)
        if signals.robots is None:
            signals = replace(signals, warnings=(*signals.warnings, NO_ROBOTS_WARNING))
        origins[key] = signals
    return origins


def _is_3xx(status: int | None) -> bool:
    return status is not None and 300 <= status < 400


def _origin_file_kind(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return ORIGIN_FILES.get(parts.path) if not parts.query else None


def _is_redirect(read: _Read) -> bool:
    # Kept in pass 1 only so a robots.txt redirect can be followed to its target.
    return read.http is not None and read.http.get_statuscode()[:1] == "3" and bool(
        read.http.get_header("Location"))


def _follow(result: FetchResult, captures: dict[str, tuple[str, FetchResult]]) -> FetchResult:
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
    if current is result:
        return result
    return FetchResult(result.url, current.status, current.body, current.headers,
                       current.error, hops, current.url)


# --- pass 2: decisions --------------------------------------------------------------------


class _Decider:
    """Decisions for the records of the inputs; reserved pages feed the near-dup index."""

    def __init__(self, origins: dict[str, OriginSignals], options: FilterOptions,
                 result: FilterResult, warn: Warn, scratch: Path) -> None:
        self.origins = origins
        self.options = options
        self.result = result
        self.warn = warn
        self.no_robots: dict[str, OriginSignals] = {}
        self.excluded_urls: dict[str, Decision] = {}
        self.excluded_ids: set[str] = set()
        self.registry = _open_registry(options.registry) if options.registry else None
        self.near = _NearDuplicates.open(scratch, self.registry, result) \
            if options.near_duplicates else None

    def origin(self, url: str) -> OriginSignals:
        key = origin_key(url)
        if key in self.origins:
            return self.origins[key]
        if key not in self.no_robots:
            if self.options.require_robots:
                missing = FetchResult(f"{key}/robots.txt", None,
                                      error="no robots.txt capture in the inputs")
                self.no_robots[key] = OriginSignals.from_fetches(robots=missing)
            else:
                self.no_robots[key] = OriginSignals(warnings=(NO_ROBOTS_WARNING,))
        return self.no_robots[key]

    def decide(self, path: Path, read: _Read) -> None:
        entry = read.entry
        # Origin files are the evidence the decisions rest on (and RFC 9309 2.2.2
        # allows /robots.txt implicitly): copied as they are, never decided.
        if entry.rtype not in _DECIDED or _origin_file_kind(entry.uri) \
                or origin_key(entry.uri) is None:
            return  # dns:, metadata:// and other non-web records carry no opt-out: copied
        self.result.pages_in += 1
        if read.bad:
            self.warn(f"{path}: {entry.rtype} record of {entry.uri}: {read.bad}: "
                      "dropped, its signals cannot be read")
            self.result.bad_records += 1
            self.exclude_record(entry)
            return
        body: bytes | None = b""
        response: ResponseSignals | None = None
        if read.http is not None or entry.rtype == "resource":
            body = _body(read)
            if body is None:
                self.warn(f"{path}: {entry.rtype} record of {entry.uri}: {read.bad}: "
                          "dropped, its signals cannot be read")
                self.result.bad_records += 1
                self.exclude_record(entry)
                return
        if read.http is not None:
            response = ResponseSignals(int(read.http.get_statuscode()), _pairs(read.http), body)
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

    def exclude(self, entry: _Entry, decision: Decision) -> None:
        self.exclude_record(entry)
        self.excluded_urls.setdefault(entry.uri, decision)

    def exclude_record(self, entry: _Entry) -> None:
        """Drop this record and the records tied to it (no audit row: nothing was decided)."""
        entry.decision = None
        self.excluded_ids.add(entry.record_id)
        self.excluded_ids.update(entry.links)

    def drops(self, entry: _Entry) -> bool:
        if entry.rtype == "warcinfo":
            return False
        # A dropped record takes its concurrent records and the revisits of it; a dropped
        # revisit does not take the (possibly other URL's) record it refers to.
        return (entry.uri in self.excluded_urls or entry.record_id in self.excluded_ids
                or any(link in self.excluded_ids for link in entry.links + entry.refers))

    def close(self) -> None:
        if self.registry is not None:
            self.registry.close()
        if self.near is not None:
            self.near.close()


def _pairs(http: Any) -> list[tuple[str, str]]:
    # warcio keeps a header line without a colon as (line, None): not a header field.
    return [(str(k), str(v)) for k, v in http.headers if v is not None]


def _is_text_page(response: ResponseSignals) -> bool:
    if not 200 <= response.status < 300 or not response.body:
        return False
    content_type = response.content_type or next(
        (v for k, v in response.headers if k.strip().lower() == "content-type"), "")
    return content_type.split(";", 1)[0].strip().lower() in TEXT_TYPES


def _open_registry(path: Path) -> Any:
    from registry import RegistryReader
    from registry.errors import RegistryError

    try:
        return RegistryReader(path)
    except RegistryError as exc:
        raise FilterError(f"registry {path}: {exc}") from exc


class _NearDuplicates:
    """Reserved-works index (registry works + reserved pages of the inputs) and the
    fingerprints of kept pages in a scratch file, checked once the index is complete."""

    def __init__(self, index: Any, scratch: Path) -> None:
        self.index = index
        self.spool_path = scratch / "kept-fingerprints.bin"
        self._spool = open(self.spool_path, "w+b")  # noqa: SIM115 - closed in close()
        self.kept: list[tuple[_Entry, int, int]] = []

    @classmethod
    def open(cls, scratch: Path, registry: Any, result: FilterResult) -> _NearDuplicates | None:
        try:
            from dedup import DEFAULT_CONFIG, Fingerprint, MemoryIndex
        except ImportError as exc:  # dedup is optional for the filter
            result.notes.append(f"near-duplicate check off: dedup unavailable ({exc})")
            return None
        index = MemoryIndex(DEFAULT_CONFIG, shingle_file=scratch / "reserved-shingles.bin")
        if registry is not None:
            identity = DEFAULT_CONFIG.identity
            works = []
            for work in registry.content_works(config_identity=identity):
                with contextlib.suppress(Exception):  # a damaged stored fingerprint
                    fp = Fingerprint.from_bytes(work.fingerprint)
                    works.append((_REGISTRY + work.work_id, fp))
            if works:
                index.add_many(works)
            stale = registry.stale_works(identity)
            if stale:
                result.notes.append(f"{stale} registered work file(s) lack a fingerprint for "
                                    "this config: run `tdmcrawl registry reindex`")
        return cls(index, scratch)

    def _fingerprint(self, url: str, body: bytes) -> Any:
        from dedup import extract_main_text, fingerprint

        return fingerprint(extract_main_text(body, url), self.index.config)

    def reserve(self, url: str, body: bytes) -> None:
        fp = self._fingerprint(url, body)
        if fp is not None and _CRAWL + url not in self.index:
            self.index.add(_CRAWL + url, fp)

    def spool(self, entry: _Entry, body: bytes) -> None:
        fp = self._fingerprint(entry.uri, body)
        if fp is None:
            return
        data = fp.to_bytes()
        start = self._spool.seek(0, os.SEEK_END)
        self._spool.write(data)
        self.kept.append((entry, start, len(data)))

    def release(self, decider: _Decider, batch: int = 256) -> int:
        """Check every spooled page against the complete index; returns pages dropped."""
        from dedup import Fingerprint

        if not len(self.index):
            return 0
        dropped = 0
        for start in range(0, len(self.kept), batch):
            chunk = [item for item in self.kept[start:start + batch]
                     if item[0].decision is not None]
            fps = []
            for _, offset, size in chunk:
                self._spool.seek(offset)
                fps.append(Fingerprint.from_bytes(self._spool.read(size)))
            for (entry, _, _), matches in zip(chunk, self.index.query_many(fps), strict=True):
                matches = [m for m in matches if m.key != _CRAWL + entry.uri]
                if matches and entry.decision is not None:
                    reasons = _match_reasons(matches)
                    decider.exclude(entry, entry.decision.merge(Decision(entry.uri, reasons)))
                    dropped += 1
        return dropped

    def close(self) -> None:
        self._spool.close()
        closer = getattr(self.index, "close", None)
        if closer is not None:
            closer()


_REGISTRY = "registry:"
_CRAWL = "crawl:"


def _match_reasons(matches: list[Any]) -> tuple[Reason, ...]:
    # The crawl's release step words its evidence this way; share it where it is installed.
    try:
        from crawler.neardup import match_reasons
    except ImportError:  # pragma: no cover - neardup is part of the crawl add-on
        match_reasons = None
    if match_reasons is not None:
        return match_reasons(matches)
    reasons = []
    for match in matches[:5]:
        registry = match.key.startswith(_REGISTRY)
        work = match.key.split(":", 1)[1]
        reasons.append(Reason(
            "registry-content" if registry else "reserved-copy",
            "registry" if registry else "crawl",
            f"near-duplicate of {work}: similarity={match.similarity:.3f}",
            matched_work=work, similarity=round(float(match.similarity), 4)))
    return tuple(reasons)


# --- pass 3: copying ----------------------------------------------------------------------


class _RawWarcOutput:
    """Gzip members appended as they are, in ``.open`` files renamed when complete.

    File names, the warcinfo record that opens each file and size rotation
    follow :class:`crawler.warc.RotatingWarcWriter`, which builds records and
    so cannot copy them byte for byte.
    """

    def __init__(self, directory: Path, warcinfo: dict[str, str], *, prefix: str,
                 max_size: int) -> None:
        self.directory = directory
        self.warcinfo = warcinfo
        self.prefix = prefix
        self.max_size = max_size
        self.records = RecordFactory()
        self.host = "".join(c if c.isalnum() or c in "._" else "_"
                            for c in socket.gethostname()) or "localhost"
        self.finished: list[Path] = []
        self._serial = 0
        self._final: Path | None = None
        self._handle: BinaryIO | None = None

    def write(self, member: bytes) -> tuple[str, int]:
        """Append one gzip member; returns (final file name, offset)."""
        if self._handle is not None and self._handle.tell() + len(member) > self.max_size:
            self.close()
        if self._handle is None:
            self._open()
        assert self._handle is not None and self._final is not None
        offset = self._handle.tell()
        self._handle.write(member)
        return self._final.name, offset

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = self.records.clock().strftime("%Y%m%d%H%M%S%f")[:17]
        while True:
            final = self.directory / f"{self.prefix}-{stamp}-{self._serial:05d}-{self.host}.warc.gz"
            self._serial += 1
            try:
                handle = open(final.with_name(final.name + ".open"), "xb")  # noqa: SIM115
            except FileExistsError:
                continue
            if final.exists():
                handle.close()
                final.with_name(final.name + ".open").unlink()
                continue
            break
        info = self.records.warcinfo(final.name, self.warcinfo)
        handle.write(serialize_record(info))
        self._final, self._handle = final, handle

    def close(self) -> list[Path]:
        if self._handle is not None and self._final is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            os.replace(self._final.with_name(self._final.name + ".open"), self._final)
            self.finished.append(self._final)
        self._handle = self._final = None
        return list(self.finished)


def _member(handle: BinaryIO, entry: _Entry, gzipped: bool) -> bytes:
    handle.seek(entry.offset)
    if gzipped:
        return handle.read(entry.length)
    # warcio's plain-file length stops before the record's closing CRLF CRLF.
    return gzip.compress(handle.read(entry.length) + b"\r\n\r\n", compresslevel=GZIP_LEVEL,
                         mtime=0)


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def filter_warc_files(
    inputs: Iterable[Path | str],
    out_dir: Path | str,
    *,
    evidence: Iterable[Path | str] = (),
    options: FilterOptions | None = None,
    warn: Warn | None = None,
) -> FilterResult:
    """Copy the records of ``inputs`` that no opt-out reserves to ``out_dir/warc/``;
    audit every excluded URL in ``out_dir/audit.sqlite``.

    Raises :class:`FilterError` for an input that is not a WARC file or an
    unusable registry (files finished before that are kept); damaged records
    are reported through ``warn`` and skipped.
    """
    from crawler.auditdb import AuditLog

    options = options or FilterOptions()
    warn = warn or (lambda message: None)
    out = Path(out_dir)
    inputs = expand_paths(inputs)
    evidence_files = expand_paths(evidence)
    if not inputs:
        raise FilterError("no input WARC files")
    for path in inputs + evidence_files:
        if not path.is_file():
            raise FilterError(f"{path}: no such file")
    result = FilterResult()
    origins = collect_origins(inputs, evidence_files, warn, options)
    result.origins = len(origins)
    out.mkdir(parents=True, exist_ok=True)
    audit = AuditLog.open(out)
    result.crawl_id = audit.start_crawl(
        settings=_settings(options), versions={"tdmcrawl": __version__},
        seeds=[str(p) for p in inputs], crawl_id=options.crawl_id)
    writer = _RawWarcOutput(out / "warc", _warcinfo(options, inputs, result.crawl_id),
                            prefix=options.prefix, max_size=options.max_size)
    try:
        with tempfile.TemporaryDirectory(prefix=".filter-", dir=out) as scratch:
            decider = _Decider(origins, options, result, warn, Path(scratch))
            try:
                entries = _decide_all(inputs, decider, result, warn)
                if decider.near is not None:
                    decider.near.release(decider)
                _audit_exclusions(audit, decider)
                _copy(inputs, entries, decider, writer, audit, result)
            finally:
                decider.close()
    finally:
        result.files = [str(p) for p in writer.close()]
        audit.finish_crawl(result.crawl_id, result.to_dict())
        audit.close()
    return result


def _decide_all(inputs: list[Path], decider: _Decider, result: FilterResult,
                warn: Warn) -> list[list[_Entry]]:
    entries: list[list[_Entry]] = []
    for path in inputs:
        kept: list[_Entry] = []
        for read in iter_records(path, warn, result):
            result.records_in += 1
            decider.decide(path, read)
            kept.append(read.entry)
        if kept and (kept[-1].length <= 0 or not _member_complete(path, kept[-1])):
            # Cut short: its records go with it (the request before it, for one).
            last = kept.pop()
            if last.length > 0:
                warn(f"{path}: the last gzip member ({last.uri or last.rtype}) is incomplete: "
                     "skipped")
                result.bad_records += 1
            decider.exclude_record(last)
        entries.append(kept)
    return entries


def _member_complete(path: Path, entry: _Entry) -> bool:
    """Whether the file's last record ends a whole gzip member (a cut file may end inside
    the trailer, which warcio does not notice)."""
    if not _is_gzip(path):
        return True
    with open(path, "rb") as handle:
        handle.seek(entry.offset)
        data = handle.read(entry.length)
    inflater = zlib.decompressobj(wbits=31)
    try:
        inflater.decompress(data)
    except zlib.error:
        return False
    return inflater.eof


def _copy(inputs: list[Path], entries: list[list[_Entry]], decider: _Decider,
          writer: _RawWarcOutput, audit: Any, result: FilterResult) -> None:
    for path, file_entries in zip(inputs, entries, strict=True):
        gzipped = _is_gzip(path)
        with open(path, "rb") as handle:
            for entry in file_entries:
                if decider.drops(entry):
                    continue
                name, offset = writer.write(_member(handle, entry, gzipped))
                result.records_kept += 1
                kind = _EVIDENCE_KIND.get(_origin_file_kind(entry.uri) or "")
                if kind and entry.rtype == "response":
                    # The copied origin file is the evidence `tdmcrawl audit` shows.
                    audit.record_evidence(entry.uri, warc_file=name, offset=offset,
                                          record_id=entry.record_id, kind=kind)
                if entry.decision is not None:
                    result.pages_kept += 1
                    audit.record_kept(entry.uri, warc_file=name, offset=offset,
                                      record_id=entry.record_id, decision=entry.decision)


def _audit_exclusions(audit: Any, decider: _Decider) -> None:
    from crawler.auditdb import STAGES

    for decision in decider.excluded_urls.values():
        decider.result.excluded[decision.reasons[0].code.value] += 1
        audit.record_exclusion(decision, stage=_stage(decision, STAGES))


def _stage(decision: Decision, stages: tuple[str, ...]) -> str:
    """``filter`` where the audit schema knows it; else the crawl stage the signal belongs to."""
    if "filter" in stages:
        return "filter"
    codes = {r.code.value for r in decision.reasons}
    if codes <= {"registry-content", "reserved-copy"}:
        return "near-duplicate"
    if all(r.source in ("header", "meta") for r in decision.reasons
           if r.code.value not in ("registry-content", "reserved-copy")):
        return "post-fetch"
    return "pre-fetch"


def _settings(options: FilterOptions) -> dict[str, Any]:
    return {
        "command": "filter", "policy": options.policy.to_dict(),
        "registry": str(options.registry) if options.registry else None,
        "require_robots": options.require_robots, "near_duplicates": options.near_duplicates,
    }


def _warcinfo(options: FilterOptions, inputs: list[Path], crawl_id: str) -> dict[str, str]:
    from importlib.metadata import version

    fields = {
        "software": f"tdmcrawl/{__version__} filter (warcio/{version('warcio')})",
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/"
        "warc-format/warc-1.1/",
        "hostname": socket.gethostname(),
        "tdmcrawl-token": options.policy.token,
        "tdmcrawl-policy": json.dumps(_settings(options), sort_keys=True),
        "tdmcrawl-filter-input": " ".join(p.name for p in inputs)[:4000],
        "description": _FILTER_NOTE,
        "isPartOf": crawl_id,
    }
    if options.near_duplicates:
        with contextlib.suppress(ImportError):
            from dedup import DEFAULT_CONFIG

            fields["tdmcrawl-near-duplicate"] = DEFAULT_CONFIG.identity
    return fields
