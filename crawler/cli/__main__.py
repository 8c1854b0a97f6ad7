"""``python -m tdmcrawl.crawler.cli``: the `tdmcrawl` command without its console script."""

from tdmcrawl.crawler.cli import main

# Guarded: Dask's worker processes (`filter --workers`) start by importing the main module.
if __name__ == "__main__":
    main()
