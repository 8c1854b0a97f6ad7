"""The crawl's log in its output directory, DIR/tdmcrawl.log, for the CLI and the add-on alike.

``tdmcrawl crawl`` points Scrapy's ``LOG_FILE`` there. A Scrapy project using
the add-on keeps its own logging (stderr, its ``LOG_FILE``) and gets this file
as well, so an audit of its output directory finds the log next to it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

LOG_NAME = "tdmcrawl.log"


def attach(out_dir: Path, settings: Any) -> logging.Handler | None:
    """Also log to ``out_dir/tdmcrawl.log`` with the project's level and format; None when
    Scrapy logs there already (the CLI)."""
    path = out_dir / LOG_NAME
    log_file = settings.get("LOG_FILE")
    if log_file and Path(str(log_file)).resolve() == path.resolve():
        return None
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(
        logging.Formatter(fmt=settings.get("LOG_FORMAT"), datefmt=settings.get("LOG_DATEFORMAT"))
    )
    handler.setLevel(settings.get("LOG_LEVEL") or "DEBUG")
    logging.getLogger().addHandler(handler)
    return handler


def detach(handler: logging.Handler | None) -> None:
    if handler is not None:
        logging.getLogger().removeHandler(handler)
        handler.close()
