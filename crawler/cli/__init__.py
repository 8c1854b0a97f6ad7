"""The `tdmcrawl` command: a thin Click group over the libraries.

Subcommands live in their own modules and are imported when used, so
`tdmcrawl registry list` never pays for importing Scrapy; a module that is
missing is an import error, never a silently absent command. Expected
failures of every subcommand become one line and an exit status in one place,
:meth:`TdmcrawlGroup.invoke`, by :func:`tdmcrawl.crawler.errors.exit_status`.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from tdmcrawl.crawler import __version__
from tdmcrawl.crawler.cli.options import ExampleLastGroup
from tdmcrawl.crawler.errors import EXIT_USAGE, exit_status, one_line

# name -> "module:attribute" of a click.Command
SUBCOMMANDS: dict[str, str] = {
    "agents": "tdmcrawl.crawler.cli.agents:agents",
    "check": "tdmcrawl.crawler.cli.check:check",
    "crawl": "tdmcrawl.crawler.cli.crawl:crawl",
    "demo": "tdmcrawl.crawler.cli.demo:demo",
    "registry": "tdmcrawl.crawler.cli.registry:registry",
    "audit": "tdmcrawl.crawler.cli.audit:audit",
    "filter": "tdmcrawl.crawler.cli.filter:filter_warcs",
    "export": "tdmcrawl.crawler.cli.export:export",
    "keygen": "tdmcrawl.crawler.cli.keygen:keygen",
    "recheck": "tdmcrawl.crawler.cli.recheck:recheck",
    "verify": "tdmcrawl.crawler.cli.verify:verify",
}


def load_command(name: str) -> click.Command:
    module_name, attr = SUBCOMMANDS[name].split(":")
    command = getattr(importlib.import_module(module_name), attr)
    if not isinstance(command, click.Command):
        raise TypeError(f"{SUBCOMMANDS[name]} is not a click command")
    return command


class TdmcrawlGroup(ExampleLastGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load_command(cmd_name) if cmd_name in SUBCOMMANDS else None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException:
            raise
        except Exception as exc:
            status = exit_status(exc)
            if status is None:
                raise  # a bug: keep its traceback
            if status == EXIT_USAGE:
                raise click.UsageError(one_line(exc)) from exc
            error = click.ClickException(one_line(exc))
            error.exit_code = status
            raise error from exc


@click.group(cls=TdmcrawlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tdmcrawl")
def main() -> None:
    """Crawl for AI-training corpora, honouring authors' machine-readable opt-outs.

    Example:

    \b
        tdmcrawl demo --out demo-out
    """
