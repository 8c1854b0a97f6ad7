"""`tdmcrawl audit serve DIR`: browse the audit database in Datasette, read-only.

Datasette opens the file with ``--immutable`` (SQLite ``immutable=1``), which
ignores any ``-wal`` file; so the WAL is checkpointed into the main file
first, or the newest rows would be missing from the view. The metadata gives
facets on reason, source and domain and two canned queries that answer the
auditors' questions directly.

Datasette runs as a child process that :func:`supervise` never leaves behind:
SIGINT, SIGTERM and SIGHUP stop it (then the caller removes its temporary
directory), so nothing keeps serving the audit once the command is gone.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType
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


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
STOP_GRACE = 10.0  # seconds Datasette gets to stop before it is killed


class Stopped(Exception):
    """This process was asked to stop by a signal."""


def supervise(argv: list[str], *, grace: float = STOP_GRACE) -> int:
    """Run ``argv`` until it exits or this process gets SIGINT, SIGTERM or SIGHUP.

    Returns the child's exit status, or 0 when a signal stopped it. The child
    is stopped (SIGTERM, SIGKILL after ``grace`` seconds) and reaped on every way
    out, so a stopped server never outlives this process.
    """

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise Stopped(signal.Signals(signum).name)

    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    # Blocked while the child is started, so a signal cannot land between its start and
    # `child` naming it; the child itself starts with them unblocked.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    child: subprocess.Popen[bytes] | None = None
    try:
        for sig in STOP_SIGNALS:
            signal.signal(sig, stop)
        child = subprocess.Popen(argv, preexec_fn=_unblock_stop_signals)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        return child.wait()
    except Stopped:
        return 0
    finally:
        for sig in STOP_SIGNALS:  # a second signal must not cut the clean-up short
            signal.signal(sig, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        if child is not None:
            _stop(child, grace)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _unblock_stop_signals() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def _stop(child: subprocess.Popen[bytes], grace: float) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            child.kill()
    child.wait()
