""" "Is my work in this corpus?": ``tdmcrawl audit DIR --work FILE...`` and ``--author NAME``.

``--work`` fingerprints the given files with the registry's own reader (the
formats an author can register) and matches every page fingerprint the corpus
kept against them, as the crawl's near-duplicate gate would: the kept pages'
(``DIR/neardup-spool.sqlite``, or computed from the WARC records where the
run spooled none) and the fingerprints of pages excluded as reserved or as
copies. The answer: kept copies (which should be none for a registered work),
with their URL and WARC location, and excluded copies, with their reason.

``--author`` lists the registry exclusions of an author's entries, with each
entry's author and title as recorded at exclusion time (the audit's
``registry_entries``), or as the registry given with ``--registry`` says.
"""

from __future__ import annotations

import sqlite3
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tdmcrawl.crawler.errors import UsageError
from tdmcrawl.crawler.gates.neardup import SPOOL_NAME
from tdmcrawl.crawler.recheck.stored import read_stored
from tdmcrawl.crawler.reserved import CRAWL_PREFIX
from tdmcrawl.crawler.settings import dedup_config
from tdmcrawl.dedup import Fingerprint, FingerprintError, MemoryIndex, fingerprint
from tdmcrawl.registry import Registry
from tdmcrawl.registry.works import read_work_file

BATCH = 512
WORK_PREFIX = "work:"


def find_work(db: Any, directory: Path, files: list[Path]) -> dict[str, Any]:
    """Kept and excluded copies of the works in ``files`` (see the module docstring)."""
    config = dedup_config()
    index = MemoryIndex(config)
    works = []
    for number, path in enumerate(files):
        work = read_work_file(path)
        fp = fingerprint(work.text, config)
        if fp is None:
            raise UsageError(f"{path}: too short to recognise copies of it")
        index.add(f"{WORK_PREFIX}{number}", fp)
        works.append({"file": str(path), "words": fp.words})
    answer: dict[str, Any] = {
        "directory": str(directory),
        "works": works,
        "kept_copies": [],
        "excluded_copies": [],
        "pages_checked": 0,
        "computed_fingerprints": 0,
        "notes": [],
    }
    spool = _open_spool(directory)
    try:
        batch: list[tuple[str, str, Fingerprint]] = []  # (kind, url, fp)
        for item in _page_fingerprints(db, directory, spool, config, answer):
            batch.append(item)
            if len(batch) >= BATCH:
                _match(db, index, batch, files, answer)
                batch = []
        _match(db, index, batch, files, answer)
    finally:
        if spool is not None:
            spool.close()
    if spool is None:
        answer["notes"].append(
            "no fingerprint spool in DIR: kept pages were fingerprinted from the WARC "
            "records; pages excluded before this version cannot be matched"
        )
    return answer


def _open_spool(directory: Path) -> sqlite3.Connection | None:
    path = directory / SPOOL_NAME
    if not path.is_file():
        return None
    wal = path.with_name(path.name + "-wal")
    # Immutable when no write-ahead log is left: reading adds no file beside the corpus.
    mode = "ro" if wal.is_file() and wal.stat().st_size else "ro&immutable=1"
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True)


def _tables(db: sqlite3.Connection) -> set[str]:
    return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _page_fingerprints(
    db: Any, directory: Path, spool: sqlite3.Connection | None, config: Any, answer: dict[str, Any]
) -> Iterator[tuple[str, str, Fingerprint]]:
    spooled: set[str] = set()
    tables = _tables(spool) if spool is not None else set()
    if spool is not None and "pages" in tables:
        for url, raw in spool.execute("SELECT url, fp FROM pages"):
            fp = _fp(raw, config)
            if fp is not None:
                spooled.add(url)
                yield "kept", url, fp
    for url, warc_file, offset in db.execute("SELECT url, warc_file, warc_offset FROM kept"):
        if url in spooled:
            continue
        try:
            stored = read_stored(directory / "warc" / warc_file, int(offset))
        except Exception:
            answer["notes"].append(f"{url}: its record at warc/{warc_file} is not readable")
            continue
        fp = stored.fingerprint(config, positions=False)
        answer["computed_fingerprints"] += 1
        if fp is not None:
            yield "kept", url, fp
    if spool is not None and "reserved" in tables:
        for key, raw in spool.execute("SELECT key, fp FROM reserved"):
            fp = _fp(raw, config)
            if fp is not None and key.startswith(CRAWL_PREFIX):
                yield "excluded", key[len(CRAWL_PREFIX) :], fp
    if spool is not None and "excluded" in tables:
        for url, raw in spool.execute("SELECT url, fp FROM excluded"):
            fp = _fp(raw, config)
            if fp is not None:
                yield "excluded", url, fp


def _fp(raw: Any, config: Any) -> Fingerprint | None:
    if raw is None:
        return None
    try:
        fp = Fingerprint.from_bytes(bytes(raw))
    except FingerprintError:
        return None
    return fp if fp.config_identity == config.identity else None


def _match(
    db: Any,
    index: MemoryIndex,
    batch: list[tuple[str, str, Fingerprint]],
    files: list[Path],
    answer: dict[str, Any],
) -> None:
    if not batch:
        return
    answer["pages_checked"] += len(batch)
    for (kind, url, _fp), matches in zip(
        batch, index.query_many([fp for _, _, fp in batch]), strict=True
    ):
        for match in matches:
            work = str(files[int(match.key[len(WORK_PREFIX) :])])
            similarity = round(float(match.similarity), 4)
            if kind == "kept":
                for warc_file, offset, record_id in db.execute(
                    "SELECT warc_file, warc_offset, record_id FROM kept WHERE url = ?", [url]
                ):
                    answer["kept_copies"].append(
                        {
                            "work": work,
                            "url": url,
                            "similarity": similarity,
                            "warc_file": warc_file,
                            "warc_offset": offset,
                            "record_id": record_id,
                        }
                    )
                continue
            for reason, stage, decided_at, crawl_id in db.execute(
                "SELECT reason, stage, decided_at, crawl_id FROM exclusions WHERE url = ?"
                " ORDER BY decided_at",
                [url],
            ):
                answer["excluded_copies"].append(
                    {
                        "work": work,
                        "url": url,
                        "similarity": similarity,
                        "reason": reason,
                        "stage": stage,
                        "decided_at": decided_at,
                        "crawl_id": crawl_id,
                    }
                )


# --- --author -------------------------------------------------------------------------------


def _same_name(a: str | None, b: str) -> bool:
    if a is None:
        return False
    return (
        unicodedata.normalize("NFC", a).casefold().strip()
        == unicodedata.normalize("NFC", b).casefold().strip()
    )


def author_exclusions(db: Any, author: str, registry: Path | None = None) -> dict[str, Any]:
    """The exclusions matched to an author's registry entries, with author and title."""
    entries: dict[str, dict[str, Any]] = {}
    for entry_id, name, title, kind in db.execute(
        "SELECT entry_id, author, title, kind FROM registry_entries"
    ):
        if _same_name(name, author):
            entries[entry_id] = {"author": name, "title": title, "kind": kind, "from": "audit"}
    if registry is not None:
        with Registry(registry, create=False) as reg:
            for entry in reg.entries():
                if _same_name(entry.author, author) and entry.id not in entries:
                    entries[entry.id] = {
                        "author": entry.author,
                        "title": entry.title,
                        "kind": entry.kind.value,
                        "from": "registry",
                    }
    rows = []
    ids = sorted(entries)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        for url, reason, stage, decided_at, matched, similarity, crawl_id in db.execute(
            "SELECT url, reason, stage, decided_at, matched_work, similarity, crawl_id"
            f" FROM exclusions WHERE matched_work IN ({marks}) ORDER BY decided_at, url",
            chunk,
        ):
            entry = entries[matched]
            rows.append(
                {
                    "url": url,
                    "reason": reason,
                    "stage": stage,
                    "decided_at": decided_at,
                    "entry_id": matched,
                    "author": entry["author"],
                    "title": entry["title"],
                    "similarity": similarity,
                    "crawl_id": crawl_id,
                }
            )
    return {
        "author": author,
        "entries": [{"entry_id": k, **v} for k, v in sorted(entries.items())],
        "exclusions": rows,
    }
