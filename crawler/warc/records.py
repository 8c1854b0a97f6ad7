"""WARC/1.1 records: building them from a :class:`Capture`, and one gzip member each.

:class:`RecordFactory` builds warcio records (pure; the clock and record ids
are injected so tests compare exact bytes); :func:`serialize_record` turns one
record into one gzip member (WARC 1.1 Annex D).

HTTP heads are written byte for byte as received, with one normalisation,
the one Common Crawl makes and the warcinfo record declares: the body is
stored without its transfer-coding (Twisted removes the chunk framing), so
``Transfer-Encoding`` is renamed ``X-Crawler-Transfer-Encoding`` and
``Content-Length`` is set to the stored length (a differing received value is
kept as ``X-Crawler-Content-Length``). Content-coding (gzip, br) is kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

from w3lib.url import safe_url_string
from warcio.recordbuilder import RecordBuilder
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter
from zlib_ng import gzip_ng

from tdmcrawl.crawler.clock import utc_now
from tdmcrawl.crawler.errors import WarcOutputError
from tdmcrawl.crawler.warc.capture import Capture, Header
from tdmcrawl.optout.decision import Decision

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


@dataclass(frozen=True)
class WarcRef:
    """Where a record lives: the file's final name (no ``.open``), byte offset, record id."""

    filename: str
    offset: int
    record_id: str


def new_record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def warc_date(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return datetime_to_iso_date(moment, use_micros=True)


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

    def metadata_block(
        self,
        url: str,
        payload: bytes,
        *,
        content_type: str,
        date: datetime,
        warcinfo_id: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> Any:
        """A ``metadata`` record holding ``payload`` as it is (any content type)."""
        headers = self._headers("metadata", url, date, WARC_Warcinfo_ID=warcinfo_id)
        headers.update(extra or {})
        return self._builder.create_warc_record(
            target_uri(url),
            "metadata",
            payload=BytesIO(payload),
            length=len(payload),
            warc_content_type=content_type,
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
    # mtime=0: the same record always compresses to the same bytes. zlib-ng: the same
    # standard deflate as zlib, about 1.7x faster at this level, a member 0.3 % larger
    # (benchmarks/bench_gzip.py); any gzip reader (warcio, FastWARC, zcat) reads it.
    return gzip_ng.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
