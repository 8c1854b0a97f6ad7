"""`tdmcrawl registry ...`: the operators' commands, thin over ``registry.Registry``.

Expected errors (bad input, wrong token, duplicate, not a registry) print one
``Error:`` line and exit 1, having changed nothing.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from tdmcrawl.crawler.cli.options import ExampleLastGroup, echo_json, json_option, registry_option
from tdmcrawl.registry.entries import (
    DEFAULT_SCOPE,
    SCOPES,
    Registration,
)
from tdmcrawl.registry.registration import describe, precheck, register
from tdmcrawl.registry.store import Registry
from tdmcrawl.registry.transfer import (
    FORMATS,
    PROGRESS_EVERY,
    ImportReport,
    guess_format,
    import_text,
    read_import_source,
    write_export,
)
from tdmcrawl.registry.urlrules import (
    RuleKind,
    parse_domain,
    parse_url_pattern,
)
from tdmcrawl.registry.works import read_work_files

F = TypeVar("F", bound=Callable[..., Any])

TOKEN_ADVICE = (
    "Keep this token somewhere safe: it is shown only once, and it is needed to change "
    "or remove this opt-out. Nobody else can remove it."
)


registry_file_option = registry_option(
    "Registry file (SQLite; created by `add` and `import`). Env: TDMCRAWL_REGISTRY.",
    must_exist=False,
    required=True,
    envvar="TDMCRAWL_REGISTRY",
    dest="registry_path",
    remote=False,
)


def scope_option(func: F) -> F:
    return click.option(
        "--scope",
        type=click.Choice(sorted(SCOPES)),
        default=None,
        help=f"What use is reserved (IETF aipref label; default {DEFAULT_SCOPE}).",
    )(func)


@click.group(cls=ExampleLastGroup)
def registry() -> None:
    """The authors' opt-out registry: URL rules and works registered by content.

    Example:

    \b
        tdmcrawl registry add --registry optout.sqlite --author "Әлия" --domain example.kz
    """


@registry.command()
@registry_file_option
@click.option("--author", required=True, help="The author's name (any language).")
@click.option("--email", help="Contact email (optional).")
@click.option("--title", help="Title of the work (optional).")
@click.option(
    "--url",
    "url",
    metavar="PATTERN",
    help="One page, or a prefix ending in * (https://example.kz/blog/*).",
)
@click.option("--domain", metavar="HOST", help="A site with all its subdomains (example.kz).")
@click.option(
    "--file",
    "files",
    multiple=True,
    type=click.Path(),
    metavar="PATH",
    help="A file of the work (.txt, .md, .html); repeat or list several.",
)
@click.argument("more_files", nargs=-1, type=click.Path(), metavar="[PATH]...")
@scope_option
@json_option
def add(
    registry_path: str,
    author: str,
    email: str | None,
    title: str | None,
    url: str | None,
    domain: str | None,
    files: tuple[str, ...],
    more_files: tuple[str, ...],
    scope: str | None,
    as_json: bool,
) -> None:
    """Register an opt-out; prints its id and the removal token (shown once).

    Exactly one of --url, --domain or --file. Files after --file are all part
    of the work: `--file ch1.txt ch2.txt`.

    Example:

    \b
        tdmcrawl registry add --registry optout.sqlite --author "Иван Петров" \\
            --url "https://example.kz/blog/*"
    """
    if more_files and not files:
        raise click.UsageError(f"unexpected argument {more_files[0]!r} (files go after --file)")
    chosen = [
        name for name, value in (("--url", url), ("--domain", domain), ("--file", files)) if value
    ]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --url, --domain or --file")
    who = {"email": email, "title": title, "scope": scope}
    what = (
        parse_url_pattern(url)
        if url
        else parse_domain(domain)
        if domain
        else read_work_files([*files, *more_files])
    )
    precheck(registry_path, author, what, **who)
    registration = register(registry_path, author, what, **who)
    print_registration(registration, as_json)


def print_registration(registration: Registration, as_json: bool) -> None:
    if as_json:
        echo_json(registration.to_dict())
        return
    entry = registration.entry
    click.echo(f"Registered {describe(entry)}")
    click.echo(f"id:    {entry.id}")
    click.echo(f"token: {registration.token}")
    click.echo(TOKEN_ADVICE)


@registry.command(name="list")
@registry_file_option
@click.option("--kind", type=click.Choice([k.value for k in RuleKind]), help="Only this kind.")
@json_option
def list_entries(registry_path: str, kind: str | None, as_json: bool) -> None:
    """List entries, oldest first (tab-separated: id, kind, scope, rule, author).

    Example:

    \b
        tdmcrawl registry list --registry optout.sqlite --json
    """
    with Registry(registry_path, read_only=True) as reg:
        for entry in reg.entries(kind):
            if as_json:
                echo_json(entry.to_dict())
            else:
                rule = entry.pattern
                if entry.kind is RuleKind.WORK:
                    rule = entry.title or ", ".join(entry.files)
                click.echo("\t".join((entry.id, entry.kind.value, entry.scope, rule, entry.author)))


@registry.command()
@registry_file_option
@click.argument("entry_id", metavar="ID")
@json_option
def show(registry_path: str, entry_id: str, as_json: bool) -> None:
    """Show one entry.

    Example:

    \b
        tdmcrawl registry show --registry optout.sqlite 6f1c...
    """
    with Registry(registry_path, read_only=True) as reg:
        entry = reg.get(entry_id)
    if as_json:
        echo_json(entry.to_dict())
        return
    for key, value in entry.to_dict().items():
        if value is not None:
            shown = ", ".join(value) if isinstance(value, list) else value
            click.echo(f"{key}: {shown}")


@registry.command()
@registry_file_option
@click.argument("entry_id", metavar="ID")
@click.option("--token", required=True, help="The token shown at registration.")
@json_option
def remove(registry_path: str, entry_id: str, token: str, as_json: bool) -> None:
    """Remove an entry; needs its token.

    Example:

    \b
        tdmcrawl registry remove --registry optout.sqlite 6f1c... --token XXXX
    """
    with Registry(registry_path, create=False) as reg:
        entry = reg.remove(entry_id, token)
    if as_json:
        echo_json({"removed": entry.id})
    else:
        click.echo(f"Removed {entry.id} ({describe(entry)})")


@registry.command()
@registry_file_option
@click.argument("entry_id", metavar="ID")
@click.option("--token", required=True, help="The token shown at registration.")
@click.option("--author", help="New author name.")
@click.option("--email", help="New email ('' to clear).")
@click.option("--title", help="New title ('' to clear).")
@click.option("--scope", type=click.Choice(sorted(SCOPES)), help="New scope.")
@json_option
def edit(registry_path: str, entry_id: str, token: str, as_json: bool, **changes: Any) -> None:
    """Change an entry's author, email, title or scope; needs its token.

    Example:

    \b
        tdmcrawl registry edit --registry optout.sqlite 6f1c... --token XXXX --email a@b.kz
    """
    with Registry(registry_path, create=False) as reg:
        given = {key: value for key, value in changes.items() if value is not None}
        entry = reg.update(entry_id, token, **given)
    if as_json:
        echo_json(entry.to_dict())
    else:
        click.echo(f"Updated {entry.id}")


@registry.command(name="export")
@registry_file_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="jsonl", show_default=True)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    default="-",
    help="File to write (default: stdout).",
)
def export_entries(registry_path: str, fmt: str, output: str) -> None:
    """Export every entry (token hashes, never tokens; texts of works).

    CSV is UTF-8 with a BOM, so spreadsheets show Kazakh and Russian names;
    a cell starting with = + - @, tab or CR gets a leading ' so a spreadsheet
    never runs it as a formula (import removes it again).

    Example:

    \b
        tdmcrawl registry export --registry optout.sqlite --format csv -o optout.csv
    """
    with Registry(registry_path, read_only=True) as reg:
        if output == "-":
            write_export(reg, sys.stdout, fmt)
            return
        try:
            with open(output, "w", encoding="utf-8", newline="") as out:
                count = write_export(reg, out, fmt)
        except OSError as exc:
            raise click.ClickException(f"cannot write {output}: {exc.strerror or exc}") from None
    click.echo(f"Exported {count} entries to {output}", err=True)


@registry.command(name="import")
@registry_file_option
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="Default: from the file name (.csv, else jsonl).",
)
@json_option
def import_entries(registry_path: str, file: str, fmt: str | None, as_json: bool) -> None:
    """Import entries: all rows or none; rows already present are skipped.

    Example:

    \b
        tdmcrawl registry import --registry optout.sqlite optout.jsonl
    """
    text, source = read_import_source(file)
    fmt = fmt or guess_format(file)
    report = _import_new(Path(registry_path), text, fmt, source)
    if report is None:
        with Registry(registry_path) as reg:
            report = import_text(reg, text, fmt, source, progress=_import_progress)
    if as_json:
        echo_json(report.to_dict())
        return
    click.echo(
        f"Imported {len(report.added)} entries, skipped {len(report.skipped)} already registered"
    )
    for entry_id, token in report.tokens.items():
        click.echo(f"new token for {entry_id}: {token}")
    if report.tokens:
        click.echo(TOKEN_ADVICE)


def _import_new(target: Path, text: str, fmt: str, source: str) -> ImportReport | None:
    """Import into a new registry built beside ``target`` and linked into place, so a
    rejected import leaves no new, empty registry behind (each row checked once).
    None when ``target`` exists (or appeared meanwhile): import into it instead."""
    if target.exists():
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".tdmcrawl-import-") as scratch:
        built = Path(scratch) / target.name
        with Registry(built) as reg:
            report = import_text(reg, text, fmt, source, progress=_import_progress)
        try:
            os.link(built, target)  # never replaces a registry created meanwhile
        except FileExistsError:
            return None
        except OSError as exc:
            raise click.ClickException(f"cannot create {target}: {exc.strerror or exc}") from None
    return report


def _import_progress(done: int, total: int, step: str) -> None:
    # On stderr, so --json output stays one object; only for imports large enough to wait for.
    if total < PROGRESS_EVERY:
        return
    if step == "checked":
        click.echo(f"import: checked {done} of {total} rows", err=True)
    else:
        click.echo(f"import: wrote {done} new entries", err=True)


@registry.command()
@registry_file_option
@click.option("--stale", is_flag=True, help="Only fingerprints from another config or missing.")
@json_option
def reindex(registry_path: str, stale: bool, as_json: bool) -> None:
    """Recompute the works' fingerprints with the current dedup config.

    Run it after the dedup config changes.

    Example:

    \b
        tdmcrawl registry reindex --registry optout.sqlite
    """
    with Registry(registry_path, create=False) as reg:
        report = reg.reindex(only_stale=stale)
    if as_json:
        echo_json(report.to_dict())
    else:
        click.echo(
            f"Fingerprinted {report.fingerprinted} of {report.parts} work files "
            f"with {report.config_identity} ({report.too_short} too short)"
        )


@registry.command()
@registry_file_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option(
    "--keep-texts",
    is_flag=True,
    help="Keep the texts of uploaded works (needed for `registry reindex`); by default "
    "only fingerprints and file digests are kept. The form tells authors which.",
)
@click.option(
    "--max-file-mb",
    type=click.IntRange(1, 200),
    default=20,
    show_default=True,
    help="Largest work file accepted (MiB).",
)
@click.option(
    "--max-files",
    type=click.IntRange(1, 200),
    default=20,
    show_default=True,
    help="Most files in one work.",
)
@click.option(
    "--writes-per-minute",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="Registrations, changes and removals per client address (0: no limit).",
)
@click.option(
    "--reads-per-minute",
    type=click.IntRange(min=0),
    default=600,
    show_default=True,
    help="Other requests (pages, feed) per client address (0: no limit).",
)
@click.option(
    "--forwarded-allow-ips",
    metavar="IPS",
    help="Behind a reverse proxy: its address(es), whose X-Forwarded-For/-Proto are "
    "trusted for the client address (rate limits) and the scheme.",
)
@click.option(
    "--behind-tls",
    is_flag=True,
    help="Served over https (by the proxy): cookies only over https, HSTS sent.",
)
@click.option(
    "--verify-private",
    is_flag=True,
    help="Let ownership checks fetch from private and loopback addresses (tests, intranets).",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
def serve(
    registry_path: str,
    host: str,
    port: int,
    keep_texts: bool,
    max_file_mb: int,
    max_files: int,
    writes_per_minute: int,
    reads_per_minute: int,
    forwarded_allow_ips: str | None,
    behind_tls: bool,
    verify_private: bool,
    log_level: str,
) -> None:
    """Serve the registry to authors (a form in Kazakh, Russian and English, a JSON
    API) and to crawlers (the feed at /api/v1/feed; OpenAPI at /openapi.json).

    Listens on 127.0.0.1 by default: put a reverse proxy with TLS in front of it
    (docs/registry.md). Creates the registry file if it does not exist.

    Example:

    \b
        tdmcrawl registry serve --registry optout.sqlite --host 127.0.0.1 --port 8080
    """
    import uvicorn

    from tdmcrawl.registry.service import ServiceConfig, create_app

    config = ServiceConfig(
        registry=Path(registry_path),
        keep_texts=keep_texts,
        max_file_bytes=max_file_mb * 1024 * 1024,
        max_files=max_files,
        writes_per_minute=writes_per_minute,
        reads_per_minute=reads_per_minute,
        verify_private=verify_private,
        secure_cookies=behind_tls,
    )
    app = create_app(config)
    click.echo(
        f"Serving {registry_path} on http://{host}:{port}/ "
        f"({'keeping texts' if keep_texts else 'fingerprints only'}); Ctrl-C stops",
        err=True,
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        proxy_headers=bool(forwarded_allow_ips),
        forwarded_allow_ips=forwarded_allow_ips or "",
        server_header=False,
    )
