"""``tdmcrawl crawl``: crawl from seeds into DIR (WARC, evidence, audit, log).

``run_crawl`` and ``report`` are shared with ``tdmcrawl demo``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import click

from tdmcrawl.crawler.cli.options import (
    check_urls,
    echo_json,
    json_option,
    product_token_option,
    read_seeds,
    registry_option,
    setting_overrides,
    settings_option,
    sign_key_option,
    user_agent_option,
)
from tdmcrawl.crawler.errors import (
    ConfigError,
    FrontierError,
    StartError,
    TdmcrawlError,
    UsageError,
)
from tdmcrawl.crawler.frontier import cli_options
from tdmcrawl.crawler.progress import summary_table
from tdmcrawl.crawler.run import (
    STATE_FILE,
    build_settings,
    load_state,
    mark_stopped,
    prepare_out_dir,
    run_command,
    save_state,
)
from tdmcrawl.crawler.signing import load_private_key
from tdmcrawl.crawler.spider import SCOPES, TdmcrawlSpider

LOG_NAME = "tdmcrawl.log"


@click.command()
@click.argument("urls", nargs=-1)
@click.option(
    "--seeds",
    "seeds_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File of seed URLs, one per line (# comments).",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output directory.",
)
@registry_option("Authors' registry database: its URL rules and works exclude.")
@click.option("--max-pages", type=click.IntRange(min=0), help="Stop after N pages (0: no limit).")
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
    type=float,
    default=5.0,
    show_default=True,
    help="Seconds between progress lines on stderr (0: off).",
)
@json_option
def crawl(
    urls: tuple[str, ...],
    seeds_file: Path | None,
    out_dir: Path,
    registry: Path | None,
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
    Ctrl-C stops cleanly; --resume continues.

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
        "TDMCRAWL_SIGN_KEY": str(sign_key) if sign_key else None,
        "TDMCRAWL_PROGRESS_INTERVAL": progress_interval,
    }
    session = run_crawl(options, extra, out_dir, seeds)
    report(session, out_dir, as_json=as_json)


def run_crawl(
    options: dict[str, Any], extra: dict[str, str], out_dir: Path, seeds: list[str]
) -> Any:
    """One crawl into ``out_dir``; its session, or one line saying why it failed."""
    settings = build_settings(
        {**options, "TDMCRAWL_SUMMARY": False}, extra, log_file=out_dir / LOG_NAME
    )
    crawler = run_command("crawl", settings, TdmcrawlSpider, seeds=seeds)
    mark_stopped(out_dir)
    session = getattr(crawler, "tdmcrawl_session", None)
    if session is None:
        raise StartError(f"crawl failed to start; see {out_dir / LOG_NAME}")
    if session.error:
        if not session.kept and not session.excluded:
            # Nothing happened: let the same command run again without --resume.
            shutil.rmtree(out_dir / "job", ignore_errors=True)
            (out_dir / STATE_FILE).unlink(missing_ok=True)
        raise TdmcrawlError(f"crawl failed: {session.error}; see {out_dir / LOG_NAME}")
    return session


def report(session: Any, out_dir: Path, *, as_json: bool) -> None:
    """The summary table and the files written (or one JSON object)."""
    warcs = sorted(str(p) for p in (out_dir / "warc").glob("*.warc.gz"))
    evidence = sorted(str(p) for p in (out_dir / "evidence").glob("*.warc.gz"))
    audit = out_dir / "audit.sqlite"
    if as_json:
        echo_json(
            {
                "crawl_id": session.crawl_id,
                "kept": session.kept,
                "excluded": {
                    f"{stage}:{reason}": n
                    for (stage, reason), n in sorted(session.excluded.items())
                },
                "warc_files": warcs,
                "evidence_files": evidence,
                "audit": str(audit),
                "manifest": str(out_dir / "manifest.json"),
                "log": str(out_dir / LOG_NAME),
            }
        )
        return
    click.echo(summary_table(session.kept, session.excluded))
    click.echo("")
    click.echo(f"WARC files ({len(warcs)}):   {out_dir / 'warc'}/")
    for path in warcs:
        click.echo(f"  {path}")
    click.echo(f"evidence ({len(evidence)}):     {out_dir / 'evidence'}/")
    click.echo(f"audit:            {audit}")
    click.echo(f"manifest:         {out_dir / 'manifest.json'}")
    click.echo(f"log:              {out_dir / LOG_NAME}")
    click.echo(f"explain a URL:    tdmcrawl audit {out_dir}")
