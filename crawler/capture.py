"""Keep the HTTP exchange as it went over the wire, for faithful WARC records.

Scrapy's parsed response loses what a WARC record must keep: the reason
phrase, the header names as sent, the order of different headers, and the
connection headers (``Transfer-Encoding``, ``Connection``, ``Keep-Alive``)
that Twisted files away before Scrapy sees the response. Two parts fix that:

* :class:`WireHTTP11DownloadHandler`, a drop-in for Scrapy's HTTP/1.1 handler
  (``DOWNLOAD_HANDLERS`` for ``http`` and ``https``) whose parser records the
  raw status line and every header line in order, and which records the
  request head exactly as Twisted serialises it (Host, Content-Length, ...).
* :class:`CaptureMiddleware`, a downloader middleware at priority 595: above
  HttpCompressionMiddleware (590), so its ``process_response`` runs first and
  sees the body still content-encoded. It stores a :class:`Capture` in
  ``response.meta["tdmcrawl_capture"]``.

Without the handler (another handler, an HTTP cache hit) the capture is
rebuilt from Scrapy's parsed response and says so: ``Capture.wire`` is False.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached

from tdmcrawl.crawler.clock import utc_now
from tdmcrawl.crawler.politeness import host_gate
from tdmcrawl.crawler.warc.capture import Capture, Header

logger = logging.getLogger(__name__)

CAPTURE_META = "tdmcrawl_capture"
# Set by the wire handler on the request, consumed (popped) by the middleware.
_WIRE_META_KEY = "_tdmcrawl_wire"
_STARTED_META_KEY = "_tdmcrawl_fetch_started"


@dataclass(frozen=True)
class _WireHead:
    status_line: bytes
    headers: tuple[Header, ...]
    request_line: bytes
    request_headers: tuple[Header, ...]
    sent_at: datetime


def capture_from_response(
    request: Request, response: Response, *, started: datetime | None = None
) -> Capture:
    """Build a :class:`Capture` from a response above HttpCompressionMiddleware.

    Uses the wire head recorded by :class:`WireHTTP11DownloadHandler` when the
    request carries one; otherwise rebuilds what Scrapy kept.
    """
    wire: _WireHead | None = request.meta.pop(_WIRE_META_KEY, None)
    started = started or request.meta.pop(_STARTED_META_KEY, None) or utc_now()
    peer_ip = str(response.ip_address) if response.ip_address is not None else None
    truncated = "dataloss" in response.flags
    if wire is not None:
        version, _, rest = wire.status_line.decode("latin-1").partition(" ")
        _code, _, reason = rest.partition(" ")
        method, _, tail = wire.request_line.decode("latin-1").partition(" ")
        target, _, req_protocol = tail.rpartition(" ")
        return Capture(
            url=response.url,
            protocol=version or response.protocol or "HTTP/1.1",
            status=response.status,
            reason=reason,
            headers=wire.headers,
            body=response.body,
            request_method=method,
            request_target=target,
            request_protocol=req_protocol or "HTTP/1.1",
            request_headers=wire.request_headers,
            request_body=request.body,
            peer_ip=peer_ip,
            fetched_at=wire.sent_at,
            truncated=truncated,
        )
    parsed = urlparse_cached(request)
    target = (parsed.path or "/") + (f"?{parsed.query}" if parsed.query else "")
    request_headers: list[Header] = [(b"Host", parsed.netloc.encode("ascii", "replace"))]
    request_headers += _header_pairs(request.headers)
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = ""
    protocol = response.protocol if (response.protocol or "").startswith("HTTP/") else "HTTP/1.1"
    return Capture(
        url=response.url,
        protocol=protocol,
        status=response.status,
        reason=reason,
        headers=tuple(_header_pairs(response.headers)),
        body=response.body,
        request_method=request.method,
        request_target=target,
        request_protocol="HTTP/1.1",
        request_headers=tuple(request_headers),
        request_body=request.body,
        peer_ip=peer_ip,
        fetched_at=started,
        wire=False,
        truncated=truncated,
    )


def _header_pairs(headers: Any) -> list[Header]:
    # getlist keeps repeated values; iterating a Headers object yields each name once.
    return [(bytes(name), bytes(value)) for name in headers for value in headers.getlist(name)]


class CaptureMiddleware:
    """Downloader middleware (priority 595) storing a :class:`Capture` in meta."""

    def __init__(self, clock: Callable[[], datetime] | None = None, stats: Any = None) -> None:
        self._clock = clock or utc_now
        self._stats = stats
        self._warned_no_wire = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CaptureMiddleware:
        return cls(stats=crawler.stats)

    def process_request(self, request: Request) -> None:
        # Fallback fetch time when the wire handler is not installed.
        request.meta[_STARTED_META_KEY] = self._clock()

    def process_response(self, request: Request, response: Response) -> Response:
        capture = capture_from_response(request, response)
        if not capture.wire and not self._warned_no_wire:
            self._warned_no_wire = True
            if "cached" not in response.flags:
                logger.warning(
                    "tdmcrawl: responses come without their wire head (reason phrase, "
                    "Transfer-Encoding); set DOWNLOAD_HANDLERS http/https to %s.%s",
                    __name__,
                    WireHTTP11DownloadHandler.__name__,
                )
        if self._stats is not None:
            self._stats.inc_value(f"tdmcrawl/capture/{'wire' if capture.wire else 'rebuilt'}")
        request.meta[CAPTURE_META] = capture
        return response


# --- the wire-keeping HTTP/1.1 download handler --------------------------------------------
# Built on Scrapy's (private) HTTP/1.1 handler classes; tests/test_capture*.py fail loudly if
# a Scrapy upgrade moves them, and capture falls back to the rebuilt form meanwhile.

try:
    from scrapy.core.downloader.handlers import http11 as _http11
    from scrapy.utils.defer import maybe_deferred_to_future

    _HANDLER_BASE: Any = _http11.HTTP11DownloadHandler
except ImportError:  # pragma: no cover - Scrapy without the HTTP/1.1 handler
    _http11 = None
    _HANDLER_BASE = object


if _http11 is not None:

    class _WireParser(_http11._LenientHTTPClientParser):
        """Records the status line and every header line as received."""

        # Scrapy swaps the parser's class after connectionMade() ran, so the
        # state starts at each status line (also after an ignored 1xx).
        def statusReceived(self, status: bytes) -> None:
            self._tdm_status = status
            self._tdm_headers: list[Header] = []
            super().statusReceived(status)

        def headerReceived(self, name: bytes, value: bytes) -> None:
            self._tdm_headers.append((name, value))
            super().headerReceived(name, value)

        def allHeadersReceived(self) -> None:
            response = getattr(self, "response", None)
            if response is not None:
                response._tdm_wire = (self._tdm_status, tuple(self._tdm_headers))
            super().allHeadersReceived()

    class _WireProtocol(_http11._LenientHTTP11ClientProtocol):
        def request(self, request: Any) -> Any:
            sent_at = utc_now()
            d = super().request(request)
            self._parser.__class__ = _WireParser
            head = _request_head(request)

            def _attach(response: Any) -> Any:
                response._tdm_request = (*head, sent_at)
                return response

            d.addCallback(_attach)
            return d

    class _WireFactory(_http11._LenientHTTP11ClientFactory):
        def buildProtocol(self, addr: Any) -> Any:
            return _WireProtocol(self._quiescentCallback)

    class _WireAgent(_http11._ScrapyAgent):
        def _cb_bodyready(self, txresponse: Any, request: Request) -> Any:
            status_headers = getattr(txresponse, "_tdm_wire", None)
            sent = getattr(txresponse, "_tdm_request", None)
            if status_headers is not None and sent is not None:
                request.meta[_WIRE_META_KEY] = _WireHead(
                    status_line=status_headers[0],
                    headers=status_headers[1],
                    request_line=sent[0],
                    request_headers=sent[1],
                    sent_at=sent[2],
                )
            return super()._cb_bodyready(txresponse, request)


def _request_head(request: Any) -> tuple[bytes, tuple[Header, ...]]:
    """The request line and headers exactly as twisted's ``Request._writeHeaders`` sends them."""
    line = b" ".join([request.method, request.uri, b"HTTP/1.1"])
    headers: list[Header] = []
    if not request.persistent:
        headers.append((b"Connection", b"close"))
    producer = request.bodyProducer
    if producer is not None:
        length = getattr(producer, "length", None)
        if isinstance(length, int):
            headers.append((b"Content-Length", str(length).encode()))
        else:
            headers.append((b"Transfer-Encoding", b"chunked"))
    for name, values in request.headers.getAllRawHeaders():
        headers += [(name, value) for value in values]
    return line, tuple(headers)


class WireHTTP11DownloadHandler(_HANDLER_BASE):
    """Scrapy's HTTP/1.1 download handler, keeping the wire head of each exchange.

    Install with ``DOWNLOAD_HANDLERS = {"http": PATH, "https": PATH}`` where
    PATH is ``"tdmcrawl.crawler.capture.WireHTTP11DownloadHandler"``.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._pool._factory = _WireFactory

    async def download_request(self, request: Request) -> Response:
        # The host gate lets the request go when the host's delay and concurrency allow it,
        # here at the wire, after every queue (crawler/politeness.py).
        gate = host_gate(self._crawler)
        token = await gate.enter(request)
        try:
            return await self._download_request(request)
        finally:
            gate.leave(token)

    async def _download_request(self, request: Request) -> Response:
        # Same as the parent's, with the agent that hands the wire head over.
        agent = _WireAgent(
            contextFactory=self._contextFactory,
            bindAddress=self._bind_address,
            pool=self._pool,
            maxsize=getattr(self._crawler.spider, "download_maxsize", self._default_maxsize),
            warnsize=getattr(self._crawler.spider, "download_warnsize", self._default_warnsize),
            fail_on_dataloss=self._fail_on_dataloss,
            crawler=self._crawler,
            tls_verbose_logging=self._tls_verbose_logging,
        )
        try:
            with _http11.wrap_twisted_exceptions():
                return await maybe_deferred_to_future(agent.download_request(request))
        except _http11.ResponseDataLossError:
            if not self._fail_on_dataloss_warned:
                logger.warning(_http11.get_dataloss_msg(request.url))
                self._fail_on_dataloss_warned = True
            raise
