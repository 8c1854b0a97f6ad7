"""Works registered by content: reading the author's files, and their fingerprints.

Accepted files (see ``registry.formats``): ``.txt .text .md .markdown`` (UTF-8,
UTF-16 or an 8-bit Cyrillic code page, detected), ``.html .htm .xhtml`` (main
text extracted with ``dedup.extract_main_text``), ``.docx .odt .pdf .epub``.
Empty files, binary files, symbolic links (refused, never followed: the file
itself must be given) and files over 20 MiB are refused with one clear line.

The registry keeps each file's *extracted* text (markup removed, not yet
normalised) when it is allowed to (a registry service keeps only fingerprints
unless its operator says otherwise): ``dedup.fingerprint`` normalises it, and
a later normaliser version (part of the dedup config identity) must see the
same input a crawled page gives it, so ``reindex`` stays exact. Duplicates are
found on the ``dedup.normalize`` form. ``fingerprint_text`` is the only place
that calls ``dedup.fingerprint``. Only the base name of a file is stored, never
the author's local path, with the SHA-256 of the file as given (for receipts).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tdmcrawl import dedup
from tdmcrawl.registry.errors import N_, InvalidWorkFile
from tdmcrawl.registry.formats import (
    ACCEPTED_SUFFIXES,
    DOCUMENT_SUFFIXES,
    HTML_SUFFIXES,
    TEXT_SUFFIXES,
    extract_text,
)

__all__ = [
    "ACCEPTED_SUFFIXES",
    "DOCUMENT_SUFFIXES",
    "HTML_SUFFIXES",
    "MAX_FILE_BYTES",
    "TEXT_SUFFIXES",
    "WorkText",
    "check_fingerprintable",
    "config_identity",
    "content_digest",
    "default_config",
    "fingerprint_text",
    "read_work_file",
    "read_work_files",
    "work_text_from_bytes",
]

MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class WorkText:
    """One file of a work: its base name, extracted text, and the SHA-256 of the
    normalised text (equal for texts that differ only in case, punctuation, spacing).
    ``file_sha256`` and ``size`` describe the file as the author gave it."""

    filename: str
    text: str
    sha256: str = ""
    file_sha256: str = ""
    size: int = 0

    def __post_init__(self) -> None:
        if not self.sha256:
            normal = dedup.normalize(self.text)
            object.__setattr__(self, "sha256", hashlib.sha256(normal.encode()).hexdigest())


def check_suffix(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix not in ACCEPTED_SUFFIXES:
        raise InvalidWorkFile.t(
            N_("{file}: unsupported file type '{suffix}'; accepted: {accepted}"),
            field="files",
            file=filename,
            suffix=suffix or "(none)",
            accepted=", ".join(sorted(ACCEPTED_SUFFIXES)),
        )
    return suffix


def read_work_file(path: str | Path) -> WorkText:
    """A work file from disk. A symbolic link is refused, never followed: an
    opt-out registers the author's file, not whatever a link points at."""
    path = Path(path)
    check_suffix(path.name)
    try:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            raise InvalidWorkFile.t(
                N_("{file}: is a symbolic link; give the file itself ({target})"),
                field="files",
                file=str(path),
                target=os.readlink(path),
            )
        if stat.S_ISDIR(info.st_mode):
            raise InvalidWorkFile.t(
                N_("{file}: is a directory, not a file"), field="files", file=str(path)
            )
        if not stat.S_ISREG(info.st_mode):
            raise InvalidWorkFile.t(
                N_("{file}: is not a regular file"), field="files", file=str(path)
            )
        _check_size(str(path), info.st_size)
        # O_NOFOLLOW: a link swapped in after the check above is refused too.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InvalidWorkFile.t(
                N_("{file}: is a symbolic link; give the file itself ({target})"),
                field="files",
                file=str(path),
                target="?",
            ) from None
        raise InvalidWorkFile.t(
            N_("{file}: cannot read it ({why})"),
            field="files",
            file=str(path),
            why=exc.strerror or str(exc),
        ) from None
    _check_size(str(path), len(data))
    return work_text_from_bytes(path.name, data)


def _check_size(name: str, size: int) -> None:
    if size > MAX_FILE_BYTES:
        raise InvalidWorkFile.t(
            N_("{file}: {size} bytes, larger than the {limit} MiB limit"),
            field="files",
            file=name,
            size=size,
            limit=MAX_FILE_BYTES // (1024 * 1024),
        )


def work_text_from_bytes(filename: str, data: bytes, *, html: bool | None = None) -> WorkText:
    """The text of a file's bytes (HTML: its main text); the suffix of ``filename``
    picks the reader unless ``html`` says (``html=False``: plain text)."""
    if not data.strip():
        raise InvalidWorkFile.t(N_("{file}: the file is empty"), field="files", file=filename)
    _check_size(filename, len(data))
    text = unicodedata.normalize("NFC", extract_text(filename, data, html=html)).strip()
    if not dedup.normalize(text):
        raise InvalidWorkFile.t(N_("{file}: no text found in it"), field="files", file=filename)
    return WorkText(
        filename=filename,
        text=text,
        file_sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )


def read_work_files(paths: Sequence[str | Path]) -> list[WorkText]:
    return check_distinct([read_work_file(p) for p in paths])


def check_distinct(parts: Sequence[WorkText]) -> list[WorkText]:
    """The parts of one work: at least one, no two with the same text."""
    if not parts:
        raise InvalidWorkFile.t(N_("a work needs at least one file"), field="files")
    seen: dict[str, str] = {}
    for part in parts:
        if part.sha256 in seen:
            raise InvalidWorkFile.t(
                N_("{file}: same text as {other}"),
                field="files",
                file=part.filename,
                other=seen[part.sha256],
            )
        seen[part.sha256] = part.filename
    return list(parts)


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
            raise InvalidWorkFile.t(
                N_(
                    "{file}: its text ({chars} characters) is too short to recognise copies "
                    "of it; register its address (URL) instead"
                ),
                field="files",
                file=part.filename,
                chars=len(part.text),
            )
        out.append(fp)
    return out
