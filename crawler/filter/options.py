"""What ``tdmcrawl filter`` is asked to do and what it reports: options, result, errors."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tdmcrawl.crawler.warc.records import DEFAULT_MAX_SIZE
from tdmcrawl.optout.policy import PolicyConfig

Warn = Callable[[str], None]


@dataclass(frozen=True)
class FilterOptions:
    """How to filter. ``require_robots``: an origin with no robots.txt capture is
    excluded as ``robots-unreachable`` instead of read as "no robots signal"."""

    policy: PolicyConfig = field(default_factory=PolicyConfig)
    registry: Path | str | None = None  # a file, or a registry service's URL
    require_robots: bool = False
    near_duplicates: bool = True
    prefix: str = "tdmcrawl-filter"
    max_size: int = DEFAULT_MAX_SIZE
    crawl_id: str | None = None
    sign_key: Path | None = None  # Ed25519 private key signing out/manifest.json
    # Worker processes extracting and fingerprinting pages (TDMCRAWL_WORKERS); 0: in-process.
    # They change no decision, so they are not among the settings() recorded.
    workers: int = 1
    # FastWARC reads the inputs it proves clean (crawler/filter/fastread.py); False: warcio only.
    fast_read: bool = True

    def settings(self) -> dict[str, Any]:
        """The settings as the audit's ``crawls`` row and the output's warcinfo record them."""
        return {
            "command": "filter",
            "policy": self.policy.to_dict(),
            "registry": str(self.registry) if self.registry else None,
            "require_robots": self.require_robots,
            "near_duplicates": self.near_duplicates,
        }


@dataclass
class FilterResult:
    records_in: int = 0
    records_kept: int = 0
    pages_in: int = 0  # response/resource/revisit records decided
    pages_kept: int = 0
    excluded: Counter[str] = field(default_factory=Counter)  # URLs by decisive reason
    bad_records: int = 0
    origins: int = 0
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    crawl_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "crawl_id": self.crawl_id,
            "records_in": self.records_in,
            "records_kept": self.records_kept,
            "pages_in": self.pages_in,
            "pages_kept": self.pages_kept,
            "excluded_urls": sum(self.excluded.values()),
            "excluded_by_reason": dict(sorted(self.excluded.items())),
            "bad_records": self.bad_records,
            "origins": self.origins,
            "files": list(self.files),
            "notes": list(self.notes),
        }
