"""``DIR/manifest.json``: what a corpus holds, written by every crawl, filter and recheck.

It lists each WARC file (``warc/`` and ``evidence/``) with its size and
SHA-256, each kept record (URL, WARC-Record-ID, file, offset, payload
digest), and a header: the kind of run, the time range, the software and
list versions, the policy in force, the dedup config, the registry state and,
for a recheck, the parent corpus. ``tdmcrawl verify`` checks a corpus against
it; ``manifest.json.sig`` (:mod:`crawler.signing`) signs it.

The file is ordinary JSON in a fixed layout: one line per file and per
record, so that a corpus of millions of pages is written and read back one
line at a time (:func:`read_manifest`), never as one object in memory::

    {"format": "tdmcrawl-manifest/1",
    "header": {...},
    "warc_files": [
    {"path": "warc/a.warc.gz", "sha256": "...", "size": 1234},
    ...
    ],
    "evidence_files": [
    ...
    ],
    "records": [
    {"file": "warc/a.warc.gz", "offset": 511, "payload_digest": "sha1:...", ...},
    ...
    ]}
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tdmcrawl.crawler.audit.db import DB_FILENAME, open_database
from tdmcrawl.crawler.clock import iso_utc
from tdmcrawl.crawler.errors import TdmcrawlError
from tdmcrawl.crawler.provenance import versions
from tdmcrawl.crawler.signing import sign_manifest
from tdmcrawl.crawler.warc.digests import file_sha256, record_at

MANIFEST_NAME = "manifest.json"
FORMAT = "tdmcrawl-manifest/1"
CORPUS_DIRS = ("warc", "evidence")
WARC_SUFFIXES = (".warc.gz", ".warc")


class ManifestError(TdmcrawlError):
    """A manifest that cannot be read (missing, damaged, not in tdmcrawl's layout)."""


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to DIR, with "/" separators: "warc/x.warc.gz"
    size: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size}


@dataclass(frozen=True)
class ManifestRecord:
    """One kept record: where it is and what its payload digest is."""

    url: str
    record_id: str
    file: str  # relative to DIR: "warc/x.warc.gz"
    offset: int
    payload_digest: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "offset": self.offset,
            "payload_digest": self.payload_digest,
            "record_id": self.record_id,
            "url": self.url,
        }

    @classmethod
    def from_dict(cls, data: Any) -> ManifestRecord:
        try:
            return cls(
                url=str(data["url"]),
                record_id=str(data["record_id"]),
                file=str(data["file"]),
                offset=int(data["offset"]),
                payload_digest=str(data["payload_digest"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"a record entry of the manifest is malformed: {exc}") from None


def corpus_files(directory: Path, sub: str) -> list[Path]:
    """The finished WARC files of ``DIR/sub`` (``.open`` files are not finished)."""
    folder = directory / sub
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(WARC_SUFFIXES))


def unfinished_files(directory: Path) -> list[str]:
    return sorted(
        f"{sub}/{p.name}"
        for sub in CORPUS_DIRS
        if (directory / sub).is_dir()
        for p in (directory / sub).iterdir()
        if p.name.endswith(".open")
    )


def file_entries(directory: Path, sub: str) -> list[FileEntry]:
    out = []
    for path in corpus_files(directory, sub):
        size, digest = file_sha256(path)
        out.append(FileEntry(f"{sub}/{path.name}", size, digest))
    return out


def kept_records(directory: Path, db: Any) -> Iterator[ManifestRecord]:
    """The audit's kept rows as manifest records, their digests read from the WARC files
    (one record header each, in file and offset order)."""
    rows = db.execute(
        "SELECT url, record_id, warc_file, warc_offset FROM kept ORDER BY warc_file, warc_offset"
    )
    for url, record_id, warc_file, offset in rows:
        path = directory / "warc" / warc_file
        try:
            info = record_at(path, int(offset))
        except (OSError, ValueError, StopIteration) as exc:
            raise ManifestError(
                f"kept record {record_id} of {url} is not readable at warc/{warc_file} "
                f"offset {offset}: {exc}"
            ) from exc
        yield ManifestRecord(url, record_id, f"warc/{warc_file}", int(offset), info.payload_digest)


def write_manifest(
    directory: Path, header: dict[str, Any], records: Iterable[ManifestRecord]
) -> Path:
    """Write ``DIR/manifest.json`` (atomically: a temporary file, then a rename)."""
    directory = Path(directory)
    head = {"created_at": iso_utc(), "format": FORMAT, **header}
    unfinished = unfinished_files(directory)
    if unfinished:
        head["unfinished_files"] = unfinished
    target = directory / MANIFEST_NAME
    temporary = directory / (MANIFEST_NAME + ".tmp")
    with open(temporary, "w", encoding="utf-8", newline="\n") as out:
        out.write('{"format": ' + json.dumps(FORMAT) + ",\n")
        out.write('"header": ' + _dumps({k: v for k, v in head.items() if k != "format"}) + ",\n")
        for name, items in (
            ("warc_files", (e.to_dict() for e in file_entries(directory, "warc"))),
            ("evidence_files", (e.to_dict() for e in file_entries(directory, "evidence"))),
            ("records", (r.to_dict() for r in records)),
        ):
            out.write(f'"{name}": [\n')
            first = True
            for item in items:
                if not first:
                    out.write(",\n")
                out.write(_dumps(item))
                first = False
            if not first:
                out.write("\n")
            out.write("]" + ("}\n" if name == "records" else ",\n"))
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, target)
    return target


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))


@dataclass
class Manifest:
    """A manifest read back: header and file lists in memory, records streamed."""

    path: Path
    header: dict[str, Any]
    warc_files: list[FileEntry]
    evidence_files: list[FileEntry]

    def records(self) -> Iterator[ManifestRecord]:
        for item in _iter_list(self.path, "records"):
            yield ManifestRecord.from_dict(item)


def read_manifest(path: Path) -> Manifest:
    """Read a manifest's header and file lists (records are read by ``records()``)."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.is_file():
        raise ManifestError(f"no manifest at {path}")
    header: dict[str, Any] | None = None
    with open(path, encoding="utf-8") as handle:
        first = handle.readline()
        if first.strip() != '{"format": ' + json.dumps(FORMAT) + ",":
            raise ManifestError(f"{path} is not a {FORMAT} manifest")
        line = handle.readline()
        if line.startswith('"header": '):
            try:
                header = json.loads(line[len('"header": ') :].rstrip().rstrip(","))
            except ValueError:
                header = None
    if not isinstance(header, dict):
        raise ManifestError(f"{path}: the manifest header is damaged")
    lists = {
        name: [_file_entry(item, path) for item in _iter_list(path, name)]
        for name in ("warc_files", "evidence_files")
    }
    return Manifest(path, header, lists["warc_files"], lists["evidence_files"])


def _file_entry(item: Any, path: Path) -> FileEntry:
    try:
        return FileEntry(str(item["path"]), int(item["size"]), str(item["sha256"]))
    except (KeyError, TypeError, ValueError):
        raise ManifestError(f"{path}: a file entry of the manifest is malformed") from None


def _iter_list(path: Path, name: str) -> Iterator[Any]:
    """The items of the list ``name``, one JSON value per line, in the fixed layout."""
    opening = f'"{name}": ['
    inside = False
    found = False
    with open(path, encoding="utf-8") as handle:
        for number, raw in enumerate(handle, 1):
            line = raw.rstrip("\n")
            if not inside:
                if line == opening:
                    inside = found = True
                continue
            if line in ("]", "],", "]}"):
                return
            try:
                yield json.loads(line.rstrip(","))
            except ValueError:
                raise ManifestError(f"{path} line {number}: not a JSON value") from None
    if not found:
        raise ManifestError(f"{path}: the manifest has no {name} list")
    raise ManifestError(f"{path}: the {name} list is not closed (the file is cut short)")


# --- the header, from the same place as warcinfo and the audit's crawls row ----------------


def corpus_header(
    db: Any,
    *,
    kind: str,
    crawl_id: str | None,
    policy: dict[str, Any],
    dedup: dict[str, Any] | None,
    registry: dict[str, Any] | None,
    parent: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest header of a corpus whose audit database is ``db``."""
    crawl_rows = [
        {"crawl_id": cid, "started_at": start, "finished_at": end}
        for cid, start, end in db.execute(
            "SELECT crawl_id, started_at, finished_at FROM crawls ORDER BY started_at, crawl_id"
        )
    ]
    starts = [c["started_at"] for c in crawl_rows if c["started_at"]]
    ends = [c["finished_at"] for c in crawl_rows if c["finished_at"]]
    (kept,) = db.execute("SELECT count(*) FROM kept").fetchone()
    (excluded,) = db.execute("SELECT count(*) FROM exclusions").fetchone()
    return {
        "kind": kind,
        "crawl_id": crawl_id,
        "time_range": {"start": min(starts, default=None), "end": max(ends, default=None)},
        "crawls": crawl_rows,
        "versions": versions(),
        "policy": policy,
        "dedup": dedup,
        "registry": registry,
        "parent": parent,
        "audit": {"file": DB_FILENAME, "kept": kept, "excluded": excluded},
    }


def finish_corpus(
    directory: Path,
    *,
    kind: str,
    crawl_id: str | None,
    policy: dict[str, Any],
    dedup: dict[str, Any] | None,
    registry: dict[str, Any] | None,
    parent: dict[str, Any] | None = None,
    sign_key: Any = None,
) -> Path:
    """Write ``DIR/manifest.json`` from DIR's audit and WARC files; sign it with ``sign_key``
    (an Ed25519 private key, :mod:`crawler.signing`) when one is given."""
    directory = Path(directory)
    db = open_database(directory)
    try:
        header = corpus_header(
            db,
            kind=kind,
            crawl_id=crawl_id,
            policy=policy,
            dedup=dedup,
            registry=registry,
            parent=parent,
        )
        path = write_manifest(directory, header, kept_records(directory, db))
    finally:
        db.close()
    if sign_key is not None:
        sign_manifest(path, sign_key)
    return path
