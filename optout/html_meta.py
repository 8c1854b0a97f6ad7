"""``<meta name=... content=...>`` tags from HTML bytes, cheaply and without ever raising.

The policy calls this for every HTML response, so it does as little as it can:

* only the first ``max_bytes`` (256 KiB by default) of the body are looked at;
* a body without ``<meta`` in that prefix costs one byte search;
* the document is parsed with lxml only up to the end of ``<head>`` (the first
  ``</head>`` or ``<body``); meta tags further down, which broken CMS templates
  do emit, are found by a regular expression and parsed one tag at a time, and
  flagged ``in_head=False`` so the caller can warn about them;
* the charset is taken, in the HTML standard's order, from a BOM, the HTTP
  ``Content-Type`` charset, a ``<meta charset>`` / ``http-equiv`` declaration in
  the first 1024 bytes, else UTF-8; undecodable bytes are replaced, never fatal.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Collection
from dataclasses import dataclass

import lxml.html
from lxml import etree

MAX_BYTES = 256 * 1024
PRESCAN_BYTES = 1024

_META_START = re.compile(rb"<meta[\s/>]", re.IGNORECASE)
_HEAD_END = re.compile(rb"</head\s*>|<body[\s>]", re.IGNORECASE)
_META_TAG = re.compile(rb"<meta\b[^>]{0,4096}>", re.IGNORECASE)
_CHARSET = re.compile(
    rb"<meta[^>]{0,512}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:\-]{1,40})", re.IGNORECASE
)
_CT_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:\-]{1,40})", re.IGNORECASE)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# lxml refuses strings holding NUL and most C0 controls.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class MetaTag:
    """One meta tag: ``name`` lower-cased and stripped, ``content`` as written, ``raw``
    a normalised rendering for evidence."""

    name: str
    content: str
    raw: str
    in_head: bool = True


@dataclass(frozen=True)
class MetaScan:
    tags: tuple[MetaTag, ...] = ()
    encoding: str = "utf-8"
    truncated: bool = False
    warnings: tuple[str, ...] = ()

    def named(self, *names: str) -> tuple[MetaTag, ...]:
        wanted = {n.lower() for n in names}
        return tuple(t for t in self.tags if t.name in wanted)


def sniff_encoding(body: bytes, content_type: str | None = None) -> tuple[str, int]:
    """The encoding to decode ``body`` with, and the length of its BOM (0 if none)."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name, len(bom)
    for candidate in (
        _CT_CHARSET.search(content_type or ""),
        _CHARSET.search(body[:PRESCAN_BYTES]),
    ):
        if candidate is None:
            continue
        label = candidate.group(1)
        name = label.decode("ascii", "replace") if isinstance(label, bytes) else label
        try:
            codec = codecs.lookup(name).name
        except LookupError:
            continue
        # The HTML standard reads a declared UTF-16 in a byte stream as UTF-8
        # (the bytes got this far as ASCII-compatible), and x-user-defined alike.
        return ("utf-8" if codec.startswith("utf-16") else codec), 0
    return "utf-8", 0


def extract_meta(
    body: bytes,
    *,
    names: Collection[str] | None = None,
    content_type: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> MetaScan:
    """Meta tags of an HTML document; with ``names``, only those names (case-insensitive).

    Never raises: broken HTML gives what lxml recovers, binary garbage gives
    no tags, and a failure of the parser itself gives no tags and a warning.
    """
    if not isinstance(body, bytes | bytearray | memoryview):
        return MetaScan(warnings=("HTML body is not bytes: no meta tags read",))
    data = bytes(body[:max_bytes])
    truncated = len(body) > max_bytes
    wanted = {n.lower() for n in names} if names is not None else None
    encoding, bom = sniff_encoding(data, content_type)
    if encoding.startswith("utf-16"):
        # Byte searches for "<meta" don't see UTF-16; decode the prefix first.
        text = data[bom:].decode(encoding, "replace")
        data, encoding, bom = text.encode("utf-8"), "utf-8", 0
    if not _META_START.search(data):
        return MetaScan(encoding=encoding, truncated=truncated)

    warnings: list[str] = []
    end = _HEAD_END.search(data)
    head = data[bom : end.start()] if end else data[bom:]
    tags = _parse_head(head, encoding, wanted, warnings)
    if end:
        for match in _META_TAG.finditer(data, end.start()):
            tag = _parse_one(match.group(0), encoding, wanted)
            if tag is not None:
                tags.append(MetaTag(tag.name, tag.content, tag.raw, in_head=False))
    return MetaScan(tuple(tags), encoding, truncated, tuple(warnings))


def _decode(data: bytes, encoding: str) -> str:
    try:
        text = data.decode(encoding, "replace")
    except (LookupError, ValueError):
        text = data.decode("utf-8", "replace")
    return _CONTROL.sub(" ", text)


def _parse_head(
    head: bytes, encoding: str, wanted: set[str] | None, warnings: list[str]
) -> list[MetaTag]:
    text = _decode(head, encoding)
    if not text.strip():
        return []
    if text.rfind("<") > text.rfind(">"):
        # A body cut inside a tag (the cap, or a truncated download): lxml drops
        # an unclosed tag at EOF, so close it to keep a cut-off meta tag readable.
        text += ">"
    try:
        root = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError, etree.LxmlError) as exc:
        warnings.append(f"HTML head could not be parsed ({exc}); no meta tags read")
        return []
    tags = []
    for element in root.iter("meta"):
        tag = _tag(element.get("name"), element.get("content"), wanted)
        if tag is not None:
            tags.append(tag)
    return tags


def _parse_one(raw: bytes, encoding: str, wanted: set[str] | None) -> MetaTag | None:
    lowered = raw.lower()
    if b"name" not in lowered:
        return None
    try:
        element = lxml.html.fragment_fromstring(_decode(raw, encoding))
    except (etree.ParserError, ValueError, etree.LxmlError):
        return None
    if element.tag != "meta":
        return None
    return _tag(element.get("name"), element.get("content"), wanted)


def _tag(name: str | None, content: str | None, wanted: set[str] | None) -> MetaTag | None:
    if name is None:
        return None
    key = name.strip().lower()
    if not key or (wanted is not None and key not in wanted):
        return None
    content = content or ""
    shown = content.replace('"', "&quot;")
    return MetaTag(key, content, f'<meta name="{name.strip()}" content="{shown}">')
