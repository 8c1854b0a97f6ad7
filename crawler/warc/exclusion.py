"""Evidence of a page excluded after it was fetched, for the evidence WARC: never its body.

For every page a gate excludes once it has the response (a header, a meta
tag, an origin signal read with the page, a near-copy), the evidence WARC
gets a group of ``metadata`` records, all with the page's URL as
``WARC-Target-URI``:

1. the response head exactly as received (status line and header lines,
   ``Content-Type: application/http; msgtype=response``), with the SHA-1,
   length and coding of the body it came with, and a note that the body is
   not stored: the exclusion's audit row points to this record;
2. for a decision that rests on meta tags, the exact bytes of those tags as
   served (``text/html``, the page's charset), with their byte ranges in the
   (content-decoded) body (``WARC-Tdmcrawl-Body-Ranges``);
3. the decision, as the corpus's own metadata records hold it.

Records 2 and 3 name record 1 in ``WARC-Concurrent-To``.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.timeutils import iso_date_to_datetime

from tdmcrawl.crawler.warc.capture import Capture
from tdmcrawl.crawler.warc.digests import sha1_base32
from tdmcrawl.crawler.warc.records import RecordFactory, http_head_bytes, record_id_of
from tdmcrawl.optout.decision import Decision
from tdmcrawl.optout.html_meta import extract_meta, sniff_encoding

HEAD_CONTENT_TYPE = "application/http; msgtype=response"
BODY_NOT_STORED = "not stored: reserved for AI training"
_META_TAG = re.compile(rb"<meta\b[^>]{0,4096}>", re.IGNORECASE)


def head_bytes(capture: Capture) -> bytes:
    """The status line and header lines of a response, as received (no normalisation)."""
    return http_head_bytes(f"{capture.protocol} {capture.status_line}", capture.headers)


def meta_tag_spans(
    body: bytes,
    decision: Decision,
    content_type: str | None = None,
    max_bytes: int | None = None,
) -> list[tuple[int, int]]:
    """Byte ranges of ``body`` holding the meta tags that ``decision``'s meta reasons quote.

    The tags are found as the policy found them (``optout.html_meta``): each
    ``<meta ...>`` of the scanned prefix is read alone, in the page's charset,
    and kept when its normalised rendering is the one a reason quotes.
    """
    quoted = [r.evidence for r in decision.reasons if r.source == "meta"]
    if not quoted or not body:
        return []
    data = body if max_bytes is None else body[:max_bytes]  # the policy scans it all
    encoding, _bom = sniff_encoding(data, content_type)
    declared = f"text/html; charset={encoding}"
    spans = []
    for match in _META_TAG.finditer(data):
        for tag in extract_meta(match.group(0), content_type=declared).tags:
            if any(tag.raw in text for text in quoted):
                spans.append(match.span())
                break
    return spans


def exclusion_records(
    factory: RecordFactory,
    capture: Capture,
    decision: Decision,
    *,
    stage: str,
    body: bytes | None = None,
    content_type: str | None = None,
    warcinfo_id: str | None = None,
    date: datetime | None = None,
    note: str | None = None,
) -> list[Any]:
    """The records of one excluded page (see the module docstring); ``body`` is the
    content-decoded body the meta tags are looked for in (the capture's otherwise)."""
    date = date or capture.fetched_at
    url = capture.url
    received = capture.body
    head_headers = {
        "WARC-Tdmcrawl-Stage": stage,
        "WARC-Tdmcrawl-Body": (
            f"{BODY_NOT_STORED}; {len(received)} bytes as received, "
            f"{sha1_base32(hashlib.sha1(received))}"
        ),
    }
    if note:
        head_headers["WARC-Tdmcrawl-Http-Head"] = note
    elif not capture.wire:
        head_headers["WARC-Tdmcrawl-Http-Head"] = "rebuilt-from-parsed-response"
    if capture.truncated:
        head_headers["WARC-Tdmcrawl-Body-Truncated"] = "length"
    head = factory.metadata_block(
        url,
        head_bytes(capture),
        content_type=HEAD_CONTENT_TYPE,
        date=date,
        warcinfo_id=warcinfo_id,
        extra=head_headers,
    )
    head_id = record_id_of(head)
    records = [head]
    decoded = capture.body if body is None else body
    spans = meta_tag_spans(decoded, decision, content_type)
    if spans:
        encoding, _bom = sniff_encoding(decoded, content_type)
        tags = b"\n".join(decoded[start:end] for start, end in spans)
        records.append(
            factory.metadata_block(
                url,
                tags,
                content_type=f"text/html; charset={encoding}",
                date=date,
                warcinfo_id=warcinfo_id,
                extra={
                    "WARC-Concurrent-To": head_id,
                    "WARC-Tdmcrawl-Body-Ranges": " ".join(f"{s}-{e - 1}" for s, e in spans),
                },
            )
        )
    records.append(
        factory.metadata(url, decision, date=date, concurrent_to=head_id, warcinfo_id=warcinfo_id)
    )
    return records


STORED_HEAD_NOTE = "as stored in the corpus record (Transfer-Encoding normalised, see warcinfo)"


def capture_from_record(path: Any, offset: int) -> Capture:
    """The response record at ``offset`` of a WARC file as a :class:`Capture` (its head as
    stored, its payload as the body): a page cut out of a file after it was kept."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        record = next(iter(ArchiveIterator(handle, no_record_parse=True)))
        headers = record.rec_headers
        block = record.raw_stream.read()
    head, _, payload = block.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    protocol, _, rest = lines[0].decode("latin-1").partition(" ")
    code, _, reason = rest.partition(" ")
    fields = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        fields.append((name, value.lstrip(b" \t")))
    return Capture(
        url=(headers.get_header("WARC-Target-URI") or "").strip("<> "),
        protocol=protocol or "HTTP/1.1",
        status=int(code) if code.isdigit() else 0,
        reason=reason,
        headers=tuple(fields),
        body=payload,
        request_method="GET",
        request_target="",
        request_protocol="HTTP/1.1",
        request_headers=(),
        request_body=b"",
        peer_ip=headers.get_header("WARC-IP-Address"),
        fetched_at=iso_date_to_datetime(headers.get_header("WARC-Date") or "1970-01-01T00:00:00Z"),
    )
