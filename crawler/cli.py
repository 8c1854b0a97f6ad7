"""The `tdmcrawl` command: a thin Click group over the libraries.

Subcommands live in their own modules and are imported only when used, so
`tdmcrawl registry list` never pays for importing Scrapy.
"""

from __future__ import annotations

import importlib

import click

from crawler import __version__
from crawler.cliutil import ExampleLastGroup

# name -> "module:attribute" of a click.Command
SUBCOMMANDS: dict[str, str] = {
    "check": "crawler.cli_check:check",
    "crawl": "crawler.cli_crawl:crawl",
    "demo": "crawler.cli_crawl:demo",
    "registry": "registry.cli:registry",
    "audit": "crawler.cli_audit:audit",
    "filter": "crawler.cli_filter:filter_warcs",
}


class LazyGroup(ExampleLastGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in SUBCOMMANDS if self._load(name) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # A subcommand whose module is not written yet is simply absent;
            # a missing third-party dependency is a real error.
            if exc.name == module_name:
                return None
            raise
        return getattr(module, attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tdmcrawl")
def main() -> None:
    """Crawl for AI-training corpora, honouring authors' machine-readable opt-outs.

    Example:

    \b
        tdmcrawl demo --out demo-out
    """


if __name__ == "__main__":
    main()
