"""The copy step of ``tdmcrawl filter`` (pass 3): kept records, byte for byte, into new WARCs.

A gzip member of a ``.warc.gz`` input is appended as it is, a plain record
compressed into its own member: headers, payload and digests are the
input's. :class:`crawler.warc.RotatingWarcWriter` names, opens (``.open``),
rotates and renames the files as it does for a crawl, each opening with the
filter's own warcinfo record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tdmcrawl.crawler.filter.decide import Decider
from tdmcrawl.crawler.filter.options import FilterOptions, FilterResult
from tdmcrawl.crawler.filter.read import RecordEntry, is_gzip, record_member
from tdmcrawl.crawler.provenance import filter_warcinfo_fields
from tdmcrawl.crawler.warc.writer import RotatingWarcWriter
from tdmcrawl.optout.origins import origin_file_at


def open_writer(
    out_dir: Path, options: FilterOptions, inputs: list[Path], crawl_id: str
) -> RotatingWarcWriter:
    """The writer of ``out_dir``: ``{prefix}-{timestamp17}-{serial}-{host}.warc.gz`` files."""
    return RotatingWarcWriter(
        out_dir,
        warcinfo=filter_warcinfo_fields(
            options.settings(),
            options.policy.token,
            inputs,
            crawl_id,
            near_duplicates=options.near_duplicates,
        ),
        prefix=options.prefix,
        max_size=options.max_size,
    )


def copy_kept(
    inputs: list[Path],
    entries: list[list[RecordEntry]],
    decider: Decider,
    writer: RotatingWarcWriter,
    audit: Any,
    result: FilterResult,
) -> None:
    """Copy every record the decider keeps; audit kept pages and copied origin files."""
    for path, file_entries in zip(inputs, entries, strict=True):
        gzipped = is_gzip(path)
        with open(path, "rb") as handle:
            for entry in file_entries:
                if decider.drops(entry):
                    continue
                member = record_member(handle, entry, gzipped)
                ref = writer.write_members(entry.uri, [(entry.record_id, member)])[0]
                result.records_kept += 1
                origin_file = origin_file_at(entry.uri)
                if origin_file is not None and entry.rtype == "response":
                    # The copied origin file is the evidence `tdmcrawl audit` shows.
                    audit.record_evidence(
                        entry.uri,
                        warc_file=ref.filename,
                        offset=ref.offset,
                        record_id=entry.record_id,
                        kind=origin_file.kind,
                    )
                if entry.decision is not None:
                    result.pages_kept += 1
                    audit.record_kept(
                        entry.uri,
                        warc_file=ref.filename,
                        offset=ref.offset,
                        record_id=entry.record_id,
                        decision=entry.decision,
                    )
