"""``tdmcrawl crawl``: crawl from seeds into DIR (WARC, evidence, audit, log).

``run_crawl`` and ``report`` are shared with ``tdmcrawl demo``.

Stopping: the first Ctrl-C (or SIGTERM) prints at once that the crawl is
stopping, finishes the requests under way and closes the WARC files and the
audit; the second stops at once, like a kill. Either way the command prints
the crawl's totals (all its runs, from the audit), says it was interrupted,
and exits with 128 + the signal's number (130, 143); ``--resume`` continues.
Only a clean close marks the crawl stopped in ``tdmcrawl-state.json``.
"""

from __future__ import annotations

import shlex
import shutil
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from tdmcrawl.crawler.audit.db import open_database
from tdmcrawl.crawler.audit.queries import crawl_totals
from tdmcrawl.crawler.cli.options import (
    check_urls,
    echo_json,
    json_option,
    out_dir_option,
    product_token_option,
    read_seeds,
    registry_option,
    setting_overrides,
    settings_option,
    sign_key_option,
    user_agent_option,
    validated,
)
from tdmcrawl.crawler.errors import (
    AuditError,
    ConfigError,
    FrontierError,
    StartError,
    TdmcrawlError,
    UsageError,
    signal_status,
)
from tdmcrawl.crawler.frontier import cli_options
from tdmcrawl.crawler.logfile import LOG_NAME
from tdmcrawl.crawler.progress import summary_table
from tdmcrawl.crawler.run import (
    STATE_FILE,
    build_settings,
    load_state,
    mark_stopped,
    prepare_out_dir,
    run_command,
    save_state,
    signal_name,
)
from tdmcrawl.crawler.signing import load_private_key
from tdmcrawl.crawler.spider import SCOPES, TdmcrawlSpider


@click.command()
@click.argument("urls", nargs=-1)
@click.option(
    "--seeds",
    "seeds_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File of seed URLs, one per line (# comments).",
)
@out_dir_option("Output directory (not inside another crawl's).")
@registry_option(
    "Authors' registry: a database, or a registry service's https:// address (followed "
    "through a replica in --out). Its URL rules and works exclude."
)
@click.option(
    "--max-pages", type=click.IntRange(min=0), help="Send at most N page requests (0: no limit)."
)
@click.option("--max-depth", type=click.IntRange(min=0), help="Follow links at most N deep.")
@click.option(
    "--scope",
    type=click.Choice(SCOPES),
    default=None,
    help="Follow links within the seeds' hosts (default), domains, or anywhere.",
)
@click.option("--resume", is_flag=True, help="Continue the interrupted crawl in --out.")
@click.option(
    "--redis",
    "redis_url",
    metavar="URL",
    help="Share the frontier (and the reserved-works index) with other nodes "
    "through this Redis, e.g. redis://host:6379/0.",
)
@product_token_option
@user_agent_option
@click.option("--contact", help="Contact URL put in the User-Agent.")
@sign_key_option
@settings_option
@click.option(
    "--progress",
    "progress_interval",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="Seconds between progress lines on stderr (0: off).",
)
@json_option
def crawl(
    urls: tuple[str, ...],
    seeds_file: Path | None,
    out_dir: Path,
    registry: Path | str | None,
    max_pages: int | None,
    max_depth: int | None,
    scope: str | None,
    resume: bool,
    redis_url: str | None,
    token: str | None,
    user_agent: str | None,
    contact: str | None,
    sign_key: Path | None,
    overrides: tuple[str, ...],
    progress_interval: float,
    as_json: bool,
) -> None:
    """Crawl from the seed URLs, keeping only what may be used for AI training.

    Writes DIR/warc/*.warc.gz, DIR/evidence/, DIR/audit.sqlite and DIR/tdmcrawl.log.
    Ctrl-C stops cleanly (a second Ctrl-C at once); --resume continues. An
    interrupted crawl exits with 130 (Ctrl-C) or 143 (SIGTERM).

    Example:

        tdmcrawl crawl https://example.org/ --out crawl-out --max-pages 100
    """
    try:
        seeds = list(urls) + (read_seeds(seeds_file) if seeds_file else [])
    except UsageError as exc:
        raise click.UsageError(str(exc)) from exc
    extra = setting_overrides(overrides)
    check_urls(seeds, "URLS")
    if sign_key:
        try:
            load_private_key(sign_key)  # a key that cannot be used stops here, not at the end
        except UsageError as exc:
            raise click.BadParameter(str(exc), param_hint="--sign-key") from exc
    if resume and not seeds:
        seeds = list(load_state(out_dir).get("seeds", []))
    if not seeds:
        raise click.UsageError("give at least one seed URL (arguments or --seeds)")
    options: dict[str, Any] = {
        "TDMCRAWL_OUT_DIR": str(out_dir),
        "TDMCRAWL_REGISTRY": str(registry) if registry else None,
        "TDMCRAWL_MAX_PAGES": max_pages,
        "DEPTH_LIMIT": max_depth,
        "TDMCRAWL_SCOPE": scope,
        "TDMCRAWL_TOKEN": token,
        "TDMCRAWL_USER_AGENT": user_agent,
        "TDMCRAWL_CONTACT": contact,
        "TDMCRAWL_SIGN_KEY": str(sign_key) if sign_key else None,
        "TDMCRAWL_PROGRESS_INTERVAL": progress_interval,
    }
    validated(build_settings(options, extra))  # before anything is written to DIR
    try:
        state_options = prepare_out_dir(out_dir, resume=resume)
    except UsageError as exc:
        raise click.UsageError(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot use {out_dir}: {exc}") from exc
    state = load_state(out_dir)
    state["seeds"] = seeds
    try:
        frontier = cli_options(redis_url, seeds, state, extra, resume=resume)
    except (FrontierError, ConfigError):
        if not resume:  # nothing ran: the same command can be given again
            (out_dir / STATE_FILE).unlink(missing_ok=True)
        raise
    save_state(out_dir, state)
    options = {**state_options, **frontier, **options}
    outcome = run_crawl(options, extra, out_dir, seeds)
    follow = getattr(outcome.session, "registry_follow", None)
    if follow is not None and follow.warning:
        click.echo(f"Warning: {follow.warning}", err=True)
    report(outcome, out_dir, as_json=as_json)
    if outcome.interrupted:
        click.echo(outcome.stop_line(out_dir), err=True)
        raise click.exceptions.Exit(outcome.exit_status)
    if not frontier:  # a node of a shared frontier may never meet a seed host: another did
        check_seeds_answered(outcome.session, seeds, out_dir)


@dataclass(frozen=True)
class CrawlOutcome:
    """How one run of a crawl ended: its session, the stop signals, a clean close or not."""

    session: Any
    signals: tuple[int, ...] = ()
    clean: bool = True
    totals: dict[str, Any] = field(default_factory=dict)  # the crawl's, all runs (audit)

    @property
    def interrupted(self) -> bool:
        return bool(self.signals) or not self.clean

    @property
    def forced(self) -> bool:
        return not self.clean

    @property
    def exit_status(self) -> int:
        if self.signals:
            return signal_status(self.signals[-1] if self.forced else self.signals[0])
        return 1  # not closed cleanly without a signal: the log says why

    def how(self) -> str:
        """How the run stopped, in words (for an interrupted crawl)."""
        if self.clean:
            return f"{signal_name(self.signals[0])}, stopped cleanly"
        if self.signals:
            return f"stopped at once by {signal_name(self.signals[-1])}, not closed cleanly"
        return "not closed cleanly"

    def stop_line(self, out_dir: Path) -> str:
        resume = resume_command(out_dir)
        name = signal_name(self.signals[-1 if self.forced else 0]) if self.signals else ""
        if self.clean:
            return (
                f"tdmcrawl: crawl interrupted ({name}) and stopped cleanly; {resume} continues it"
            )
        how = f"stopped at once ({name})" if name else "did not close cleanly"
        return (
            f"tdmcrawl: crawl {how}: WARC files left .open, the audit may lack the last "
            f"pages; {resume} recovers both and continues the crawl"
        )


def resume_command(out_dir: Path) -> str:
    return f"tdmcrawl crawl --out {shlex.quote(str(out_dir))} --resume"


def stop_messages(out_dir: Path) -> tuple[str, str]:
    """What the terminal says the moment a stop signal arrives (see crawler.run)."""
    resume = resume_command(out_dir)
    return (
        "tdmcrawl: {signal}: stopping: finishing the pages being fetched, then closing the "
        "WARC files and the audit. Press Ctrl-C again (or send SIGTERM again) to stop at "
        f"once. Then `{resume}` continues the crawl.",
        "tdmcrawl: {signal} again: stopping at once; WARC files stay .open and the audit may "
        f"lack the last pages: `{resume}` recovers them and continues the crawl.",
    )


def run_crawl(
    options: dict[str, Any], extra: dict[str, str], out_dir: Path, seeds: list[str]
) -> CrawlOutcome:
    """One crawl into ``out_dir``; how it ended, or one line saying why it failed."""
    settings = build_settings(
        {**options, "TDMCRAWL_SUMMARY": False}, extra, log_file=out_dir / LOG_NAME
    )
    crawler = run_command(
        "crawl", settings, TdmcrawlSpider, stop_messages=stop_messages(out_dir), seeds=seeds
    )
    session = getattr(crawler, "tdmcrawl_session", None)
    signals = tuple(getattr(crawler, "tdmcrawl_stop_signals", ()))
    # Only a clean engine close marks the crawl stopped: anything else resumes like a kill.
    clean = (
        session is not None
        and session.clean_close
        and not any(out_dir.glob("warc/*.open"))
        and not any(out_dir.glob("evidence/*.open"))
    )
    if clean or session is None or not session.opened:
        mark_stopped(out_dir)
    elif session.audit is not None:
        _commit_audit(session)  # the rows queued so far, for the report and the recovery
    if session is None:
        raise StartError(f"crawl failed to start; see {out_dir / LOG_NAME}")
    if session.error:
        if not session.kept and not session.excluded:
            # Nothing happened: let the same command run again without --resume.
            shutil.rmtree(out_dir / "job", ignore_errors=True)
            (out_dir / STATE_FILE).unlink(missing_ok=True)
        raise TdmcrawlError(f"crawl failed: {session.error}; see {out_dir / LOG_NAME}")
    return CrawlOutcome(session, signals, clean, _totals(out_dir, session))


def check_seeds_answered(session: Any, seeds: list[str], out_dir: Path) -> None:
    """A crawl none of whose seed hosts ever answered fails (exit 1); one that reached
    only some of them says which did not, on stderr."""
    silent = session.unanswered(seeds)
    if not silent:
        return
    hosts = ", ".join(silent)
    if len(silent) == len(session.origins_of(seeds)):
        raise TdmcrawlError(
            f"no seed host answered ({hosts}): nothing was crawled; see {out_dir / LOG_NAME}"
        )
    click.echo(f"Warning: seed host {hosts} never answered; see {out_dir / LOG_NAME}", err=True)


def _commit_audit(session: Any) -> None:
    """After a forced stop: commit what the audit writer holds (the WARC files stay .open)."""
    try:
        session.audit.close()
    except AuditError as exc:
        click.echo(f"tdmcrawl: {exc}", err=True)


def _totals(out_dir: Path, session: Any) -> dict[str, Any]:
    """The crawl's totals from the audit (every run of its id); this run's without one."""
    path = out_dir / "audit.sqlite"
    if session.crawl_id and session.audit_enabled and path.exists():
        try:
            db = open_database(path, migrate=False)
        except (AuditError, sqlite3.Error):
            pass
        else:
            try:
                return crawl_totals(db, session.crawl_id)
            except sqlite3.Error:
                pass
            finally:
                db.close()
    return {"kept": session.kept, "excluded": dict(session.excluded)}


def report(outcome: CrawlOutcome, out_dir: Path, *, as_json: bool) -> None:
    """The summary table of the crawl (all its runs) and the files written (or one JSON
    object); an interrupted crawl says so."""
    session = outcome.session
    warcs = sorted(str(p) for p in (out_dir / "warc").glob("*.warc.gz"))
    evidence = sorted(str(p) for p in (out_dir / "evidence").glob("*.warc.gz"))
    audit = out_dir / "audit.sqlite"
    kept = int(outcome.totals.get("kept", session.kept))
    excluded: Counter[tuple[str, str]] = Counter(outcome.totals.get("excluded", session.excluded))
    if as_json:
        echo_json(
            {
                "crawl_id": session.crawl_id,
                "interrupted": outcome.interrupted,
                "stopped": _stopped(outcome),
                "kept": kept,
                "excluded": {
                    f"{stage}:{reason}": n for (stage, reason), n in sorted(excluded.items())
                },
                "run": {
                    "kept": session.kept,
                    "excluded": {
                        f"{stage}:{reason}": n
                        for (stage, reason), n in sorted(session.excluded.items())
                    },
                },
                "warc_files": warcs,
                "evidence_files": evidence,
                "audit": str(audit),
                "manifest": str(out_dir / "manifest.json"),
                "log": str(out_dir / LOG_NAME),
            }
        )
        return
    if outcome.interrupted:
        click.echo(f"crawl interrupted: {outcome.how()}; totals of the crawl so far:")
    click.echo(summary_table(kept, excluded))
    if (session.kept, sum(session.excluded.values())) != (kept, sum(excluded.values())):
        click.echo(
            f"this run: kept {session.kept}, excluded {sum(session.excluded.values())} "
            "(the table counts every run of this crawl)"
        )
    click.echo("")
    click.echo(f"WARC files ({len(warcs)}):   {out_dir / 'warc'}/")
    for path in warcs:
        click.echo(f"  {path}")
    click.echo(f"evidence ({len(evidence)}):     {out_dir / 'evidence'}/")
    click.echo(f"audit:            {audit}")
    click.echo(f"manifest:         {out_dir / 'manifest.json'}")
    click.echo(f"log:              {out_dir / LOG_NAME}")
    click.echo(f"explain a URL:    tdmcrawl audit {out_dir}")


def _stopped(outcome: CrawlOutcome) -> str:
    """finished | interrupted (a clean stop after a signal) | forced (not closed cleanly)."""
    if outcome.forced:
        return "forced"
    return "interrupted" if outcome.signals else "finished"
