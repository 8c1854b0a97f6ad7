"""The reserved-works index, shared by the crawl and ``tdmcrawl filter``.

It holds the registry's content works and every page found reserved, as
``dedup`` fingerprints, never as text: in memory, or in Redis shared by the
nodes of a distributed crawl (``TDMCRAWL_DEDUP_REDIS``). A *generation*
counts additions, so a page checked since the last one is not checked again.
:func:`match_reasons` turns verified matches into the ``registry-content`` /
``reserved-copy`` reasons both commands audit alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from scrapy.exceptions import NotConfigured

from tdmcrawl.crawler import settings as tds
from tdmcrawl.dedup import DedupError, Fingerprint, FingerprintError, MemoryIndex
from tdmcrawl.optout.decision import Reason, ReasonCode
from tdmcrawl.registry import entry_id_of

logger = logging.getLogger(__name__)

REGISTRY_PREFIX = "registry:"  # index keys: registry works and crawled reserved pages apart
CRAWL_PREFIX = "crawl:"
MAX_REASONS = 5  # matches listed per excluded page (best first)
SHINGLES_NAME = "neardup-shingles.bin"  # scratch verification data of the in-memory index
LOAD_CHUNK = 1000  # registry works added per batch: bounded memory with large registries

Warn = Callable[[str], None]


class ReservedWorks:
    """The reserved-works index of one crawl or filter run, with a generation counter."""

    def __init__(self, index: Any, *, redis_client: Any = None, namespace: str = "") -> None:
        self.index = index
        self.config = index.config
        self._client = redis_client
        self._generation_key = f"{namespace}:generation".encode() if redis_client else b""
        self._generation = 0

    @classmethod
    def in_memory(cls, shingle_file: Path | None) -> ReservedWorks:
        """An index in this process; verification shingles in a scratch file (rebuilt), or
        in memory when ``shingle_file`` is None (``check``: nothing written)."""
        if shingle_file is None:
            return cls(MemoryIndex(tds.dedup_config()))
        shingle_file.parent.mkdir(parents=True, exist_ok=True)
        shingle_file.unlink(missing_ok=True)
        return cls(MemoryIndex(tds.dedup_config(), shingle_file=shingle_file))

    @classmethod
    def open(cls, settings: Any, work_dir: Path) -> ReservedWorks:
        """Memory (default) or Redis (``TDMCRAWL_DEDUP_REDIS``) index; raises NotConfigured."""
        config = tds.dedup_config()
        url = settings.get("TDMCRAWL_DEDUP_REDIS")
        if url:
            from tdmcrawl.dedup import RedisIndex  # the optional `redis` extra

            namespace = str(tds.get(settings, "TDMCRAWL_DEDUP_NAMESPACE"))
            try:
                index = RedisIndex(config, url=str(url), namespace=namespace)
            except DedupError as exc:
                raise NotConfigured(f"TDMCRAWL_DEDUP_REDIS: {exc}") from exc
            except Exception as exc:  # redis' own connection errors
                raise NotConfigured(f"TDMCRAWL_DEDUP_REDIS={url}: cannot use Redis: {exc}") from exc
            return cls(index, redis_client=index.client, namespace=namespace)
        # Rebuilt each run from the registry and the crawl's spool.
        return cls.in_memory(work_dir / SHINGLES_NAME)

    @property
    def generation(self) -> int:
        if self._client is not None:  # other processes add too
            return int(self._client.get(self._generation_key) or 0)
        return self._generation

    def _bump(self) -> None:
        if self._client is not None:
            self._client.incr(self._generation_key)
        else:
            self._generation += 1

    def advance_past(self, generation: int) -> None:
        """Make the generation exceed ``generation`` (the spool of an earlier run was checked
        up to it against another index: its pages must be checked again)."""
        behind = generation + 1 - self.generation
        if behind <= 0:
            return
        if self._client is not None:
            self._client.incrby(self._generation_key, behind)
        else:
            self._generation += behind

    def add(self, key: str, fp: Any) -> None:
        self.index.add(key, fp)
        self._bump()

    def add_many(self, items: list[tuple[str, Any]]) -> None:
        if items:
            self.index.add_many(items)
            self._bump()

    def __contains__(self, key: str) -> bool:
        return key in self.index

    def __len__(self) -> int:
        return len(self.index)

    def load_registry(self, reader: Any, warn: Warn | None = None) -> int:
        """Index the registry's content works of this config; returns how many.

        ``warn`` hears of works that cannot be used (no fingerprint for this
        config, a damaged one); by default they go to the log.
        """
        warn = warn or _log_warning
        identity = self.config.identity
        stale = reader.stale_works(identity)
        if stale:
            warn(
                f"{stale} registered work file(s) have no fingerprint for {identity}: "
                "run `tdmcrawl registry reindex`"
            )
        items: list[tuple[str, Any]] = []
        count = 0
        for work in reader.content_works(config_identity=identity):
            key = REGISTRY_PREFIX + work.work_id
            if key in self.index:
                continue  # loaded before this sync, or by another process of this crawl
            try:
                items.append((key, Fingerprint.from_bytes(work.fingerprint)))
            except FingerprintError as exc:
                warn(f"registry work {work.work_id} skipped: {exc}")
            if len(items) >= LOAD_CHUNK:
                count += len(items)
                self.add_many(items)
                items = []
        self.add_many(items)
        return count + len(items)

    def matches(self, fps: Sequence[Any]) -> list[list[Any]]:
        return self.index.query_many(list(fps)) if fps else []

    def close(self) -> None:
        closer = getattr(self.index, "close", None)
        if closer is not None:
            closer()


def match_reasons(matches: Iterable[Any]) -> tuple[Reason, ...]:
    """``registry-content`` / ``reserved-copy`` reasons for verified matches, best first."""
    reasons = []
    for match in list(matches)[:MAX_REASONS]:
        if match.key.startswith(REGISTRY_PREFIX):
            work = match.key[len(REGISTRY_PREFIX) :]
            code, source, matched = ReasonCode.REGISTRY_CONTENT, "registry", entry_id_of(work)
        else:
            work = match.key.removeprefix(CRAWL_PREFIX)
            code, source, matched = ReasonCode.RESERVED_COPY, "crawl", work
        evidence = (
            f"near-duplicate of {work}: {match.measure}={match.similarity:.3f} "
            f"containment={match.containment:.3f} jaccard={match.jaccard:.3f} "
            f"shared_shingles={match.shared}"
        )
        reasons.append(
            Reason(
                code=code,
                source=source,
                evidence=evidence,
                matched_work=matched,
                similarity=round(float(match.similarity), 4),
            )
        )
    return tuple(reasons)


def _log_warning(message: str) -> None:
    logger.warning("tdmcrawl: %s", message)
