"""Reading input WARC files for ``tdmcrawl filter``: records, where they lie, their bytes.

Damaged input is the norm in the wild (a crawl killed mid-write, a corrupt
member): :func:`iter_records` warns and stops at the damage instead of
raising, and only a file with no WARC record at all is fatal.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeadersParser

from tdmcrawl.crawler.errors import FilterError
from tdmcrawl.crawler.filter.fastread import FastRecord, Layout, iter_fast
from tdmcrawl.crawler.filter.options import FilterResult, Warn
from tdmcrawl.crawler.warc.records import gzip_member
from tdmcrawl.optout.decision import Decision

# Read per record for signals and text (the copy is always whole): the crawl's
# DOWNLOAD_MAXSIZE, so a page the crawl could keep is read whole. A longer body is
# read as cut (``ResponseSignals.truncated``): its meta tags cannot all be read.
MAX_BODY = 16 * 1024 * 1024
_HTTP_HEAD = StatusAndHeadersParser(["HTTP/1.0", "HTTP/1.1", "HTTP/2", "HTTP/2.0"], verify=True)


@dataclass
class RecordEntry:
    """One input record as the copy needs it: where it is and what ties it to a page."""

    offset: int
    length: int
    rtype: str
    uri: str
    record_id: str
    links: tuple[str, ...]  # WARC-Concurrent-To ids (tied both ways)
    refers: tuple[str, ...] = ()  # WARC-Refers-To ids (a revisit needs its original)
    decision: Decision | None = None  # decided records that are kept so far
    path: str = ""  # the input file, once decided (an excluded record's evidence)


@dataclass
class ReadRecord:
    """A record being read: its entry, and its HTTP head and payload stream for the signals."""

    entry: RecordEntry
    date: str
    http: Any  # warcio StatusAndHeaders, or None
    stream: Any
    content_type: str = ""  # of the record block (WARC header)
    bad: str | None = None  # why the HTTP head is unreadable


def expand_paths(paths: Iterable[Path | str]) -> list[Path]:
    """Files as given; a directory stands for the ``*.warc.gz``/``*.warc`` files in it."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            out += sorted(
                p for p in path.rglob("*") if p.name.endswith((".warc.gz", ".warc")) and p.is_file()
            )
        else:
            out.append(path)
    return out


def iter_records(
    path: Path, warn: Warn, counts: FilterResult | None = None, layout: Layout | None = None
) -> Iterator[ReadRecord]:
    """Every readable record of ``path``; bad records are warned about and skipped.

    Raises :class:`FilterError` when the file holds no WARC record at all.
    Data after a truncated or corrupt gzip member cannot be resynchronised
    safely, so the rest of that file is skipped with one warning. With the
    ``layout`` pass 1 proved (:mod:`crawler.filter.fastread`), FastWARC reads
    the records: the same records, read faster.
    """
    if layout is not None:
        for offset, length, record in iter_fast(path, layout):
            yield _describe_fast(offset, length, record)
        return

    def damaged(message: str) -> None:
        warn(message)
        if counts is not None:
            counts.bad_records += 1

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
                    raise FilterError(f"{path} is not a WARC file ({short_error(exc)})") from exc
                if "non-chunked gzip" in str(exc):
                    raise FilterError(
                        f"{path} is one gzip stream, not one gzip member per record: run "
                        f"`warcio recompress {path} FIXED.warc.gz` and filter that"
                    ) from exc
                damaged(
                    f"{path}: damaged data after record {seen} ({short_error(exc)}): rest "
                    "of file skipped"
                )
                return
            seen += 1
            read = _describe(record)
            yield read
            name = read.entry.uri or read.entry.rtype
            try:
                # The offset is known only once the record is read to its end.
                iterator.read_to_end(record)
            except Exception as exc:
                damaged(
                    f"{path}: record {seen} ({name}) is cut short ({short_error(exc)}): "
                    "rest of file skipped"
                )
                read.bad = read.bad or "cut short"
                return
            if getattr(record.raw_stream, "limit", 0) > 0:
                # Fewer bytes than its Content-Length: the file ends inside this record.
                damaged(
                    f"{path}: record {seen} ({name}) is cut short (the file ends inside "
                    "it): skipped"
                )
                read.bad = "cut short"
                return
            read.entry.offset = iterator.get_record_offset()
            read.entry.length = iterator.get_record_length()


def _describe(record: Any) -> ReadRecord:
    headers = record.rec_headers

    def ids(field_name: str) -> tuple[str, ...]:
        return tuple(v.strip() for k, v in headers.headers if k.lower() == field_name)

    entry = RecordEntry(
        offset=-1,
        length=0,
        rtype=(record.rec_type or "").lower(),
        uri=(headers.get_header("WARC-Target-URI") or "").strip("<> "),
        record_id=(headers.get_header("WARC-Record-ID") or "").strip(),
        links=ids("warc-concurrent-to"),
        refers=ids("warc-refers-to"),
    )
    content_type = (headers.get_header("Content-Type") or "").lower()
    read = ReadRecord(
        entry,
        headers.get_header("WARC-Date") or "",
        None,
        record.raw_stream,
        content_type=content_type,
    )

    def decode(http: Any) -> Any:
        record.http_headers = http
        return record.content_stream()  # de-chunked, content-decoded

    return _with_http(read, headers.get_header("Content-Length"), record.raw_stream, decode)


def _with_http(read: ReadRecord, warc_length: str | None, raw: Any, decode: Any) -> ReadRecord:
    """``read`` with the HTTP head of a response (or a revisit that carries one) parsed
    from ``raw`` and its body stream ``decode(http)``; what fails is ``read.bad``. One
    reading for warcio's records and FastWARC's, so both tell the same story."""
    entry = read.entry
    if entry.rtype not in ("response", "revisit") or "application/http" not in read.content_type:
        return read
    if entry.rtype == "revisit" and (warc_length or "0").strip() in ("0", ""):
        return read
    try:
        read.http = _HTTP_HEAD.parse(raw)
        int(read.http.get_statuscode())
    except Exception as exc:
        read.http, read.bad = None, f"unreadable HTTP head ({short_error(exc)})"
        return read
    try:
        read.stream = decode(read.http)
    except Exception as exc:
        read.bad = f"unreadable body encoding ({short_error(exc)})"
    return read


def _describe_fast(offset: int, length: int, record: FastRecord) -> ReadRecord:
    """:func:`_describe` of a record FastWARC read: the same fields from its WARC head,
    the HTTP head parsed and the body decoded by warcio over its stream."""
    entry = RecordEntry(
        offset=offset,
        length=length,
        rtype=record.rtype,
        uri=(record.header("WARC-Target-URI") or "").strip("<> "),
        record_id=(record.header("WARC-Record-ID") or "").strip(),
        links=tuple(v.strip() for v in record.header_values("WARC-Concurrent-To")),
        refers=tuple(v.strip() for v in record.header_values("WARC-Refers-To")),
    )
    content_type = (record.header("Content-Type") or "").lower()
    read = ReadRecord(
        entry, record.header("WARC-Date") or "", None, record.stream, content_type=content_type
    )
    return _with_http(read, record.header("Content-Length"), record.stream, record.content_stream)


def read_member(path: Path, layout: Layout, index: int) -> ReadRecord | None:
    """The ``index``-th record of a proven file, read alone by warcio (None: unreadable)."""
    offset, length = layout.span(index)
    with open(path, "rb") as handle:
        handle.seek(offset)
        member = handle.read(length)
    iterator = ArchiveIterator(io.BytesIO(member), no_record_parse=True, check_digests=False)
    try:
        read = _describe(next(iter(iterator)))
    except Exception:
        return None
    read.entry.offset, read.entry.length = offset, length
    return read


def read_body(read: ReadRecord, limit: int = MAX_BODY) -> bytes | None:
    """The first ``limit`` bytes of the payload, decoded; None when it does not decode
    (bad gzip, broken chunks): its meta tags and text cannot be read."""
    try:
        return read.stream.read(limit) or b""
    except Exception as exc:
        read.bad = f"body does not decode ({short_error(exc)})"
        return None


def http_pairs(http: Any) -> list[tuple[str, str]]:
    """The header fields of a warcio HTTP head as (name, value) pairs."""
    # warcio keeps a header line without a colon as (line, None): not a header field.
    return [(str(k), str(v)) for k, v in http.headers if v is not None]


def short_error(exc: BaseException) -> str:
    """One printable line of at most 120 characters saying what went wrong."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    # warcio quotes the bytes it could not read: binary noise, not a message.
    text = text.split(", first line:", 1)[0].split(" - Found:", 1)[0]
    text = "".join(c for c in text if c.isprintable())
    return text[:120]


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def member_complete(path: Path, entry: RecordEntry) -> bool:
    """Whether the file's last record ends a whole gzip member (a cut file may end inside
    the trailer, which warcio does not notice)."""
    if not is_gzip(path):
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


def record_member(handle: BinaryIO, entry: RecordEntry, gzipped: bool) -> bytes:
    """The record's bytes as one gzip member: as stored for a ``.warc.gz``, else compressed."""
    handle.seek(entry.offset)
    if gzipped:
        return handle.read(entry.length)
    # warcio's plain-file length stops before the record's closing CRLF CRLF.
    return gzip_member(handle.read(entry.length) + b"\r\n\r\n")
