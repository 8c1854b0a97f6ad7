"""What ``tdmcrawl recheck`` was asked to do, and the delta it found."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXAMPLES = 5  # URLs listed per (reason, origin) group of the delta


@dataclass(frozen=True)
class RecheckOptions:
    registry: Path | None = None
    pages: bool = False
    token: str | None = None
    user_agent: str | None = None
    sign_key: Path | None = None
    overrides: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Removal:
    """A kept page the recheck reserves: it is not copied to the new version."""

    url: str
    record_id: str
    warc_file: str
    reason: str
    origin: str


@dataclass
class RecheckResult:
    parent: str = ""
    out: str = ""
    crawl_id: str = ""
    kept_before: int = 0
    origins: int = 0
    pages_requested: int = 0
    pages_not_modified: int = 0
    pages_not_reread: Counter[str] = field(default_factory=Counter)  # why, e.g. "HTTP 404"
    removed: dict[str, Removal] = field(default_factory=dict)  # response record id -> removal
    no_longer: Counter[tuple[str, str]] = field(default_factory=Counter)  # (reason, origin)
    no_longer_examples: dict[tuple[str, str], list[str]] = field(
        default_factory=lambda: defaultdict(list)
    )
    files_copied: int = 0
    files_rewritten: int = 0
    files: list[str] = field(default_factory=list)
    manifest: str = ""
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each step

    def timed(self, step: str, started: float) -> None:
        self.seconds[step] = round(time.perf_counter() - started, 3)

    @property
    def kept_after(self) -> int:
        return self.kept_before - len(self.removed)

    def newly_reserved(self) -> Counter[tuple[str, str]]:
        return Counter((r.reason, r.origin) for r in self.removed.values())

    def note_no_longer(self, reason: str, origin: str, url: str) -> None:
        key = (reason, origin)
        self.no_longer[key] += 1
        if len(self.no_longer_examples[key]) < EXAMPLES:
            self.no_longer_examples[key].append(url)

    def delta(self) -> dict[str, Any]:
        """The delta as recorded in the audit's crawls row and printed by --json."""
        newly: dict[str, dict[str, int]] = defaultdict(dict)
        for (reason, origin), n in sorted(self.newly_reserved().items()):
            newly[reason][origin] = n
        gone: dict[str, dict[str, Any]] = defaultdict(dict)
        for (reason, origin), n in sorted(self.no_longer.items()):
            gone[reason][origin] = {
                "urls": n,
                "examples": list(self.no_longer_examples[(reason, origin)]),
            }
        return {
            "newly_reserved": dict(newly),
            "no_longer_reserved": dict(gone),
            "removed_urls": sorted(r.url for r in self.removed.values()),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "parent": self.parent,
            "out": self.out,
            "crawl_id": self.crawl_id,
            "kept_before": self.kept_before,
            "kept_after": self.kept_after,
            "removed": len(self.removed),
            "origins_rechecked": self.origins,
            "pages_requested": self.pages_requested,
            "pages_not_modified": self.pages_not_modified,
            "pages_not_reread": dict(sorted(self.pages_not_reread.items())),
            "files_copied": self.files_copied,
            "files_rewritten": self.files_rewritten,
            "files": list(self.files),
            "manifest": self.manifest,
            "notes": list(self.notes),
            "seconds": dict(self.seconds),
            **self.delta(),
        }
