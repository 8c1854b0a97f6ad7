"""WARC/1.1 output: record building, the rotating ``.open`` writer, the evidence WARC.

Three layers, as in warcio: :class:`RecordFactory` builds records from a
:class:`~crawler.capture.Capture` (pure; the clock and record ids are
injected so tests compare exact bytes); :func:`serialize_record` turns one
record into one gzip member; :class:`RotatingWarcWriter` owns file names,
the warcinfo that opens every file, size rotation and the ``.open`` ->
rename step. :class:`EvidenceWriter` is the same writer for robots.txt,
tdmrep.json and ai.txt captures under ``DIR/evidence/``.

HTTP heads are written byte for byte as received, with one normalisation,
the one Common Crawl makes and the warcinfo record declares: the body is
stored without its transfer-coding (Twisted removes the chunk framing), so
``Transfer-Encoding`` is renamed ``X-Crawler-Transfer-Encoding`` and
``Content-Length`` is set to the stored length (a differing received value is
kept as ``X-Crawler-Content-Length``). Content-coding (gzip, br) is kept.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import socket
import threading
import uuid
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any, NamedTuple

from w3lib.url import safe_url_string
from warcio.archiveiterator import ArchiveIterator
from warcio.recordbuilder import RecordBuilder
from warcio.recordloader import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from crawler.capture import Capture, Header
from optout.decision import Decision

WARC_VERSION = "WARC/1.1"
DEFAULT_MAX_SIZE = 1_000_000_000  # WARC 1.1 Annex C: 1 GB files
GZIP_LEVEL = 6  # warcio uses 9: several times slower for a few per cent of size
# A metadata record has no HTTP payload; FastWARC fails a WARC-Payload-Digest there.
_NO_PAYLOAD_DIGEST = ("warcinfo", "revisit", "metadata")

NORMALISATION_NOTE = (
    "HTTP response heads and bodies are stored as received, content-coding kept. "
    "Transfer-coding is removed before storage, so a received Transfer-Encoding header is "
    "renamed X-Crawler-Transfer-Encoding and Content-Length is set to the stored body length "
    "(a differing received Content-Length is kept as X-Crawler-Content-Length), as Common "
    "Crawl does."
)

# The warcinfo fields naming the format, in every file tdmcrawl writes (crawl and filter).
FORMAT_FIELDS = {
    "format": "WARC File Format 1.1",
    "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
}

DECISION_FIELD = "tdmcrawl-decision"  # the metadata record's field holding the Decision JSON

Clock = Callable[[], datetime]
RecordIdFactory = Callable[[], str]


class WarcOutputError(Exception):
    """A WARC file could not be written, read or rewritten."""


@dataclass(frozen=True)
class WarcRef:
    """Where a record lives: the file's final name (no ``.open``), byte offset, record id."""

    filename: str
    offset: int
    record_id: str


def new_record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def utc_now() -> datetime:
    return datetime.now(UTC)


def warc_date(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return datetime_to_iso_date(moment, use_micros=True)


# --- warcinfo -------------------------------------------------------------------------------


def warcinfo_fields(settings: Any) -> dict[str, str]:
    """The warcinfo body for a crawl: software, identity, the policy in force, the note."""
    import scrapy
    import warcio

    from crawler import __version__
    from crawler import settings as tds

    # Read from the same PolicyConfig the gates use, so the record can't misstate a switch.
    config = tds.policy_config(settings)
    policy = {
        "robots": True,
        "robots-ai-agents": config.ai_agents,
        "ai-agents-list-version": _ai_agents_version(),
        "content-usage": config.content_usage,
        "content-signal": config.content_signal,
        "aipref-compat": config.aipref_compat,
        "tdmrep": config.tdmrep,
        "noai": config.noai,
        "ai-txt": config.ai_txt,
        "registry": bool(settings.get("TDMCRAWL_REGISTRY")),
        "fetch-reserved": tds.getbool(settings, "TDMCRAWL_FETCH_RESERVED"),
    }
    fields = {
        "software": f"tdmcrawl/{__version__} (Scrapy/{scrapy.__version__}; "
        f"warcio/{_version_of(warcio)})",
        **FORMAT_FIELDS,
        "hostname": socket.gethostname(),
        "http-header-user-agent": tds.user_agent(settings),
        "robots": "obey (RFC 9309) and honour AI-training reservations",
        "tdmcrawl-token": tds.token(settings),
        "tdmcrawl-policy": json.dumps(policy, sort_keys=True),
        "tdmcrawl-near-duplicate": _dedup_identity()
        if tds.getbool(settings, "TDMCRAWL_DEDUP") else "off",
        "description": NORMALISATION_NOTE,
    }
    crawl_id = settings.get("TDMCRAWL_CRAWL_ID")
    if crawl_id:
        fields["isPartOf"] = str(crawl_id)
    return {key: value for key, value in fields.items() if value}


def _version_of(module: Any) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module.__name__)
    except PackageNotFoundError:
        return "unknown"


def _ai_agents_version() -> str:
    # optout.ai_agents may not exist yet (written in parallel): read it defensively.
    try:
        from optout import ai_agents
    except ImportError:
        return "unavailable"
    for name in ("VERSION", "LIST_VERSION", "TOKENS_VERSION", "version"):
        value = getattr(ai_agents, name, None)
        if value is not None and not callable(value):
            return str(value)
        if callable(value):
            try:
                return str(value())
            except Exception:  # a broken version getter must not stop a crawl
                return "unknown"
    return "unknown"


def _dedup_identity() -> str:
    try:
        from crawler.neardup import dedup_config
    except ImportError:
        return "not configured"
    try:
        return str(dedup_config().identity)
    except Exception:  # dedup is optional here; its identity only informs
        return "unknown"


# --- HTTP heads -----------------------------------------------------------------------------


def fix_http_headers(headers: Iterable[Header], body_length: int) -> list[Header]:
    """Common Crawl's normalisation for a body stored without transfer-coding."""
    fixed: list[Header] = []
    lengths: list[bytes] = []
    for name, value in headers:
        lower = name.lower()
        if lower == b"transfer-encoding":
            fixed.append((b"X-Crawler-" + name, value))
        elif lower == b"content-length":
            lengths.append(value)
            fixed.append((name, value))
        else:
            fixed.append((name, value))
    correct = str(body_length).encode()
    if len(lengths) == 1 and lengths[0].strip() == correct:
        return fixed
    out = [
        (b"X-Crawler-" + name, value) if name.lower() == b"content-length" else (name, value)
        for name, value in fixed
    ]
    out.append((b"Content-Length", correct))
    return out


def http_head_bytes(first_line: str, headers: Iterable[Header]) -> bytes:
    lines = [first_line.encode("latin-1", "replace"), b"\r\n"]
    for name, value in headers:
        lines += [name, b": ", value, b"\r\n"]
    lines.append(b"\r\n")
    return b"".join(lines)


class _RawHttpHead(StatusAndHeaders):
    """warcio's head object, but serialised from the bytes received.

    warcio re-encodes heads from parsed strings and percent-encodes non-ASCII
    header values (RFC 8187); Kazakh or Russian header bytes must survive as sent.
    """

    def __init__(self, raw: bytes, protocol: str, statusline: str, headers: list[Header]):
        decoded = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in headers]
        super().__init__(statusline, decoded, protocol=protocol)
        self._raw = raw

    def compute_headers_buffer(self, header_filter: Any = None) -> None:
        self.headers_buff = self._raw


# --- records --------------------------------------------------------------------------------


class RecordFactory:
    """Builds warcio records; ``clock`` and ``record_id`` are injectable for golden tests."""

    def __init__(self, *, clock: Clock | None = None, record_id: RecordIdFactory | None = None):
        self.clock = clock or utc_now
        self.record_id = record_id or new_record_id
        self._builder = RecordBuilder(warc_version=WARC_VERSION)
        self._builder.NO_PAYLOAD_DIGEST_TYPES = _NO_PAYLOAD_DIGEST

    def _headers(self, record_type: str, url: str | None, date: datetime, **extra: str | None):
        headers = {"WARC-Type": record_type, "WARC-Record-ID": self.record_id()}
        if url:
            headers["WARC-Target-URI"] = target_uri(url)
        headers["WARC-Date"] = warc_date(date)
        headers.update({key: value for key, value in extra.items() if value})
        return {key.replace("_", "-"): value for key, value in headers.items()}

    def warcinfo(self, filename: str, fields: dict[str, str]) -> Any:
        body = "".join(f"{key}: {_one_line(value)}\r\n" for key, value in fields.items())
        payload = body.encode("utf-8")
        headers = self._headers("warcinfo", None, self.clock(), WARC_Filename=filename)
        return self._builder.create_warc_record(
            "",
            "warcinfo",
            payload=BytesIO(payload),
            length=len(payload),
            warc_content_type="application/warc-fields",
            warc_headers_dict=headers,
        )

    def response(self, capture: Capture, *, warcinfo_id: str | None = None) -> Any:
        head_fields = fix_http_headers(capture.headers, len(capture.body))
        first = f"{capture.protocol} {capture.status_line}"
        raw = http_head_bytes(first, head_fields)
        headers = self._headers(
            "response",
            capture.url,
            capture.fetched_at,
            WARC_Warcinfo_ID=warcinfo_id,
            WARC_IP_Address=capture.peer_ip,
            WARC_Truncated="length" if capture.truncated else None,
        )
        if not capture.wire:
            # Declared, so nobody mistakes a rebuilt head for the received one.
            headers["WARC-Tdmcrawl-Http-Head"] = "rebuilt-from-parsed-response"
        http = _RawHttpHead(raw, capture.protocol, capture.status_line, head_fields)
        return self._builder.create_warc_record(
            target_uri(capture.url),
            "response",
            payload=BytesIO(capture.body),
            length=len(capture.body),
            warc_headers_dict=headers,
            http_headers=http,
        )

    def request(
        self, capture: Capture, *, concurrent_to: str, warcinfo_id: str | None = None
    ) -> Any:
        first = f"{capture.request_method} {capture.request_target} {capture.request_protocol}"
        raw = http_head_bytes(first, capture.request_headers)
        headers = self._headers(
            "request",
            capture.url,
            capture.fetched_at,
            WARC_Warcinfo_ID=warcinfo_id,
            WARC_Concurrent_To=concurrent_to,
        )
        statusline = f"{capture.request_target} {capture.request_protocol}"
        http = _RawHttpHead(raw, capture.request_method, statusline, list(capture.request_headers))
        return self._builder.create_warc_record(
            target_uri(capture.url),
            "request",
            payload=BytesIO(capture.request_body),
            length=len(capture.request_body),
            warc_headers_dict=headers,
            http_headers=http,
        )

    def metadata(
        self,
        url: str,
        decision: Decision,
        *,
        date: datetime,
        concurrent_to: str,
        warcinfo_id: str | None = None,
    ) -> Any:
        payload = f"{DECISION_FIELD}: {decision.to_json()}\r\n".encode()
        headers = self._headers(
            "metadata",
            url,
            date,
            WARC_Warcinfo_ID=warcinfo_id,
            WARC_Concurrent_To=concurrent_to,
        )
        return self._builder.create_warc_record(
            target_uri(url),
            "metadata",
            payload=BytesIO(payload),
            length=len(payload),
            # warc-fields, as Heritrix writes: replay indexers (pywb, cdxj-indexer) skip
            # such metadata, so it never shadows the page it describes.
            warc_content_type="application/warc-fields",
            warc_headers_dict=headers,
        )


def decision_from_metadata(payload: bytes) -> Decision:
    """The :class:`Decision` in a metadata record's body (``decision: {json}``)."""
    # Split on CRLF only: JSON escapes CR and LF, but keeps U+2028 or U+0085 raw.
    for line in payload.decode("utf-8").split("\r\n"):
        name, _, value = line.partition(":")
        if name.strip() == DECISION_FIELD:
            return Decision.from_json(value.strip())
    raise WarcOutputError("metadata record holds no decision field")


def target_uri(url: str) -> str:
    """WARC 1.1 wants an RFC 3986 URI: an IRI (Cyrillic path, IDN host) is percent-encoded."""
    return safe_url_string(url)


def _one_line(value: str) -> str:
    return " ".join(str(value).splitlines())


def record_id_of(record: Any) -> str:
    return record.rec_headers.get_header("WARC-Record-ID")


def serialize_record(record: Any, *, compress: bool = True) -> bytes:
    """One record as bytes: one gzip member (WARC 1.1 Annex D), or plain for tests."""
    buffer = BytesIO()
    writer = WARCWriter(buffer, gzip=False, warc_version=WARC_VERSION)
    writer.NO_PAYLOAD_DIGEST_TYPES = _NO_PAYLOAD_DIGEST
    writer.write_record(record)
    data = buffer.getvalue()
    return gzip_member(data) if compress else data


def gzip_member(data: bytes) -> bytes:
    """``data`` (one whole record, closing CRLF CRLF included) as one gzip member."""
    # mtime=0: the same record always compresses to the same bytes.
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)


# --- files ----------------------------------------------------------------------------------


@dataclass
class PendingPage:
    """A page written to a file that is not finalised yet (what a veto hook sees)."""

    url: str
    record_ids: tuple[str, ...]  # response first, then request and metadata
    ref: WarcRef  # of the response record


# (path of the .open file, its pages) -> record ids (any of a page's records) to remove
BeforeClose = Callable[[Path, list[PendingPage]], Iterable[str]]
# (final path, pages kept, pages vetoed) once a file is renamed; offsets moved if any was vetoed
AfterClose = Callable[[Path, list[PendingPage], list[PendingPage]], None]

_HOST_UNSAFE = re.compile(r"[^A-Za-z0-9._]+")


@dataclass
class _OpenFile:
    final: Path
    handle: Any
    warcinfo_id: str
    pages: list[PendingPage] = field(default_factory=list)  # kept only for the hooks
    groups: int = 0

    @property
    def open_path(self) -> Path:
        return self.final.with_name(self.final.name + ".open")


class RotatingWarcWriter:
    """Writes record groups into ``{prefix}-{timestamp17}-{serial:05d}-{host}.warc.gz``.

    Files are ``.open`` while written and renamed by :meth:`close` or on
    rotation, after ``before_close`` (if given) has seen the file's pages and
    vetoed any: vetoed pages are cut out before the rename, so a finalised
    file never holds them. Groups never straddle files.
    """

    def __init__(
        self,
        directory: Path | str,
        *,
        warcinfo: dict[str, str],
        prefix: str = "tdmcrawl",
        max_size: int = DEFAULT_MAX_SIZE,
        hostname: str | None = None,
        clock: Clock | None = None,
        record_id: RecordIdFactory | None = None,
        compress: bool = True,
        before_close: BeforeClose | None = None,
        after_close: AfterClose | None = None,
    ) -> None:
        if max_size <= 0:
            raise ValueError(f"WARC max size must be positive, got {max_size}")
        self.directory = Path(directory)
        self.prefix = prefix
        self.max_size = int(max_size)
        self.hostname = _HOST_UNSAFE.sub("_", hostname or socket.gethostname()) or "localhost"
        self.warcinfo = dict(warcinfo)
        self.records = RecordFactory(clock=clock, record_id=record_id)
        self.compress = compress
        self.before_close = before_close
        self.after_close = after_close
        self.finished: list[Path] = []  # finalised files, in order
        self.vetoed: list[PendingPage] = []
        self._serial = 0
        self._file: _OpenFile | None = None
        self._lock = threading.Lock()

    # -- writing

    def write_page(self, capture: Capture, decision: Decision | None = None) -> WarcRef:
        """Response, request and (with a decision) metadata records; the response's ref."""

        def build(warcinfo_id: str) -> list[Any]:
            response = self.records.response(capture, warcinfo_id=warcinfo_id)
            rid = record_id_of(response)
            group = [
                response,
                self.records.request(capture, concurrent_to=rid, warcinfo_id=warcinfo_id),
            ]
            if decision is not None:
                group.append(
                    self.records.metadata(
                        capture.url,
                        decision,
                        date=capture.fetched_at,
                        concurrent_to=rid,
                        warcinfo_id=warcinfo_id,
                    )
                )
            return group

        return self.write_group(capture.url, build)[0]

    def write_group(self, url: str, build: Callable[[str], list[Any]]) -> list[WarcRef]:
        """Write the records ``build(warcinfo_id)`` returns, all in one file."""
        with self._lock:
            current = self._ensure_file()
            records = build(current.warcinfo_id)
            members = [serialize_record(r, compress=self.compress) for r in records]
            if self._full(current, members):
                self._finalise(current)
                current = self._ensure_file()
                # Rebuilt against the new file's warcinfo record.
                records = build(current.warcinfo_id)
                members = [serialize_record(r, compress=self.compress) for r in records]
            return self._append(current, url, [record_id_of(r) for r in records], members)

    def write_members(self, url: str, members: list[tuple[str, bytes]]) -> list[WarcRef]:
        """Append records serialised elsewhere, byte for byte, all in one file.

        ``members`` are (record id, bytes) pairs: one whole gzip member per
        record for a compressing writer, one plain record otherwise. They
        keep their own headers (``WARC-Warcinfo-ID`` included): this is how
        ``tdmcrawl filter`` copies input records without re-serialising them.
        """
        data = [member for _, member in members]
        if not data:
            raise ValueError("write_members needs at least one record")
        if self.compress and not all(member[:2] == b"\x1f\x8b" for member in data):
            raise ValueError("a compressing WARC writer appends gzip members only")
        with self._lock:
            current = self._ensure_file()
            if self._full(current, data):
                self._finalise(current)
                current = self._ensure_file()
            return self._append(current, url, [record_id for record_id, _ in members], data)

    def close(self) -> list[Path]:
        """Finalise the current file (veto hook, rename). Idempotent."""
        with self._lock:
            if self._file is not None:
                self._finalise(self._file)
            return list(self.finished)

    @property
    def current_path(self) -> Path | None:
        return self._file.open_path if self._file else None

    # -- internals

    def _full(self, current: _OpenFile, members: list[bytes]) -> bool:
        # A file's first group always goes in, however large: groups never straddle files.
        return current.groups > 0 and \
            current.handle.tell() + sum(map(len, members)) > self.max_size

    def _append(
        self, current: _OpenFile, url: str, record_ids: list[str], members: list[bytes]
    ) -> list[WarcRef]:
        refs: list[WarcRef] = []
        start = current.handle.tell()
        try:
            for record_id, member in zip(record_ids, members, strict=True):
                offset = current.handle.tell()
                current.handle.write(member)
                refs.append(WarcRef(current.final.name, offset, record_id))
            # Complete members reach the OS at once: a crash leaves a readable .open file.
            current.handle.flush()
        except OSError as exc:
            self._cut_back(current, start)
            raise WarcOutputError(
                f"cannot write to {current.open_path}: {exc}; free space, then run again "
                "(a crawl with --resume)"
            ) from exc
        current.groups += 1
        if self.before_close or self.after_close:
            # A filter copying millions of records one by one needs no list of them.
            current.pages.append(PendingPage(url, tuple(r.record_id for r in refs), refs[0]))
        if current.handle.tell() >= self.max_size:
            self._finalise(current)
        return refs

    def _cut_back(self, current: _OpenFile, start: int) -> None:
        """After a failed write (disk full, file too large): no half group left behind for
        later groups to follow, so a writer that can write again goes on from ``start``."""
        # The buffered handle cannot drop the bytes it failed to write: close it (its own
        # flush fails again), cut the file, reopen it.
        with contextlib.suppress(OSError):
            current.handle.close()
        try:
            os.truncate(current.open_path, start)
            current.handle = open(current.open_path, "r+b")  # noqa: SIM115 - closed on finalise
            current.handle.seek(start)
        except OSError:
            # Left as it is: recover_open_files cuts it to its complete members.
            self._file = None

    def _ensure_file(self) -> _OpenFile:
        if self._file is not None:
            return self._file
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = self.records.clock().astimezone(UTC).strftime("%Y%m%d%H%M%S%f")[:17]
        suffix = ".warc.gz" if self.compress else ".warc"
        while True:
            name = f"{self.prefix}-{stamp}-{self._serial:05d}-{self.hostname}{suffix}"
            final = self.directory / name
            self._serial += 1
            if final.exists():
                continue
            try:
                # "x": another writer (a second process) may have taken the name just now.
                handle = open(final.with_name(name + ".open"), "xb")  # noqa: SIM115
            except FileExistsError:
                continue
            break
        info = self.records.warcinfo(final.name, self.warcinfo)
        handle.write(serialize_record(info, compress=self.compress))
        handle.flush()
        self._file = _OpenFile(final, handle, record_id_of(info))
        return self._file

    def _finalise(self, current: _OpenFile) -> None:
        self._file = None
        current.handle.flush()
        os.fsync(current.handle.fileno())
        current.handle.close()
        open_path = current.open_path
        vetoes = set(self.before_close(open_path, list(current.pages))) if self.before_close \
            else set()
        gone = [p for p in current.pages if vetoes.intersection(p.record_ids)]
        if gone:
            self.vetoed += gone
            if len(gone) == len(current.pages):
                open_path.unlink()  # only the warcinfo would remain
                return
            rewrite_without(open_path, {p.record_ids[0] for p in gone})
        os.replace(open_path, current.final)
        self.finished.append(current.final)
        if self.after_close:
            self.after_close(current.final, [p for p in current.pages if p not in gone], gone)


class _Entry(NamedTuple):
    offset: int
    record_id: str
    concurrent: tuple[str, ...]
    rec_type: str
    target: str


def _scan(path: Path) -> list[_Entry]:
    """Every record's offset, id, concurrent-to ids, type and target, in file order."""
    out: list[_Entry] = []
    try:
        with open(path, "rb") as stream:
            iterator = ArchiveIterator(stream)
            for record in iterator:
                if record.format != "warc":  # warcio reads most garbage as an ARC record
                    raise WarcOutputError(f"cannot read WARC file {path}: not WARC records")
                headers = record.rec_headers
                concurrent = tuple(
                    value for name, value in headers.headers if name == "WARC-Concurrent-To"
                )
                out.append(_Entry(
                    iterator.get_record_offset(), headers.get_header("WARC-Record-ID"),
                    concurrent, record.rec_type, headers.get_header("WARC-Target-URI") or "",
                ))
    except (OSError, ValueError, EOFError, zlib.error, ArchiveLoadFailed) as exc:
        raise WarcOutputError(f"cannot read WARC file {path}: {exc}") from exc
    if not out and path.stat().st_size:
        raise WarcOutputError(f"cannot read WARC file {path}: no WARC record found")
    return out


def record_offsets(path: Path | str) -> dict[str, int]:
    """Record id -> byte offset, e.g. to update audit rows after a rewrite."""
    return {entry.record_id: entry.offset for entry in _scan(Path(path))}


def _dropped(entry: _Entry, drop: set[str]) -> bool:
    return entry.record_id in drop or bool(drop.intersection(entry.concurrent))


def _copy_entries(path: Path, entries: list[_Entry], keep: list[bool]) -> None:
    size = path.stat().st_size
    bounds = [entry.offset for entry in entries] + [size]
    temporary = path.with_name(path.name + ".rewrite")
    with open(path, "rb") as source, open(temporary, "wb") as target:
        for index, entry in enumerate(entries):
            if keep[index]:
                source.seek(entry.offset)
                target.write(source.read(bounds[index + 1] - entry.offset))
        target.flush()
        os.fsync(target.fileno())
    os.replace(temporary, path)


def rewrite_without(path: Path | str, record_ids: Iterable[str]) -> Path:
    """Remove records, and every record concurrent to them, from a WARC file in place.

    The other records are copied byte for byte (their gzip members untouched);
    the new file replaces the old one atomically. Returns ``path``.
    """
    path = Path(path)
    drop = set(record_ids)
    entries = _scan(path)
    keep = [not _dropped(entry, drop) for entry in entries]
    if all(keep):
        return path
    _copy_entries(path, entries, keep)
    return path


def pending_pages(path: Path | str) -> list[PendingPage]:
    """The pages (response + concurrent records) of a WARC file, as a veto hook sees them."""
    path = Path(path)
    entries = _scan(path)
    final_name = path.name.removesuffix(".open")
    pages: dict[str, PendingPage] = {}
    for entry in entries:
        if entry.rec_type == "response":
            ref = WarcRef(final_name, entry.offset, entry.record_id)
            pages[entry.record_id] = PendingPage(entry.target, (entry.record_id,), ref)
        for parent in entry.concurrent:
            if parent in pages:
                page = pages[parent]
                page.record_ids = (*page.record_ids, entry.record_id)
    return list(pages.values())


def _complete_members_end(path: Path) -> int:
    """Byte length of the file's leading run of complete gzip members."""
    good = position = 0
    decomp = zlib.decompressobj(zlib.MAX_WBITS | 16)
    try:
        with open(path, "rb") as stream:
            while chunk := stream.read(1 << 20):
                while chunk:
                    decomp.decompress(chunk)  # output discarded: only completeness matters
                    if not decomp.eof:
                        position += len(chunk)
                        break
                    position += len(chunk) - len(decomp.unused_data)
                    good = position
                    chunk = decomp.unused_data
                    decomp = zlib.decompressobj(zlib.MAX_WBITS | 16)
    except zlib.error:
        pass  # a damaged member ends the readable part
    return good


def recover_open_files(
    directory: Path | str, before_close: BeforeClose | None = None
) -> list[Path]:
    """Finalise ``.warc.gz.open`` files a crash left behind: cut a half-written tail, veto, rename.

    The writer flushes whole members after each page, so at most the last page
    is incomplete; it is cut. ``before_close`` sees the pages as on a normal
    close. A file with no page left is deleted. Returns the finalised paths.
    """
    finished: list[Path] = []
    for open_path in sorted(Path(directory).glob("*.warc.gz.open")):
        end = _complete_members_end(open_path)
        if end < open_path.stat().st_size:
            os.truncate(open_path, end)
        entries = _scan(open_path) if end else []
        # A page is complete with its metadata record (or its request, in evidence files).
        pages = pending_pages(open_path) if entries else []
        last_complete = [p for p in pages if len(p.record_ids) >= 2]
        if pages and len(last_complete) < len(pages):
            rewrite_without(open_path, {p.record_ids[0] for p in pages if len(p.record_ids) < 2})
            pages = last_complete
        vetoes = set(before_close(open_path, pages)) if before_close and pages else set()
        gone = [p for p in pages if vetoes.intersection(p.record_ids)]
        if len(gone) == len(pages):
            open_path.unlink()
            continue
        if gone:
            rewrite_without(open_path, {p.record_ids[0] for p in gone})
        final = open_path.with_name(open_path.name.removesuffix(".open"))
        os.replace(open_path, final)
        finished.append(final)
    return finished


class EvidenceWriter:
    """robots.txt, tdmrep.json and ai.txt captures, in their own WARC files (DIR/evidence/)."""

    def __init__(
        self,
        directory: Path | str,
        *,
        warcinfo: dict[str, str],
        prefix: str = "tdmcrawl-evidence",
        max_size: int = DEFAULT_MAX_SIZE,
        **options: Any,
    ) -> None:
        self._writer = RotatingWarcWriter(
            directory, warcinfo=warcinfo, prefix=prefix, max_size=max_size, **options
        )

    def write_capture(self, url: str, capture: Capture) -> WarcRef:
        """Response and request records of one origin-file fetch; the response's ref."""
        if capture.url != url:
            capture = _with_url(capture, url)
        return self._writer.write_page(capture)

    def close(self) -> list[Path]:
        return self._writer.close()

    @property
    def finished(self) -> list[Path]:
        return list(self._writer.finished)


def _with_url(capture: Capture, url: str) -> Capture:
    from dataclasses import replace

    return replace(capture, url=url)
