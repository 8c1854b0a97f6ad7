"""Work files in the formats and encodings authors have: each read to the same text,
so a copy of the work is recognised whatever file it was registered from."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from tdmcrawl import dedup
from tdmcrawl.registry import InvalidWorkFile, Registry
from tdmcrawl.registry.formats import decode_text
from tdmcrawl.registry.works import work_text_from_bytes
from tests.support.audit import chromium_path
from tests.support.registry import work_text
from tests.support.work_files import docx_bytes, epub_bytes, odt_bytes, pdf_bytes

TEXT = work_text(21, 220)
RUSSIAN = " ".join(f"слово{i} книга{i % 7} автор{i % 11}." for i in range(120))


def _split(text: str, parts: int) -> list[str]:
    """``text`` in ``parts`` pieces at word boundaries (paragraphs, chapters)."""
    words = text.split()
    size = -(-len(words) // parts)
    return [" ".join(words[i : i + size]) for i in range(0, len(words), size)]


def _same_work(name: str, data: bytes, original: str) -> None:
    part = work_text_from_bytes(name, data)
    config = dedup.DedupConfig()
    for piece in _split(original, 4):
        assert dedup.normalize(piece) in dedup.normalize(part.text)
    fp = dedup.fingerprint(part.text, config)
    work = dedup.fingerprint(original, config)
    assert fp is not None and work is not None
    assert dedup.similarity(fp.shingles, work.shingles).containment > 0.95
    assert len(part.file_sha256) == 64 and part.size == len(data)


@pytest.mark.parametrize(
    ("name", "encode"),
    [
        ("utf8.txt", lambda t: t.encode("utf-8")),
        ("utf8-bom.md", lambda t: b"\xef\xbb\xbf" + t.encode("utf-8")),
        ("utf16-bom.txt", lambda t: t.encode("utf-16")),
        ("utf16le.txt", lambda t: t.encode("utf-16-le")),
        ("utf16be.txt", lambda t: t.encode("utf-16-be")),
    ],
)
def test_kazakh_text_in_unicode_encodings(name, encode):
    _same_work(name, encode(TEXT), TEXT)


def test_russian_text_in_windows_1251():
    data = RUSSIAN.encode("cp1251")
    assert decode_text(data) == (RUSSIAN, "cp1251")
    _same_work("роман.txt", data, RUSSIAN)


def test_kazakh_text_in_the_kazakh_windows_code_page():
    # KZ-1048 is Windows-1251 with the Kazakh letters: read as such, not as Serbian ones.
    assert decode_text(TEXT.encode("kz1048")) == (TEXT, "kz1048")


def test_word_document_with_a_table():
    data = docx_bytes(_split(TEXT, 2), table=[["әке", "ана"], ["бала", "қала"]])
    _same_work("шығарма.docx", data, TEXT)
    assert "қала" in work_text_from_bytes("a.docx", data).text


def test_opendocument_text():
    _same_work("шығарма.odt", odt_bytes([TEXT], heading="Тақырып"), TEXT)


def test_epub_book_chapters_in_spine_order():
    chapters = _split(TEXT, 3)
    part = work_text_from_bytes("кітап.epub", epub_bytes(chapters))
    positions = [part.text.index(chapter[:40]) for chapter in chapters]
    assert positions == sorted(positions)
    _same_work("кітап.epub", epub_bytes(chapters), TEXT)


@pytest.mark.skipif(chromium_path() is None, reason="chromium makes the PDF")
def test_pdf_printed_by_a_browser_keeps_kazakh_words_whole(tmp_path: Path):
    _same_work("шығарма.pdf", pdf_bytes(TEXT, tmp_path), TEXT)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("bad.docx", b"PK\x03\x04 not really a zip", "cannot read it as a Word document"),
        ("bad.odt", b"plain text, not an archive", "cannot read it as a OpenDocument text"),
        ("bad.epub", b"PK\x05\x06" + b"\x00" * 18, "cannot read it as a EPUB book"),
        ("bad.pdf", b"%PDF-1.7\n garbage", "cannot read it as a PDF document"),
        ("image.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "unsupported file type '.png'"),
    ],
)
def test_broken_or_unsupported_files_are_one_clear_refusal(name, data, message):
    with pytest.raises(InvalidWorkFile, match=message):
        work_text_from_bytes(name, data)


def test_a_zip_bomb_is_refused_before_any_reader_opens_it():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\x00" * (210 * 1024 * 1024))
    with pytest.raises(InvalidWorkFile, match="unpacks to more than 200 MiB"):
        work_text_from_bytes("bomb.docx", out.getvalue())


def test_a_registered_docx_work_and_its_plain_text_copy_are_the_same_work(tmp_path):
    with Registry(tmp_path / "r.sqlite") as reg:
        reg.add_work_texts("Абай", [work_text_from_bytes("a.docx", docx_bytes([TEXT]))])
        with pytest.raises(Exception, match="already registered"):
            reg.add_work_texts("Абай", [work_text_from_bytes("a.txt", TEXT.encode("utf-16"))])
