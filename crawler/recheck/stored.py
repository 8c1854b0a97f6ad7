"""A kept page's response as the corpus stores it: head, validators, decoded body, text.

A recheck reads it to re-request the page conditionally (``ETag``,
``Last-Modified``), to read the page's signals again when the site answers
``304 Not Modified``, and to fingerprint a page whose run kept no fingerprint.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from tdmcrawl.dedup import Fingerprint, extract_main_text, fingerprint

logger = logging.getLogger(__name__)

MAX_BODY = 5 * 1024 * 1024  # as tdmcrawl filter: signals and text are read from this much


@dataclass(frozen=True)
class StoredResponse:
    url: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes  # content-decoded, at most MAX_BODY bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    @property
    def content_type(self) -> str | None:
        return self.header("Content-Type")

    def validators(self) -> dict[str, str]:
        """The conditional request headers its validators allow (RFC 9110 13.1)."""
        out = {}
        etag = self.header("ETag")
        if etag:
            out["If-None-Match"] = etag
        modified = self.header("Last-Modified")
        if modified:
            out["If-Modified-Since"] = modified
        return out

    def freshened(self, headers: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
        """The stored header fields updated by a 304's (RFC 9111 4.3.4): a field the 304
        sends replaces the stored field of that name."""
        sent = {name.lower() for name, _ in headers}
        kept = tuple((n, v) for n, v in self.headers if n.lower() not in sent)
        return kept + tuple(headers)

    def text(self) -> str:
        """The main text, as the crawl's gates extract it."""
        content_type = (self.content_type or "").split(";", 1)[0].strip().lower()
        if content_type == "text/plain":
            return self.body.decode("utf-8", errors="replace")
        try:
            return extract_main_text(self.body, self.url)
        except Exception:  # a parser failure leaves the page without a fingerprint
            logger.debug("extract_main_text failed on %s", self.url, exc_info=True)
            return ""

    def fingerprint(self, config: object, *, positions: bool) -> Fingerprint | None:
        return fingerprint(self.text(), config, positions=positions)  # type: ignore[arg-type]


def read_stored(path: Path, offset: int, *, max_body: int = MAX_BODY) -> StoredResponse:
    """The response record at ``offset`` of ``path`` (only that record is read)."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        record = next(iter(ArchiveIterator(handle, check_digests=False)))
        url = (record.rec_headers.get_header("WARC-Target-URI") or "").strip("<> ")
        http = record.http_headers
        if http is None:  # a resource record: the block is the body
            return StoredResponse(url, 200, (), record.raw_stream.read(max_body))
        pairs = tuple((str(k), str(v)) for k, v in http.headers if v is not None)
        try:
            body = record.content_stream().read(max_body)
        except Exception:  # a coding that does not decode: read as stored
            body = b""
        return StoredResponse(url, int(http.get_statuscode() or 0), pairs, body)
