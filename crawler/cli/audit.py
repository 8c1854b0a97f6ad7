"""`tdmcrawl audit`: summarise a crawl, explain a URL, export, report, serve, merge.

``tdmcrawl audit DIR ...`` runs the ``show`` subcommand, so the contract's
short form works next to ``audit serve`` and ``audit merge``.
"""

from __future__ import annotations

import json
import shlex
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from tdmcrawl.crawler.audit.db import open_database
from tdmcrawl.crawler.audit.export import export_exclusions
from tdmcrawl.crawler.audit.merge import merge as merge_databases
from tdmcrawl.crawler.audit.queries import explain, incomplete, locate_warcs, summary
from tdmcrawl.crawler.audit.report import write_report
from tdmcrawl.crawler.audit.serve import prepare, supervise
from tdmcrawl.crawler.audit.works import author_exclusions, find_work
from tdmcrawl.crawler.cli.options import echo_json, json_option, registry_option
from tdmcrawl.crawler.verify import verify_corpus
from tdmcrawl.registry.i18n import LANGUAGES

BY_CHOICES = ("reason", "domain", "source", "day")


class _DefaultToShow(click.Group):
    """`audit DIR ...` means `audit show DIR ...`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["show", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultToShow)
def audit() -> None:
    """Audit a crawl: what was excluded, why, and on what evidence.

    Example:

    \b
        tdmcrawl audit out/                      # summary by reason
        tdmcrawl audit out/ --url https://example.kz/page
        tdmcrawl audit out/ --export csv > exclusions.csv
        tdmcrawl audit out/ --html report.html
        tdmcrawl audit serve out/
        tdmcrawl audit merge merged/ node1/ node2/
    """


@audit.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--by",
    type=click.Choice(BY_CHOICES),
    default="reason",
    show_default=True,
    help="Group the summary by this column.",
)
@click.option(
    "--top",
    type=click.IntRange(1, 100),
    default=5,
    show_default=True,
    help="Top entries listed per group.",
)
@click.option("--url", help="Tell the full story of one URL.")
@click.option(
    "--export",
    "export_format",
    type=click.Choice(("csv", "jsonl")),
    help="Stream every exclusion row with its evidence to stdout.",
)
@click.option("--reason", help="With --export: only this reason code.")
@click.option("--domain", help="With --export: only this host and its subdomains.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write a self-contained HTML report to this file.",
)
@click.option(
    "--max-rows",
    type=click.IntRange(0),
    default=5000,
    show_default=True,
    help="With --html: rows in the report's URL table.",
)
@click.option(
    "--lang",
    type=click.Choice(LANGUAGES),
    default="en",
    show_default=True,
    help="With --html: the report's language (Kazakh, Russian, English).",
)
@click.option(
    "--no-verify",
    is_flag=True,
    help="With --html: do not check the corpus against its manifest for the report.",
)
@click.option(
    "--work",
    "work_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Is this work in the corpus? Kept and excluded copies of FILE (more files may "
    "follow DIR: `audit DIR --work a.txt b.html`).",
)
@click.option("--author", help="The registry exclusions of this author's entries.")
@registry_option(
    "With --author: also look the author's entries up in this registry.", dest="registry"
)
@json_option
def show(
    paths: tuple[Path, ...],
    by: str,
    top: int,
    url: str | None,
    export_format: str | None,
    reason: str | None,
    domain: str | None,
    html_path: Path | None,
    max_rows: int,
    lang: str,
    no_verify: bool,
    work_files: tuple[Path, ...],
    author: str | None,
    registry: Path | None,
    as_json: bool,
) -> None:
    """Summarise DIR/audit.sqlite, explain a URL (--url), export (--export), report
    (--html), find a work's copies (--work) or an author's exclusions (--author).

    Example:

    \b
        tdmcrawl audit out/ --by domain --json
        tdmcrawl audit out/ --work my-novel.txt
        tdmcrawl audit out/ --html report.html --lang kk
    """
    directory, *more_works = paths
    if more_works and not work_files:
        raise click.UsageError("one DIR only (files after DIR are works for --work)")
    work_files = (*work_files, *more_works)
    modes = [
        name
        for name, value in (
            ("--url", url),
            ("--export", export_format),
            ("--html", html_path),
            ("--work", work_files),
            ("--author", author),
        )
        if value
    ]
    if len(modes) > 1:
        raise click.UsageError(f"{' and '.join(modes)} cannot be combined")
    if (reason or domain) and not export_format:
        raise click.UsageError("--reason and --domain filter an --export")
    if registry and not author:
        raise click.UsageError("--registry looks entries up for --author")
    db = open_database(directory)
    try:
        gaps = incomplete(db, directory)
        if gaps is not None:
            click.echo(incomplete_warning(gaps, directory), err=True)
        if url:
            _show_url(db, url, as_json, directory)
        elif export_format:
            _export(db, export_format, reason, domain)
        elif html_path:
            _html(db, html_path, max_rows, as_json, directory, lang, not no_verify)
        elif work_files:
            _work(db, directory, list(work_files), as_json)
        elif author:
            _author(db, author, registry, as_json)
        else:
            _summary(db, by, top, as_json, gaps)
    finally:
        db.close()


def incomplete_warning(gaps: dict[str, Any], directory: Path) -> str:
    """What an audit of a crawl that did not finish lacks, and how to repair it."""
    base = directory if directory.is_dir() else directory.parent
    parts = []
    if gaps["unfinished_crawls"]:
        parts.append(f"crawl {', '.join(gaps['unfinished_crawls'])} has not finished")
    if gaps["open_files"]:
        parts.append(f"{len(gaps['open_files'])} WARC file(s) are still .open")
    return (
        f"warning: this audit is incomplete: {'; '.join(parts)} (the crawl is still running, "
        "or was killed or stopped by a second Ctrl-C). Rows of its last pages may be missing "
        "and kept rows may name .open files. To repair: "
        f"tdmcrawl crawl --out {shlex.quote(str(base))} --resume "
        "(it recovers the WARC files and the audit first, then continues the crawl; "
        "stop it with one Ctrl-C once it has recovered if you want no more pages)"
    )


@audit.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--port", type=click.IntRange(0, 65535), default=8001, show_default=True)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; the default keeps the audit on this machine.",
)
def serve(directory: Path, port: int, host: str) -> None:
    """Browse DIR/audit.sqlite in Datasette, read-only, with facets and canned queries.

    Example:

        tdmcrawl audit serve out/ --port 8001
    """
    # Removed on every way out: supervise() turns SIGTERM and SIGHUP into a clean return.
    with tempfile.TemporaryDirectory(prefix="tdmcrawl-serve-") as tmp:
        argv = [*prepare(directory, Path(tmp)), "--host", host, "--port", str(port)]
        click.echo(
            f"Serving {directory} read-only on http://{host}:{port}/ (Ctrl-C stops)", err=True
        )
        code = supervise(argv)
        if code not in (0, -2, 130):
            raise click.ClickException(f"datasette exited with status {code}")


@audit.command()
@click.argument("out", type=click.Path(path_type=Path))
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option
def merge(out: Path, sources: tuple[Path, ...], as_json: bool) -> None:
    """Merge the audit databases of several crawls or nodes into OUT, idempotently.

    Example:

        tdmcrawl audit merge merged/ node1/ node2/
    """
    report = merge_databases(out, list(sources))
    if as_json:
        echo_json(report)
        return
    for src in report["sources"]:
        added = ", ".join(f"{n} {table}" for table, n in src["added"].items())
        click.echo(f"{src['path']}: added {added}")
    totals = ", ".join(f"{n} {table}" for table, n in report["totals"].items())
    click.echo(f"{report['out']}: {totals}")


# --- the show modes -------------------------------------------------------------------


def _summary(db: Any, by: str, top: int, as_json: bool, gaps: dict[str, Any] | None) -> None:
    data = summary(db, by=by, top=top)
    data["incomplete"] = gaps
    if as_json:
        echo_json(data)
        return
    for crawl in data["crawls"]:
        versions = ", ".join(f"{k} {v}" for k, v in sorted(crawl["versions"].items()))
        click.echo(
            f"crawl {crawl['crawl_id']}: {crawl['started_at']} .. "
            f"{crawl['finished_at'] or '(not finished)'}; {versions}"
        )
        if crawl["policy"]:
            policy = ", ".join(f"{k}={v}" for k, v in sorted(crawl["policy"].items()))
            click.echo(f"  policy: {policy}")
    click.echo(f"pages kept: {data['kept']} ({data['percent_kept']}%)")
    click.echo(f"pages excluded: {data['excluded']} ({data['percent_excluded']}%)")
    if not data["groups"]:
        return
    detail = "domains" if by == "reason" else "reasons"
    width = max(len(by), *(len(str(g[by])) for g in data["groups"]))
    click.echo(f"\n{by:<{width}}  {'count':>9}  {'% excl.':>7}  top {detail}")
    for group in data["groups"]:
        tops = ", ".join(f"{t[detail[:-1]]} ({t['count']})" for t in group[f"top_{detail}"])
        click.echo(
            f"{group[by]!s:<{width}}  {group['count']:>9}  "
            f"{group['percent_of_excluded']:>7.2f}  {tops}"
        )


def _registry_line(state: dict[str, Any] | None) -> None:
    if state:
        stale = ", an old copy: the service was unreachable" if state["stale"] else ""
        click.echo(
            f"  registry state: {state['source']} at cursor {state['cursor']} "
            f"(synced {state['synced_at']}{stale})"
        )


def _show_url(db: Any, url: str, as_json: bool, directory: Path) -> None:
    story = locate_warcs(explain(db, url), directory)
    if as_json:
        echo_json(story)
        return
    if story["status"] == "unseen":
        click.echo(f"{url}: never seen by the crawl(s) in this audit database")
        if story["similar_urls"]:
            click.echo("  did you mean: " + ", ".join(story["similar_urls"]))
        click.echo(f"  rows for the same host: {story['domain_rows']}")
        return
    for row in story["excluded"]:
        click.echo(
            f"{url}: EXCLUDED at {row['stage']} ({row['decided_at']}, crawl {row['crawl_id']})"
        )
        _reason_lines(row["decision"], click.echo)
        _registry_line(row.get("registry_state"))
        for cap in row["evidence_captures"]:
            kind = f"{cap['kind']}, " if cap.get("kind") else ""
            click.echo(
                f"  evidence capture: {cap['warc_path'] or cap['warc_file']} offset "
                f"{cap['warc_offset']} record {cap.get('record_id') or '?'} "
                f"({kind}{cap['linked']})"
            )
    for row in story["kept"]:
        click.echo(f"{url}: KEPT ({row['kept_at']}, crawl {row['crawl_id']})")
        click.echo(
            f"  WARC: {row['warc_path'] or row['warc_file']} offset {row['warc_offset']} "
            f"record {row['record_id']}"
        )
        _registry_line(row.get("registry_state"))
        decision = row["decision"] or {}
        for warning in decision.get("warnings", []):
            click.echo(f"  warning: {warning}")
        for grant in decision.get("grants", []):
            click.echo(
                f"  permission seen: {grant['code']} ({grant['source']}): {grant['evidence']}"
            )
        click.echo("  decision: " + json.dumps(decision, ensure_ascii=False, sort_keys=True))


def _reason_lines(decision: Any, echo: Callable[[str], None]) -> None:
    if not isinstance(decision, dict):
        echo(f"  decision: {decision}")
        return
    for i, reason in enumerate(decision.get("reasons", [])):
        label = "reason" if i == 0 else "also"
        where = f", line {reason['line']}" if reason.get("line") else ""
        echo(f"  {label}: {reason['code']} (source {reason['source']}{where})")
        echo(f"    evidence: {reason['evidence']}")
        if reason.get("matched_work"):
            sim = reason.get("similarity")
            echo(
                f"    matched: {reason['matched_work']}"
                + (f" (similarity {sim})" if sim is not None else "")
            )
    for warning in decision.get("warnings", []):
        echo(f"  warning: {warning}")


def _export(db: Any, fmt: str, reason: str | None, domain: str | None) -> None:
    out = sys.stdout.buffer
    try:
        export_exclusions(db, out, fmt=fmt, reason=reason, domain=domain)
        out.flush()
    except BrokenPipeError:  # `| head`: the reader has all it wanted
        pass


def _html(
    db: Any, path: Path, max_rows: int, as_json: bool, directory: Path, lang: str, check: bool
) -> None:
    base = directory if directory.is_dir() else directory.parent
    verified = verify_corpus(base) if check else None
    try:
        figures = write_report(
            db, path, max_rows=max_rows, lang=lang, directory=base, verified=verified
        )
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        echo_json({"html": str(path), **figures})
    else:
        click.echo(f"wrote {path}: {figures['excluded']} exclusions, {figures['kept']} kept")


def _work(db: Any, directory: Path, files: list[Path], as_json: bool) -> None:
    base = directory if directory.is_dir() else directory.parent
    answer = find_work(db, base, files)
    if as_json:
        echo_json(answer)
        return
    click.echo(f"checked {answer['pages_checked']} page fingerprints of {base}")
    for work in answer["works"]:
        name = work["file"]
        kept = [c for c in answer["kept_copies"] if c["work"] == name]
        excluded = [c for c in answer["excluded_copies"] if c["work"] == name]
        click.echo(f"{name}: {len(kept)} kept copies, {len(excluded)} excluded copies")
        for copy in kept:
            click.echo(
                f"  KEPT      {copy['url']} (similarity {copy['similarity']}): "
                f"warc/{copy['warc_file']} offset {copy['warc_offset']} {copy['record_id']}"
            )
        for copy in excluded:
            click.echo(
                f"  EXCLUDED  {copy['url']} (similarity {copy['similarity']}): "
                f"{copy['reason']} at {copy['stage']}, {copy['decided_at']}"
            )
    for note in answer["notes"]:
        click.echo(f"note: {note}")


def _author(db: Any, author: str, registry: Path | None, as_json: bool) -> None:
    answer = author_exclusions(db, author, registry)
    if as_json:
        echo_json(answer)
        return
    click.echo(
        f"{author}: {len(answer['entries'])} registry entries, "
        f"{len(answer['exclusions'])} exclusions"
    )
    for entry in answer["entries"]:
        title = f" «{entry['title']}»" if entry["title"] else ""
        click.echo(f"  entry {entry['entry_id']} ({entry['kind']}){title}")
    for row in answer["exclusions"]:
        title = f" «{row['title']}»" if row["title"] else ""
        click.echo(
            f"  {row['url']}: {row['reason']} at {row['stage']} ({row['decided_at']}), "
            f"entry {row['entry_id']} by {row['author']}{title}"
        )
