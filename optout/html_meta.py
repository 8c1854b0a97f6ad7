"""``<meta name=... content=...>`` tags from HTML bytes: the whole document, streamed.

The policy calls this for every HTML response. A reservation may sit anywhere a
browser's parser would find it, so the whole body is scanned, not a prefix: a
``<head>`` behind 300 KB of inline script or a 300 KB comment, a meta tag at
the end of a long body (broken CMS templates emit them; they are flagged
``in_head=False`` and the policy honours them with a warning). The cost stays
small and bounded:

* a body without ``<meta`` costs one byte search;
* lxml's HTML parser pulls the bytes 256 KiB at a time (other encodings
  than UTF-8 are decoded on the way) and reports to a *target*: only start
  tags reach Python and no tree is built, so the scan of a 16 MiB page
  needs well under 1 MB besides the page;
* parsing stops after the last ``<meta`` of the bytes (nothing after it can
  be a meta tag), so a page whose meta tags are all in a short ``<head>``
  costs a parse of that head;
* the body is bounded by whoever downloaded it (``DOWNLOAD_MAXSIZE`` in a
  crawl, the filter's read limit); ``max_bytes`` bounds the scan further.

lxml's parser is given bytes, which it cannot refuse as it refuses a str
holding an encoding declaration: an XML declaration (``<?xml version="1.0"
encoding="UTF-8"?>``, XHTML) is an ordinary processing instruction to it,
and NUL or invalid UTF-8 reads as U+FFFD.

The charset, in the HTML standard's order: a byte order mark, the HTTP
``Content-Type`` charset (a UTF-16 there is honoured: the transport said so),
a ``<meta charset>`` / ``http-equiv`` in the first 1024 bytes (where a
declared UTF-16 is read as UTF-8, as the standard says, since those bytes
were ASCII-compatible), else UTF-8; and where nothing says it, a document
whose first characters are ASCII beside NUL bytes is UTF-16 (XML 1.0
Appendix F). Undecodable bytes are replaced, never fatal.

When the scan cannot cover the whole document, :attr:`MetaScan.unread` says
why (``max_bytes`` cut it, the caller passed only the start of the body, the
parser failed): the policy then fails closed, since a reservation could sit
in what was not read.
"""

from __future__ import annotations

import codecs
import re
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from functools import cache
from typing import IO, Any, cast

from lxml import etree

from tdmcrawl.optout.encoding import bom_encoding, evident_utf16

PRESCAN_BYTES = 1024
CHUNK_BYTES = 256 * 1024
# How far past the last "<meta" its closing ">" is looked for before giving up
# and parsing to the end of the body.
TAG_WINDOW = 64 * 1024

_META = b"<meta"
_META_ANY_CASE = re.compile(rb"(?i)<meta")
_CHARSET = re.compile(
    rb"<meta[^>]{0,512}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:\-]{1,40})", re.IGNORECASE
)
_CT_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:\-]{1,40})", re.IGNORECASE)
# The rest of a tag from just after its name: quoted values may hold ">".
_TAG_REST = re.compile(rb"""(?:[^>"']|"[^"]*"|'[^']*')*>""")
_PROBE = "<meta name=x>"


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
    """The meta tags found, the encoding read, and, when part of the document was not
    scanned, ``unread``: why, and where the scan stopped (inside ``<head>`` or after)."""

    tags: tuple[MetaTag, ...] = ()
    encoding: str = "utf-8"
    warnings: tuple[str, ...] = ()
    unread: str | None = None

    @property
    def truncated(self) -> bool:
        return self.unread is not None

    def named(self, *names: str) -> tuple[MetaTag, ...]:
        wanted = {n.lower() for n in names}
        return tuple(t for t in self.tags if t.name in wanted)


def sniff_encoding(body: bytes, content_type: str | None = None) -> tuple[str, int]:
    """The encoding to decode ``body`` with, and the length of its BOM (0 if none)."""
    found = bom_encoding(body, html=True)
    if found is not None:
        return found
    transport = _codec(_CT_CHARSET.search(content_type or ""))
    if transport is not None:
        # WHATWG Encoding: the label "utf-16" means UTF-16LE.
        return {"utf-16": "utf-16-le", "utf-32": "utf-32-le"}.get(transport, transport), 0
    evident = evident_utf16(body)
    if evident is not None:
        return evident, 0
    declared = _codec(_CHARSET.search(body[:PRESCAN_BYTES]))
    if declared is not None:
        # The HTML standard reads a UTF-16 declared in the document as UTF-8 (the
        # bytes got this far as ASCII-compatible).
        return ("utf-8" if declared.startswith("utf-16") else declared), 0
    return "utf-8", 0


def _codec(match: re.Match[Any] | None) -> str | None:
    if match is None:
        return None
    label = match.group(1)
    name = label.decode("ascii", "replace") if isinstance(label, bytes) else label
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def extract_meta(
    body: bytes,
    *,
    names: Collection[str] | None = None,
    content_type: str | None = None,
    max_bytes: int | None = None,
    complete: bool = True,
) -> MetaScan:
    """Meta tags of an HTML document; with ``names``, only those names (case-insensitive).

    ``max_bytes`` (None: no limit) caps the bytes scanned; ``complete=False`` says
    ``body`` is only the start of the document. Either makes :attr:`MetaScan.unread`
    say what was not scanned. Never raises: broken HTML gives what lxml recovers,
    binary garbage gives no tags, and a failure of the parser itself gives the tags
    read so far with ``unread`` set.
    """
    if not isinstance(body, bytes | bytearray | memoryview):
        return MetaScan(warnings=("HTML body is not bytes: no meta tags read",))
    size = len(body)
    data = bytes(body[:max_bytes] if max_bytes is not None else body)
    unread = None
    if len(data) < size:
        unread = f"scan limit html_meta_max_bytes={max_bytes} reached ({size} bytes in the body)"
    elif not complete:
        unread = f"only the first {size} bytes of the body were read"
    encoding, bom = sniff_encoding(data, content_type)
    wanted = {n.lower() for n in names} if names is not None else None
    found, failed = _scan(data, bom, encoding, wanted)
    tags, warnings = found.tags, []
    other = _other_reading(data, bom, encoding)
    if other is not None:
        # The declared charset and the bytes disagree (a server that says UTF-16 and sends
        # UTF-8, or the reverse): a tag readable either way counts.
        second, _ = _scan(data, bom if other == "utf-8" else 0, other, wanted)
        extra = [t for t in second.tags if (t.name, t.content) not in _keys(tags)]
        if extra:
            tags = tags + extra
            warnings.append(f"the page read as {encoding} and as {other}: meta tags of both kept")
    if failed and not unread:
        unread = f"the HTML parser failed ({failed})"
    in_body = found.in_body if found.parsed else None
    return MetaScan(tuple(tags), encoding, tuple(warnings), _where(unread, in_body=in_body))


def _scan(
    data: bytes, bom: int, encoding: str, wanted: set[str] | None
) -> tuple[_Found, str | None]:
    """The meta tags of ``data[bom:]`` read as ``encoding``; the parser's error if any."""
    if not _ascii_compatible(encoding):
        # "<meta" is not in these bytes as ASCII: transcode first (UTF-16 is rare).
        data, bom, encoding = data[bom:].decode(encoding, "replace").encode("utf-8"), 0, "utf-8"
    last = _last_meta(data)
    if last < bom:
        return _Found([], in_body=False, parsed=False), None  # no meta tag in what was read
    parser, collector = _thread_parser()
    collector.reset(wanted)
    failed = _parse(data, bom, _end_of_tag(data, last), encoding, parser)
    return _Found(collector.tags, in_body=collector.in_body, parsed=True), failed


@dataclass(frozen=True)
class _Found:
    """What one scan found (the thread's collector is reused by the next scan)."""

    tags: list[MetaTag]
    in_body: bool
    parsed: bool  # False: no "<meta" in the bytes, nothing was parsed


_THREAD = threading.local()


def _thread_parser() -> tuple[Any, _Collector]:
    """This thread's lxml parser and its target, made once: lxml inspects a target's
    methods each time a parser with a new target starts (about 25 us a page), and a
    parser may serve one parse at a time, so each thread keeps its own."""
    pair = getattr(_THREAD, "pair", None)
    if pair is None:
        collector = _Collector(None)
        pair = _THREAD.pair = (_new_parser(collector), collector)
    return cast(tuple[Any, _Collector], pair)


def _other_reading(data: bytes, bom: int, encoding: str) -> str | None:
    """Where no BOM settles it, the other evident reading of the bytes, if any."""
    if bom:
        return None
    if encoding.startswith(("utf-16", "utf-32")):
        return "utf-8" if _last_meta(data) >= 0 else None
    return evident_utf16(data)


def _keys(tags: list[MetaTag]) -> set[tuple[str, str]]:
    return {(t.name, t.content) for t in tags}


def _where(unread: str | None, *, in_body: bool | None) -> str | None:
    if unread is None or in_body is None:
        return unread
    return unread + (
        "; the scan was past <head>" if in_body else "; <head> was not read to its end"
    )


@cache
def _ascii_compatible(encoding: str) -> bool:
    try:
        return _PROBE.encode(encoding) == _PROBE.encode("ascii")
    except (LookupError, UnicodeError):
        return False


def _last_meta(data: bytes) -> int:
    """Where the last ``<meta`` (any case) starts, or -1. One regex pass over the bytes,
    no lower-cased copy (35 -> 21 us on a 50 KB page)."""
    last = -1
    for match in _META_ANY_CASE.finditer(data):
        last = match.start()
    return last


def _end_of_tag(data: bytes, start: int) -> int:
    """Just past the ``>`` closing the tag at ``start``; the end of ``data`` when it is
    not within :data:`TAG_WINDOW` (the parser then reads to the end)."""
    window = data[start + len(_META) : start + len(_META) + TAG_WINDOW]
    match = _TAG_REST.match(window)
    return start + len(_META) + match.end() if match else len(data)


def _chunks(data: bytes, start: int, stop: int, encoding: str) -> Iterator[bytes]:
    """``data[start:stop]`` as UTF-8, 256 KiB at a time. UTF-8 goes to libxml2 as it is
    (it reads invalid bytes and NUL as U+FFFD); other encodings are decoded here."""
    if encoding == "utf-8":
        for pos in range(start, stop, CHUNK_BYTES):
            yield data[pos : min(pos + CHUNK_BYTES, stop)]
        return
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    for pos in range(start, stop, CHUNK_BYTES):
        end = min(pos + CHUNK_BYTES, stop)
        yield decoder.decode(data[pos:end], final=end >= stop).encode("utf-8", "replace")


def _new_parser(target: _Collector) -> Any:
    # The stubs' ParserTarget asks for end/data/comment too; lxml calls only what the
    # target defines, and defining them would cost a Python call per text node.
    return etree.HTMLParser(
        target=cast(Any, target), encoding="utf-8", recover=True, huge_tree=True, no_network=True
    )


def _parse(data: bytes, start: int, stop: int, encoding: str, parser: Any) -> str | None:
    """Parse ``data[start:stop]`` with lxml's HTML parser; the error text if it failed.

    lxml *pulls* the bytes from a reader, so libxml2 keeps a small window of the
    document rather than a copy of all of it (its push parser, ``feed``, would)."""
    try:
        reader = _Reader(_chunks(data, start, stop, encoding))
        etree.parse(cast(IO[bytes], reader), parser)  # lxml calls only read()
    except (etree.LxmlError, ValueError, LookupError) as exc:
        _THREAD.pair = None  # the next page gets a fresh parser, whatever state this one is in
        return str(exc)[:200] or type(exc).__name__
    return None


class _Reader:
    """A file-like ``read(size)`` over chunks of bytes, for lxml to pull from. At the
    end, a body that stops inside a tag (a cut download) gets a ``>``: lxml drops an
    unclosed tag at the end, and a cut-off meta tag should stay readable."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._chunk = memoryview(b"")
        self._pos = 0
        self._last = b""
        self._closed = False

    def read(self, size: int = -1) -> bytes:
        while self._pos >= len(self._chunk):
            chunk = next(self._chunks, None)
            if chunk is None:
                if self._closed:
                    return b""
                self._closed = True
                inside = self._last.rfind(b"<") > self._last.rfind(b">")
                return b">" if inside else b""
            self._chunk, self._pos, self._last = memoryview(chunk), 0, chunk or self._last
        end = len(self._chunk) if size is None or size < 0 else self._pos + size
        out = self._chunk[self._pos : end].tobytes()
        self._pos += len(out)
        return out


class _Collector:
    """lxml parser target: keeps the meta tags, and whether ``<body>`` began. Only
    ``start`` and ``close`` are defined, so lxml reports nothing else to Python."""

    def __init__(self, wanted: set[str] | None) -> None:
        self.reset(wanted)

    def reset(self, wanted: set[str] | None) -> None:
        self.wanted = wanted
        self.tags: list[MetaTag] = []
        self.in_body = False

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if tag == "meta":
            found = _tag(attrib.get("name"), attrib.get("content"), self.wanted)
            if found is not None:
                self.tags.append(
                    MetaTag(found.name, found.content, found.raw, in_head=not self.in_body)
                )
        elif tag == "body":
            self.in_body = True

    def close(self) -> None:
        return None


def _tag(name: str | None, content: str | None, wanted: set[str] | None) -> MetaTag | None:
    if name is None:
        return None
    key = name.strip().lower()
    if not key or (wanted is not None and key not in wanted):
        return None
    content = content or ""
    shown = content.replace('"', "&quot;")
    return MetaTag(key, content, f'<meta name="{name.strip()}" content="{shown}">')
