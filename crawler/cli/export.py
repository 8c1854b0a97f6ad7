"""``tdmcrawl export DIR --format jsonl|parquet --out PATH``: kept pages for training pipelines.

A thin command over :func:`tdmcrawl.crawler.export.export_corpus`.
"""

from __future__ import annotations

from pathlib import Path

import click

from tdmcrawl.crawler.cli.options import echo_json, json_option
from tdmcrawl.crawler.errors import UsageError
from tdmcrawl.crawler.export import FORMATS, ROW_GROUP_SIZE, export_corpus


@click.command("export")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="jsonl (gzip or zstd when PATH ends in .gz or .zst) or parquet "
    "(default: from PATH, .parquet or else jsonl).",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to write (never overwritten).",
)
@click.option("--urls-only", is_flag=True, help="Only the kept URLs, one row each.")
@click.option(
    "--row-group-size",
    type=click.IntRange(min=1),
    default=ROW_GROUP_SIZE,
    show_default=True,
    help="Rows per Parquet row group.",
)
@json_option
def export(
    directory: Path,
    fmt: str | None,
    out: Path,
    urls_only: bool,
    row_group_size: int,
    as_json: bool,
) -> None:
    """Write the kept pages of a crawl, filter or recheck output for training.

    One row per kept page: "text" (the main text), "id" (the WARC-Record-ID) and
    "metadata" (URL, WARC file and offset, payload digest, fetch time, content
    type, language, crawl, lineage, decision and policy version), as datatrove's
    readers and Hugging Face datasets load them without options.

    Example:

        tdmcrawl export crawl-out --format parquet --out corpus.parquet
    """
    try:
        result = export_corpus(
            directory, out, fmt=fmt, urls_only=urls_only, row_group_size=row_group_size
        )
    except UsageError as exc:
        raise click.UsageError(str(exc)) from exc
    if as_json:
        echo_json(result.to_dict())
        return
    click.echo(f"{'URLs' if urls_only else 'pages'} written: {result.rows}")
    for reason, count in sorted(result.skipped.items()):
        click.echo(f"kept records without text ({reason}): {count}")
    speed = f" ({result.rows / result.seconds:,.0f} rows/s)" if result.seconds else ""
    click.echo(f"wrote {result.out} in {result.seconds:.1f} s{speed}")
