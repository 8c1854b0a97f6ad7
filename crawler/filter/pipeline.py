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
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tdmcrawl.crawler.audit.db import AuditLog
from tdmcrawl.crawler.errors import FilterError
from tdmcrawl.crawler.filter.copy import copy_kept, open_writer
from tdmcrawl.crawler.filter.decide import Decider
from tdmcrawl.crawler.filter.options import FilterOptions, FilterResult, Warn
from tdmcrawl.crawler.filter.origins import (
    collect_origins,
)
from tdmcrawl.crawler.filter.read import RecordEntry, expand_paths, iter_records, member_complete
from tdmcrawl.crawler.provenance import versions
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
    origins = collect_origins(inputs, evidence_files, warn, options)
    result.origins = len(origins)
    out.mkdir(parents=True, exist_ok=True)
    audit = AuditLog.open(out)
    result.crawl_id = audit.start_crawl(
        settings=options.settings(),
        versions=versions(),
        seeds=[str(p) for p in inputs],
        crawl_id=options.crawl_id,
    )
    writer = open_writer(out / "warc", options, inputs, result.crawl_id)
    try:
        with tempfile.TemporaryDirectory(prefix=".filter-", dir=out) as scratch:
            decider = Decider(origins, options, result, warn, Path(scratch))
            try:
                entries = _decide_all(inputs, decider, result, warn)
                decider.release_near_duplicates()
                audit_exclusions(audit, decider.excluded_urls, result)
                copy_kept(inputs, entries, decider, writer, audit, result)
            finally:
                decider.close()
    finally:
        result.files = [str(p) for p in writer.close()]
        audit.finish_crawl(result.crawl_id, result.to_dict())
        audit.close()
    return result


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


def _decide_all(
    inputs: list[Path], decider: Decider, result: FilterResult, warn: Warn
) -> list[list[RecordEntry]]:
    return [decide_file(path, decider, result, warn) for path in inputs]


def decide_file(
    path: Path, decider: Decider, result: FilterResult, warn: Warn
) -> list[RecordEntry]:
    """Pass 2 over one input file: its records' entries, decided."""
    kept: list[RecordEntry] = []
    for read in iter_records(path, warn, result):
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


def audit_exclusions(audit: Any, excluded_urls: dict[str, Decision], result: FilterResult) -> None:
    """One audit row per excluded URL (its first decision), counted by decisive reason."""
    for decision in excluded_urls.values():
        result.excluded[decision.reasons[0].code.value] += 1
        audit.record_exclusion(decision, stage=audit_stage(decision))


def audit_stage(decision: Decision) -> str:
    """The crawl stage the deciding signal belongs to, so both commands audit alike."""
    codes = {r.code.value for r in decision.reasons}
    if codes <= {"registry-content", "reserved-copy"}:
        return "near-duplicate"
    if all(
        r.source in ("header", "meta")
        for r in decision.reasons
        if r.code.value not in ("registry-content", "reserved-copy")
    ):
        return "post-fetch"
    return "pre-fetch"
