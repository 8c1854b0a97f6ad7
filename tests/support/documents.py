"""Real PDF and EPUB files for tests, written byte by byte (no generator library).

:func:`pdf_file` writes a PDF 1.7 with one page per paragraph; its text is drawn
with a standard font whose ``/ToUnicode`` map covers every character used, so
Kazakh and Russian letters come back out of any conforming extractor. Optional
XMP metadata (plain or Flate-compressed) carries TDMRep's ``tdm:reservation``.
:func:`epub_file` writes an EPUB 2 or 3 container (mimetype first and stored,
container.xml, OPF with spine, XHTML chapters).
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Sequence

TDM_PDF_NS = "http://www.w3.org/ns/tdmrep/"


def xmp_packet(
    reservation: str | None = None,
    policy: str | None = None,
    *,
    namespace: str = TDM_PDF_NS,
    attribute: bool = False,
) -> bytes:
    """An XMP packet with ``tdm:reservation``/``tdm:policy`` (as elements, or attributes)."""
    values = {"reservation": reservation, "policy": policy}
    if attribute:
        attrs = "".join(f' tdm:{k}="{v}"' for k, v in values.items() if v is not None)
        inner = ""
    else:
        attrs = ""
        inner = "".join(f"<tdm:{k}>{v}</tdm:{k}>" for k, v in values.items() if v is not None)
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        f'xmlns:tdm="{namespace}"{attrs}>'
        "<dc:format>application/pdf</dc:format>"
        f"{inner}</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


def pdf_file(
    paragraphs: Sequence[str], *, xmp: bytes | None = None, compress_xmp: bool = False
) -> bytes:
    """A PDF whose pages draw ``paragraphs`` (one a page), with optional XMP metadata."""
    chars = sorted({c for p in paragraphs for c in p} - {"\n"})
    if len(chars) > 254:
        raise ValueError("at most 254 distinct characters")
    code = {c: i + 1 for i, c in enumerate(chars)}
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    cmap = _to_unicode(code)
    cmap_id = add(_stream(cmap))
    font_id = add(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /FirstChar 1 /LastChar %d"
        b" /Widths [%s] /ToUnicode %d 0 R >>"
        % (len(chars), b" ".join(b"500" for _ in chars) or b"500", cmap_id)
    )
    page_ids: list[int] = []
    pages_id = len(objects) + 2 * len(paragraphs) + 1
    for paragraph in paragraphs:
        lines = []
        y = 800
        for words in _wrap(paragraph, 90):
            encoded = bytes(code[c] for c in words)
            escaped = encoded.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
            lines.append(b"BT /F1 10 Tf 40 %d Td (%s) Tj ET" % (y, escaped))
            y -= 14
        content_id = add(_stream(b"\n".join(lines)))
        page_ids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R"
                b" /Resources << /Font << /F1 %d 0 R >> >> >>" % (pages_id, content_id, font_id)
            )
        )
    kids = b" ".join(b"%d 0 R" % i for i in page_ids)
    assert add(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_ids))) == pages_id
    catalog = b"<< /Type /Catalog /Pages %d 0 R" % pages_id
    if xmp is not None:
        if compress_xmp:
            flate = b"/Type /Metadata /Subtype /XML /Filter /FlateDecode"
            meta = _stream(zlib.compress(xmp), flate)
        else:
            meta = _stream(xmp, b"/Type /Metadata /Subtype /XML")
        catalog += b" /Metadata %d 0 R" % add(meta)
    catalog_id = add(catalog + b" >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, catalog_id, xref)
    )
    return out.getvalue()


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    head = b"<< /Length %d %s>>" % (len(data), extra + b" " if extra else b"")
    return head + b"\nstream\n" + data + b"\nendstream"


def _to_unicode(code: dict[str, int]) -> bytes:
    pairs = sorted(code.items(), key=lambda item: item[1])
    entries = b"\n".join(b"<%02X> <%04X>" % (value, ord(char)) for char, value in pairs)
    return (
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
        b"/CMapName /tdmcrawl-test def /CMapType 2 def\n"
        b"1 begincodespacerange <01> <FF> endcodespacerange\n"
        b"%d beginbfchar\n%s\nendbfchar\n"
        b"endcmap CMapName currentdict /CMap defineresource pop end end" % (len(code), entries)
    )


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return lines


def epub_file(
    chapters: Sequence[str],
    *,
    version: int = 3,
    reservation: str | None = None,
    policy: str | None = None,
    title: str = "Кітап",
) -> bytes:
    """An EPUB (2 or 3) with one XHTML chapter per text and optional TDMRep metadata."""
    meta = ""
    if version == 3:
        prefix = ' prefix="tdm: http://www.w3.org/ns/tdmrep#"'
        if reservation is not None:
            meta += f'<meta property="tdm:reservation">{reservation}</meta>'
        if policy is not None:
            meta += f'<meta property="tdm:policy">{policy}</meta>'
    else:
        prefix = ""
        if reservation is not None:
            meta += f'<meta name="tdm:reservation" content="{reservation}"/>'
        if policy is not None:
            meta += f'<meta name="tdm:policy" content="{policy}"/>'
    items = "".join(
        f'<item id="c{i}" href="text/ch{i}.xhtml" media-type="application/xhtml+xml"/>'
        for i in range(len(chapters))
    )
    spine = "".join(f'<itemref idref="c{i}"/>' for i in range(len(chapters)))
    opf = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<package xmlns="http://www.idpf.org/2007/opf" version="{version}.0"{prefix} '
        'unique-identifier="id">'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f'<dc:identifier id="id">urn:uuid:tdmcrawl-test</dc:identifier><dc:title>{title}</dc:title>'
        f"<dc:language>kk</dc:language>{meta}</metadata>"
        f"<manifest>{items}</manifest><spine>{spine}</spine></package>"
    )
    container = (
        '<?xml version="1.0"?><container version="1.0" '
        'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
        '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
        "</rootfiles></container>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        archive.writestr("META-INF/container.xml", container, zipfile.ZIP_DEFLATED)
        archive.writestr("OEBPS/content.opf", opf, zipfile.ZIP_DEFLATED)
        for i, text in enumerate(chapters):
            paragraphs = "".join(f"<p>{p}</p>" for p in text.split("\n\n"))
            xhtml = (
                '<?xml version="1.0" encoding="UTF-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
                f"<head><title>{i}</title><style>p{{margin:0}}</style></head>"
                f"<body>{paragraphs}</body></html>"
            )
            archive.writestr(f"OEBPS/text/ch{i}.xhtml", xhtml, zipfile.ZIP_DEFLATED)
    return out.getvalue()
