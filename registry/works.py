"""Works registered by content: reading the author's files, and their fingerprints.

Accepted files (UTF-8, an optional BOM is dropped):

- ``.txt``, ``.text``, ``.md``, ``.markdown``: read as plain text;
- ``.html``, ``.htm``, ``.xhtml``: main text extracted with ``dedup.extract_main_text``.

Anything else (PDF, DOCX, EPUB, images) is refused with the list above: convert
it to text first. Empty files, files with NUL bytes or that are not UTF-8, and
files over 20 MiB are refused with one clear line.

The registry keeps each file's *extracted* text (markup removed, not yet
normalised): ``dedup.fingerprint`` normalises it, and a later normaliser
version (part of the dedup config identity) must see the same input a crawled
page gives it, so ``reindex`` stays exact. Duplicates are found on the
``dedup.normalize`` form. ``fingerprint_text`` is the only place that calls
``dedup.fingerprint``. Only the base name of a file is stored, never the
author's local path.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tdmcrawl import dedup
from tdmcrawl.registry.errors import InvalidWorkFile

MAX_FILE_BYTES = 20 * 1024 * 1024
TEXT_SUFFIXES = frozenset({".txt", ".text", ".md", ".markdown"})
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
ACCEPTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES


@dataclass(frozen=True)
class WorkText:
    """One file of a work: its base name, extracted text, and the SHA-256 of the
    normalised text (equal for texts that differ only in case, punctuation, spacing)."""

    filename: str
    text: str
    sha256: str = ""

    def __post_init__(self) -> None:
        if not self.sha256:
            normal = dedup.normalize(self.text)
            object.__setattr__(self, "sha256", hashlib.sha256(normal.encode()).hexdigest())


def read_work_file(path: str | Path) -> WorkText:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in ACCEPTED_SUFFIXES:
        raise InvalidWorkFile(
            f"{path}: unsupported file type {suffix or '(none)'!r}; accepted: "
            f"{', '.join(sorted(ACCEPTED_SUFFIXES))} (convert other formats to text first)"
        )
    try:
        if path.is_dir():
            raise InvalidWorkFile(f"{path}: is a directory, not a file")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InvalidWorkFile(f"{path}: {size} bytes, larger than the 20 MiB limit")
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidWorkFile(f"{path}: cannot read it ({exc.strerror or exc})") from None
    return work_text_from_bytes(path.name, data)


def work_text_from_bytes(filename: str, data: bytes, *, html: bool | None = None) -> WorkText:
    """The text of a file's bytes (HTML: its main text); the suffix of ``filename``
    picks the reader unless ``html`` says."""
    if not data.strip():
        raise InvalidWorkFile(f"{filename}: the file is empty")
    if b"\x00" in data:
        raise InvalidWorkFile(f"{filename}: looks binary (contains NUL bytes), not text")
    try:
        decoded = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidWorkFile(
            f"{filename}: not UTF-8 text (bad byte at offset {exc.start}); save it as UTF-8"
        ) from None
    if html is None:
        html = Path(filename).suffix.lower() in HTML_SUFFIXES
    if html:
        decoded = dedup.extract_main_text(decoded)
    text = unicodedata.normalize("NFC", decoded).strip()
    if not dedup.normalize(text):
        raise InvalidWorkFile(f"{filename}: no text found in it")
    return WorkText(filename=filename, text=text)


def read_work_files(paths: Sequence[str | Path]) -> list[WorkText]:
    if not paths:
        raise InvalidWorkFile("a work needs at least one file")
    parts = [read_work_file(p) for p in paths]
    seen: dict[str, str] = {}
    for part in parts:
        if part.sha256 in seen:
            raise InvalidWorkFile(f"{part.filename}: same text as {seen[part.sha256]}")
        seen[part.sha256] = part.filename
    return parts


def content_digest(parts: Sequence[WorkText]) -> str:
    """Identifies a work by its texts, whatever the order or names of its files."""
    joined = "\n".join(sorted(p.sha256 for p in parts))
    return "sha256:" + hashlib.sha256(joined.encode("ascii")).hexdigest()


def default_config() -> Any:
    return dedup.DedupConfig()


def fingerprint_text(text: str, config: Any) -> bytes | None:
    """Fingerprint bytes of a text, or None when it is too short to match."""
    fp = dedup.fingerprint(text, config)
    return None if fp is None else fp.to_bytes()


def config_identity(config: Any) -> str:
    return str(config.identity)


def check_fingerprintable(parts: Sequence[WorkText], config: Any) -> list[bytes]:
    """Fingerprints of every part; refuses a work with a part too short to recognise."""
    out = []
    for part in parts:
        fp = fingerprint_text(part.text, config)
        if fp is None:
            raise InvalidWorkFile(
                f"{part.filename}: its text ({len(part.text)} characters) is too short to "
                "recognise copies of it; register its URL instead"
            )
        out.append(fp)
    return out
