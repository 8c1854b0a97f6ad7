"""``tdmcrawl crawl`` and ``tdmcrawl demo``."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import click

from crawler.cliutil import echo_json, http_url_problem, json_option, validate_token
from crawler.run import (
    STATE_FILE,
    StartError,
    UsageError,
    build_settings,
    load_state,
    mark_stopped,
    parse_overrides,
    prepare_out_dir,
    read_seeds,
    run,
    save_state,
)
from crawler.spider import SCOPES

LOG_NAME = "tdmcrawl.log"


def _check_urls(urls: list[str], param: str) -> None:
    for url in urls:
        problem = http_url_problem(url)
        if problem:
            raise click.BadParameter(problem, param_hint=param)


@click.command()
@click.argument("urls", nargs=-1)
@click.option("--seeds", "seeds_file", type=click.Path(dir_okay=False, path_type=Path),
              help="File of seed URLs, one per line (# comments).")
@click.option("--out", "out_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path), help="Output directory.")
@click.option("--registry", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Authors' registry database: its URL rules exclude before fetching.")
@click.option("--max-pages", type=click.IntRange(min=0), help="Stop after N pages (0: no limit).")
@click.option("--max-depth", type=click.IntRange(min=0), help="Follow links at most N deep.")
@click.option("--scope", type=click.Choice(SCOPES), default=None,
              help="Follow links within the seeds' hosts (default), domains, or anywhere.")
@click.option("--resume", is_flag=True, help="Continue the interrupted crawl in --out.")
@click.option("--redis", "redis_url", metavar="URL",
              help="Share the frontier (and the reserved-works index) with other nodes "
                   "through this Redis, e.g. redis://host:6379/0.")
@click.option("--token", callback=validate_token,
              help="Product token for robots.txt (default: tdmcrawl).")
@click.option("--user-agent", help="Full User-Agent string.")
@click.option("--contact", help="Contact URL put in the User-Agent.")
@click.option("-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE",
              help="Override any Scrapy or TDMCRAWL_* setting (repeatable).")
@click.option("--progress", "progress_interval", type=float, default=5.0, show_default=True,
              help="Seconds between progress lines on stderr (0: off).")
@json_option
def crawl(urls: tuple[str, ...], seeds_file: Path | None, out_dir: Path, registry: Path | None,
          max_pages: int | None, max_depth: int | None, scope: str | None, resume: bool,
          redis_url: str | None,
          token: str | None, user_agent: str | None, contact: str | None,
          overrides: tuple[str, ...], progress_interval: float, as_json: bool) -> None:
    """Crawl from the seed URLs, keeping only what may be used for AI training.

    Writes DIR/warc/*.warc.gz, DIR/evidence/, DIR/audit.sqlite and DIR/tdmcrawl.log.
    Ctrl-C stops cleanly; --resume continues.

    Example:

        tdmcrawl crawl https://example.org/ --out crawl-out --max-pages 100
    """
    try:
        seeds = list(urls) + (read_seeds(seeds_file) if seeds_file else [])
        extra = parse_overrides(overrides)
    except UsageError as exc:
        raise click.UsageError(str(exc)) from exc
    _check_urls(seeds, "URLS")
    if resume and not seeds:
        seeds = list(load_state(out_dir).get("seeds", []))
    if not seeds:
        raise click.UsageError("give at least one seed URL (arguments or --seeds)")
    try:
        state_options = prepare_out_dir(out_dir, resume=resume)
    except UsageError as exc:
        raise click.UsageError(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot use {out_dir}: {exc}") from exc
    state = load_state(out_dir)
    state["seeds"] = seeds
    from crawler.frontier import FrontierError, cli_options

    try:
        frontier = cli_options(redis_url, seeds, state, extra, resume=resume)
    except FrontierError as exc:
        if not resume:  # nothing ran: the same command can be given again
            (out_dir / STATE_FILE).unlink(missing_ok=True)
        raise click.ClickException(str(exc)) from exc
    save_state(out_dir, state)
    options: dict[str, Any] = {
        **state_options,
        **frontier,
        "TDMCRAWL_OUT_DIR": str(out_dir),
        "TDMCRAWL_REGISTRY": str(registry) if registry else None,
        "TDMCRAWL_MAX_PAGES": max_pages,
        "DEPTH_LIMIT": max_depth,
        "TDMCRAWL_SCOPE": scope,
        "TDMCRAWL_TOKEN": token,
        "TDMCRAWL_USER_AGENT": user_agent,
        "TDMCRAWL_CONTACT": contact,
        "TDMCRAWL_PROGRESS_INTERVAL": progress_interval,
    }
    session = _run_crawl(options, extra, out_dir, seeds)
    _report(session, out_dir, as_json=as_json)


@click.command()
@click.option("--out", "out_dir", default="demo-out", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Output directory.")
@click.option("-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE",
              help="Override any Scrapy or TDMCRAWL_* setting (repeatable).")
@json_option
def demo(out_dir: Path, overrides: tuple[str, ...], as_json: bool) -> None:
    """Serve the bundled example web on loopback and crawl it.

    Several sites, each showing one kind of opt-out (robots.txt, TDMRep file,
    header and meta, noai, Content-Usage, Content-Signal, AI-crawler rules,
    ai.txt, an unreachable robots.txt), Kazakh and Russian pages, and a copy
    of a reserved article on another origin.

    Example:

        tdmcrawl demo --out demo-out
    """
    from crawler.demo import DEMO_SETTINGS, demo_web, describe

    try:
        extra = parse_overrides(overrides)
    except UsageError as exc:
        raise click.UsageError(str(exc)) from exc
    _clear_previous_demo(out_dir)
    with demo_web() as web:
        if not as_json:
            click.echo("tdmcrawl demo: the example web is served on loopback:")
            for name, origin, about in describe(web):
                click.echo(f"  {origin:<24} {name:<8} {about}")
            click.echo("")
        seeds = [web.url("library", "/")]
        state_options = prepare_out_dir(out_dir, resume=False)
        state = load_state(out_dir)
        state.update(seeds=seeds, demo=True)
        save_state(out_dir, state)
        options = {
            **DEMO_SETTINGS,
            **state_options,
            "TDMCRAWL_OUT_DIR": str(out_dir),
            "TDMCRAWL_PROGRESS_INTERVAL": 0,
        }
        session = _run_crawl(options, extra, out_dir, seeds)
    _report(session, out_dir, as_json=as_json)


def _clear_previous_demo(out_dir: Path) -> None:
    """A second ``make demo`` starts afresh, but only over an earlier demo's files."""
    if not out_dir.exists():
        return
    if not load_state(out_dir).get("demo"):
        if any(out_dir.iterdir()):
            raise click.UsageError(f"{out_dir} exists and is not an earlier demo: choose --out")
        return
    for name in ("warc", "evidence", "job"):
        shutil.rmtree(out_dir / name, ignore_errors=True)
    for name in ("audit.sqlite", "audit.sqlite-wal", "audit.sqlite-shm", LOG_NAME, STATE_FILE):
        (out_dir / name).unlink(missing_ok=True)


def _run_crawl(options: dict[str, Any], extra: dict[str, str], out_dir: Path,
               seeds: list[str]) -> Any:
    from crawler.spider import TdmcrawlSpider

    settings = build_settings(
        {**options, "TDMCRAWL_SUMMARY": False}, extra, log_file=out_dir / LOG_NAME
    )
    try:
        crawler = run(settings, TdmcrawlSpider, seeds=seeds)
    except StartError as exc:
        raise click.ClickException(f"crawl failed to start: {exc}") from exc
    except Exception as exc:  # a crawl that could not start: one line, details in the log
        raise click.ClickException(f"crawl failed: {type(exc).__name__}: {exc}") from exc
    mark_stopped(out_dir)
    session = getattr(crawler, "tdmcrawl_session", None)
    if session is None:
        raise click.ClickException(f"crawl failed to start; see {out_dir / LOG_NAME}")
    if session.error:
        if not session.kept and not session.excluded:
            # Nothing happened: let the same command run again without --resume.
            shutil.rmtree(out_dir / "job", ignore_errors=True)
            (out_dir / STATE_FILE).unlink(missing_ok=True)
        raise click.ClickException(f"crawl failed: {session.error}; see {out_dir / LOG_NAME}")
    return session


def _report(session: Any, out_dir: Path, *, as_json: bool) -> None:
    from crawler.progress import summary_table

    warcs = sorted(str(p) for p in (out_dir / "warc").glob("*.warc.gz"))
    evidence = sorted(str(p) for p in (out_dir / "evidence").glob("*.warc.gz"))
    audit = out_dir / "audit.sqlite"
    if as_json:
        echo_json({
            "crawl_id": session.crawl_id,
            "kept": session.kept,
            "excluded": {f"{stage}:{reason}": n for (stage, reason), n
                         in sorted(session.excluded.items())},
            "warc_files": warcs,
            "evidence_files": evidence,
            "audit": str(audit),
            "log": str(out_dir / LOG_NAME),
        })
        return
    click.echo(summary_table(session.kept, session.excluded))
    click.echo("")
    click.echo(f"WARC files ({len(warcs)}):   {out_dir / 'warc'}/")
    for path in warcs:
        click.echo(f"  {path}")
    click.echo(f"evidence ({len(evidence)}):     {out_dir / 'evidence'}/")
    click.echo(f"audit:            {audit}")
    click.echo(f"log:              {out_dir / LOG_NAME}")
    click.echo(f"explain a URL:    tdmcrawl audit {out_dir}")
