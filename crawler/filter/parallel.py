"""``tdmcrawl filter`` on a Dask cluster (``--workers N`` or ``--scheduler ADDRESS``).

The passes of :mod:`crawler.filter.pipeline` keep their meaning; what runs
once per input file runs as one Dask task per file, and the client joins
what must be whole:

1. **Origin files.** One task per input and evidence file reads its
   captures (origin files, RSL licences, redirects); the client merges them
   in input order (the latest capture wins, as in one pass) and sends the
   origins' signals and the licences to every worker once.
2. **Decisions.** The client opens the registry once (a registry service is
   synced into ``DIR/registry-replica.sqlite`` and its state audited); the
   workers read that file. One task per input decides its records (the same
   ``Decider``), spools its kept pages' fingerprints to a scratch file and
   returns its reserved pages' fingerprints. The client joins the excluded
   URLs in input order (the first decision of a URL is the one audited, with
   the input record that is its evidence) and the reserved-works index's
   entries (the registry's works, then the reserved pages in input order).
3. **Near-duplicates.** One task per input checks its spooled fingerprints
   against that complete index, built once per worker.
4. **Copy.** One task per input copies its kept records, byte for byte, to
   ``DIR/warc/{prefix}-{NNNNN}-...`` (NNNNN: the input's place in the list)
   and writes an audit shard; the client merges the shards into
   ``DIR/audit.sqlite`` after its exclusion rows.
5. **Manifest.** The client writes one ``DIR/manifest.json`` for the merged
   result (signed with ``--sign-key``), as the single process does.

The records written, and the audit rows, are the single process's, record
for record; only the files they are in differ (one set per input, so that
their names sort in input order). ``DIR`` (and the inputs, evidence and
registry) must be at the same path on the client and every worker: a shared
file system on a real cluster. See docs/filter.md.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tdmcrawl.crawler.audit.db import AuditLog
from tdmcrawl.crawler.audit.merge import merge
from tdmcrawl.crawler.errors import ConfigError, FilterError
from tdmcrawl.crawler.filter.copy import copy_kept, open_writer
from tdmcrawl.crawler.filter.decide import Decider, drops, open_registry
from tdmcrawl.crawler.filter.fastread import Layout
from tdmcrawl.crawler.filter.neardup import NearDuplicates
from tdmcrawl.crawler.filter.options import FilterOptions, FilterResult, Warn
from tdmcrawl.crawler.filter.origins import (
    Captures,
    file_captures,
    input_captures,
    merge_captures,
    origins_from_captures,
)
from tdmcrawl.crawler.filter.pipeline import (
    audit_exclusions,
    decide_file,
    finish_filter,
    input_files,
    start_audit,
)
from tdmcrawl.crawler.filter.read import RecordEntry
from tdmcrawl.crawler.provenance import registry_state, versions
from tdmcrawl.crawler.reserved import ReservedWorks
from tdmcrawl.crawler.settings import dedup_config
from tdmcrawl.dedup import Fingerprint
from tdmcrawl.optout.decision import Decision
from tdmcrawl.optout.fetched import FetchResult
from tdmcrawl.registry import RegistryReader

logger = logging.getLogger(__name__)

EXTRA_HINT = "pip install 'tdmcrawl[dask]'"
PARTS_DIR = ".filter-parts"  # under DIR: spools and audit shards, removed at the end


def require_dask() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"filter on Dask needs: {EXTRA_HINT} ({exc})") from exc


def dask_client(*, workers: int | None = None, scheduler: str | None = None) -> Any:
    """A client of a new local cluster of ``workers`` processes, or of ``scheduler``'s."""
    require_dask()
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise FilterError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
    cluster = LocalCluster(
        n_workers=workers or 1,
        threads_per_worker=1,  # the passes are CPU-bound Python: processes, not threads
        processes=True,
        dashboard_address=None,
        # A task's error reaches the client as its exception; what the workers would log
        # besides is shutdown noise (a heartbeat to a scheduler already gone).
        silence_logs=logging.CRITICAL,
    )
    client = Client(cluster)
    client._tdmcrawl_cluster = cluster  # closed with the client (close_client)
    return client


def close_client(client: Any) -> None:
    cluster = getattr(client, "_tdmcrawl_cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


# -- what the tasks return --------------------------------------------------------------


@dataclass
class PartDecisions:
    """Pass 2 over one input: its entries and what the client must join."""

    entries: list[RecordEntry]
    excluded_urls: dict[str, Decision]
    excluded_entries: dict[str, RecordEntry]  # the record each excluded URL was decided by
    excluded_ids: set[str]
    reserved: list[tuple[str, bytes]]  # (index key, fingerprint) of its reserved pages
    kept: list[tuple[RecordEntry, int, int]]  # spooled fingerprints (entry, offset, size)
    counts: FilterResult
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Whole:
    """A value sent to every worker in one piece (Dask scatters a list or a dict item by
    item, and refuses an empty one)."""

    value: Any


@dataclass
class PartCopy:
    files: list[str]
    records_kept: int
    pages_kept: int


class _Collector:
    """What ``NearDuplicates`` needs of an index, keeping the reserved pages' fingerprints
    in order instead of indexing them (the index is complete only once all are in)."""

    def __init__(self) -> None:
        self.config = dedup_config()
        self.items: list[tuple[str, bytes]] = []
        self._keys: set[str] = set()

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self.items)

    def add(self, key: str, fp: Any) -> None:
        self._keys.add(key)
        self.items.append((key, fp.to_bytes()))

    def close(self) -> None:
        return None


class _Drops:
    """The client's joined exclusions, as the copy step asks them."""

    def __init__(self, excluded_urls: set[str], excluded_ids: set[str]) -> None:
        self.excluded_urls = excluded_urls
        self.excluded_ids = excluded_ids

    def drops(self, entry: RecordEntry) -> bool:
        return drops(entry, self.excluded_urls, self.excluded_ids)


# -- the tasks (run on the workers) ------------------------------------------------------


def read_captures(
    path: Path, report: bool, fast_read: bool = True
) -> tuple[Captures, list[str], Layout | None]:
    """Pass 1 over one file: its origin-file captures, its warnings when ``report``, and
    for an input (not ``report``) the layout FastWARC proved, if any (filter/fastread.py)."""
    if not report:
        captures, layout = input_captures(path, fast_read)
        return captures, [], layout
    warnings: list[str] = []
    return file_captures(path, warnings.append), warnings, None


def decide_part(
    path: Path,
    scratch: Path,
    layout: Layout | None = None,
    *,
    signals: Whole,
    options: FilterOptions,
) -> PartDecisions:
    """Pass 2 over one input file (fingerprints spooled under ``scratch``); ``options``
    name the registry as a file (the client's replica of a registry service);
    ``signals``: the origins' signals and the RSL licences, by URL."""
    origins: dict[str, Any]
    licences: dict[str, FetchResult]
    origins, licences = signals.value
    scratch.mkdir(parents=True, exist_ok=True)
    counts = FilterResult()
    warnings: list[str] = []
    collector = _Collector()
    near = NearDuplicates(collector, scratch) if options.near_duplicates else None
    decider = Decider(origins, options, counts, warnings.append, scratch, licences, near=near)
    try:
        entries = decide_file(path, decider, counts, warnings.append, layout)
    finally:
        decider.close()
    return PartDecisions(
        entries=entries,
        excluded_urls=decider.excluded_urls,
        excluded_entries=decider.excluded_entries,
        excluded_ids=decider.excluded_ids,
        reserved=collector.items,
        kept=near.kept if near is not None else [],
        counts=counts,
        warnings=warnings,
    )


def summary(part: PartDecisions) -> PartDecisions:
    """What the client joins of a part (its entries and spool list stay on the workers)."""
    return replace(part, entries=[], kept=[])


# One reserved-works index per worker process and run (see release_part).
_INDEXES: dict[str, ReservedWorks] = {}
_INDEX_LOCK = threading.Lock()


def _index(token: str, registry: Path | None, reserved: list[tuple[str, bytes]]) -> ReservedWorks:
    with _INDEX_LOCK:
        index = _INDEXES.get(token)
        if index is not None:
            return index
        for old in _INDEXES.values():  # an earlier run's
            old.close()
        _INDEXES.clear()
        scratch = Path(tempfile.mkdtemp(prefix="tdmcrawl-index-"))
        index = ReservedWorks.in_memory(scratch / "reserved-shingles.bin")
        if registry is not None:  # as the single process: the registry's works first
            reader = RegistryReader(registry)
            try:
                index.load_registry(reader, lambda message: None)
            finally:
                reader.close()
        for key, data in reserved:
            if key not in index:
                index.add(key, Fingerprint.from_bytes(data))
        _INDEXES[token] = index
        return index


def release_part(
    part: PartDecisions,
    scratch: Path,
    *,
    token: str,
    registry: Path | None,
    reserved: Whole,
) -> list[tuple[RecordEntry, Decision]]:
    """Pass 3 over one input's kept pages: the (entry, decision) of those to drop."""
    if not part.kept:
        return []
    index = _index(token, registry, reserved.value)
    near = NearDuplicates(index, scratch, reopen=True)
    near.kept = part.kept
    found: list[tuple[RecordEntry, Decision]] = []
    try:
        near.release(lambda e, d: found.append((e, d)))
    finally:
        near.close(index=False)  # the index is this worker's, kept for its next part
    return found


def registry_notes(registry: Path) -> list[str]:
    """The notes loading the registry's works gives (stale or damaged fingerprints)."""
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tdmcrawl-notes-") as scratch:
        index = ReservedWorks.in_memory(Path(scratch) / "shingles.bin")
        reader = RegistryReader(registry)
        try:
            index.load_registry(reader, notes.append)
        finally:
            reader.close()
            index.close()
    return notes


def copy_part(
    number: int,
    path: Path,
    part: PartDecisions,
    shard: Path,
    *,
    drops_: _Drops,
    options: FilterOptions,
    inputs: list[Path],
    crawl_id: str,
    out: Path,
) -> PartCopy:
    """The copy of one input's kept records, and its audit shard."""
    counts = FilterResult()
    part_options = replace(options, prefix=f"{options.prefix}-{number:05d}")
    writer = open_writer(out / "warc", part_options, inputs, crawl_id)
    audit = AuditLog.open(shard)
    try:
        audit.start_crawl(
            settings=options.settings(),
            versions=versions(options.policy.agent_list),
            seeds=[],
            crawl_id=crawl_id,
        )
        copy_kept([path], [part.entries], drops_, writer, audit, counts)
    finally:
        files = [str(p) for p in writer.close()]
        audit.close()
    return PartCopy(files, counts.records_kept, counts.pages_kept)


# -- the client --------------------------------------------------------------------------


def filter_on_dask(
    client: Any,
    inputs: Iterable[Path | str],
    out_dir: Path | str,
    *,
    evidence: Iterable[Path | str] = (),
    options: FilterOptions | None = None,
    warn: Warn | None = None,
) -> FilterResult:
    """:func:`crawler.filter.filter_warc_files` with the per-file work on ``client``'s
    cluster; the same records, audit rows and manifest (see the module docstring)."""
    options = options or FilterOptions()
    warn = warn or (lambda message: None)
    out = Path(out_dir).resolve()
    given, evidence_paths = input_files(inputs, evidence)
    input_paths = [p.resolve() for p in given]
    evidence_paths = [p.resolve() for p in evidence_paths]
    result = FilterResult()

    # 1. origin files: every file read once, merged in input order (inputs, then evidence).
    paths = input_paths + evidence_paths
    reports = [False] * len(input_paths) + [True] * len(evidence_paths)
    captures: Captures = {}
    layouts: list[Layout | None] = []
    fast = [options.fast_read] * len(paths)
    for file_captures_, warnings, layout in client.gather(
        client.map(read_captures, paths, reports, fast, pure=False)
    ):
        for message in warnings:
            warn(message)
        merge_captures(captures, file_captures_)
        layouts.append(layout)
    origins, licences = origins_from_captures(captures, options)
    del captures
    result.origins = len(origins)

    audit, result.crawl_id = start_audit(out, options, given)
    parts_dir = Path(tempfile.mkdtemp(prefix=PARTS_DIR + "-", dir=out))
    scratches = [parts_dir / f"{i:05d}" for i in range(len(input_paths))]
    registry: dict[str, Any] | None = None
    follow = None
    try:
        # The registry, opened (and a service synced) once; the workers read its file.
        # (DIR as given: the replica's path is audited as the single process audits it.)
        follow = open_registry(options.registry, Path(out_dir), warn) if options.registry else None
        worker_options = options
        if follow is not None:
            registry = registry_state(follow)
            audit.record_registry_state(**follow.state().to_dict())
            worker_options = replace(options, registry=Path(follow.reader.path).resolve())
        registry_file = worker_options.registry
        assert registry_file is None or isinstance(registry_file, Path)
        if options.near_duplicates and registry_file is not None:
            result.notes += client.submit(registry_notes, registry_file, pure=False).result()
        # 2. decisions, per file; the parts stay on the workers, their summaries come here.
        signals_f = client.scatter(Whole((origins, licences)), broadcast=True, hash=False)
        parts = client.map(
            decide_part,
            input_paths,
            scratches,
            layouts[: len(input_paths)],
            signals=signals_f,
            options=worker_options,
            pure=False,
        )
        excluded_urls: dict[str, Decision] = {}
        excluded_entries: dict[str, RecordEntry] = {}
        excluded_ids: set[str] = set()
        reserved: list[tuple[str, bytes]] = []
        seen_keys: set[str] = set()
        for part in client.gather(client.map(summary, parts, pure=False)):
            for message in part.warnings:
                warn(message)
            for name in ("records_in", "pages_in", "bad_records"):
                setattr(result, name, getattr(result, name) + getattr(part.counts, name))
            for url, decision in part.excluded_urls.items():
                excluded_urls.setdefault(url, decision)
            for url, entry in part.excluded_entries.items():
                excluded_entries.setdefault(url, entry)
            excluded_ids |= part.excluded_ids
            for key, data in part.reserved:
                if key not in seen_keys:
                    seen_keys.add(key)
                    reserved.append((key, data))
        # 3. near-duplicates against the complete index (registry works, reserved pages).
        if options.near_duplicates:
            token = f"{result.crawl_id}-{parts_dir.name}"
            reserved_f = client.scatter(Whole(reserved), broadcast=True, hash=False)
            found = client.map(
                release_part,
                parts,
                scratches,
                token=token,
                registry=registry_file,
                reserved=reserved_f,
                pure=False,
            )
            for drops_found in client.gather(found):
                for entry, decision in drops_found:
                    excluded_urls.setdefault(entry.uri, decision)
                    excluded_entries.setdefault(entry.uri, entry)
                    excluded_ids.add(entry.record_id)
                    excluded_ids.update(entry.links)
        audit_exclusions(
            audit,
            excluded_urls,
            excluded_entries,
            follow.reader if follow is not None else None,
            result,
        )
        audit.flush()
        # 4. the copy, per file, each with its audit shard; the shards merged in input order.
        drops_f = client.scatter(
            _Drops(set(excluded_urls), excluded_ids), broadcast=True, hash=False
        )
        shards = [scratch / "audit" for scratch in scratches]
        copies = client.map(
            copy_part,
            list(range(len(input_paths))),
            input_paths,
            parts,
            shards,
            drops_=drops_f,
            options=options,
            inputs=input_paths,
            crawl_id=result.crawl_id,
            out=out,
            pure=False,
        )
        for copied in client.gather(copies):
            result.files += copied.files
            result.records_kept += copied.records_kept
            result.pages_kept += copied.pages_kept
        merge(out, shards)
    finally:
        if follow is not None:
            follow.close()
        audit.finish_crawl(result.crawl_id, result.to_dict())
        audit.close()
        shutil.rmtree(parts_dir, ignore_errors=True)
    # 5. one manifest for the merged result.
    finish_filter(out, options, result, registry)
    return result
