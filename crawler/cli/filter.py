"""``tdmcrawl filter IN.warc.gz... --out DIR``: the opt-out policy on existing WARC files.

A thin command over :func:`tdmcrawl.crawler.filter.filter_warc_files`: damaged
records are one ``Warning:`` line each on stderr; an input that is not a WARC
file is one ``Error:`` line and exit 1 (files already finished are kept).
"""

from __future__ import annotations

from pathlib import Path

import click

from tdmcrawl.crawler import settings as tds
from tdmcrawl.crawler.cli.options import (
    echo_json,
    json_option,
    out_dir_option,
    product_token_option,
    registry_option,
    setting_overrides,
    settings_option,
    sign_key_option,
    validated,
)
from tdmcrawl.crawler.errors import UsageError
from tdmcrawl.crawler.filter import FilterOptions, FilterResult, filter_warc_files
from tdmcrawl.crawler.filter.parallel import close_client, dask_client, filter_on_dask
from tdmcrawl.crawler.signing import load_private_key
from tdmcrawl.crawler.warc.records import DEFAULT_MAX_SIZE

# The `-s` settings that mean something to filter: the policy switches, the near-duplicate
# step, the output files. Any other is refused rather than silently ignored.
FILTER_SETTINGS = frozenset(
    {
        "TDMCRAWL_TOKEN",
        "TDMCRAWL_AI_AGENTS",
        "TDMCRAWL_NOAI",
        "TDMCRAWL_TDMREP",
        "TDMCRAWL_CONTENT_USAGE",
        "TDMCRAWL_CONTENT_SIGNAL",
        "TDMCRAWL_AIPREF_COMPAT",
        "TDMCRAWL_AI_TXT",
        "TDMCRAWL_HTML_META_MAX_BYTES",
        "TDMCRAWL_ROBOTS_REDIRECTS_UNAVAILABLE",
        "TDMCRAWL_RSL",
        "TDMCRAWL_RSL_LICENSES",
        "TDMCRAWL_RSL_TOKEN_VARIANTS",
        "TDMCRAWL_TDMREP_OBJECT",
        "TDMCRAWL_TDMREP_STRING",
        "TDMCRAWL_TDMREP_VARIANTS",
        "TDMCRAWL_AI_AGENTS_LOOKALIKES",
        "TDMCRAWL_ROBOTS_COMMENTS",
        "TDMCRAWL_AGENTS_FILE",
        "TDMCRAWL_DEDUP",
        "TDMCRAWL_WARC_MAX_SIZE",
        "TDMCRAWL_WORKERS",
    }
)


@click.command("filter")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@out_dir_option("Output directory: warc/*.warc.gz and audit.sqlite (not inside a crawl's).")
@registry_option(
    "Authors' opt-out registry (URL rules and registered works): a database, or a "
    "registry service's https:// address (followed through a replica in --out)."
)
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
    "--robots-redirects-unavailable",
    is_flag=True,
    help="Read a robots.txt behind more than five redirects as unavailable (allow all, "
    "RFC 9309 2.3.1.2) instead of unreachable (complete disallow).",
)
@click.option(
    "--rsl-license",
    "rsl_licenses",
    multiple=True,
    metavar="URL",
    help="An RSL licence the operator holds (licence, <standard> or server URL; repeatable).",
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
@settings_option
@sign_key_option
@json_option
def filter_warcs(
    inputs: tuple[Path, ...],
    out_dir: Path,
    registry: Path | str | None,
    evidence: tuple[Path, ...],
    require_robots: bool,
    no_near_duplicates: bool,
    token: str | None,
    no_ai_agents: bool,
    robots_redirects_unavailable: bool,
    rsl_licenses: tuple[str, ...],
    max_size: int,
    workers: int | None,
    scheduler: str | None,
    overrides: tuple[str, ...],
    sign_key: Path | None,
    as_json: bool,
) -> None:
    """Copy the records of existing WARC files that no opt-out reserves.

    Reads robots.txt, tdmrep.json, ai.txt and RSL licence captures from the
    inputs and --evidence, decides every page (HTML, text, PDF, EPUB) with the
    crawl's policy, drops reserved
    pages with their request/metadata records and near-duplicates of reserved
    works, and audits each excluded URL in DIR/audit.sqlite.

    With --workers or --scheduler, the work on each input file runs on Dask
    (pip install 'tdmcrawl[dask]'); the output holds the same records.

    Example:

        tdmcrawl filter CC-MAIN-*.warc.gz --evidence robotstxt/ --out clean --workers 4
    """
    if workers and scheduler:
        raise UsageError("give --workers or --scheduler, not both")
    extra = setting_overrides(overrides)
    ignored = sorted(set(extra) - FILTER_SETTINGS)
    if ignored and all(name in tds.SETTINGS for name in ignored):
        raise UsageError(
            f"-s {ignored[0]} has no effect on filter; it takes "
            + ", ".join(sorted(FILTER_SETTINGS))
        )
    given = {
        "TDMCRAWL_TOKEN": token,
        "TDMCRAWL_AI_AGENTS": False if no_ai_agents else None,
        "TDMCRAWL_ROBOTS_REDIRECTS_UNAVAILABLE": True if robots_redirects_unavailable else None,
        "TDMCRAWL_RSL_LICENSES": list(rsl_licenses) if rsl_licenses else None,
        "TDMCRAWL_DEDUP": False if no_near_duplicates else None,
        "TDMCRAWL_WARC_MAX_SIZE": max_size,
    }
    # The options, then -s on top, as `crawl` reads them; one validation for both.
    settings = validated(
        {
            "TDMCRAWL_OUT_DIR": str(out_dir),
            **{name: value for name, value in given.items() if value is not None},
            **extra,
        }
    )
    if ignored:  # misspelt names were refused above; what is left is Scrapy's
        raise UsageError(f"-s {ignored[0]} has no effect on filter (it reads no Scrapy setting)")
    options = FilterOptions(
        policy=tds.policy_config(settings),
        registry=registry,
        require_robots=require_robots,
        near_duplicates=tds.getbool(settings, "TDMCRAWL_DEDUP"),
        max_size=int(tds.get(settings, "TDMCRAWL_WARC_MAX_SIZE")),
        workers=int(tds.get(settings, "TDMCRAWL_WORKERS")),
        sign_key=sign_key,
    )
    if sign_key:
        load_private_key(sign_key)  # a key that cannot be used stops here, before any work
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
    if result.files:
        manifest = Path(result.files[0]).parent.parent / "manifest.json"
        lines.append(f"wrote {manifest}")
    return "\n".join(lines)
