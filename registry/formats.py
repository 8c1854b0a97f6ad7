"""The text of a work file, in the formats authors have.

- ``.txt .text .md .markdown``: plain text, in UTF-8, UTF-16 or an 8-bit
  Cyrillic code page (see :func:`decode_text`);
- ``.html .htm .xhtml``: the main text, by ``dedup.extract_main_text``;
- ``.docx`` (python-docx), ``.odt`` (odfpy), ``.pdf`` (pypdf), ``.epub``
  (EbookLib): the text of the paragraphs, headings and table cells.

The office and e-book formats are ZIP archives: their members are counted and
measured before any reader opens them, so an archive that unpacks to more than
:data:`MAX_UNPACKED_BYTES` (a "zip bomb") is refused unread. Every reader's
own errors become one :class:`InvalidWorkFile` line naming the file.
"""

from __future__ import annotations

import io
import logging
import unicodedata
import zipfile
from collections.abc import Callable
from pathlib import Path

from tdmcrawl import dedup
from tdmcrawl.dedup import documents
from tdmcrawl.registry.errors import N_, InvalidWorkFile, Msg

TEXT_SUFFIXES = frozenset({".txt", ".text", ".md", ".markdown"})
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
DOCUMENT_SUFFIXES = frozenset({".docx", ".odt", ".pdf", ".epub"})
ACCEPTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | DOCUMENT_SUFFIXES

MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_ARCHIVE_MEMBERS = 20_000
MAX_PDF_PAGES = 5_000

FORMAT_NAMES: dict[str, Msg] = {
    ".docx": N_("Word document"),
    ".odt": N_("OpenDocument text"),
    ".pdf": N_("PDF document"),
    ".epub": N_("EPUB book"),
}

# The decoding order for plain text (docs/registry.md):
# 1. a byte-order mark: UTF-8, UTF-32 or UTF-16 (LE/BE) as it says;
# 2. UTF-8 (ASCII is UTF-8);
# 3. UTF-16 without a BOM, LE or BE, when one of them reads as letters, digits,
#    punctuation and spaces of the Latin and Cyrillic scripts (>= 95% of the text);
# 4. an 8-bit Cyrillic code page: Windows-1251, or KZ-1048 (Windows-1251 with the
#    Kazakh letters) when that reads as more Kazakh and Russian letters.
BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
EIGHT_BIT = ("cp1251", "kz1048")
_CYRILLIC_LETTERS = frozenset(
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяәғқңөұүһіАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯӘҒҚҢӨҰҮҺІ"
)
_ALLOWED_CONTROLS = frozenset("\t\n\r\f")


def extract_text(filename: str, data: bytes, *, html: bool | None = None) -> str:
    """The text of a file's bytes; its suffix picks the reader unless ``html`` says."""
    suffix = Path(filename).suffix.lower()
    if html is True or (html is None and suffix in HTML_SUFFIXES):
        return dedup.extract_main_text(_decode_checked(filename, data))
    if html is False or suffix in TEXT_SUFFIXES:
        return _decode_checked(filename, data)
    reader = _DOCUMENT_READERS.get(suffix)
    if reader is None:
        raise InvalidWorkFile.t(
            N_("{file}: unsupported file type '{suffix}'; accepted: {accepted}"),
            field="files",
            file=filename,
            suffix=suffix or "(none)",
            accepted=", ".join(sorted(ACCEPTED_SUFFIXES)),
        )
    _check_archive(filename, data, suffix)
    try:
        return reader(filename, data)
    except InvalidWorkFile:
        raise
    except Exception as exc:  # each reader has its own errors: one line for all of them
        raise InvalidWorkFile.t(
            N_("{file}: cannot read it as a {format} ({why})"),
            field="files",
            file=filename,
            format=FORMAT_NAMES[suffix],
            why=_short(exc),
        ) from None


def decode_text(data: bytes) -> tuple[str, str] | None:
    """(text, encoding) by the order above, or None when no encoding fits."""
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError:
                return None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if len(data) % 2 == 0:
        for encoding in ("utf-16-le", "utf-16-be"):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                continue
            if _plausible(text) >= 0.95:
                return text, encoding
    best: tuple[int, str, str] | None = None
    for encoding in EIGHT_BIT:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        score = sum(ch in _CYRILLIC_LETTERS for ch in text)
        if best is None or score > best[0]:
            best = (score, text, encoding)
    return None if best is None else (best[1], best[2])


def _decode_checked(filename: str, data: bytes) -> str:
    decoded = decode_text(data)
    if decoded is None and b"\x00" in data:
        decoded = ("\x00", "none")  # reported as binary below
    if decoded is None:
        raise InvalidWorkFile.t(
            N_("{file}: the text is in an encoding we cannot recognise; save it as UTF-8"),
            field="files",
            file=filename,
        )
    text = decoded[0]
    if any(unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS for ch in text):
        raise InvalidWorkFile.t(
            N_("{file}: looks binary (it holds control characters), not text"),
            field="files",
            file=filename,
        )
    return text


def _plausible(text: str) -> float:
    """Share of characters in the Latin and Cyrillic scripts, digits, punctuation, spaces."""
    if not text:
        return 0.0
    good = 0
    for ch in text:
        code = ord(ch)
        if code < 0x250 or 0x400 <= code < 0x530 or 0x2000 <= code < 0x2070:
            good += ch.isprintable() or ch in _ALLOWED_CONTROLS
    return good / len(text)


def _check_archive(filename: str, data: bytes, suffix: str) -> None:
    if suffix == ".pdf":
        return
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise InvalidWorkFile.t(
            N_("{file}: cannot read it as a {format} ({why})"),
            field="files",
            file=filename,
            format=FORMAT_NAMES[suffix],
            why=_short(exc),
        ) from None
    unpacked = sum(member.file_size for member in members)
    if len(members) > MAX_ARCHIVE_MEMBERS or unpacked > MAX_UNPACKED_BYTES:
        raise InvalidWorkFile.t(
            N_("{file}: it unpacks to more than {limit} MiB; refused"),
            field="files",
            file=filename,
            limit=MAX_UNPACKED_BYTES // (1024 * 1024),
        )


def _docx(filename: str, data: bytes) -> str:
    import docx  # python-docx; loaded when a .docx comes

    document = docx.Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return "\n".join(parts)


def _odt(filename: str, data: bytes) -> str:
    from odf import teletype, text  # type: ignore[import-untyped]  # odfpy, untyped
    from odf.opendocument import load  # type: ignore[import-untyped]

    document = load(io.BytesIO(data))
    parts = []
    for element in document.getElementsByType(text.H) + document.getElementsByType(text.P):
        parts.append(teletype.extractText(element))
    return "\n".join(parts)


def _pdf(filename: str, data: bytes) -> str:
    from pypdf import PdfReader

    # pypdf reports damaged but readable files through logging: not the author's concern.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        try:
            # "Protected" against editing only: opens with an empty password.
            opened = bool(reader.decrypt(""))
        except Exception:
            opened = False
        if not opened:
            raise InvalidWorkFile.t(
                N_("{file}: the PDF is protected by a password; save a copy without it"),
                field="files",
                file=filename,
            )
    pages = reader.pages
    if len(pages) > MAX_PDF_PAGES:
        raise InvalidWorkFile.t(
            N_("{file}: more than {limit} pages; split it into several files"),
            field="files",
            file=filename,
            limit=MAX_PDF_PAGES,
        )
    # The crawl's own extraction (layout mode, bounded), so a registered PDF and a
    # crawled copy of it give the same words.
    return documents.pdf_text(data, max_pages=MAX_PDF_PAGES)


def _epub(filename: str, data: bytes) -> str:
    # The crawl's own extraction (spine order, bounded unpacking), as for PDF.
    text = documents.epub_text(data)
    if not text:
        raise ValueError("no readable chapter")
    return text


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 120 else text[:119] + "…"


_DOCUMENT_READERS: dict[str, Callable[[str, bytes], str]] = {
    ".docx": _docx,
    ".odt": _odt,
    ".pdf": _pdf,
    ".epub": _epub,
}
