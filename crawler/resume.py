"""Recovering the WARC files a killed crawl left open, before ``--resume`` continues it.

A clean stop (end of crawl, Ctrl-C) closes and renames every file. A kill
leaves ``*.warc.gz.open`` files whose last member may be cut, and audit rows
still queued in memory are lost. Recovery keeps each open file up to its last
complete page (response, request, metadata), renames it, and returns those
pages so the session can audit the ones the audit missed and never write them
again.
"""

from __future__ import annotations

import logging
import mmap
import zlib
from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from optout.decision import Decision

logger = logging.getLogger(__name__)

OPEN_SUFFIX = ".open"


@dataclass(frozen=True)
class RecoveredPage:
    url: str
    warc_file: str  # final file name, as the audit records it
    offset: int
    record_id: str
    decision: Decision


def recover_open_warcs(directory: Path, *, pages: bool = True) -> list[RecoveredPage]:
    """Truncate every ``.open`` file in ``directory`` to its last complete unit and rename it.

    With ``pages`` (the output WARC) a unit is a response+request+metadata
    group; otherwise (the evidence WARC) any complete record.
    """
    recovered: list[RecoveredPage] = []
    for open_path in sorted(directory.glob(f"*{OPEN_SUFFIX}")):
        final = open_path.with_name(open_path.name[: -len(OPEN_SUFFIX)])
        with open_path.open("r+b") as handle:
            # warcio reads a cut gzip member without complaint: cut to whole members first.
            handle.truncate(_whole_members(open_path))
        good_end, found = _scan(open_path, final.name, pages=pages)
        with open_path.open("r+b") as handle:
            handle.truncate(good_end)
        if good_end == 0:
            open_path.unlink()
            continue
        open_path.rename(final)
        logger.warning("recovered %s: %d complete page(s)", final.name, len(found))
        recovered.extend(found)
    return recovered


def _scan(path: Path, final_name: str, *, pages: bool) -> tuple[int, list[RecoveredPage]]:
    good_end = 0
    found: list[RecoveredPage] = []
    response: tuple[str, int, str] | None = None
    with path.open("rb") as stream:
        records = ArchiveIterator(stream)
        try:
            for record in records:
                kind = record.rec_type
                url = record.rec_headers.get_header("WARC-Target-URI") or ""
                record_id = record.rec_headers.get_header("WARC-Record-ID") or ""
                body = record.content_stream().read() if kind == "metadata" else b""
                records.read_to_end(record)
                offset = records.get_record_offset()
                end = offset + records.get_record_length()
                if not pages or kind == "warcinfo":
                    good_end = end
                elif kind == "response":
                    response = (url, offset, record_id)
                elif kind == "metadata" and response is not None:
                    good_end = end
                    found.append(RecoveredPage(response[0], final_name, response[1],
                                               response[2], _decision(body, response[0])))
                    response = None
        except (ArchiveLoadFailed, OSError, EOFError, ValueError) as exc:
            # The cut member of a killed write: everything before it is kept.
            logger.info("%s: stopped reading at a cut record (%s)", path.name, exc)
    return good_end, found


def _whole_members(path: Path, chunk: int = 1 << 16) -> int:
    """Length of the prefix of the file made of complete gzip members (one per record)."""
    size = path.stat().st_size
    if size == 0:
        return 0
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        end = 0
        while end < size:
            inflater = zlib.decompressobj(wbits=31)
            pos = end
            try:
                while not inflater.eof and pos < size:
                    piece = data[pos : pos + chunk]
                    inflater.decompress(piece)
                    pos += len(piece)
            except zlib.error:
                break
            if not inflater.eof:
                break  # the member runs past the end of the file: cut by the kill
            end = pos - len(inflater.unused_data)
    return end


def _decision(body: bytes, url: str) -> Decision:
    from crawler.warc import WarcOutputError, decision_from_metadata

    try:
        return decision_from_metadata(body)
    except (WarcOutputError, ValueError, KeyError, UnicodeDecodeError):
        return Decision(url=url, warnings=("decision JSON unreadable after recovery",))
