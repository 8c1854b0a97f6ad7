"""``tdmcrawl recheck DIR --out NEWDIR``: today's opt-outs on a past corpus, as a new version.

A thin command over :func:`tdmcrawl.crawler.recheck.recheck_corpus`: prints the
delta (newly reserved by reason and origin; what origins no longer reserve,
never re-added) or one JSON object.
"""

from __future__ import annotations

from pathlib import Path

import click

from tdmcrawl.crawler.cli.options import (
    ExampleLastCommand,
    echo_json,
    json_option,
    product_token_option,
    registry_option,
    setting_overrides,
    settings_option,
    sign_key_option,
    user_agent_option,
)
from tdmcrawl.crawler.errors import UsageError
from tdmcrawl.crawler.recheck import RecheckOptions, RecheckResult, recheck_corpus
from tdmcrawl.crawler.signing import load_private_key


@click.command(cls=ExampleLastCommand)
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="New directory for the new version (DIR is never changed).",
)
@registry_option("Authors' registry today: its URL rules and registered works apply.")
@click.option(
    "--pages",
    is_flag=True,
    help="Also request every kept page again (conditionally) and read its headers and meta.",
)
@product_token_option
@user_agent_option
@sign_key_option
@settings_option
@json_option
def recheck(
    directory: Path,
    out_dir: Path,
    registry: Path | None,
    pages: bool,
    token: str | None,
    user_agent: str | None,
    sign_key: Path | None,
    overrides: tuple[str, ...],
    as_json: bool,
) -> None:
    """Re-read today's opt-outs for a past corpus and write a new version without what
    is now reserved.

    Fetches again, politely, robots.txt, tdmrep.json and ai.txt of every origin with
    a kept page; applies today's registry (URL rules, registered works against the
    kept pages' fingerprints); with --pages, re-requests each kept page. NEWDIR gets
    the kept records byte for byte minus the newly reserved ones, its own audit
    (exclusions at stage recheck, with evidence) and a manifest. Works on the output
    of crawl, filter and an earlier recheck; run it before each training run.

    Example:

        tdmcrawl recheck corpus-v1/ --out corpus-v2/ --registry registry.sqlite
    """
    extra = setting_overrides(overrides)
    if sign_key:
        try:
            load_private_key(sign_key)
        except UsageError as exc:
            raise click.BadParameter(str(exc), param_hint="--sign-key") from exc
    options = RecheckOptions(
        registry=registry,
        pages=pages,
        token=token,
        user_agent=user_agent,
        sign_key=sign_key,
        overrides=extra,
    )
    result = recheck_corpus(directory, out_dir, options)
    if as_json:
        echo_json(result.to_dict())
    else:
        click.echo(summary(result))


def summary(result: RecheckResult) -> str:
    lines = [
        f"recheck {result.crawl_id} of {result.parent} -> {result.out}",
        f"origins rechecked: {result.origins}",
        f"pages kept before: {result.kept_before}",
        f"pages kept now:    {result.kept_after}",
    ]
    if result.pages_requested:
        lines.append(
            f"pages requested again: {result.pages_requested} "
            f"({result.pages_not_modified} not modified)"
        )
    for why, n in sorted(result.pages_not_reread.items()):
        lines.append(f"  not read again ({why}): {n} (their stored signals stand)")
    newly = result.newly_reserved()
    lines.append(f"newly reserved: {sum(newly.values())}")
    for (reason, origin), n in sorted(newly.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {reason:<18} {origin}  {n}")
    gone = sum(result.no_longer.values())
    lines.append(f"no longer reserved by their origin (reported, never re-added): {gone}")
    for (reason, origin), n in sorted(result.no_longer.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {reason:<18} {origin}  {n}")
    lines += [f"note: {note}" for note in result.notes]
    lines.append(f"WARC files: {result.files_copied} copied, {result.files_rewritten} rewritten")
    lines.append(f"manifest: {result.manifest}")
    return "\n".join(lines)
