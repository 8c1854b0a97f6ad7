"""``tdmcrawl verify DIR``: the corpus against its manifest and its audit database.

Exit 0 when everything holds, 1 with the first discrepancy named (``--json``
lists up to 100 of them).
"""

from __future__ import annotations

from pathlib import Path

import click

from tdmcrawl.crawler.cli.options import ExampleLastCommand, echo_json, json_option
from tdmcrawl.crawler.errors import TdmcrawlError
from tdmcrawl.crawler.signing import load_public_key
from tdmcrawl.crawler.verify import verify_corpus


@click.command(cls=ExampleLastCommand)
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--public-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Check DIR/manifest.json.sig with this Ed25519 public key (KEY.pub of keygen).",
)
@json_option
def verify(directory: Path, public_key: Path | None, as_json: bool) -> None:
    """Check a corpus (crawl, filter or recheck output) against its manifest and audit.

    Every WARC file has its size and SHA-256, every kept record is at its offset
    with its payload digest, no record lacks a kept row, no excluded URL is in the
    WARC files and, with --public-key, the manifest's signature holds.

    Exit 0 when all holds, 1 with the first discrepancy named.

    Example:

        tdmcrawl verify corpus-v2/ --public-key operator.key.pub
    """
    key = load_public_key(public_key) if public_key else None
    report = verify_corpus(directory, public_key=key)
    if as_json:
        echo_json(report.to_dict())
        if not report.ok:
            raise click.exceptions.Exit(1)
        return
    click.echo(
        f"{directory}: {report.kind or 'corpus'}, {report.files} WARC files, "
        f"{report.records} kept records, {report.warc_records} records read; "
        f"signature {report.signature}"
    )
    if not report.ok:
        more = len(report.discrepancies) - 1
        tail = f" (and {more} more: see --json)" if more else ""
        raise TdmcrawlError(f"verify failed: {report.discrepancies[0]}{tail}")
    click.echo("OK: the corpus holds what its manifest and audit say")
