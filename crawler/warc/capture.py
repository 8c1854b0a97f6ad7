"""One HTTP exchange as received: what the WARC records of a page are built from.

Pure data, no Scrapy: the download side (``crawler/capture.py``) fills it in,
the WARC writers and ``tdmcrawl filter`` read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

Header = tuple[bytes, bytes]


@dataclass(frozen=True)
class Capture:
    """One HTTP exchange as received: the source of a WARC request+response pair.

    ``headers`` keeps every response header line, repeats included, in the
    order received when ``wire`` is True (grouped per name otherwise).
    ``body`` is the payload as received: content-coding (gzip, br) kept,
    transfer-coding (chunked) already removed by Twisted.
    """

    url: str
    protocol: str  # "HTTP/1.1"
    status: int
    reason: str  # reason phrase as received ("" if the server sent none)
    headers: tuple[Header, ...]
    body: bytes
    request_method: str
    request_target: str  # path and query as sent
    request_protocol: str
    request_headers: tuple[Header, ...]
    request_body: bytes
    peer_ip: str | None
    fetched_at: datetime  # UTC, when the request was sent
    wire: bool = True  # False: status line and headers rebuilt from Scrapy's parse
    truncated: bool = False  # body cut short (Scrapy's "dataloss" flag)

    @property
    def status_line(self) -> str:
        return f"{self.status} {self.reason}" if self.reason else str(self.status)

    def header_values(self, name: str) -> list[bytes]:
        wanted = name.lower().encode("latin-1")
        return [value for key, value in self.headers if key.lower() == wanted]

    @property
    def content_type(self) -> str:
        values = self.header_values("Content-Type")
        if not values:
            return ""
        return values[-1].split(b";", 1)[0].strip().decode("latin-1").lower()
