"""``tdmcrawl agents list|update``: the AI-crawler list in force, and keeping it in sync.

The list decides which robots.txt groups read as a training reservation
(``robots-ai-agents``). ``list`` prints it with its version (the version every
warcinfo record and the audit's crawl row carry); ``update FILE`` merges an
ai.robots.txt ``robots.json`` into the user-level override (see
``crawler/agents.py``), never into the packaged list.
"""

from __future__ import annotations

from pathlib import Path

import click

from tdmcrawl.crawler.agents import load_agent_list, override_path, update_agent_list
from tdmcrawl.crawler.cli.options import (
    ExampleLastCommand,
    ExampleLastGroup,
    echo_json,
    json_option,
)


@click.group(cls=ExampleLastGroup)
def agents() -> None:
    """The list of AI crawlers whose robots.txt rules reserve training.

    Example:

    \b
        tdmcrawl agents list
    """


@agents.command("list", cls=ExampleLastCommand)
@click.option("--all", "show_all", is_flag=True, help="Also list the agents that do not reserve.")
@json_option
def list_agents(show_all: bool, as_json: bool) -> None:
    """Print the AI-crawler list in force, with its version and where it comes from.

    Example:

    \b
        tdmcrawl agents list --all --json
    """
    current = load_agent_list()
    entries = [e for e in current.entries if show_all or e.reserves]
    if as_json:
        echo_json(
            {
                "version": current.version,
                "origin": current.origin,
                "override": str(override_path()),
                "agents": [e.to_dict() for e in entries],
            }
        )
        return
    click.echo(f"AI-crawler list {current.version} ({current.origin})")
    click.echo(f"override file: {override_path()}")
    width = max((len(e.token) for e in entries), default=5)
    for entry in entries:
        mark = "reserves" if entry.reserves else "-"
        click.echo(f"{entry.token:<{width}}  {mark:<8}  {entry.category:<20}  {entry.operator}")


@agents.command("update", cls=ExampleLastCommand)
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
def update(source: Path, as_json: bool) -> None:
    """Merge a robots.json (ai.robots.txt format) into the user-level list.

    Names the list lacks are added: reserving when robots.json describes them in
    training terms (training, datasets, data scrapers), recorded as not
    reserving otherwise. Entries already listed keep their reading. The packaged
    list is never changed; the override file is (TDMCRAWL_AGENTS_FILE, else the
    user data directory).

    Example:

    \b
        tdmcrawl agents update ai.robots.txt/robots.json
    """
    result, path = update_agent_list(source)
    if as_json:
        echo_json(
            {
                "version": result.merged.version,
                "override": str(path),
                "added": [e.to_dict() for e in result.added],
            }
        )
        return
    reserving = sum(1 for e in result.added if e.reserves)
    click.echo(
        f"merged {source}: {len(result.added)} agent(s) added, {reserving} of them reserving; "
        f"list {result.merged.version} written to {path}"
    )
    for entry in result.added:
        click.echo(f"  + {entry.token} ({'reserves' if entry.reserves else 'does not reserve'})")
