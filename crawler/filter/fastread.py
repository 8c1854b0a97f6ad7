"""FastWARC reading for ``tdmcrawl filter``, where it reads what warcio reads.

warcio parses every WARC and HTTP head in Python; FastWARC does it in C, several
times faster (``benchmarks/bench_filter.py``). But FastWARC is lenient with
damaged input: it skips members that hold no record and returns what it can of a
cut one, where the filter must warn, drop and account for them. So FastWARC
reads a file only once it is proven clean, and warcio reads everything else, as
before:

1. :func:`scan` (pass 1) reads the file with FastWARC and proves its layout:
   every record one whole gzip member, back to back from offset 0 to the end of
   the file. Each member is checked without inflating it whole: it starts with
   the gzip magic, its trailer's ISIZE equals the record's head (inflated up to
   its blank line) plus its Content-Length plus the closing CRLF CRLF, and the
   last member inflates to its end with nothing after it. A plain ``.warc``, a
   cut or corrupt file, a member FastWARC skips or any error: no layout.
2. :func:`iter_fast` (pass 2) reads a proven file with FastWARC, at the offsets
   the scan found. The HTTP head is still parsed by warcio's parser and the body
   decoded by warcio's readers, over FastWARC's inflated record stream, so the
   signals read are warcio's, byte for byte.
"""

from __future__ import annotations

import mmap
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from fastwarc.warc import ArchiveIterator as FastIterator
from warcio.recordloader import ArcWarcRecord

from tdmcrawl.crawler.errors import FilterError

_GZIP_MAGIC = b"\x1f\x8b\x08"
_HEAD_PROBE = 4096  # inflated bytes looked at first for the end of a WARC head
_HEAD_MAX = 1 << 20  # a longer WARC head: not proven, warcio reads the file
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Layout:
    """A proven ``.warc.gz``: one record per gzip member, back to back."""

    size: int
    offsets: tuple[int, ...]

    def span(self, index: int) -> tuple[int, int]:
        """(offset, length) of the ``index``-th record's member."""
        start = self.offsets[index]
        end = self.offsets[index + 1] if index + 1 < len(self.offsets) else self.size
        return start, end - start


# Picks records during the scan: (WARC-Type lowercased, WARC headers, the FastWARC record).
Pick = Callable[[str, Any, Any], bool]


def scan(path: Path, pick: Pick | None = None) -> tuple[Layout | None, list[int]]:
    """One FastWARC pass over ``path``: its layout if proven clean (else None), and the
    indexes of the records ``pick`` chose (meaningless without a layout)."""
    offsets: list[int] = []
    lengths: list[int] = []
    picked: list[int] = []
    try:
        with open(path, "rb") as handle:
            if handle.read(3) != _GZIP_MAGIC:
                return None, []
            handle.seek(0)
            for record in FastIterator(handle, parse_http=False, auto_decode="none"):
                offsets.append(record.stream_pos)
                lengths.append(record.content_length)
                if pick is not None:
                    rtype = (header(record.headers, "WARC-Type") or "").lower()
                    if pick(rtype, record.headers, record):
                        picked.append(len(offsets) - 1)
            size = handle.seek(0, 2)
    except Exception:  # FastWARC's errors on damaged data: warcio reads it and says what
        return None, []
    if not offsets or not _proven(path, size, offsets, lengths):
        return None, []
    return Layout(size, tuple(offsets)), picked


def _proven(path: Path, size: int, offsets: list[int], lengths: list[int]) -> bool:
    if offsets[0] != 0 or any(b <= a for a, b in pairwise(offsets)):
        return False  # one gzip stream for the whole file gives one offset for all
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        ends = [*offsets[1:], size]
        for start, end, length in zip(offsets, ends, lengths, strict=True):
            if end - start < 18 or data[start : start + 3] != _GZIP_MAGIC:
                return False
            head = _head_length(data, start, end)
            if head is None:
                return False
            (isize,) = struct.unpack("<I", data[end - 4 : end])
            if isize != (head + length + 4) & 0xFFFFFFFF:
                return False  # another member in the span, or a record of another length
        return _ends_whole(data, offsets[-1], size)
    return False


def _ends_whole(data: Any, start: int, size: int) -> bool:
    """Whether the member at ``start`` is whole and ends the file (a cut file may end
    inside its trailer). Inflated a chunk at a time, the output dropped."""
    inflater = zlib.decompressobj(wbits=31)
    at = start
    try:
        while not inflater.eof:
            if inflater.unconsumed_tail:
                chunk = inflater.unconsumed_tail
            elif at < size:
                chunk = data[at : min(size, at + _CHUNK)]
                at += len(chunk)
            else:
                return False  # the file ends inside the member
            inflater.decompress(chunk, _CHUNK)
    except zlib.error:
        return False
    return at >= size and not inflater.unused_data


def _head_length(data: Any, start: int, end: int) -> int | None:
    """Bytes of the WARC head (through its blank line) of the member at ``start``."""
    inflater = zlib.decompressobj(wbits=31)
    inflated = b""
    at = start
    try:
        while len(inflated) < _HEAD_MAX:
            if inflater.unconsumed_tail:
                chunk = inflater.unconsumed_tail
            elif at < end:
                chunk = data[at : min(end, at + _HEAD_PROBE)]
                at += len(chunk)
            else:
                return None
            inflated += inflater.decompress(chunk, _HEAD_PROBE)
            found = inflated.find(b"\r\n\r\n")
            if found >= 0:
                return found + 4
            if inflater.eof:
                return None
    except zlib.error:
        return None
    return None


class _Stream:
    """FastWARC's record stream as warcio's readers expect it: ``read(n)`` returns ``n``
    bytes unless the record ends, ``readline()`` a whole line however long."""

    __slots__ = ("_reader",)

    def __init__(self, reader: Any) -> None:
        self._reader = reader

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return bytes(self._reader.read())
        chunk = self._reader.read(size)
        if len(chunk) >= size or not chunk:
            return bytes(chunk)
        parts = [chunk]
        got = len(chunk)
        while got < size:
            more = self._reader.read(size - got)
            if not more:
                break
            parts.append(more)
            got += len(more)
        return b"".join(parts)

    def readline(self, limit: int = -1) -> bytes:
        line = self._reader.readline()
        while line and not line.endswith(b"\n"):
            more = self._reader.readline()
            if not more:
                break
            line += more
        return bytes(line)


def _text(value: bytes) -> str:
    # As warcio decodes a header line: UTF-8, else ISO-8859-1 (FastWARC would put U+FFFD).
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("iso-8859-1")


def header(headers: Any, name: str) -> str | None:
    """The first value of a WARC header field (any case), decoded as warcio decodes it."""
    value = headers.get_bytes(name.encode("ascii"))
    return None if value is None else _text(value)


class FastRecord:
    """What :func:`crawler.filter.read.describe` needs of a record, from FastWARC."""

    __slots__ = ("_fields", "rtype", "stream")

    def __init__(self, headers: Any, stream: _Stream) -> None:
        # Every field at once, by lowercase name, values in order: one call into FastWARC.
        fields: dict[bytes, list[bytes]] = {}
        for name, value in headers.items_bytes():
            fields.setdefault(name.lower(), []).append(value)
        self._fields = fields
        self.rtype = (self.header("WARC-Type") or "").lower()
        self.stream = stream

    def header(self, name: str) -> str | None:
        """The first value of a field (any case), decoded as warcio decodes it."""
        values = self._fields.get(name.lower().encode("ascii"))
        return _text(values[0]) if values else None

    def header_values(self, name: str) -> tuple[str, ...]:
        return tuple(_text(v) for v in self._fields.get(name.lower().encode("ascii"), ()))

    def content_stream(self, http: Any) -> Any:
        """The de-chunked, content-decoded body: warcio's readers over this stream."""
        record = ArcWarcRecord("warc", self.rtype, None, self.stream, http, "", 0)
        return record.content_stream()


def iter_fast(path: Path, layout: Layout) -> Iterator[tuple[int, int, FastRecord]]:
    """(offset, length, record) of every record of a proven file."""
    changed = f"{path} changed while it was being filtered"
    index = 0
    with open(path, "rb") as handle:
        records = iter(FastIterator(handle, parse_http=False, auto_decode="none"))
        while True:
            try:
                record = next(records, None)
            except Exception as exc:  # proven clean in pass 1: not the same file now
                raise FilterError(f"{changed} ({exc})") from exc
            if record is None:
                break
            if index >= len(layout.offsets) or record.stream_pos != layout.offsets[index]:
                raise FilterError(changed)
            offset, length = layout.span(index)
            yield offset, length, FastRecord(record.headers, _Stream(record.reader))
            index += 1
    if index != len(layout.offsets):
        raise FilterError(changed)
