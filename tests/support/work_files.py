"""Work files in the formats authors have, made by the same well-kept libraries that
read them (python-docx, odfpy, EbookLib) and by chromium for PDF."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

from tests.support.audit import chromium_flags, chromium_path


def docx_bytes(paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, cell in enumerate(row):
                grid.cell(r, c).text = cell
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def odt_bytes(paragraphs: list[str], heading: str = "") -> bytes:
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P

    document = OpenDocumentText()
    if heading:
        document.text.addElement(H(outlinelevel=1, text=heading))
    for text in paragraphs:
        document.text.addElement(P(text=text))
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


def epub_bytes(chapters: list[str], title: str = "Кітап") -> bytes:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("tdmcrawl-test")
    book.set_title(title)
    book.set_language("kk")
    items = []
    for number, text in enumerate(chapters, start=1):
        chapter = epub.EpubHtml(title=f"{number}", file_name=f"ch{number}.xhtml", lang="kk")
        chapter.content = f"<html><body><p>{text}</p></body></html>"
        book.add_item(chapter)
        items.append(chapter)
    book.toc = items
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *items]
    out = io.BytesIO()
    epub.write_epub(out, book)
    return out.getvalue()


def pdf_bytes(text: str, scratch: Path) -> bytes:
    """A PDF of ``text`` printed by headless chromium (real fonts, Kazakh letters)."""
    exe = chromium_path()
    assert exe is not None, "chromium is needed to make a PDF"
    scratch.mkdir(parents=True, exist_ok=True)
    page = scratch / "work.html"
    page.write_text(
        f'<!doctype html><html lang="kk"><meta charset="utf-8"><body><p>{text}</p></body></html>',
        encoding="utf-8",
    )
    target = scratch / "work.pdf"
    subprocess.run(
        [
            exe,
            *chromium_flags(scratch / "profile"),
            "--no-pdf-header-footer",
            f"--print-to-pdf={target}",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    return target.read_bytes()
