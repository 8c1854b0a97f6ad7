"""A plain Scrapy project with the tdmcrawl add-on, written into a temporary directory.

The hostile tests run ``scrapy crawl`` in it as a user would, in a subprocess
(the reactor runs once per process).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SPIDER = """
import os
import scrapy


class SiteSpider(scrapy.Spider):
    name = "site"
    start_urls = [os.environ["PLAIN_START"]]

    def parse(self, response):
        yield {"url": response.url, "title": response.css("title::text").get()}
        yield from response.follow_all(css="a", callback=self.parse)
"""


def write_project(root: Path, out: Path, extra: str = "") -> Path:
    """``root/scrapy.cfg`` and the package ``plainproj`` using the add-on; returns ``root``."""
    (root / "plainproj" / "spiders").mkdir(parents=True)
    (root / "scrapy.cfg").write_text("[settings]\ndefault = plainproj.settings\n")
    (root / "plainproj" / "__init__.py").write_text("")
    (root / "plainproj" / "spiders" / "__init__.py").write_text("")
    (root / "plainproj" / "spiders" / "site.py").write_text(SPIDER)
    (root / "plainproj" / "settings.py").write_text(
        textwrap.dedent(f"""
        BOT_NAME = "plainproj"
        SPIDER_MODULES = ["plainproj.spiders"]
        ADDONS = {{"tdmcrawl.crawler.addon.TdmcrawlAddon": 0}}
        TDMCRAWL_OUT_DIR = {str(out)!r}
        DOWNLOAD_DELAY = 0
        AUTOTHROTTLE_ENABLED = False
        """)
        + textwrap.dedent(extra)
    )
    return root


def scrapy_crawl(root: Path, start: str, *args: str, timeout: float = 120):
    """``scrapy crawl site ARGS`` in the project at ``root``, starting at ``start``."""
    env = {**os.environ, "PLAIN_START": start, "PYTHONPATH": str(root)}
    return subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "site", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
