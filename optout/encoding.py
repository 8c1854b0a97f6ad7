"""Which encoding a signal file or page is in, when it is evidently not UTF-8.

RFC 9309 says robots.txt is UTF-8 and tdmrep.json is JSON (UTF-8), but a file
saved as "Unicode" by Windows Notepad starts with a UTF-16 byte order mark and
holds two bytes per ASCII character; read as UTF-8 it has no records at all,
so a Disallow in it would be lost. A byte order mark says what the file is, so
such a file is decoded (with a warning), never read as empty. Without a BOM,
a file whose first two characters are ASCII with a NUL byte beside each is
UTF-16 just as evidently (XML 1.0 Appendix F detects ``<?`` the same way).

Pure functions over bytes; the callers (robots.txt, ai.txt, tdmrep.json and
the HTML meta scan) decide what to warn.
"""

from __future__ import annotations

import codecs

# Longest first: a UTF-32LE mark starts with the UTF-16LE one.
_FILE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# The HTML standard knows only these three (encoding sniffing, step "BOM sniff").
_HTML_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def bom_encoding(data: bytes, *, html: bool = False) -> tuple[str, int] | None:
    """The encoding a byte order mark at the start of ``data`` names, and the mark's
    length; ``None`` without one. ``html``: only the marks the HTML standard reads."""
    for bom, name in _HTML_BOMS if html else _FILE_BOMS:
        if data.startswith(bom):
            return name, len(bom)
    return None


def evident_utf16(data: bytes) -> str | None:
    """``"utf-16-le"`` / ``"utf-16-be"`` when ``data`` (without a BOM) starts with two
    ASCII characters each beside a NUL byte, as UTF-16 text does; else ``None``."""
    if len(data) < 4:
        return None
    a, b, c, d = data[0], data[1], data[2], data[3]
    if b == d == 0 and 0 < a < 0x80 and 0 < c < 0x80:
        return "utf-16-le"
    if a == c == 0 and 0 < b < 0x80 and 0 < d < 0x80:
        return "utf-16-be"
    return None


def as_utf8(data: bytes) -> tuple[bytes, str | None]:
    """``data`` as UTF-8 bytes, and a note naming the encoding it was decoded from when
    that was not UTF-8 (``"UTF-16-LE (byte order mark)"``); ``None`` for UTF-8 input,
    which is returned as it is (a UTF-8 BOM included: callers strip it their way).
    Undecodable code units become U+FFFD, never an error."""
    found = bom_encoding(data)
    if found is not None and found[0] != "utf-8":
        name, skip = found
        why = "byte order mark"
    else:
        evident = evident_utf16(data)
        if evident is None:
            return data, None
        name, skip, why = evident, 0, "no byte order mark, NUL bytes beside ASCII"
    text = data[skip:].decode(name, "replace")
    return text.encode("utf-8"), f"{name.upper()} ({why})"
