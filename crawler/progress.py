"""Live progress on stderr while a crawl runs, and the summary table at the end.

The reporter is a Scrapy extension, off unless ``TDMCRAWL_PROGRESS_INTERVAL``
is positive (the CLI sets it; a plain Scrapy project keeps its own LogStats).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any, TextIO

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

from tdmcrawl.crawler import settings as tdm_settings
from tdmcrawl.crawler.session import CrawlSession


class ProgressReporter:
    """Prints one line every interval: pages/s, kept, excluded by reason, queue size."""

    def __init__(self, crawler: Any, interval: float, stream: TextIO | None = None) -> None:
        self.crawler = crawler
        self.interval = interval
        self.stream = stream or sys.stderr
        self.session = CrawlSession.of(crawler)
        self._loop: task.LoopingCall | None = None
        self._started = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler: Any) -> ProgressReporter:
        interval = float(tdm_settings.get(crawler.settings, "TDMCRAWL_PROGRESS_INTERVAL"))
        summary = tdm_settings.getbool(crawler.settings, "TDMCRAWL_SUMMARY")
        if interval <= 0 and not summary:
            raise NotConfigured()  # off: no args, so Scrapy does not warn
        reporter = cls(crawler, interval)
        crawler.signals.connect(reporter.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(reporter.spider_closed, signal=signals.spider_closed)
        reporter.summary = summary
        return reporter

    summary = False

    def spider_opened(self, spider: Any) -> None:
        self._started = time.monotonic()
        if self.interval > 0:
            self._loop = task.LoopingCall(self.report)
            self._loop.start(self.interval, now=False)

    def spider_closed(self, spider: Any, reason: str = "") -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        if self.summary:
            print(self.line(), file=self.stream)

    def report(self) -> None:
        print(self.line(), file=self.stream, flush=True)

    def line(self) -> str:
        elapsed = max(time.monotonic() - self._started, 1e-6)
        pages = self.crawler.stats.get_value("tdmcrawl/pages", 0)
        by_reason = excluded_by_reason(self.session.excluded)
        reasons = ", ".join(f"{r} {n}" for r, n in by_reason.most_common())
        return (
            f"[{_clock(elapsed)}] pages {pages} ({pages / elapsed:.1f}/s)  "
            f"kept {self.session.kept}  excluded {sum(by_reason.values())}"
            + (f" ({reasons})" if reasons else "")
            + f"  queue {self.queue_size()}"
        )

    def queue_size(self) -> int:
        try:
            return len(self.crawler.engine._slot.scheduler)
        except (AttributeError, TypeError):
            return 0


def excluded_by_reason(excluded: Counter[tuple[str, str]]) -> Counter[str]:
    out: Counter[str] = Counter()
    for (_stage, reason), count in excluded.items():
        out[reason] += count
    return out


def summary_table(kept: int, excluded: Counter[tuple[str, str]]) -> str:
    """The end-of-crawl table: kept, then excluded by reason and stage."""
    rows = [("kept", "", str(kept))]
    for (stage, reason), count in sorted(excluded.items(), key=lambda kv: (-kv[1], kv[0])):
        rows.append((f"excluded: {reason}", stage, str(count)))
    rows.append(("total excluded", "", str(sum(excluded.values()))))
    header = ("outcome", "stage", "pages")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]

    def fmt(row: tuple[str, str, str]) -> str:
        return f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}"

    rule = "-" * (sum(widths) + 4)
    return "\n".join([fmt(header), rule, *(fmt(r) for r in rows)])


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"
