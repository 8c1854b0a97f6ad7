"""``tdmcrawl demo``: the bundled example web, served on loopback and crawled."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from tdmcrawl.crawler.cli.crawl import LOG_NAME, report, run_crawl
from tdmcrawl.crawler.cli.options import json_option, setting_overrides, settings_option
from tdmcrawl.crawler.demo.example import DEMO_SETTINGS, demo_web, describe
from tdmcrawl.crawler.run import STATE_FILE, load_state, prepare_out_dir, save_state


@click.command()
@click.option(
    "--out",
    "out_dir",
    default="demo-out",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output directory.",
)
@settings_option
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
    extra = setting_overrides(overrides)
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
        outcome = run_crawl(options, extra, out_dir, seeds)
    report(outcome, out_dir, as_json=as_json)


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
