"""TDMRep metadata inside PDF and EPUB files (W3C TDMRep CG report 2024-05-10, sections
"TDM Metadata in EPUB 2 files", "... EPUB 3 files" and "... PDF files").

* EPUB 2: ``<meta name="tdm:reservation" content="1"/>`` (and ``tdm:policy``) in the
  package document's ``<metadata>``;
* EPUB 3: ``<meta property="tdm:reservation">1</meta>``, the prefix ``tdm`` mapped to
  ``http://www.w3.org/ns/tdmrep#`` (declared or not: ``tdm`` is read by its name);
* PDF: ``<tdm:reservation>1</tdm:reservation>`` (element or attribute) in the XMP
  metadata, namespace ``http://www.w3.org/ns/tdmrep/`` (with a slash; the ``#`` form
  of EPUB is accepted too, as publishers' tools do).

The values cover the whole file and supersede the header's (processing priority).
:func:`pdf_value` and :func:`epub_value` return a :class:`tdmrep.TdmValue` with source
``pdf`` / ``epub`` for :func:`tdmrep.resolve`. Never raise; bounded work: a PDF's
uncompressed XMP packets are found by a byte scan, a compressed one is read with pypdf
only when the scan finds none; an EPUB's members are measured before any is read.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable

from lxml import etree

from tdmcrawl.optout.tdmrep import TdmValue

TDM_XMP = ("http://www.w3.org/ns/tdmrep/", "http://www.w3.org/ns/tdmrep#")
PDF_TYPES = frozenset({"application/pdf", "application/x-pdf"})
EPUB_TYPES = frozenset({"application/epub+zip"})
MAX_XMP_BYTES = 1024 * 1024
MAX_PACKETS = 16
MAX_OPF_BYTES = 2 * 1024 * 1024
_XMP_PACKET = re.compile(rb"<x:xmpmeta\b.{0,%d}?</x:xmpmeta\s*>" % MAX_XMP_BYTES, re.DOTALL)
_RDF_PACKET = re.compile(rb"<rdf:RDF\b.{0,%d}?</rdf:RDF\s*>" % MAX_XMP_BYTES, re.DOTALL)
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, recover=True, remove_comments=True
)
_CONTAINER_NS = "urn:oasis:names:tc:opendocument:xmlns:container"


def is_pdf(content_type: str, body: bytes = b"") -> bool:
    return content_type in PDF_TYPES or (not content_type and body[:5] == b"%PDF-")


def is_epub(content_type: str, body: bytes = b"") -> bool:
    return content_type in EPUB_TYPES or (
        not content_type and body[:4] == b"PK\x03\x04" and b"application/epub+zip" in body[:100]
    )


def pdf_value(body: bytes) -> TdmValue:
    """``tdm:reservation``/``tdm:policy`` of a PDF's XMP metadata (source ``pdf``)."""
    warnings: list[str] = []
    packets = [m.group(0) for m in _XMP_PACKET.finditer(body)][:MAX_PACKETS]
    if not packets:
        packets = [m.group(0) for m in _RDF_PACKET.finditer(body)][:MAX_PACKETS]
    if not packets and b"/Metadata" in body:
        packets = _pypdf_xmp(body, warnings)
    reservations: list[str] = []
    policies: list[str] = []
    for packet in packets:
        _xmp_values(packet, reservations, policies, warnings)
    return _value("pdf", reservations, policies, warnings)


def _pypdf_xmp(body: bytes, warnings: list[str]) -> list[bytes]:
    """The document catalogue's XMP stream, decoded by pypdf (compressed streams)."""
    import pypdf  # here, not at the top: about 80 ms at import, and only PDF files need it

    try:
        reader = pypdf.PdfReader(io.BytesIO(body), strict=False)
        metadata = reader.xmp_metadata
        if metadata is None:
            return []
        data = metadata.stream.get_data()
    except Exception as exc:  # pypdf raises many kinds on damaged files
        warnings.append(f"pdf: the XMP metadata could not be read ({type(exc).__name__})")
        return []
    return [data[:MAX_XMP_BYTES]] if isinstance(data, bytes) else []


def _xmp_values(
    packet: bytes, reservations: list[str], policies: list[str], warnings: list[str]
) -> None:
    try:
        root = etree.fromstring(packet, _PARSER)
    except (etree.XMLSyntaxError, ValueError):
        root = None
    if root is None:
        warnings.append("pdf: an XMP packet is not well-formed XML: its TDMRep values not read")
        return
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        qname = etree.QName(element)
        if qname.namespace in TDM_XMP and qname.localname in ("reservation", "policy"):
            text = "".join(str(t) for t in element.itertext()).strip()
            (reservations if qname.localname == "reservation" else policies).append(text)
        for name, value in element.attrib.items():
            attr = etree.QName(name)
            if attr.namespace in TDM_XMP and attr.localname in ("reservation", "policy"):
                (reservations if attr.localname == "reservation" else policies).append(str(value))


def epub_value(body: bytes) -> TdmValue:
    """``tdm:reservation``/``tdm:policy`` of an EPUB's package metadata (source ``epub``)."""
    warnings: list[str] = []
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        return TdmValue("epub", warnings=(f"epub: not a ZIP archive ({exc}): no TDMRep metadata",))
    with archive:
        opf = _package_document(archive, warnings)
        if opf is None:
            return TdmValue("epub", warnings=tuple(warnings))
        try:
            root = etree.fromstring(opf, _PARSER)
        except (etree.XMLSyntaxError, ValueError):
            root = None
        if root is None:
            warnings.append("epub: the package document is not XML: no TDMRep metadata")
            return TdmValue("epub", warnings=tuple(warnings))
    reservations: list[str] = []
    policies: list[str] = []
    evidence: list[str] = []
    for element in root.iter():
        if not isinstance(element.tag, str) or etree.QName(element).localname != "meta":
            continue
        name = (element.get("name") or "").strip().lower()
        prop = (element.get("property") or "").strip().lower()
        if name in ("tdm:reservation", "tdm:policy"):
            value = element.get("content") or ""
            key = name
        elif prop in ("tdm:reservation", "tdm:policy"):
            value = "".join(str(t) for t in element.itertext())
            key = prop
        else:
            continue
        (reservations if key == "tdm:reservation" else policies).append(value.strip())
        shown = etree.tostring(element, encoding="unicode", with_tail=False)
        evidence.append(re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", " ".join(shown.split())))
    return _value("epub", reservations, policies, warnings, evidence)


def _package_document(archive: zipfile.ZipFile, warnings: list[str]) -> bytes | None:
    """The OPF package document named by META-INF/container.xml (its size checked first)."""
    names = {info.filename: info for info in archive.infolist()}
    container = names.get("META-INF/container.xml")
    path: str | None = None
    if container is not None and container.file_size <= MAX_OPF_BYTES:
        try:
            root = etree.fromstring(archive.read(container), _PARSER)
            found = root.find(f".//{{{_CONTAINER_NS}}}rootfile") if root is not None else None
            path = found.get("full-path") if found is not None else None
        except (etree.XMLSyntaxError, ValueError, KeyError, zipfile.BadZipFile, OSError):
            path = None
    if path is None:
        path = next((n for n in names if n.lower().endswith(".opf")), None)
    info = names.get(path) if path else None
    if info is None:
        warnings.append("epub: no package document (.opf): no TDMRep metadata")
        return None
    if info.file_size > MAX_OPF_BYTES:
        warnings.append(f"epub: the package document is over {MAX_OPF_BYTES} bytes: not read")
        return None
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        warnings.append(f"epub: the package document could not be read ({exc})")
        return None


def _value(
    source: str,
    reservations: Iterable[str],
    policies: Iterable[str],
    warnings: list[str],
    evidence: list[str] | None = None,
) -> TdmValue:
    values: set[int] = set()
    for raw in reservations:
        if raw in ("0", "1"):
            values.add(int(raw))
        else:
            warnings.append(f"{source} tdm:reservation {raw[:40]!r} is a protocol error: unset")
    policy = next((p for p in policies if p), None)
    reservation: int | None = None
    if values:
        reservation = max(values)
        if len(values) > 1:
            warnings.append(f"{source} tdm:reservation has both 0 and 1: the reservation applies")
    if evidence is None:
        evidence = []
        if reservation is not None:
            evidence.append(f"<tdm:reservation>{reservation}</tdm:reservation>")
        if policy:
            evidence.append(f"<tdm:policy>{policy}</tdm:policy>")
    return TdmValue(source, reservation, policy, "\n".join(evidence), tuple(warnings))
