"""``tdmcrawl recheck DIR --out NEWDIR``: a new version of a corpus under today's opt-outs.

The steps, in order (DIR is only read, from copies of its databases):

1. NEWDIR gets a copy of DIR's audit database (its history: crawls,
   exclusions, evidence rows, kept pages) and of DIR's evidence WARC files;
2. a Scrapy crawl through the add-on runs the decision phase
   (:mod:`crawler.recheck.decide`), auditing what it reserves at stage
   ``recheck`` and archiving what it fetched in a new evidence WARC;
3. DIR's WARC files are copied, or rewritten without the removed pages
   (:mod:`crawler.recheck.copy`); kept rows and the fingerprint spool follow;
4. the delta goes into the recheck's ``crawls`` row, and NEWDIR/manifest.json
   (signed with ``--sign-key``) names DIR as its parent.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

from tdmcrawl.crawler.audit.db import DB_FILENAME, new_crawl_id
from tdmcrawl.crawler.clock import iso_utc
from tdmcrawl.crawler.gates.neardup import SPOOL_NAME, PageSpool
from tdmcrawl.crawler.manifest import finish_corpus
from tdmcrawl.crawler.provenance import (
    dedup_snapshot,
    policy_in_force,
    recheck_warcinfo_fields,
    registry_state,
)
from tdmcrawl.crawler.recheck.copy import update_audit, update_spool, write_version
from tdmcrawl.crawler.recheck.decide import RecheckDecider
from tdmcrawl.crawler.recheck.parent import ParentCorpus, RecheckError
from tdmcrawl.crawler.recheck.result import RecheckOptions, RecheckResult
from tdmcrawl.crawler.recheck.spider import RecheckSpider
from tdmcrawl.crawler.run import build_settings, run_command
from tdmcrawl.crawler.signing import load_private_key

logger = logging.getLogger(__name__)

LOG_NAME = "tdmcrawl.log"
SCRATCH = ".recheck"


def recheck_corpus(
    parent_dir: Path | str, out_dir: Path | str, options: RecheckOptions | None = None
) -> RecheckResult:
    """Write the new version of ``parent_dir`` into ``out_dir``; see the module docstring."""
    options = options or RecheckOptions()
    parent_dir, out_dir = Path(parent_dir), Path(out_dir)
    check_directories(parent_dir, out_dir)
    sign_key = load_private_key(options.sign_key) if options.sign_key else None
    out_dir.mkdir(parents=True, exist_ok=True)
    scratch = out_dir / SCRATCH
    scratch.mkdir()
    result = RecheckResult(parent=str(parent_dir), out=str(out_dir))
    started = time.perf_counter()
    parent = ParentCorpus(parent_dir, out_dir / DB_FILENAME, scratch / SPOOL_NAME)
    spool: PageSpool | None = None
    try:
        _copy_evidence(parent, out_dir / "evidence")
        result.timed("copies of DIR's databases and evidence", started)
        spool = PageSpool(parent.spool_copy or scratch / SPOOL_NAME)
        settings = _settings(parent, out_dir, options)
        state: dict[str, Any] = {}

        def phase(crawler: Any, session: Any) -> Any:
            state["registry"] = registry_state(session.registry)
            decider = RecheckDecider(crawler, session, parent, spool, options, result)
            return decider.run()

        errors: list[str] = []
        started = time.perf_counter()
        crawler = run_command("recheck", settings, RecheckSpider, phase=phase, errors=errors)
        session = getattr(crawler, "tdmcrawl_session", None)
        if session is None or session.error or errors:
            why = (session.error if session is not None else None) or "; ".join(errors)
            raise RecheckError(f"recheck failed: {why or 'see the log'}; see {out_dir / LOG_NAME}")
        result.crawl_id = str(session.crawl_id)
        result.timed("crawl (all of the above)", started)
        started = time.perf_counter()
        scan_all = parent.made_by_filter()
        warc_files = parent.warc_files()
        lineage = parent.lineage()
        parent.close()
        moved = write_version(
            warc_files,
            out_dir / "warc",
            result,
            warcinfo=recheck_warcinfo_fields(settings, parent_dir.resolve()),
            prefix=f"{settings.get('TDMCRAWL_WARC_PREFIX') or 'tdmcrawl'}-recheck",
            warn=_damaged,
            scan_all=scan_all,
        )
        update_audit(out_dir / DB_FILENAME, result, moved)
        update_spool(spool, moved)
        spool.close()
        spool = None
        _install_spool(parent.spool_copy or scratch / SPOOL_NAME, out_dir / SPOOL_NAME)
        result.timed("WARC files, audit and spool written", started)
        started = time.perf_counter()
        _record_run(out_dir / DB_FILENAME, result, options, parent_dir)
        result.manifest = str(
            finish_corpus(
                out_dir,
                kind="recheck",
                crawl_id=result.crawl_id,
                policy={**policy_in_force(settings), "pages": options.pages},
                dedup=dedup_snapshot(settings),
                registry=state.get("registry"),
                parent=lineage,
                sign_key=sign_key,
            )
        )
        result.timed("manifest", started)
        _record_seconds(out_dir / DB_FILENAME, result)
    finally:
        if spool is not None:
            spool.close()
        parent.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return result


def check_directories(parent_dir: Path, out_dir: Path) -> None:
    if not parent_dir.is_dir():
        raise RecheckError(f"{parent_dir}: no such corpus directory")
    if not (parent_dir / DB_FILENAME).is_file():
        raise RecheckError(f"{parent_dir} is not a corpus: {DB_FILENAME} is missing")
    if out_dir.resolve() == parent_dir.resolve():
        raise RecheckError("--out must be a new directory: a recheck never changes DIR")
    if parent_dir.resolve() in out_dir.resolve().parents:
        raise RecheckError("--out must not be inside DIR: a recheck never changes DIR")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise RecheckError(f"--out {out_dir} exists and is not empty: give a new directory")


def _settings(parent: ParentCorpus, out_dir: Path, options: RecheckOptions) -> Any:
    options_dict: dict[str, Any] = {
        # The parent's policy first: a recheck reads today's signals as the corpus was made.
        **parent.settings(),
        "TDMCRAWL_OUT_DIR": str(out_dir),
        "TDMCRAWL_OUTPUT": True,  # the evidence WARC (no page is written by the crawl)
        "TDMCRAWL_AUDIT": True,
        "TDMCRAWL_MANIFEST": False,  # written below, once the new version is complete
        "TDMCRAWL_CRAWL_ID": new_crawl_id(),
        "TDMCRAWL_REGISTRY": str(options.registry) if options.registry else None,
        "TDMCRAWL_TOKEN": options.token,
        "TDMCRAWL_USER_AGENT": options.user_agent,
    }
    return build_settings(options_dict, options.overrides, log_file=out_dir / LOG_NAME)


def _copy_evidence(parent: ParentCorpus, target: Path) -> None:
    """DIR's evidence files, byte for byte: the audit rows copied with them point there."""
    target.mkdir(parents=True, exist_ok=True)
    for path in parent.evidence_files():
        shutil.copyfile(path, target / path.name)


def _damaged(message: str) -> None:
    # A damaged file of DIR would lose records in the copy: stop instead.
    raise RecheckError(f"DIR is damaged ({message}); run `tdmcrawl verify` on it")


def _install_spool(source: Path, target: Path) -> None:
    """The new version's fingerprint spool replaces the empty one the crawl's gate left."""
    db = sqlite3.connect(str(source))
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    for suffix in ("-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
        Path(str(source) + suffix).unlink(missing_ok=True)
    os.replace(source, target)


def _record_run(
    audit: Path, result: RecheckResult, options: RecheckOptions, parent_dir: Path
) -> None:
    """The recheck's crawls row: what it was asked, when it ended, the delta it found."""
    db = sqlite3.connect(str(audit))
    try:
        row = db.execute(
            "SELECT settings FROM crawls WHERE crawl_id = ?", (result.crawl_id,)
        ).fetchone()
        settings = json.loads(row[0]) if row and row[0] else {}
        settings.update(
            {
                "command": "recheck",
                "parent": str(parent_dir.resolve()),
                "pages": options.pages,
                "registry": str(options.registry) if options.registry else None,
            }
        )
        stats = {k: v for k, v in result.to_dict().items() if k != "removed_urls"}
        with db:
            db.execute(
                "UPDATE crawls SET finished_at = ?, settings = ?, stats = ? WHERE crawl_id = ?",
                (
                    iso_utc(),
                    json.dumps(settings, ensure_ascii=False, sort_keys=True, default=str),
                    json.dumps(stats, ensure_ascii=False, sort_keys=True, default=str),
                    result.crawl_id,
                ),
            )
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


def _record_seconds(audit: Path, result: RecheckResult) -> None:
    """The step times, known once the manifest is written, join the run's stats."""
    db = sqlite3.connect(str(audit))
    try:
        (stats,) = db.execute(
            "SELECT stats FROM crawls WHERE crawl_id = ?", (result.crawl_id,)
        ).fetchone()
        figures = json.loads(stats or "{}")
        figures["seconds"] = dict(result.seconds)
        with db:
            db.execute(
                "UPDATE crawls SET stats = ? WHERE crawl_id = ?",
                (json.dumps(figures, ensure_ascii=False, sort_keys=True), result.crawl_id),
            )
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
