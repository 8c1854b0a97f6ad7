"""Audit databases for the audit tests, written through the real AuditLog API.

`build_synthetic` makes a deterministic crawl with every reason code, Kazakh
and Russian URLs and evidence, kept pages and evidence captures; the row
counts are returned so tests compare against what was written, not against
literals copied from output.
"""

from __future__ import annotations

import itertools
import shutil
import socket
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from crawler.auditdb import AuditLog
from optout.decision import Decision, Reason, ReasonCode

# (reason, source, evidence, line, matched_work, similarity, stage)
SAMPLE_REASONS = [
    (ReasonCode.ROBOTS, "robots.txt", "Disallow: /жабық/", 4, None, None, "pre-fetch"),
    (ReasonCode.ROBOTS_AI_AGENTS, "robots.txt", "User-agent: GPTBot / Disallow: /", 1, None, None,
     "pre-fetch"),
    (ReasonCode.TDMREP, "header", "TDM-Reservation: 1", None, None, None, "post-fetch"),
    (ReasonCode.TDMREP, "well-known", '{"location": "/*", "tdm-reservation": 1}', None, None,
     None, "pre-fetch"),
    (ReasonCode.NOAI, "meta", '<meta name="robots" content="noai">', None, None, None,
     "post-fetch"),
    (ReasonCode.CONTENT_USAGE, "header", "Content-Usage: train-ai=n", None, None, None,
     "post-fetch"),
    (ReasonCode.REGISTRY_URL, "registry", "https://әдебиет.kz/* (rule 7)", None, "reg-7", None,
     "pre-fetch"),
    (ReasonCode.RESERVED_COPY, "crawl", "Jaccard 0.91 over 812 shingles", None,
     "https://новости.рф/статья", 0.91, "near-duplicate"),
]
DOMAINS = ["әдебиет.kz", "новости.рф", "example.org", "blog.example.org", "қазақ.kz"]
KNOWN_KAZAKH_URL = "https://әдебиет.kz/жабық/өлең-0"


@dataclass
class SyntheticAudit:
    directory: Path
    crawl_id: str
    kept: list[str] = field(default_factory=list)
    excluded: dict[str, Decision] = field(default_factory=dict)

    @property
    def by_reason(self) -> Counter[str]:
        return Counter(d.reasons[0].code.value for d in self.excluded.values())

    @property
    def by_domain(self) -> Counter[str]:
        return Counter(url.split("/")[2] for url in self.excluded)


def _clock(start: float = 1_790_000_000.0, step: float = 7.0):
    """Deterministic UTC timestamps, `step` seconds apart."""
    counter = itertools.count()

    def now() -> str:
        t = time.gmtime(start + step * next(counter))
        return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", t)

    return now


def build_synthetic(
    directory: Path, *, exclusions: int = 200, kept: int = 50, step: float = 7.0
) -> SyntheticAudit:
    log = AuditLog.open(directory, clock=_clock(step=step), batch_size=64)
    crawl_id = log.start_crawl(
        settings={"TDMCRAWL_TOKEN": "tdmcrawl", "TDMCRAWL_AI_AGENTS": True, "DEPTH_LIMIT": 3},
        versions={"tdmcrawl": "0.1.0", "scrapy": "2.13"},
        seeds=[f"https://{d}/" for d in DOMAINS],
    )
    audit = SyntheticAudit(directory, crawl_id)
    for domain in DOMAINS:
        log.record_evidence(
            f"https://{domain}/robots.txt", warc_file="evidence/tdmcrawl-evidence-0.warc.gz",
            offset=len(domain) * 100, record_id=f"<urn:uuid:robots-{domain}>", kind="robots.txt",
        )
    for i in range(exclusions):
        code, source, evidence, line, work, sim, stage = SAMPLE_REASONS[i % len(SAMPLE_REASONS)]
        domain = DOMAINS[(i // len(SAMPLE_REASONS)) % len(DOMAINS)]
        url = f"https://{domain}/жабық/өлең-{i}"
        decision = Decision(url, reasons=(Reason(code, source, evidence, line, work, sim),))
        log.record_exclusion(decision, stage=stage)
        audit.excluded[url] = decision
    for i in range(kept):
        url = f"https://example.org/ашық/{i}"
        log.record_kept(
            url, warc_file="warc/tdmcrawl-00000.warc.gz", offset=1000 * i,
            record_id=f"<urn:uuid:kept-{i}>", decision=Decision(url),
        )
        audit.kept.append(url)
    log.finish_crawl(crawl_id, {"pages_kept": kept, "pages_excluded": exclusions})
    log.close()
    return audit


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def chromium_flags(profile: Path) -> list[str]:
    return [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}",
    ]


def run_chromium(args: list[str], profile: Path, timeout: float = 60) -> str:
    exe = chromium_path()
    assert exe is not None
    done = subprocess.run(
        [exe, *chromium_flags(profile), *args], capture_output=True, text=True, timeout=timeout
    )
    return done.stdout
