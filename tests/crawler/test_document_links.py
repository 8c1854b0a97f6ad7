"""The spider follows links to PDF and EPUB files only when they are page types."""

from __future__ import annotations

from scrapy.http import HtmlResponse

from tdmcrawl.crawler.spider import link_extractor

PAGE = HtmlResponse(
    "https://books.example.kz/",
    body=(
        b'<a href="/kitap.pdf">PDF</a><a href="/kitap.epub">EPUB</a>'
        b'<a href="/page.html">page</a><a href="/photo.jpg">photo</a>'
    ),
    encoding="utf-8",
)


def _links(types: list[str]) -> set[str]:
    return {link.url.rsplit("/", 1)[1] for link in link_extractor(types).extract_links(PAGE)}


def test_by_default_pdf_links_are_skipped_as_scrapy_does() -> None:
    # Scrapy's IGNORED_EXTENSIONS has "pdf" (and not "epub"): without the PDF page type
    # a PDF link is never requested.
    assert _links(["text/html", "text/plain"]) == {"page.html", "kitap.epub"}


def test_pdf_and_epub_text_types_follow_their_files_and_nothing_else() -> None:
    assert _links(["text/html", "application/pdf"]) >= {"page.html", "kitap.pdf"}
    both = _links(["text/html", "application/pdf", "application/epub+zip"])
    assert {"page.html", "kitap.pdf", "kitap.epub"} <= both
    assert "photo.jpg" not in both
