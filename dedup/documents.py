"""The text of PDF and EPUB files, for fingerprints: bytes in, text out, bounded work.

The near-duplicate gate compares texts; a PDF or EPUB copy of a registered work
must give the words the work's own text gives. :func:`document_text` reads:

* PDF with pypdf, page by page, at most :data:`MAX_PAGES` pages, in pypdf's layout
  mode: the default mode splits words where a glyph comes from a fallback font
  (Kazakh letters in many PDFs: "с ү т" for "сүт"); a page layout mode cannot read
  falls back to the default mode. A PDF "protected" only against editing opens
  with the empty password;
* EPUB as the ZIP archive it is: the package document's spine, in reading order,
  each XHTML member's text by lxml (script and style dropped). Members are
  measured before they are read: a member over :data:`MAX_MEMBER_BYTES`, or an
  archive whose spine unpacks past :data:`MAX_UNPACKED_BYTES` (a "zip bomb"),
  stops the reading there;

and stops collecting at :data:`MAX_CHARS` characters (far past what a fingerprint
needs), so a huge file costs bounded memory beyond its own bytes. Damaged files
give the text read so far (possibly ``""``), never an exception.
"""

from __future__ import annotations

import io
import logging
import posixpath
import zipfile
from typing import TYPE_CHECKING
from urllib.parse import unquote

import lxml.html
from lxml import etree

if TYPE_CHECKING:
    import pypdf

MAX_PAGES = 2000
MAX_CHARS = 2_000_000
MAX_MEMBER_BYTES = 16 * 1024 * 1024
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_OPF_BYTES = 2 * 1024 * 1024

PDF = "pdf"
EPUB = "epub"
_XML = etree.XMLParser(resolve_entities=False, no_network=True, recover=True, huge_tree=False)
_CONTAINER_NS = "urn:oasis:names:tc:opendocument:xmlns:container"
_DROP = ("script", "style", "noscript", "template", "svg")

# pypdf logs every damaged object at WARNING; a crawl meets many.
logging.getLogger("pypdf").setLevel(logging.ERROR)


def document_kind(content_type: str | None, body: bytes = b"", url: str = "") -> str | None:
    """``"pdf"``, ``"epub"`` or None, from the media type, else the bytes, else the URL."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in ("application/pdf", "application/x-pdf") or body[:5] == b"%PDF-":
        return PDF
    if media == "application/epub+zip" or (
        body[:4] == b"PK\x03\x04" and b"application/epub+zip" in body[:100]
    ):
        return EPUB
    path = url.split("?", 1)[0].split("#", 1)[0].lower()
    if not media and path.endswith(".pdf"):
        return PDF
    if not media and path.endswith(".epub"):
        return EPUB
    return None


def document_text(body: bytes, kind: str) -> str:
    """The text of a PDF (``kind="pdf"``) or EPUB (``kind="epub"``) file."""
    if kind == PDF:
        return pdf_text(body)
    if kind == EPUB:
        return epub_text(body)
    raise ValueError(f"unknown document kind {kind!r} (pdf or epub)")


def pdf_text(body: bytes, max_pages: int = MAX_PAGES, max_chars: int = MAX_CHARS) -> str:
    """The text of a PDF's pages, in order; ``""`` for an unreadable file."""
    import pypdf  # here, not at the top: about 80 ms at import, and only PDF files need it

    try:
        reader = pypdf.PdfReader(io.BytesIO(body), strict=False)
        if reader.is_encrypted:
            reader.decrypt("")
        pages = reader.pages
        count = len(pages)
    except Exception:  # pypdf raises many kinds on damaged or encrypted files
        return ""
    parts: list[str] = []
    size = 0
    for index in range(min(count, max_pages)):
        text = _page_text(pages[index])
        parts.append(text)
        size += len(text)
        if size >= max_chars:
            break
    return "\n".join(parts)[:max_chars].strip()


def _page_text(page: pypdf.PageObject) -> str:
    """One page's text, layout mode first (see the module docstring); ``""`` if unreadable."""
    for mode in ("layout", "plain"):
        try:
            return page.extract_text(extraction_mode=mode) or ""
        except Exception:  # one bad page (or mode) loses that page (or mode) only
            continue
    return ""


def epub_text(body: bytes, max_chars: int = MAX_CHARS) -> str:
    """The text of an EPUB's spine documents, in reading order; ``""`` if unreadable."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
    except (zipfile.BadZipFile, ValueError, OSError):
        return ""
    with archive:
        members = {info.filename: info for info in archive.infolist()}
        spine = _spine(archive, members) or sorted(
            n for n in members if n.lower().endswith((".xhtml", ".html", ".htm"))
        )
        parts: list[str] = []
        size = unpacked = 0
        for name in spine:
            info = members.get(name)
            if info is None:
                continue
            unpacked += info.file_size
            if info.file_size > MAX_MEMBER_BYTES or unpacked > MAX_UNPACKED_BYTES:
                break
            try:
                text = _xhtml_text(archive.read(info))
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError):
                continue
            parts.append(text)
            size += len(text)
            if size >= max_chars:
                break
    return "\n".join(p for p in parts if p)[:max_chars].strip()


def _spine(archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo]) -> list[str]:
    """Member names of the spine items, in order (paths resolved from the OPF's folder)."""
    container = members.get("META-INF/container.xml")
    opf_path: str | None = None
    try:
        if container is not None and container.file_size <= MAX_OPF_BYTES:
            root = etree.fromstring(archive.read(container), _XML)
            found = root.find(f".//{{{_CONTAINER_NS}}}rootfile") if root is not None else None
            opf_path = found.get("full-path") if found is not None else None
        if opf_path is None:
            opf_path = next((n for n in members if n.lower().endswith(".opf")), None)
        info = members.get(opf_path) if opf_path else None
        if info is None or info.file_size > MAX_OPF_BYTES:
            return []
        opf = etree.fromstring(archive.read(info), _XML)
    except (etree.XMLSyntaxError, ValueError, zipfile.BadZipFile, OSError, KeyError):
        return []
    if opf is None or opf_path is None:
        return []
    base = posixpath.dirname(opf_path)
    manifest: dict[str, str] = {}
    order: list[str] = []
    for element in opf.iter():
        if not isinstance(element.tag, str):
            continue
        local = etree.QName(element).localname
        if local == "item" and element.get("id") and element.get("href"):
            href = unquote(element.get("href", "").split("#", 1)[0])
            manifest[element.get("id", "")] = posixpath.normpath(posixpath.join(base, href))
        elif local == "itemref" and element.get("idref"):
            order.append(element.get("idref", ""))
    return [manifest[i] for i in order if i in manifest]


def _xhtml_text(data: bytes) -> str:
    try:
        root = lxml.html.document_fromstring(data)
    except (etree.ParserError, ValueError):
        return ""
    for element in list(root.iter(*_DROP)):
        if element.getparent() is not None and isinstance(element, lxml.html.HtmlElement):
            element.drop_tree()
    body = root.find("body")
    node = body if body is not None else root
    return "\n".join(str(t).strip() for t in node.itertext() if str(t).strip())
