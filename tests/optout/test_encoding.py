"""optout.encoding: byte order marks and evidently UTF-16 files (robots.txt, ai.txt,
tdmrep.json, HTML), each read as what it evidently is, never as empty."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tdmcrawl.optout.encoding import as_utf8, bom_encoding, evident_utf16

TEXT = "User-agent: *\nDisallow: /жеке/\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (codecs.BOM_UTF8 + b"x", ("utf-8", 3)),
        (codecs.BOM_UTF16_LE + b"x\x00", ("utf-16-le", 2)),
        (codecs.BOM_UTF16_BE + b"\x00x", ("utf-16-be", 2)),
        (codecs.BOM_UTF32_LE + b"x\x00\x00\x00", ("utf-32-le", 4)),
        (codecs.BOM_UTF32_BE + b"\x00\x00\x00x", ("utf-32-be", 4)),
        (b"User-agent", None),
        (b"", None),
    ],
)
def test_bom_encoding(data: bytes, expected: tuple[str, int] | None) -> None:
    assert bom_encoding(data) == expected


def test_bom_encoding_html_knows_only_the_standards_three() -> None:
    # The HTML standard's BOM sniffing has UTF-8 and UTF-16 only; FF FE 00 00 is UTF-16LE.
    assert bom_encoding(codecs.BOM_UTF32_LE + b"<\x00", html=True) == ("utf-16-le", 2)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("User".encode("utf-16-le"), "utf-16-le"),
        ("<?xml".encode("utf-16-be"), "utf-16-be"),
        (b"User", None),
        (b"\x00\x00\x00U", None),  # UTF-32BE is not guessed
        ("Жа".encode("utf-16-le"), None),  # not ASCII: no evidence
        (b"U\x00", None),
    ],
)
def test_evident_utf16(data: bytes, expected: str | None) -> None:
    assert evident_utf16(data) == expected


@pytest.mark.parametrize(
    ("codec", "bom", "note"),
    [
        ("utf-16-le", codecs.BOM_UTF16_LE, "UTF-16-LE (byte order mark)"),
        ("utf-16-be", codecs.BOM_UTF16_BE, "UTF-16-BE (byte order mark)"),
        ("utf-32-le", codecs.BOM_UTF32_LE, "UTF-32-LE (byte order mark)"),
        ("utf-16-le", b"", "UTF-16-LE (no byte order mark, NUL bytes beside ASCII)"),
    ],
)
def test_as_utf8_decodes_what_is_evidently_not_utf8(codec: str, bom: bytes, note: str) -> None:
    data, found = as_utf8(bom + TEXT.encode(codec))
    assert data.decode("utf-8") == TEXT and found == note


def test_as_utf8_leaves_utf8_alone() -> None:
    raw = codecs.BOM_UTF8 + TEXT.encode()
    assert as_utf8(raw) == (raw, None)
    assert as_utf8(b"\xffnot utf-8 either") == (b"\xffnot utf-8 either", None)


@given(st.binary(max_size=200))
def test_as_utf8_never_raises(data: bytes) -> None:
    out, note = as_utf8(data)
    if note is not None:
        out.decode("utf-8")  # always valid UTF-8 once decoded
