"""Evidence of a page excluded after fetching: its head as received, the deciding meta tags'
exact bytes as served, the decision; never the body (crawler/warc/exclusion.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tdmcrawl.crawler.warc.capture import Capture
from tdmcrawl.crawler.warc.exclusion import capture_from_record, head_bytes, meta_tag_spans
from tdmcrawl.crawler.warc.records import target_uri
from tdmcrawl.crawler.warc.writer import EvidenceWriter, RotatingWarcWriter
from tdmcrawl.optout.decision import Decision
from tdmcrawl.optout.policy import OriginSignals, PolicyConfig, ResponseSignals, evaluate

SECRET = "Бұл мәтін ешқашан сақталмауы керек"


def page(body: bytes, headers: tuple[tuple[bytes, bytes], ...]) -> Capture:
    return Capture(
        url="http://127.0.0.1:8000/жабық.html",
        protocol="HTTP/1.1",
        status=200,
        reason="OK",
        headers=headers,
        body=body,
        request_method="GET",
        request_target="/",
        request_protocol="HTTP/1.1",
        request_headers=((b"Host", b"127.0.0.1:8000"),),
        request_body=b"",
        peer_ip="127.0.0.1",
        fetched_at=datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC),
    )


def decide(capture: Capture) -> Decision:
    signals = ResponseSignals(
        capture.status,
        [(k.decode(), v.decode("latin-1")) for k, v in capture.headers],
        capture.body,
    )
    return evaluate(capture.url, OriginSignals(), signals, PolicyConfig())


@pytest.mark.parametrize(
    ("charset", "tag", "text"),
    [
        ("utf-8", '<META NAME="tdm-reservation"   CONTENT=1 >', SECRET),
        (
            "windows-1251",
            '<meta content=\'noai\' name="robots" data-примечание="авторское">',
            "Этот текст никогда не сохраняется",
        ),
    ],
)
def test_the_deciding_tag_is_found_byte_for_byte(charset: str, tag: str, text: str) -> None:
    body = (
        f'<html><head><meta charset="{charset}"><title>Заголовок</title>{tag}</head>'
        f"<body><p>{text}</p></body></html>"
    ).encode(charset)
    capture = page(body, ((b"Content-Type", f"text/html; charset={charset}".encode()),))
    decision = decide(capture)
    assert not decision.allowed
    (span,) = meta_tag_spans(body, decision, f"text/html; charset={charset}")
    assert body[span[0] : span[1]] == tag.encode(charset)


def test_a_header_decision_quotes_no_tag() -> None:
    body = b"<html><head><meta name=robots content=index></head><body>x</body></html>"
    capture = page(body, ((b"Content-Type", b"text/html"), (b"X-Robots-Tag", b"noai")))
    assert meta_tag_spans(body, decide(capture)) == []


def test_the_records_hold_head_and_tag_never_the_body(tmp_path: Path) -> None:
    tag = '<meta name="tdm-reservation" content="1">'
    body = f"<html><head>{tag}</head><body><p>{SECRET}</p></body></html>".encode()
    headers = ((b"Content-Type", b"text/html; charset=utf-8"), (b"X-Custom", b"\xd2\xae"))
    capture = page(body, headers)
    decision = decide(capture)
    writer = EvidenceWriter(tmp_path / "evidence", warcinfo={"software": "test"})
    head_ref, tag_ref, decision_ref = writer.write_exclusion(capture, decision, stage="post-fetch")
    (path,) = writer.close()
    data = path.read_bytes()
    records = {}
    for record in ArchiveIterator(BytesIO(data)):
        records[record.rec_headers.get_header("WARC-Record-ID")] = (
            record.rec_headers,
            record.content_stream().read(),
        )
    head_headers, head = records[head_ref.record_id]
    assert head == head_bytes(capture) and b"X-Custom: \xd2\xae\r\n" in head
    assert head_headers.get_header("WARC-Tdmcrawl-Body").startswith("not stored")
    tag_headers, tag_bytes = records[tag_ref.record_id]
    assert tag_bytes == tag.encode()
    assert tag_headers.get_header("WARC-Concurrent-To") == head_ref.record_id
    assert decision_ref.record_id in records
    import gzip

    assert SECRET.encode() not in gzip.decompress(data)


def test_a_page_cut_from_a_corpus_file_gives_its_stored_head(tmp_path: Path) -> None:
    capture = page(b"<p>kept, then found a copy</p>", ((b"Content-Type", b"text/html"),))
    writer = RotatingWarcWriter(tmp_path / "warc", warcinfo={"software": "test"})
    ref = writer.write_page(capture, Decision(capture.url))
    (path,) = writer.close()
    again = capture_from_record(path, ref.offset)
    assert again.url == target_uri(capture.url) and again.status == 200
    assert again.body == capture.body
    assert (b"Content-Type", b"text/html") in again.headers
