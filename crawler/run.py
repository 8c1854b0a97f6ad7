"""Running a crawl from Python: settings from options and ``-s NAME=VALUE``, then one reactor run.

The Twisted reactor runs once per process, so one call to ``run`` per
process; ``tdmcrawl check`` and ``tdmcrawl crawl`` each make exactly one.

Signals: Scrapy stops gracefully on the first SIGINT or SIGTERM and stops the
reactor at once on the second. ``run`` can print a line on stderr the moment
each arrives (what happens now, what another one does), and records them on
the crawler (``tdmcrawl_stop_signals``) so the command can report the stop and
exit with 128 + the signal's number.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import uuid
from pathlib import Path
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from tdmcrawl.crawler.errors import StartError, TdmcrawlError, UsageError
from tdmcrawl.crawler.settings import STATE_FILE

ADDON = "tdmcrawl.crawler.addon.TdmcrawlAddon"
CONCURRENT_ITEMS = 8


def build_settings(
    options: dict[str, Any],
    overrides: dict[str, str] | None = None,
    *,
    log_file: Path | None = None,
) -> Settings:
    """Scrapy defaults, the add-on, CLI options (``None`` = not given), then ``-s`` on top."""
    settings = Settings()
    settings.set("ADDONS", {ADDON: 0}, priority="project")
    # Scrapy runs each response's spider output through CONCURRENT_ITEMS asyncio tasks
    # (100: a hundred tasks a page). Our spiders yield only requests (pages reach the
    # session, not the item stream), handled at once: 8 do the same for a tenth of the cost.
    settings.set("CONCURRENT_ITEMS", CONCURRENT_ITEMS, priority="project")
    settings.set("LOG_LEVEL", "INFO", priority="project")
    if log_file is not None:
        settings.set("LOG_FILE", str(log_file), priority="project")
        settings.set("LOG_FILE_APPEND", True, priority="project")
    else:
        settings.set("LOG_LEVEL", "ERROR", priority="project")
    for name, value in options.items():
        if value is not None:
            settings.set(name, value, priority="cmdline")
    for name, value in (overrides or {}).items():
        settings.set(name, value, priority="cmdline")
    return settings


def load_state(out_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((out_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def save_state(out_dir: Path, state: dict[str, Any]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(out_dir / STATE_FILE)


def prepare_out_dir(out_dir: Path, *, resume: bool) -> dict[str, Any]:
    """Crawl id and JOBDIR for DIR; with ``resume``, the ones of the interrupted crawl."""
    state = load_state(out_dir)
    refetch = False
    if resume:
        if not state.get("crawl_id"):
            raise UsageError(f"--resume: no interrupted crawl in {out_dir} ({STATE_FILE} missing)")
        if state.get("running"):
            # Killed, not stopped: Scrapy's JOBDIR is only consistent after a clean stop.
            shutil.rmtree(out_dir / "job", ignore_errors=True)
            refetch = True
    else:
        if (out_dir / "job").exists() and state.get("crawl_id"):
            raise UsageError(
                f"{out_dir} holds an earlier crawl: use --resume to continue it, "
                "or another --out directory"
            )
        state = {"crawl_id": uuid.uuid4().hex}
    # Cleared by mark_stopped() only after a clean engine close (the end, one Ctrl-C or one
    # SIGTERM); a kill or a second signal leaves it, and --resume then recovers as after a kill.
    state["running"] = True
    save_state(out_dir, state)
    return {
        "TDMCRAWL_CRAWL_ID": state["crawl_id"],
        "TDMCRAWL_RESUME": resume,
        "TDMCRAWL_REFETCH_KEPT": refetch,
        "JOBDIR": str(out_dir / "job"),
    }


def mark_stopped(out_dir: Path) -> None:
    state = load_state(out_dir)
    state["running"] = False
    save_state(out_dir, state)


class _SignalledProcess(CrawlerProcess):
    """Scrapy's process, saying on stderr at once what a stop signal does, and recording it.

    ``messages`` are (first signal, second signal) texts with ``{signal}`` for
    its name. Written with ``os.write``: a signal handler must not use the
    buffered stream the interrupted code may be writing to.
    """

    def __init__(self, settings: Settings, messages: tuple[str, str] | None) -> None:
        super().__init__(settings)
        self.messages = messages
        self.stop_signals: list[int] = []

    def _say(self, index: int, signum: int) -> None:
        if self.messages is None:
            return
        text = self.messages[index].format(signal=signal_name(signum))
        with contextlib.suppress(OSError):  # no stderr: the log still says it
            os.write(2, ("\n" + text + "\n").encode("utf-8", "replace"))

    def _signal_shutdown(self, signum: int, frame: Any) -> None:
        self.stop_signals.append(signum)
        self._say(0, signum)
        super()._signal_shutdown(signum, frame)

    def _signal_kill(self, signum: int, frame: Any) -> None:
        self.stop_signals.append(signum)
        self._say(1, signum)
        super()._signal_kill(signum, frame)


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def run(
    settings: Settings,
    spider_cls: Any,
    *,
    stop_messages: tuple[str, str] | None = None,
    **spider_kwargs: Any,
) -> Any:
    """Run one crawl to its end (or a stop signal) and return the crawler.

    A failure while starting is raised as :class:`StartError` instead of
    being printed by Twisted as an unhandled error with a traceback. The stop
    signals received are in ``crawler.tdmcrawl_stop_signals``.
    """
    process = _SignalledProcess(settings, stop_messages)
    crawler = process.create_crawler(spider_cls)
    crawler.tdmcrawl_stop_signals = process.stop_signals
    failures: list[Any] = []
    process.crawl(crawler, **spider_kwargs).addErrback(failures.append)
    process.start()
    if failures:
        failure = failures[0]
        kind = failure.type.__name__ if failure.type else "error"
        raise StartError(f"{kind}: {failure.getErrorMessage()} (check the -s values)")
    logging.getLogger(__name__).info("crawl finished: %s", crawler.stats.get_value("finish_reason"))
    return crawler


def run_command(
    name: str,
    settings: Settings,
    spider_cls: Any,
    *,
    stop_messages: tuple[str, str] | None = None,
    **spider_kwargs: Any,
) -> Any:
    """:func:`run` for a CLI command: any failure to run is one line naming the command."""
    try:
        return run(settings, spider_cls, stop_messages=stop_messages, **spider_kwargs)
    except StartError as exc:  # e.g. `-s DOWNLOAD_DELAY=abc`
        raise StartError(f"{name} failed to start: {exc}") from exc
    except Exception as exc:  # details are in the log; the user gets one line
        raise TdmcrawlError(f"{name} failed: {type(exc).__name__}: {exc}") from exc
