"""The opt-out policy applied to existing WARC files (``tdmcrawl filter``).

Streaming, in three passes over the inputs, never a whole file in memory:

1. **Origin files** (:mod:`crawler.filter_origins`). robots.txt,
   ``/.well-known/tdmrep.json`` and ``/ai.txt`` captures in the inputs and
   the ``evidence`` WARCs become one :class:`~optout.policy.OriginSignals`
   per scheme+host+port.
2. **Decisions** (:mod:`crawler.filter_decide`). Every response, resource
   and revisit record gets ``optout.evaluate`` plus the registry's URL
   rules. Reserved pages feed the near-duplicate index
   (:mod:`crawler.filter_neardup`); kept pages' fingerprints wait in a
   scratch file and are checked against the complete index, so a copy read
   before its original is still dropped.
3. **Copy** (:mod:`crawler.filter_copy`). Kept records are copied byte for
   byte into rotating WARC files; every excluded URL gets an audit row.

Records are read by :mod:`crawler.filter_read`. See docs/filter.md.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tdmcrawl.crawler.audit.db import AuditLog
from tdmcrawl.crawler.audit.entries import EntryRecorder
from tdmcrawl.crawler.errors import FilterError
from tdmcrawl.crawler.filter.copy import copy_kept, open_writer
from tdmcrawl.crawler.filter.decide import Decider
from tdmcrawl.crawler.filter.fastread import Layout
from tdmcrawl.crawler.filter.options import FilterOptions, FilterResult, Warn
from tdmcrawl.crawler.filter.origins import collect_origin_files
from tdmcrawl.crawler.filter.read import RecordEntry, expand_paths, iter_records, member_complete
from tdmcrawl.crawler.manifest import finish_corpus
from tdmcrawl.crawler.provenance import policy_statement, registry_state, versions
from tdmcrawl.crawler.settings import dedup_config
from tdmcrawl.crawler.signing import load_private_key
from tdmcrawl.optout.decision import Decision


def filter_warc_files(
    inputs: Iterable[Path | str],
    out_dir: Path | str,
    *,
    evidence: Iterable[Path | str] = (),
    options: FilterOptions | None = None,
    warn: Warn | None = None,
) -> FilterResult:
    """Copy the records of ``inputs`` that no opt-out reserves to ``out_dir/warc/``;
    audit every excluded URL in ``out_dir/audit.sqlite``.

    Raises :class:`FilterError` for an input that is not a WARC file or an
    unusable registry (files finished before that are kept); damaged records
    are reported through ``warn`` and skipped.
    """
    options = options or FilterOptions()
    warn = warn or (lambda message: None)
    out = Path(out_dir)
    inputs, evidence_files = input_files(inputs, evidence)
    result = FilterResult()
    layouts: dict[Path, Layout] = {}  # inputs FastWARC may read (crawler/filter/fastread.py)
    origins, licences = collect_origin_files(
        inputs, evidence_files, warn, options, layouts if options.fast_read else None
    )
    result.origins = len(origins)
    audit, result.crawl_id = start_audit(out, options, inputs)
    writer = open_writer(out / "warc", options, inputs, result.crawl_id)
    registry: dict[str, Any] | None = None
    try:
        with tempfile.TemporaryDirectory(prefix=".filter-", dir=out) as scratch:
            decider = Decider(origins, options, result, warn, Path(scratch), licences)
            try:
                registry = registry_state(decider.follow)
                if decider.follow is not None:
                    audit.record_registry_state(**decider.follow.state().to_dict())
                entries = _decide_all(inputs, decider, result, warn, layouts)
                decider.release_near_duplicates()
                audit_exclusions(
                    audit, decider.excluded_urls, decider.excluded_entries, decider.registry, result
                )
                copy_kept(inputs, entries, decider, writer, audit, result)
            finally:
                decider.close()
    finally:
        result.files = [str(p) for p in writer.close()]
        audit.finish_crawl(result.crawl_id, result.to_dict())
        audit.close()
    finish_filter(out, options, result, registry)
    return result


def start_audit(out: Path, options: FilterOptions, inputs: list[Path]) -> tuple[AuditLog, str]:
    """``out``'s audit database, with this run's crawls row (its id) started: one
    beginning for the single-process filter and the Dask one."""
    out.mkdir(parents=True, exist_ok=True)
    audit = AuditLog.open(out)
    crawl_id = audit.start_crawl(
        settings=options.settings(),
        versions=versions(options.policy.agent_list),
        seeds=[str(p) for p in inputs],
        crawl_id=options.crawl_id,
    )
    return audit, crawl_id


def input_files(
    inputs: Iterable[Path | str], evidence: Iterable[Path | str]
) -> tuple[list[Path], list[Path]]:
    """The input and evidence WARC files (directories expanded), all existing."""
    input_paths = expand_paths(inputs)
    evidence_paths = expand_paths(evidence)
    if not input_paths:
        raise FilterError("no input WARC files")
    for path in input_paths + evidence_paths:
        if not path.is_file():
            raise FilterError(f"{path}: no such file")
    return input_paths, evidence_paths


def finish_filter(
    out: Path, options: FilterOptions, result: FilterResult, registry: dict[str, Any] | None
) -> None:
    """``out/manifest.json`` of a finished filter run (signed with ``options.sign_key``)."""
    finish_corpus(
        out,
        kind="filter",
        crawl_id=result.crawl_id,
        policy=policy_statement(
            options.policy,
            registry=options.registry is not None,
            **{
                "require-robots": options.require_robots,
                "near-duplicates": options.near_duplicates,
            },
        ),
        dedup=filter_dedup(options),
        registry=registry,
        sign_key=load_private_key(options.sign_key) if options.sign_key else None,
    )


def filter_dedup(options: FilterOptions) -> dict[str, Any] | None:
    if not options.near_duplicates:
        return None
    config = dedup_config()
    return {"identity": config.identity, **config.to_dict()}


def _decide_all(
    inputs: list[Path],
    decider: Decider,
    result: FilterResult,
    warn: Warn,
    layouts: dict[Path, Layout],
) -> list[list[RecordEntry]]:
    return [decide_file(path, decider, result, warn, layouts.get(path)) for path in inputs]


def decide_file(
    path: Path, decider: Decider, result: FilterResult, warn: Warn, layout: Layout | None = None
) -> list[RecordEntry]:
    """Pass 2 over one input file: its records' entries, decided (read by FastWARC when
    pass 1 proved the file's ``layout``)."""
    kept: list[RecordEntry] = []
    for read in iter_records(path, warn, result, layout):
        result.records_in += 1
        decider.decide(path, read)
        kept.append(read.entry)
    if kept and (kept[-1].length <= 0 or not member_complete(path, kept[-1])):
        # Cut short: its records go with it (the request before it, for one).
        last = kept.pop()
        if last.length > 0:
            warn(f"{path}: the last gzip member ({last.uri or last.rtype}) is incomplete: skipped")
            result.bad_records += 1
        decider.exclude_record(last)
    return kept


def audit_exclusions(
    audit: Any,
    excluded_urls: Mapping[str, Decision],
    excluded_entries: Mapping[str, RecordEntry],
    registry: Any,
    result: FilterResult,
) -> None:
    """One audit row per excluded URL (its first decision), counted by decisive reason,
    with the registry entries behind registry exclusions."""
    entries = EntryRecorder(audit, registry) if registry is not None else None
    for url, decision in excluded_urls.items():
        result.excluded[decision.reasons[0].code.value] += 1
        # The input record that was decided is the evidence: its headers and body are there.
        source = excluded_entries.get(url)
        audit.record_exclusion(
            decision,
            stage=audit_stage(decision),
            evidence_warc=source.path if source is not None and source.path else None,
            evidence_offset=source.offset if source is not None and source.path else None,
            evidence_record_id=source.record_id if source is not None and source.path else None,
        )
        if entries is not None:
            entries.note(decision)


def audit_stage(decision: Decision) -> str:
    """The crawl stage the deciding signal belongs to, so both commands audit alike."""
    codes = {r.code.value for r in decision.reasons}
    if codes <= {"registry-content", "reserved-copy"}:
        return "near-duplicate"
    if all(
        r.source in ("header", "meta", "html", "pdf", "epub")
        for r in decision.reasons
        if r.code.value not in ("registry-content", "reserved-copy")
    ):
        return "post-fetch"
    return "pre-fetch"
