"""Digests of WARC files and records, read in chunks: the manifest and ``verify`` use them.

A payload digest is written as WARC writes it (``sha1:`` and the Base32 of
the SHA-1 of the payload as stored: after the HTTP head of a response, the
whole block of a resource). Nothing here holds more than one chunk of a file
in memory.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

from warcio.archiveiterator import ArchiveIterator

CHUNK = 1 << 20
# Records whose WARC-Payload-Digest names another record's payload: not recomputed.
REFERRING_TYPES = frozenset({"revisit"})
PAYLOAD_TYPES = frozenset({"response", "resource", "revisit", "request"})


def sha1_base32(hasher: Any) -> str:
    return "sha1:" + base64.b32encode(hasher.digest()).decode("ascii")


def file_sha256(path: Path) -> tuple[int, str]:
    """(size, hex SHA-256) of a file, read in 1 MiB chunks."""
    hasher = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return size, hasher.hexdigest()


class HashingReader:
    """A read-only file wrapper that hashes every byte read through it (one pass over a
    WARC file gives both its records and its SHA-256)."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.sha256 = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self.sha256.update(data)
        self.size += len(data)
        return data

    def tell(self) -> int:
        return self._handle.tell()

    def finish(self) -> tuple[int, str]:
        """Hash what the reader did not need (a trailing partial member), then the result."""
        while self.read(CHUNK):
            pass
        return self.size, self.sha256.hexdigest()


@dataclass(frozen=True)
class RecordInfo:
    """What the manifest and ``verify`` need of one record."""

    offset: int
    rec_type: str
    record_id: str
    target_uri: str
    concurrent_to: tuple[str, ...]
    content_type: str
    digest_header: str  # WARC-Payload-Digest as written ("" when absent)
    digest: str  # the payload's digest computed from its bytes ("" when not computed)

    @property
    def payload_digest(self) -> str:
        """The digest a manifest records: the header, or the computed one where none."""
        return self.digest_header or self.digest


def payload_digest_of(record: Any) -> str:
    """``sha1:`` digest of a record's payload as stored, streamed (the record is consumed)."""
    hasher = hashlib.sha1()
    stream = record.raw_stream
    while chunk := stream.read(CHUNK):
        hasher.update(chunk)
    return sha1_base32(hasher)


def describe(record: Any, offset: int, *, compute: bool) -> RecordInfo:
    headers = record.rec_headers
    rec_type = (record.rec_type or "").lower()
    digest = ""
    if compute and rec_type in PAYLOAD_TYPES and rec_type not in REFERRING_TYPES:
        digest = payload_digest_of(record)
    return RecordInfo(
        offset=offset,
        rec_type=rec_type,
        record_id=(headers.get_header("WARC-Record-ID") or "").strip(),
        target_uri=(headers.get_header("WARC-Target-URI") or "").strip("<> "),
        concurrent_to=tuple(
            value.strip() for name, value in headers.headers if name.lower() == "warc-concurrent-to"
        ),
        content_type=(headers.get_header("Content-Type") or "").strip(),
        digest_header=(headers.get_header("WARC-Payload-Digest") or "").strip(),
        digest=digest,
    )


def iter_records(handle: Any, *, compute: bool = True) -> Iterator[RecordInfo]:
    """Every record of an open WARC file from its current position, with its offset."""
    iterator = ArchiveIterator(handle, check_digests=False)
    for record in iterator:
        info = describe(record, -1, compute=compute)
        # Known only once the record is read to its end (warcio reads it to there).
        yield replace(info, offset=iterator.get_record_offset())


def record_at(path: Path, offset: int, *, compute: bool = False) -> RecordInfo:
    """The record starting at ``offset`` of ``path`` (only that record is read)."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        iterator = ArchiveIterator(handle, check_digests=False)
        record = next(iter(iterator))
        info = describe(record, offset, compute=compute)
        if not info.digest_header and not compute and info.rec_type in PAYLOAD_TYPES:
            # No digest written (a record from another tool): compute it from the bytes.
            info = describe_again(path, offset)
        return info


def describe_again(path: Path, offset: int) -> RecordInfo:
    with open(path, "rb") as handle:
        handle.seek(offset)
        iterator = ArchiveIterator(handle, check_digests=False)
        return describe(next(iter(iterator)), offset, compute=True)
