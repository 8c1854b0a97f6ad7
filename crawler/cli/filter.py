"""``tdmcrawl filter IN.warc.gz... --out DIR``: the opt-out policy on existing WARC files.

A thin command over :func:`tdmcrawl.crawler.filter.filter_warc_files`: damaged
records are one ``Warning:`` line each on stderr; an input that is not a WARC
file is one ``Error:`` line and exit 1 (files already finished are kept).
"""

from __future__ import annotations

from pathlib import Path

import click

from tdmcrawl.crawler.cli.options import (
    echo_json,
    json_option,
    product_token_option,
    registry_option,
)
from tdmcrawl.crawler.filter import FilterOptions, FilterResult, filter_warc_files
from tdmcrawl.crawler.filter.parallel import close_client, dask_client, filter_on_dask
from tdmcrawl.crawler.warc.records import DEFAULT_MAX_SIZE
from tdmcrawl.optout.policy import PolicyConfig


@click.command("filter")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output directory: warc/*.warc.gz and audit.sqlite.",
)
@registry_option("Authors' opt-out registry (URL rules and registered works).")
@click.option(
    "--evidence",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="WARC file or directory with robots.txt/tdmrep.json/ai.txt captures "
    "(repeatable), e.g. a crawl's DIR/evidence or Common Crawl robotstxt files.",
)
@click.option(
    "--require-robots",
    is_flag=True,
    help="Exclude pages of origins with no robots.txt capture (robots-unreachable) "
    "instead of reading them with no robots.txt signal.",
)
@click.option(
    "--no-near-duplicates",
    is_flag=True,
    help="Skip the near-duplicate check against registered works and reserved pages.",
)
@product_token_option
@click.option(
    "--no-ai-agents",
    is_flag=True,
    help="Do not read robots.txt rules for AI-training crawlers as a reservation.",
)
@click.option(
    "--max-size",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_SIZE,
    show_default=True,
    help="Rotate output files at this many bytes.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Run the passes on a local Dask cluster of N worker processes.",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Run the passes on an existing Dask cluster, e.g. tcp://host:8786 "
    "(DIR, inputs and registry at the same paths on every worker).",
)
@json_option
def filter_warcs(
    inputs: tuple[Path, ...],
    out_dir: Path,
    registry: Path | None,
    evidence: tuple[Path, ...],
    require_robots: bool,
    no_near_duplicates: bool,
    token: str | None,
    no_ai_agents: bool,
    max_size: int,
    workers: int | None,
    scheduler: str | None,
    as_json: bool,
) -> None:
    """Copy the records of existing WARC files that no opt-out reserves.

    Reads robots.txt, tdmrep.json and ai.txt captures from the inputs and
    --evidence, decides every page with the crawl's policy, drops reserved
    pages with their request/metadata records and near-duplicates of reserved
    works, and audits each excluded URL in DIR/audit.sqlite.

    With --workers or --scheduler, the work on each input file runs on Dask
    (pip install 'tdmcrawl[dask]'); the output holds the same records.

    Example:

        tdmcrawl filter CC-MAIN-*.warc.gz --evidence robotstxt/ --out clean --workers 4
    """
    if workers and scheduler:
        raise click.UsageError("give --workers or --scheduler, not both")
    policy = PolicyConfig(token=token or "tdmcrawl", ai_agents=not no_ai_agents)
    options = FilterOptions(
        policy=policy,
        registry=registry,
        require_robots=require_robots,
        near_duplicates=not no_near_duplicates,
        max_size=max_size,
    )
    try:
        if workers or scheduler:
            client = dask_client(workers=workers, scheduler=scheduler)
            try:
                result = filter_on_dask(
                    client, inputs, out_dir, evidence=evidence, options=options, warn=_warn
                )
            finally:
                close_client(client)
        else:
            result = filter_warc_files(
                inputs, out_dir, evidence=evidence, options=options, warn=_warn
            )
    except OSError as exc:
        raise click.ClickException(f"cannot filter into {out_dir}: {exc}") from exc
    if as_json:
        echo_json(result.to_dict())
    else:
        click.echo(summary(result))


def _warn(message: str) -> None:
    click.echo(f"Warning: {message}", err=True)


def summary(result: FilterResult) -> str:
    """Kept, then excluded URLs by reason, then damaged records and the files written."""
    rows = [("records kept", str(result.records_kept)), ("pages kept", str(result.pages_kept))]
    for reason, count in sorted(result.excluded.items(), key=lambda kv: (-kv[1], kv[0])):
        rows.append((f"excluded: {reason}", str(count)))
    rows.append(("total excluded URLs", str(sum(result.excluded.values()))))
    rows.append(("damaged records skipped", str(result.bad_records)))
    width = max(len(name) for name, _ in rows)
    number = max(len(value) for _, value in rows)
    lines = [f"{name:<{width}}  {value:>{number}}" for name, value in rows]
    lines += [f"note: {note}" for note in result.notes]
    lines += [f"wrote {path}" for path in result.files]
    return "\n".join(lines)
