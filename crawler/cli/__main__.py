"""``python -m tdmcrawl.crawler.cli``: the `tdmcrawl` command without its console script."""

from tdmcrawl.crawler.cli import main

main()
