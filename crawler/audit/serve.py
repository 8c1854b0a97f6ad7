"""`tdmcrawl audit serve DIR`: browse the audit database in Datasette, read-only.

Datasette opens the file with ``--immutable`` (SQLite ``immutable=1``), which
ignores any ``-wal`` file; so the WAL is checkpointed into the main file
first, or the newest rows would be missing from the view. The metadata gives
facets on reason, source and domain and two canned queries that answer the
auditors' questions directly.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tdmcrawl.crawler.audit.db import checkpoint, open_database, resolve_path

_STORY_SQL = """
select 'excluded' as status, url, reason, source, evidence, line, matched_work, similarity,
       stage, decided_at as at, evidence_warc as warc_file, evidence_offset as warc_offset,
       crawl_id, decision
  from exclusions where url = :url
union all
select 'kept', url, null, null, null, null, null, null, null, kept_at, warc_file, warc_offset,
       crawl_id, decision
  from kept where url = :url
order by at
"""

_DOMAIN_SQL = """
select 'excluded' as status, url, reason, source, evidence, decided_at as at, crawl_id
  from exclusions where domain = :domain
union all
select 'kept', url, null, null, null, kept_at, crawl_id from kept where domain = :domain
order by at limit 10000
"""


def metadata(db_name: str, title: str) -> dict[str, Any]:
    return {
        "title": title,
        "description": "Exclusions with their evidence, kept pages with their WARC location.",
        "databases": {
            db_name: {
                "tables": {
                    "exclusions": {
                        "facets": ["reason", "source", "domain"],
                        "sort_desc": "decided_at",
                        "label_column": "url",
                    },
                    "kept": {"facets": ["domain"], "label_column": "url"},
                    "evidence": {"facets": ["kind", "origin"]},
                },
                "queries": {
                    "why_excluded": {
                        "title": "Why was this URL excluded (or kept)?",
                        "sql": _STORY_SQL.strip(),
                    },
                    "domain_everything": {
                        "title": "Everything from one domain (host)",
                        "sql": _DOMAIN_SQL.strip(),
                    },
                },
            }
        },
    }


def prepare(directory: Path | str, workdir: Path) -> list[str]:
    """Check and checkpoint the database, write the metadata; returns the datasette argv."""
    path = resolve_path(directory)
    open_database(path).close()
    checkpoint(path)
    meta = workdir / "datasette-metadata.json"
    meta.write_text(
        json.dumps(metadata(path.stem, f"tdmcrawl audit: {path}"), ensure_ascii=False),
        encoding="utf-8",
    )
    return [
        sys.executable,
        "-m",
        "datasette",
        "serve",
        "--immutable",
        str(path),
        "--metadata",
        str(meta),
        "--setting",
        "facet_time_limit_ms",
        "1000",
    ]
