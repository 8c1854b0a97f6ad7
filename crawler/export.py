"""``tdmcrawl export``: a corpus as training pipelines read it, one row per kept page.

Each row has the page's main ``text`` (``dedup.extract_main_text``: trafilatura,
with which the near-duplicate index is built; a ``text/plain`` body as it is), its
``id`` (the WARC-Record-ID) and ``metadata``: URL, WARC file and offset,
payload digest, fetch time, content type, language when the page says it,
the crawl, the lineage of a ``recheck`` output, and the decision with the
policy version it was made under. That layout is what datatrove's
``JsonlReader``/``ParquetReader`` and Hugging Face ``datasets`` read with no
options: ``text`` and ``id`` on top, the rest in ``metadata``.

It streams: the audit's ``kept`` rows are read in WARC file order, each
record once, and rows go out as they are made (JSON lines, gzip or zstd by
the file name; or Parquet row groups of ``row_group_size`` rows). The file is
written as ``PATH.tmp`` and renamed when complete. Kept records that hold no
text (not a 2xx HTML or plain-text response: an image, a redirect, a revisit)
are counted and left out; a kept row whose WARC file is missing or whose
offset holds another record stops the export (the corpus and its audit
disagree: ``tdmcrawl verify`` says more).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from warcio.archiveiterator import ArchiveIterator

from tdmcrawl.crawler.audit.db import open_database, resolve_path
from tdmcrawl.crawler.errors import ConfigError, ExportError, UsageError
from tdmcrawl.crawler.manifest import MANIFEST_NAME, ManifestError, read_manifest
from tdmcrawl.dedup import extract_main_text

FORMATS = ("jsonl", "parquet")
TEXT_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
ROW_GROUP_SIZE = 1000
EXTRA_HINT = "pip install 'tdmcrawl[export]'"
_LANG = re.compile(rb"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*)", re.I)
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.I)
_MAX_LINEAGE = 32


@dataclass
class ExportResult:
    out: str
    rows: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # kept records without text, by why
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": self.out,
            "rows": self.rows,
            "skipped": dict(sorted(self.skipped.items())),
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows / self.seconds, 1) if self.seconds else None,
        }


def format_of(path: Path, fmt: str | None) -> str:
    """The format asked for, or the one the file name says (``.parquet``, else JSON lines)."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise UsageError(f"unknown format {fmt!r}: use jsonl or parquet")
        return fmt
    return "parquet" if path.suffix == ".parquet" else "jsonl"


def export_corpus(
    directory: Path | str,
    out: Path | str,
    *,
    fmt: str | None = None,
    urls_only: bool = False,
    row_group_size: int = ROW_GROUP_SIZE,
) -> ExportResult:
    """Write ``directory``'s kept pages to ``out`` (see the module docstring)."""
    directory, out = Path(directory), Path(out)
    fmt = format_of(out, fmt)
    if row_group_size < 1:
        raise UsageError(f"row group size must be at least 1, got {row_group_size}")
    if out.exists():
        raise UsageError(f"{out} exists: remove it or give another --out")
    started = time.perf_counter()
    db = open_database(resolve_path(directory))
    result = ExportResult(str(out))
    tmp = out.with_name(out.name + ".tmp")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        rows = _url_rows(db) if urls_only else _page_rows(db, directory, result)
        schema = URL_SCHEMA if urls_only else PAGE_SCHEMA
        if fmt == "parquet":
            _write_parquet(tmp, rows, schema, row_group_size, result)
        else:
            _write_jsonl(tmp, rows, result)
        tmp.replace(out)
    finally:
        db.close()
        tmp.unlink(missing_ok=True)
    result.seconds = time.perf_counter() - started
    return result


# -- rows ---------------------------------------------------------------------------------


def _url_rows(db: Any) -> Iterator[dict[str, Any]]:
    cursor = db.execute("SELECT url FROM kept GROUP BY url ORDER BY min(id)")
    while batch := cursor.fetchmany(1000):
        for (url,) in batch:
            yield {"url": url}


def _page_rows(db: Any, directory: Path, result: ExportResult) -> Iterator[dict[str, Any]]:
    policies = {crawl_id: version for crawl_id, version in _policy_versions(db)}
    lineage = corpus_lineage(directory)
    cursor = db.execute(
        "SELECT crawl_id, url, warc_file, warc_offset, record_id, decision FROM kept"
        " ORDER BY warc_file, warc_offset"
    )
    handles: dict[str, BinaryIO] = {}  # the file being read (rows come in file order)
    try:
        while batch := cursor.fetchmany(500):
            for crawl_id, url, warc_file, offset, record_id, decision in batch:
                handle = handles.get(warc_file)
                if handle is None:
                    for old in handles.values():
                        old.close()
                    handles = {warc_file: open(_warc_path(directory, warc_file), "rb")}  # noqa: SIM115
                    handle = handles[warc_file]
                page = _read_page(handle, warc_file, int(offset), record_id, url)
                if isinstance(page, str):
                    result.skipped[page] += 1
                    continue
                text, fetched, digest, content_type, language = page
                yield {
                    "text": text,
                    "id": record_id,
                    "metadata": {
                        "url": url,
                        "warc_file": warc_file,
                        "warc_offset": int(offset),
                        "payload_digest": digest,
                        "fetch_time": fetched,
                        "content_type": content_type,
                        "language": language,
                        "crawl_id": crawl_id,
                        "lineage": lineage,
                        "decision": {
                            "allowed": bool(json.loads(decision).get("allowed", False)),
                            "policy_version": policies.get(crawl_id, "unknown"),
                            "detail": decision,
                        },
                    },
                }
    finally:
        for handle in handles.values():
            handle.close()


def _warc_path(directory: Path, name: str) -> Path:
    for sub in ("warc", ""):
        path = directory / sub / name
        if path.is_file():
            return path
    raise ExportError(
        f"{name} is not in {directory / 'warc'}: the audit names a WARC file it lacks"
    )


def _read_page(
    handle: BinaryIO, warc_file: str, offset: int, record_id: str, url: str
) -> tuple[str, str, str | None, str, str | None] | str:
    """(text, fetch time, payload digest, content type, language), or why there is no text."""
    handle.seek(offset)
    try:
        record = next(iter(ArchiveIterator(handle)))
    except Exception as exc:  # warcio and zlib errors on damaged data
        raise ExportError(f"{warc_file} at offset {offset}: no readable record ({exc})") from exc
    found = record.rec_headers.get_header("WARC-Record-ID")
    if found != record_id:
        raise ExportError(
            f"{warc_file} at offset {offset} holds {found}, not {record_id} ({url}): "
            "the audit and the WARC files disagree"
        )
    if record.rec_type not in ("response", "resource"):
        return f"{record.rec_type} record"
    http = record.http_headers if record.rec_type == "response" else None
    if http is not None and not str(http.get_statuscode()).startswith("2"):
        return "not a 2xx response"
    header = (http.get_header("Content-Type") if http is not None else None) or (
        record.rec_headers.get_header("Content-Type") or ""
    )
    content_type = header.split(";", 1)[0].strip().lower()
    if content_type not in TEXT_TYPES:
        return "not a text type"
    try:
        body = record.content_stream().read()
    except Exception:  # a body that does not decode (bad gzip, broken chunks)
        return "unreadable body"
    text = page_text(body, url, header)
    if not text.strip():
        return "no text"
    language = _language(http, body)
    digest = record.rec_headers.get_header("WARC-Payload-Digest")
    fetched = record.rec_headers.get_header("WARC-Date") or ""
    return text, fetched, digest, content_type, language


def page_text(body: bytes, url: str, content_type: str) -> str:
    """The main text as the near-duplicate index reads a work (trafilatura): the cleanest
    text, for training; the gate queries kept pages with the faster resiliparse."""
    if content_type.split(";", 1)[0].strip().lower() == "text/plain":
        match = _CHARSET.search(content_type)
        try:
            return body.decode(match.group(1) if match else "utf-8", errors="replace")
        except LookupError:  # an unknown charset name
            return body.decode("utf-8", errors="replace")
    return extract_main_text(body, url)


def _language(http: Any, body: bytes) -> str | None:
    """The page's language as it states it: Content-Language, else ``<html lang>``."""
    header = http.get_header("Content-Language") if http is not None else None
    if header:
        first = header.split(",", 1)[0].strip()
        if first:
            return first.lower()
    match = _LANG.search(body[:65536])
    return match.group(1).decode("ascii").lower() if match else None


def _policy_versions(db: Any) -> Iterator[tuple[str, str]]:
    """crawl id -> ``tdmcrawl-<version>+ai-agents-<list version>+policy-<hash>``."""
    for crawl_id, settings, versions in db.execute(
        "SELECT crawl_id, settings, versions FROM crawls"
    ):
        yield crawl_id, policy_version(_loads(settings), _loads(versions))


def policy_version(settings: dict[str, Any], versions: dict[str, Any]) -> str:
    """One string naming the code, the AI-agent list and the policy switches of a run."""
    if isinstance(settings.get("policy"), dict):  # `filter`: PolicyConfig.to_dict()
        policy: dict[str, Any] = dict(settings["policy"])
        policy["near_duplicates"] = settings.get("near_duplicates")
        policy["registry"] = bool(settings.get("registry"))
    else:  # a crawl: its TDMCRAWL_* switches
        names = (
            "TDMCRAWL_TOKEN",
            "TDMCRAWL_AI_AGENTS",
            "TDMCRAWL_AI_TXT",
            "TDMCRAWL_NOAI",
            "TDMCRAWL_TDMREP",
            "TDMCRAWL_CONTENT_USAGE",
            "TDMCRAWL_CONTENT_SIGNAL",
            "TDMCRAWL_AIPREF_COMPAT",
            "TDMCRAWL_DEDUP",
        )
        policy = {name: settings.get(name) for name in names}
        policy["TDMCRAWL_REGISTRY"] = bool(settings.get("TDMCRAWL_REGISTRY"))
    digest = hashlib.sha256(json.dumps(policy, sort_keys=True, default=str).encode()).hexdigest()
    return (
        f"tdmcrawl-{versions.get('tdmcrawl', '?')}"
        f"+ai-agents-{versions.get('ai_training_tokens', '?')}+policy-{digest[:12]}"
    )


def corpus_lineage(directory: Path) -> list[dict[str, str | None]]:
    """The corpora this one derives from, nearest first.

    Each is named as the ``parent`` of its child's ``manifest.json`` header names it
    (``crawler/manifest.py``; a ``recheck`` writes it): its directory, crawl id, kind of
    run and the SHA-256 of its manifest when the child was made. A parent directory that
    still has a manifest is followed to its own parent in turn.
    """
    out: list[dict[str, str | None]] = []
    here = directory
    seen = {directory.resolve()}
    while len(out) < _MAX_LINEAGE:
        parent = _manifest_parent(here)
        if parent is None:
            break
        out.append(parent)
        path = Path(parent["directory"]) if parent["directory"] else None
        if path is None:
            break
        path = path if path.is_absolute() else (here / path)
        if not (path / MANIFEST_NAME).is_file() or path.resolve() in seen:
            break
        seen.add(path.resolve())
        here = path
    return out


def _manifest_parent(directory: Path) -> dict[str, str | None] | None:
    """The ``parent`` of ``directory``'s manifest (only its header is read), or None."""
    if not (directory / MANIFEST_NAME).is_file():
        return None
    try:
        header = read_manifest(directory).header
    except ManifestError as exc:
        raise ExportError(f"{directory / MANIFEST_NAME} cannot be read: {exc}") from exc
    parent = header.get("parent")
    if not parent:
        return None
    if not isinstance(parent, dict):  # not what finish_corpus writes: a bare path
        parent = {"directory": parent}
    return {
        key: str(parent[key]) if parent.get(key) is not None else None
        for key in ("directory", "crawl_id", "kind", "manifest_sha256")
    }


def _loads(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# -- writers ------------------------------------------------------------------------------


def _write_jsonl(path: Path, rows: Iterator[dict[str, Any]], result: ExportResult) -> None:
    """JSON lines; gzip for ``.gz``, zstd for ``.zst``/``.zstd`` (as the readers infer it)."""
    final = path.name.removesuffix(".tmp")
    with open(path, "wb") as raw:
        sink: Any = contextlib.nullcontext(raw)
        if final.endswith(".gz"):
            sink = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)
        elif final.endswith((".zst", ".zstd")):
            sink = _zstd().ZstdCompressor(level=3).stream_writer(raw, closefd=False)
        with sink as stream:
            for row in rows:
                stream.write(json.dumps(row, ensure_ascii=False).encode("utf-8") + b"\n")
                result.rows += 1


def _zstd() -> Any:
    try:
        import zstandard
    except ImportError as exc:
        raise ConfigError(f"zstd JSON lines need: {EXTRA_HINT} ({exc})") from exc
    return zstandard


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as exc:
        raise ConfigError(f"Parquet export needs: {EXTRA_HINT} ({exc})") from exc
    return pyarrow, pyarrow.parquet


# Column types, written out so that every row group has the same schema.
URL_SCHEMA = {"url": "string"}
PAGE_SCHEMA = {
    "text": "string",
    "id": "string",
    "metadata": {
        "url": "string",
        "warc_file": "string",
        "warc_offset": "int64",
        "payload_digest": "string",
        "fetch_time": "string",
        "content_type": "string",
        "language": "string",
        "crawl_id": "string",
        "lineage": [
            {
                "directory": "string",
                "crawl_id": "string",
                "kind": "string",
                "manifest_sha256": "string",
            }
        ],
        "decision": {"allowed": "bool", "policy_version": "string", "detail": "string"},
    },
}


def _arrow_type(pa: Any, spec: Any) -> Any:
    if isinstance(spec, dict):
        return pa.struct([pa.field(name, _arrow_type(pa, sub)) for name, sub in spec.items()])
    if isinstance(spec, list):
        return pa.list_(_arrow_type(pa, spec[0]))
    return {"string": pa.string(), "int64": pa.int64(), "bool": pa.bool_()}[spec]


def _write_parquet(
    path: Path,
    rows: Iterator[dict[str, Any]],
    spec: dict[str, Any],
    row_group_size: int,
    result: ExportResult,
) -> None:
    pa, pq = _pyarrow()
    schema = pa.schema([pa.field(name, _arrow_type(pa, sub)) for name, sub in spec.items()])
    with pq.ParquetWriter(str(path), schema, compression="zstd") as writer:
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= row_group_size:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                result.rows += len(batch)
                batch = []
        if batch or result.rows == 0:  # an empty corpus still gets a readable file
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            result.rows += len(batch)
