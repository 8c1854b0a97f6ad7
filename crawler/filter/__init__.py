"""``tdmcrawl filter``: the opt-out policy applied to existing WARC files.

The steps, one module each, in the order they run: ``read`` (records of the
inputs), ``origins`` (pass 1: origin files -> signals), ``decide`` and
``neardup`` (pass 2: decisions, near-duplicates), ``copy`` (pass 3: the
byte-exact copy); ``pipeline`` runs them. See docs/filter.md.
"""

from tdmcrawl.crawler.errors import FilterError
from tdmcrawl.crawler.filter.options import FilterOptions, FilterResult
from tdmcrawl.crawler.filter.origins import (
    NO_ROBOTS_WARNING,
    collect_origins,
)
from tdmcrawl.crawler.filter.pipeline import audit_stage, filter_warc_files
from tdmcrawl.crawler.filter.read import expand_paths, iter_records

__all__ = [
    "NO_ROBOTS_WARNING",
    "FilterError",
    "FilterOptions",
    "FilterResult",
    "audit_stage",
    "collect_origins",
    "expand_paths",
    "filter_warc_files",
    "iter_records",
]
