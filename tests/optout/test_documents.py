"""TDMRep inside PDF (XMP) and EPUB (package metadata), and the text of both files.

Conformance rows follow the W3C TDMRep report (CG-FINAL 2024-05-10), sections
"TDM Metadata in EPUB 2 files", "... EPUB 3 files", "... PDF files" and
"Processing priority"; the files are written by tests/support/documents.py.
"""

from __future__ import annotations

import pytest

from tdmcrawl.dedup import document_kind, document_text
from tdmcrawl.dedup.documents import MAX_MEMBER_BYTES, epub_text, pdf_text
from tdmcrawl.optout.decision import ReasonCode
from tdmcrawl.optout.documents import epub_value, pdf_value
from tdmcrawl.optout.policy import PolicyConfig, ResponseSignals, evaluate
from tests.support.documents import epub_file, pdf_file, xmp_packet
from tests.support.signals import origin
from tests.support.web import KAZAKH, RUSSIAN

URL = "https://books.example.kz/кітап.pdf"
POLICY = "https://books.example.kz/policy.json"


def pdf(body: bytes, *headers: tuple[str, str]) -> ResponseSignals:
    return ResponseSignals(200, [("Content-Type", "application/pdf"), *headers], body)


def epub(body: bytes, *headers: tuple[str, str]) -> ResponseSignals:
    return ResponseSignals(200, [("Content-Type", "application/epub+zip"), *headers], body)


# --- the techniques: conformance ----------------------------------------------------------


@pytest.mark.parametrize(
    ("packet", "compress", "reservation", "policy"),
    [
        (xmp_packet("1", POLICY), False, 1, POLICY),  # the report's example
        (xmp_packet("0"), False, 0, None),
        (xmp_packet("1"), True, 1, None),  # a Flate-compressed metadata stream
        (xmp_packet("1", attribute=True), False, 1, None),  # RDF attribute shorthand
        (xmp_packet("1", namespace="http://www.w3.org/ns/tdmrep#"), False, 1, None),
        (xmp_packet("2"), False, None, None),  # other values: protocol error, unset
        (None, False, None, None),  # no XMP: no value
    ],
)
def test_tdmrep_pdf_xmp_conformance(
    packet: bytes | None, compress: bool, reservation: int | None, policy: str | None
) -> None:
    value = pdf_value(pdf_file([KAZAKH], xmp=packet, compress_xmp=compress))
    assert value.source == "pdf"
    assert (value.reservation, value.policy) == (reservation, policy)


@pytest.mark.parametrize(
    ("version", "reservation", "policy", "expected"),
    [
        (3, "1", POLICY, (1, POLICY)),  # EPUB 3: <meta property="tdm:reservation">
        (3, "0", None, (0, None)),
        (2, "1", POLICY, (1, POLICY)),  # EPUB 2: <meta name="tdm:reservation" content>
        (2, "0", None, (0, None)),
        (3, None, None, (None, None)),
        (3, "yes", None, (None, None)),
    ],
)
def test_tdmrep_epub_package_metadata_conformance(
    version: int, reservation: str | None, policy: str | None, expected: tuple[object, ...]
) -> None:
    value = epub_value(epub_file([KAZAKH], version=version, reservation=reservation, policy=policy))
    assert value.source == "epub"
    assert (value.reservation, value.policy) == expected


def test_tdmrep_pdf_reservation_is_reason_tdmrep_source_pdf() -> None:
    body = pdf_file([KAZAKH], xmp=xmp_packet("1", POLICY))
    decision = evaluate(URL, origin(robots="User-agent: *\nAllow: /\n"), pdf(body))
    assert decision.codes == (ReasonCode.TDMREP,)
    assert decision.reasons[0].source == "pdf"
    assert "<tdm:reservation>1</tdm:reservation>" in decision.reasons[0].evidence
    assert POLICY in decision.reasons[0].evidence


def test_tdmrep_epub_reservation_is_reason_tdmrep_source_epub() -> None:
    body = epub_file([KAZAKH], reservation="1")
    decision = evaluate("https://books.example.kz/kitap.epub", origin(), epub(body))
    assert decision.codes == (ReasonCode.TDMREP,)
    assert decision.reasons[0].source == "epub"


@pytest.mark.parametrize(
    ("tdmrep_json", "header", "metadata", "reserved"),
    [
        # "The values ... found here supersede previous values": the file relaxes
        ('[{"location": "/", "tdm-reservation": 1}]', None, "0", False),
        (None, "1", "0", False),
        (None, "0", "1", True),
        # "the absence of tdm-reservation ... MUST not reset current values"
        ('[{"location": "/", "tdm-reservation": 1}]', None, None, True),
        (None, "1", None, True),
    ],
)
def test_tdmrep_processing_priority_with_pdf_metadata(
    tdmrep_json: str | None, header: str | None, metadata: str | None, reserved: bool
) -> None:
    packet = xmp_packet(metadata) if metadata is not None else None
    headers = [("tdm-reservation", header)] if header is not None else []
    response = pdf(pdf_file([RUSSIAN], xmp=packet), *headers)
    decision = evaluate(URL, origin(tdmrep=tdmrep_json), response)
    assert (ReasonCode.TDMREP in decision.codes) is reserved


def test_origin_and_header_signals_still_apply_to_a_pdf() -> None:
    response = pdf(pdf_file([KAZAKH]), ("X-Robots-Tag", "noai"), ("Content-Usage", "train-ai=n"))
    robots = "User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
    decision = evaluate(URL, origin(robots=robots), response)
    assert set(decision.codes) == {
        ReasonCode.ROBOTS_AI_AGENTS,
        ReasonCode.NOAI,
        ReasonCode.CONTENT_USAGE,
    }


def test_tdmrep_switch_off_reads_no_document_metadata() -> None:
    body = pdf_file([KAZAKH], xmp=xmp_packet("1"))
    assert evaluate(URL, origin(), pdf(body), PolicyConfig(tdmrep=False)).allowed


# --- damaged input --------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"%PDF-1.7\n garbage", b"\x00" * 100, b"PK\x03\x04broken"])
def test_damaged_documents_give_no_value_and_no_exception(body: bytes) -> None:
    assert pdf_value(body).reservation is None
    assert epub_value(body).reservation is None
    assert pdf_text(body) == "" and epub_text(body) == ""


# --- text for the near-duplicate gate ---------------------------------------------------------


def test_pdf_text_keeps_kazakh_and_russian_letters_in_page_order() -> None:
    text = document_text(pdf_file([KAZAKH, RUSSIAN]), "pdf")
    assert text.index("ә ғ қ ң ө ұ ү һ і") < text.index("Русский текст")


def test_epub_text_follows_the_spine() -> None:
    body = epub_file(["Бірінші тарау: " + KAZAKH, "Екінші тарау: " + RUSSIAN])
    text = document_text(body, "epub")
    assert text.index("Бірінші тарау") < text.index("Екінші тарау")
    assert "margin" not in text  # the <style> of the chapter is dropped


def test_epub_member_over_the_cap_stops_the_reading_unread() -> None:
    # A highly compressible first chapter that unpacks past the cap (a zip bomb): the
    # reading stops there, and the chapter after it is not read either.
    body = epub_file([" " * (MAX_MEMBER_BYTES + 1), "second chapter text"])
    assert len(body) < MAX_MEMBER_BYTES // 100
    assert epub_text(body) == ""


@pytest.mark.parametrize(
    ("content_type", "body", "url", "kind"),
    [
        ("application/pdf", b"", "https://a/x", "pdf"),
        ("application/epub+zip; charset=binary", b"", "https://a/x", "epub"),
        (None, b"%PDF-1.4", "https://a/x", "pdf"),
        ("", b"", "https://a/book.epub", "epub"),
        ("text/html", b"<html>", "https://a/x.pdf", None),
    ],
)
def test_document_kind(content_type: str | None, body: bytes, url: str, kind: str | None) -> None:
    assert document_kind(content_type, body, url) == kind
