"""WARC record building: byte-exact golden records, gzip members, header fixing, round trips."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from io import BytesIO

import pytest
from fastwarc.warc import ArchiveIterator as FastArchiveIterator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from warcio.archiveiterator import ArchiveIterator

from tdmcrawl.crawler.warc.capture import Capture
from tdmcrawl.crawler.warc.records import (
    RecordFactory,
    decision_from_metadata,
    fix_http_headers,
    http_head_bytes,
    serialize_record,
)
from tdmcrawl.optout.decision import Decision, Reason
from tests.support.warc import counting_ids, fixed_clock, gzip_members

WARCINFO_ID = "<urn:uuid:00000000-0000-0000-0000-000000000001>"
RESPONSE_ID = "<urn:uuid:00000000-0000-0000-0000-000000000002>"


def make_capture(**changes: object) -> Capture:
    fields: dict[str, object] = dict(
        url="http://example.kz/бет?q=1",
        protocol="HTTP/1.1",
        status=200,
        reason="OK",
        headers=(
            (b"Content-Type", b"text/html; charset=utf-8"),
            (b"X-Robots-Tag", b"index"),
            (b"Transfer-Encoding", b"chunked"),
            (b"X-Robots-Tag", b"follow"),
        ),
        body="<p>Сәлем</p>".encode(),
        request_method="GET",
        request_target="/%D0%B1%D0%B5%D1%82?q=1",
        request_protocol="HTTP/1.1",
        request_headers=((b"Accept-Encoding", b"gzip"), (b"Host", b"example.kz")),
        request_body=b"",
        peer_ip="192.0.2.7",
        fetched_at=datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
    )
    fields.update(changes)
    return Capture(**fields)  # type: ignore[arg-type]


def golden_records() -> list[object]:
    factory = RecordFactory(clock=fixed_clock(), record_id=counting_ids())
    capture = make_capture()
    decision = Decision(url=capture.url, grants=(Reason("tdmrep", "header", "tdm-reservation: 0"),))
    return [
        factory.warcinfo("x.warc.gz", {"software": "tdmcrawl/0.1.0", "description": "Тест"}),
        factory.response(capture, warcinfo_id=WARCINFO_ID),
        factory.request(capture, concurrent_to=RESPONSE_ID, warcinfo_id=WARCINFO_ID),
        factory.metadata(
            capture.url,
            decision,
            date=capture.fetched_at,
            concurrent_to=RESPONSE_ID,
            warcinfo_id=WARCINFO_ID,
        ),
    ]


GOLDEN_WARCINFO = (
    b"WARC/1.1\r\n"
    b"WARC-Type: warcinfo\r\n"
    b"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000001>\r\n"
    b"WARC-Date: 2026-03-01T12:00:00Z\r\n"
    b"WARC-Filename: x.warc.gz\r\n"
    b"WARC-Block-Digest: sha1:BJH5KF2RP3H4DEEON6PYXUUH23ALK4ZR\r\n"
    b"Content-Type: application/warc-fields\r\n"
    b"Content-Length: 49\r\n"
    b"\r\n"
    b"software: tdmcrawl/0.1.0\r\n"
    b"description: \xd0\xa2\xd0\xb5\xd1\x81\xd1\x82\r\n"
    b"\r\n"
    b"\r\n"
)

GOLDEN_RESPONSE = (
    b"WARC/1.1\r\n"
    b"WARC-Type: response\r\n"
    b"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000002>\r\n"
    b"WARC-Target-URI: http://example.kz/%D0%B1%D0%B5%D1%82?q=1\r\n"
    b"WARC-Date: 2026-03-01T12:00:00.123456Z\r\n"
    b"WARC-Warcinfo-ID: <urn:uuid:00000000-0000-0000-0000-000000000001>\r\n"
    b"WARC-IP-Address: 192.0.2.7\r\n"
    b"WARC-Payload-Digest: sha1:NBPLKOXVBIZH2S5KNDR4FNUZ5VUYQFCT\r\n"
    b"WARC-Block-Digest: sha1:IVHHMQ667ZP6L7G4CKSXS5REJOMBMPOX\r\n"
    b"Content-Type: application/http; msgtype=response\r\n"
    b"Content-Length: 177\r\n"
    b"\r\n"
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"X-Robots-Tag: index\r\n"
    b"X-Crawler-Transfer-Encoding: chunked\r\n"
    b"X-Robots-Tag: follow\r\n"
    b"Content-Length: 17\r\n"
    b"\r\n"
    b"<p>\xd0\xa1\xd3\x99\xd0\xbb\xd0\xb5\xd0\xbc</p>\r\n"
    b"\r\n"
)

GOLDEN_REQUEST = (
    b"WARC/1.1\r\n"
    b"WARC-Type: request\r\n"
    b"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000003>\r\n"
    b"WARC-Target-URI: http://example.kz/%D0%B1%D0%B5%D1%82?q=1\r\n"
    b"WARC-Date: 2026-03-01T12:00:00.123456Z\r\n"
    b"WARC-Warcinfo-ID: <urn:uuid:00000000-0000-0000-0000-000000000001>\r\n"
    b"WARC-Concurrent-To: <urn:uuid:00000000-0000-0000-0000-000000000002>\r\n"
    b"WARC-Payload-Digest: sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ\r\n"
    b"WARC-Block-Digest: sha1:45GNGURKXG4CTY3MYGUVUBDKV2ZJ2UTU\r\n"
    b"Content-Type: application/http; msgtype=request\r\n"
    b"Content-Length: 81\r\n"
    b"\r\n"
    b"GET /%D0%B1%D0%B5%D1%82?q=1 HTTP/1.1\r\n"
    b"Accept-Encoding: gzip\r\n"
    b"Host: example.kz\r\n"
    b"\r\n"
    b"\r\n"
    b"\r\n"
)

GOLDEN_METADATA = (
    b"WARC/1.1\r\n"
    b"WARC-Type: metadata\r\n"
    b"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000004>\r\n"
    b"WARC-Target-URI: http://example.kz/%D0%B1%D0%B5%D1%82?q=1\r\n"
    b"WARC-Date: 2026-03-01T12:00:00.123456Z\r\n"
    b"WARC-Warcinfo-ID: <urn:uuid:00000000-0000-0000-0000-000000000001>\r\n"
    b"WARC-Concurrent-To: <urn:uuid:00000000-0000-0000-0000-000000000002>\r\n"
    b"WARC-Block-Digest: sha1:ZCJFZNGY2R3JS6PQ4RAJTTF6PW2CWB72\r\n"
    b"Content-Type: application/warc-fields\r\n"
    b"Content-Length: 194\r\n"
    b"\r\n"
    b'tdmcrawl-decision: {"allowed": true, "grants": [{"code": "tdmrep", '
    b'"evidence": "tdm-reservation: 0", "source": "header"}], "reasons": [], '
    b'"url": "http://example.kz/\xd0\xb1\xd0\xb5\xd1\x82?q=1", "warnings": []}\r\n'
    b"\r\n"
    b"\r\n"
)

GOLDEN = [GOLDEN_WARCINFO, GOLDEN_RESPONSE, GOLDEN_REQUEST, GOLDEN_METADATA]


@pytest.mark.parametrize("index", range(4), ids=["warcinfo", "response", "request", "metadata"])
def test_golden_record_bytes(index: int) -> None:
    assert serialize_record(golden_records()[index], compress=False) == GOLDEN[index]


def test_each_record_is_one_gzip_member_with_the_same_bytes() -> None:
    members = [serialize_record(r) for r in golden_records()]
    data = b"".join(members)
    assert gzip_members(data) == GOLDEN
    # Deterministic compression (mtime 0): the same record gives the same member.
    assert serialize_record(golden_records()[1]) == members[1]


def test_golden_records_read_back_with_warcio_and_fastwarc() -> None:
    data = b"".join(serialize_record(r) for r in golden_records())
    records = list(ArchiveIterator(BytesIO(data), check_digests=True))
    assert [r.rec_type for r in records] == ["warcinfo", "response", "request", "metadata"]
    response = next(r for r in ArchiveIterator(BytesIO(data)) if r.rec_type == "response")
    assert response.http_headers.statusline == "200 OK"
    assert response.http_headers.get_header("X-Crawler-Transfer-Encoding") == "chunked"
    assert response.content_stream().read() == "<p>Сәлем</p>".encode()
    fast = FastArchiveIterator(BytesIO(data), parse_http=False)
    verified = [r.verify_block_digest() for r in fast]
    assert verified == [True] * 4
    metadata = next(r for r in ArchiveIterator(BytesIO(data)) if r.rec_type == "metadata")
    decision = decision_from_metadata(metadata.content_stream().read())
    assert decision.allowed and decision.grants[0].evidence == "tdm-reservation: 0"


def test_repeated_headers_keep_order_and_every_value() -> None:
    record = golden_records()[1]
    data = serialize_record(record, compress=False)
    head = data.split(b"\r\n\r\n", 2)[1]
    assert head.split(b"\r\n")[1:5] == [
        b"Content-Type: text/html; charset=utf-8",
        b"X-Robots-Tag: index",
        b"X-Crawler-Transfer-Encoding: chunked",
        b"X-Robots-Tag: follow",
    ]


def test_gzip_body_is_stored_compressed_and_decoded_on_read() -> None:
    html = "<html>Қазақ тілі</html>".encode()
    body = gzip.compress(html, mtime=0)
    capture = make_capture(
        headers=((b"Content-Type", b"text/html"), (b"Content-Encoding", b"gzip")), body=body
    )
    data = serialize_record(RecordFactory().response(capture))
    record = next(iter(ArchiveIterator(BytesIO(data))))
    assert record.http_headers.get_header("Content-Encoding") == "gzip"
    assert record.raw_stream.read() == body  # as received
    data_again = serialize_record(RecordFactory().response(capture))
    record = next(iter(ArchiveIterator(BytesIO(data_again))))
    assert record.content_stream().read() == html  # decoded by the reader


@pytest.mark.parametrize(
    ("headers", "length", "expected"),
    [
        # Content-Length right: untouched.
        ([(b"Content-Length", b"5")], 5, [(b"Content-Length", b"5")]),
        # chunked: renamed, a correct Content-Length added.
        (
            [(b"transfer-encoding", b"chunked")],
            5,
            [(b"X-Crawler-transfer-encoding", b"chunked"), (b"Content-Length", b"5")],
        ),
        # Wrong length (e.g. a truncated body): received one kept under a new name.
        (
            [(b"Content-Length", b"99"), (b"X-A", b"1")],
            5,
            [(b"X-Crawler-Content-Length", b"99"), (b"X-A", b"1"), (b"Content-Length", b"5")],
        ),
        # Two Content-Length lines: both renamed.
        (
            [(b"Content-Length", b"5"), (b"Content-Length", b"5")],
            5,
            [
                (b"X-Crawler-Content-Length", b"5"),
                (b"X-Crawler-Content-Length", b"5"),
                (b"Content-Length", b"5"),
            ],
        ),
        # None at all (connection-close framing): one added.
        ([], 0, [(b"Content-Length", b"0")]),
    ],
)
def test_fix_http_headers_like_common_crawl(
    headers: list[tuple[bytes, bytes]], length: int, expected: list[tuple[bytes, bytes]]
) -> None:
    assert fix_http_headers(headers, length) == expected


def test_rebuilt_head_and_truncation_are_declared() -> None:
    capture = make_capture(wire=False, truncated=True)
    data = serialize_record(RecordFactory().response(capture), compress=False)
    assert b"WARC-Tdmcrawl-Http-Head: rebuilt-from-parsed-response\r\n" in data
    assert b"WARC-Truncated: length\r\n" in data


def test_missing_reason_phrase_is_not_invented() -> None:
    capture = make_capture(reason="")
    data = serialize_record(RecordFactory().response(capture), compress=False)
    assert b"\r\n\r\nHTTP/1.1 200\r\n" in data


header_text = st.text(
    alphabet=st.sampled_from("әғқңөұүһіӘҒҚҢӨҰҮҺІабвгдеёжзийклмнопрстуфхцчшщъыьэюя azAZ09-;=,"),
    min_size=0,
    max_size=40,
).map(str.strip)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.text(max_size=300), value=header_text, reason=header_text)
def test_unicode_bodies_and_headers_round_trip_byte_for_byte(
    body: str, value: str, reason: str
) -> None:
    raw_body = body.encode("utf-8")
    raw_value = value.encode("utf-8")
    headers = ((b"Content-Type", b"text/plain; charset=utf-8"), (b"X-Title", raw_value))
    capture = make_capture(headers=headers, body=raw_body, reason=reason)
    data = serialize_record(RecordFactory().response(capture))
    # FastWARC hands back the block exactly as stored.
    record = next(iter(FastArchiveIterator(BytesIO(data), parse_http=False)))
    assert record.verify_block_digest()
    record = next(iter(FastArchiveIterator(BytesIO(data), parse_http=False)))
    block = record.reader.read()
    head = http_head_bytes(
        f"HTTP/1.1 {capture.status_line}", fix_http_headers(headers, len(raw_body))
    )
    assert block == head + raw_body
    # warcio reads the same body back.
    assert next(iter(ArchiveIterator(BytesIO(data)))).content_stream().read() == raw_body


@settings(max_examples=40, deadline=None)
@given(value=st.binary(max_size=60).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")))
def test_any_header_bytes_are_written_as_received(value: bytes) -> None:
    # cp1251 or broken UTF-8 from old Russian servers must not be re-encoded either.
    headers = ((b"Content-Type", b"text/html"), (b"X-Legacy", value))
    capture = make_capture(headers=headers, body=b"x")
    raw = serialize_record(RecordFactory().response(capture), compress=False)
    assert b"\r\nX-Legacy: " + value + b"\r\n" in raw
    record = next(
        iter(
            FastArchiveIterator(
                BytesIO(serialize_record(RecordFactory().response(capture))), parse_http=False
            )
        )
    )
    assert record.verify_block_digest()


@settings(max_examples=50, deadline=None)
@given(evidence=st.text(max_size=80), url_tail=st.text(max_size=20))
def test_decision_round_trips_through_the_metadata_record(evidence: str, url_tail: str) -> None:
    url = "http://example.kz/" + url_tail
    decision = Decision(url=url, reasons=(Reason("noai", "meta", evidence),))
    record = RecordFactory().metadata(
        url, decision, date=datetime(2026, 1, 1, tzinfo=UTC), concurrent_to=RESPONSE_ID
    )
    stored = next(iter(ArchiveIterator(BytesIO(serialize_record(record)))))
    assert decision_from_metadata(stored.content_stream().read()) == decision
