"""The copy step of ``tdmcrawl filter`` (pass 3): kept records, byte for byte, into new WARCs.

A gzip member of a ``.warc.gz`` input is appended as it is, a plain record
compressed into its own member: headers, payload and digests are the
input's. :class:`crawler.warc.RotatingWarcWriter` names, opens (``.open``),
rotates and renames the files as it does for a crawl, each opening with the
filter's own warcinfo record.
"""

from __future__ import annotations

import contextlib
import json
import socket
from pathlib import Path
from typing import Any

from crawler import __version__
from crawler.filter_decide import Decider
from crawler.filter_options import FilterOptions, FilterResult
from crawler.filter_origins import origin_file_kind
from crawler.filter_read import RecordEntry, is_gzip, record_member
from crawler.warc import FORMAT_FIELDS, RotatingWarcWriter

_EVIDENCE_KIND = {"robots": "robots.txt", "tdmrep": "tdmrep.json", "ai_txt": "ai.txt"}
_FILTER_NOTE = (
    "Records copied byte for byte from the input WARC files by tdmcrawl filter; records "
    "reserved for AI training (and the records tied to them) removed."
)


def open_writer(out_dir: Path, options: FilterOptions, inputs: list[Path],
                crawl_id: str) -> RotatingWarcWriter:
    """The writer of ``out_dir``: ``{prefix}-{timestamp17}-{serial}-{host}.warc.gz`` files."""
    return RotatingWarcWriter(out_dir, warcinfo=_warcinfo(options, inputs, crawl_id),
                              prefix=options.prefix, max_size=options.max_size)


def copy_kept(inputs: list[Path], entries: list[list[RecordEntry]], decider: Decider,
              writer: RotatingWarcWriter, audit: Any, result: FilterResult) -> None:
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
                kind = _EVIDENCE_KIND.get(origin_file_kind(entry.uri) or "")
                if kind and entry.rtype == "response":
                    # The copied origin file is the evidence `tdmcrawl audit` shows.
                    audit.record_evidence(entry.uri, warc_file=ref.filename, offset=ref.offset,
                                          record_id=entry.record_id, kind=kind)
                if entry.decision is not None:
                    result.pages_kept += 1
                    audit.record_kept(entry.uri, warc_file=ref.filename, offset=ref.offset,
                                      record_id=entry.record_id, decision=entry.decision)


def _warcinfo(options: FilterOptions, inputs: list[Path], crawl_id: str) -> dict[str, str]:
    from importlib.metadata import version

    fields = {
        "software": f"tdmcrawl/{__version__} filter (warcio/{version('warcio')})",
        **FORMAT_FIELDS,
        "hostname": socket.gethostname(),
        "tdmcrawl-token": options.policy.token,
        "tdmcrawl-policy": json.dumps(options.settings(), sort_keys=True),
        "tdmcrawl-filter-input": " ".join(p.name for p in inputs)[:4000],
        "description": _FILTER_NOTE,
        "isPartOf": crawl_id,
    }
    if options.near_duplicates:
        with contextlib.suppress(ImportError):
            from dedup import DEFAULT_CONFIG

            fields["tdmcrawl-near-duplicate"] = DEFAULT_CONFIG.identity
    return fields
