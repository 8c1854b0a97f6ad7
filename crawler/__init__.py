"""tdmcrawl's crawler: Scrapy add-on, gates, WARC output, audit log and CLI."""

__version__ = "0.1.0"
