"""Capture pieces without a crawl: the rebuilt fallback and the request head as Twisted sends it."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, Response
from scrapy.utils.test import get_crawler
from twisted.web._newclient import Request as TxRequest
from twisted.web.client import FileBodyProducer
from twisted.web.http_headers import Headers as TxHeaders

from tdmcrawl.crawler.capture import (
    CAPTURE_META,
    CaptureMiddleware,
    _request_head,
    capture_from_response,
)
from tdmcrawl.crawler.warc.capture import Capture

MOMENT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def test_rebuilt_capture_keeps_repeats_and_says_it_was_rebuilt() -> None:
    request = Request("http://127.0.0.1:8000/a?b=c", headers={"Accept-Encoding": "gzip"})
    body = gzip.compress("<p>Сәлем</p>".encode())
    response = Response(
        request.url,
        status=404,
        headers=[
            ("Content-Encoding", "gzip"),
            ("X-Robots-Tag", "noai"),
            ("X-Robots-Tag", "noimageai"),
        ],
        body=body,
        request=request,
        ip_address=None,
        protocol="HTTP/1.1",
    )
    capture = capture_from_response(request, response, started=MOMENT)
    assert capture.wire is False
    assert capture.status_line == "404 Not Found"  # the standard phrase: Scrapy kept none
    assert capture.header_values("x-robots-tag") == [b"noai", b"noimageai"]
    assert capture.body == body
    assert capture.request_target == "/a?b=c"
    assert capture.request_headers[0] == (b"Host", b"127.0.0.1:8000")
    assert (b"Accept-Encoding", b"gzip") in capture.request_headers
    assert capture.fetched_at == MOMENT and capture.peer_ip is None


def test_unknown_status_gets_no_invented_phrase_and_h2_is_written_as_http11() -> None:
    request = Request("https://example.org/")
    response = Response(request.url, status=599, request=request, protocol="h2")
    capture = capture_from_response(request, response, started=MOMENT)
    assert capture.status_line == "599"
    assert capture.protocol == "HTTP/1.1"


def test_dataloss_flag_marks_the_capture_truncated() -> None:
    request = Request("http://127.0.0.1/x")
    response = Response(request.url, body=b"cut", flags=["dataloss"], request=request)
    assert capture_from_response(request, response).truncated


def test_middleware_stores_the_capture_in_meta_and_counts() -> None:
    crawler = get_crawler()
    crawler.stats.open_spider()
    middleware = CaptureMiddleware.from_crawler(crawler)
    middleware._clock = lambda: MOMENT
    request = Request("http://127.0.0.1/page")
    middleware.process_request(request)
    response = HtmlResponse(
        request.url,
        body="<p>Қазақ</p>".encode(),
        request=request,
        headers={"Content-Type": "text/html; charset=utf-8"},
    )
    assert middleware.process_response(request, response) is response
    capture: Capture = request.meta[CAPTURE_META]
    assert capture.fetched_at == MOMENT
    assert capture.content_type == "text/html"
    assert crawler.stats.get_value("tdmcrawl/capture/rebuilt") == 1


@pytest.mark.parametrize(
    ("persistent", "body", "expected_extra"),
    [
        (True, None, []),
        (False, None, [(b"Connection", b"close")]),
        (True, b"a=1&b=2", [(b"Content-Length", b"7")]),
    ],
)
def test_request_head_is_what_twisted_writes(
    persistent: bool, body: bytes | None, expected_extra: list[tuple[bytes, bytes]]
) -> None:
    headers = TxHeaders({b"Host": [b"example.kz"], b"Accept": [b"text/html"]})
    producer = FileBodyProducer(io.BytesIO(body)) if body else None
    method = b"POST" if body else b"GET"
    tx = TxRequest._construct(method, b"/%D0%B1%D0%B5%D1%82", headers, producer, persistent)
    line, sent = _request_head(tx)
    assert line == (b"POST" if body else b"GET") + b" /%D0%B1%D0%B5%D1%82 HTTP/1.1"
    assert list(sent) == [*expected_extra, (b"Host", b"example.kz"), (b"Accept", b"text/html")]

    # The same bytes Twisted itself writes.
    class Sink:
        data = b""

        def writeSequence(self, parts: list[bytes]) -> None:
            self.data += b"".join(parts)

    sink = Sink()
    te_or_cl = b"Content-Length: %d\r\n" % len(body) if body else None
    tx._writeHeaders(sink, te_or_cl)
    ours = line + b"\r\n" + b"".join(n + b": " + v + b"\r\n" for n, v in sent) + b"\r\n"
    assert ours == sink.data
