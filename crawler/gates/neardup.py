"""The near-duplicate gate and the release step: copies of reserved works never leave the crawl.

Three parts, one object per crawl (:class:`NearDuplicateGate`, an item pipeline
just before the WARC output):

- **The index** (:class:`ReservedWorks`): the registry's content works and
  every page this crawl finds reserved (the session's reserved-page hook), as
  ``dedup`` fingerprints, never as text. In memory (shingles in a scratch file
  in DIR) or, with ``TDMCRAWL_DEDUP_REDIS``, in Redis shared by several
  processes. A *generation* counts additions, so a page checked since the
  last one is not checked again.
- **The gate**: every page about to be kept is queried; a verified match
  excludes it (``registry-content`` or ``reserved-copy``, stage
  ``near-duplicate``). A page that passes is spooled: its fingerprint (not
  its text) goes to an SQLite file in DIR (:class:`PageSpool`).
- **The release step**: a copy can be crawled before its original is found
  reserved. Before a WARC file is renamed, its pages are checked again
  against the index as it stands (the writer's ``before_close`` veto); when
  the crawl ends, every page of the files closed earlier is checked against
  the final index, and files holding a copy are rewritten without it. Pages
  removed late are audited with stage ``release`` and lose their ``kept`` row.
- **The cut journal**: a copy found late is written to the spool's ``cuts``
  table (durably) before its exclusion is audited and its file rewritten. A
  kill between those steps leaves the entry, and the recovery on ``--resume``
  (:meth:`NearDuplicateGate.recover_cuts`) finishes the cut, so a WARC file
  never holds a copy the audit says was excluded at release.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.utils.defer import deferred_from_coro

from tdmcrawl.crawler import settings as tds
from tdmcrawl.crawler.audit.db import drop_kept, move_kept
from tdmcrawl.crawler.errors import TdmcrawlError
from tdmcrawl.crawler.items import PageItem
from tdmcrawl.crawler.reserved import CRAWL_PREFIX, ReservedWorks, match_reasons
from tdmcrawl.crawler.session import STEP_NEAR_DUPLICATE, CrawlSession
from tdmcrawl.crawler.warc.exclusion import STORED_HEAD_NOTE, capture_from_record
from tdmcrawl.crawler.warc.rewrite import pending_pages, record_offsets, rewrite_without
from tdmcrawl.dedup import Fingerprint, FingerprintError, fingerprint
from tdmcrawl.optout.decision import Decision, Reason

logger = logging.getLogger(__name__)

SPOOL_NAME = "neardup-spool.sqlite"
BATCH = 512  # pages per query batch in the final pass
STAGE_GATE = "near-duplicate"
STAGE_RELEASE = "release"


class NearDuplicateUnavailable(TdmcrawlError):
    """The near-duplicate step could not run: no page may be reported as no copy."""


# --- the spool ---------------------------------------------------------------------------


class PageSpool:
    """Fingerprints of accepted pages and of reserved pages, on disk (SQLite in DIR).

    ``pages``: one row per page that passed the gate: its fingerprint, its
    decision, the generation it was last checked at, and, once its WARC file is
    renamed, the file and response record id (``state`` pending -> released).
    ``reserved``: the crawl's reserved fingerprints, reloaded by ``--resume``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        # Autocommit: a kill loses no spooled page (WAL commits without fsync cost ~µs).
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS pages (url TEXT PRIMARY KEY, fp BLOB NOT NULL,"
            " decision TEXT NOT NULL, checked INTEGER NOT NULL, state TEXT NOT NULL,"
            " warc_file TEXT, record_id TEXT)"
        )
        self.db.execute("CREATE INDEX IF NOT EXISTS pages_state ON pages(state, checked)")
        self.db.execute("CREATE TABLE IF NOT EXISTS reserved (key TEXT PRIMARY KEY, fp BLOB)")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS cuts (record_id TEXT PRIMARY KEY, url TEXT NOT NULL,"
            " warc_file TEXT NOT NULL, decision TEXT NOT NULL)"
        )
        # Pages excluded as near-copies once fingerprinted (gate, release, recheck): what
        # `tdmcrawl audit --work` matches an author's work against, beside kept pages.
        self.db.execute("CREATE TABLE IF NOT EXISTS excluded (url TEXT PRIMARY KEY, fp BLOB)")

    def max_checked(self) -> int:
        (value,) = self.db.execute("SELECT max(checked) FROM pages").fetchone()
        return int(value) if value is not None else -1

    def put(self, url: str, fp: bytes, decision: Decision, generation: int) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO pages (url, fp, decision, checked, state)"
            " VALUES (?, ?, ?, ?, 'pending')",
            (url, fp, decision.to_json(), generation),
        )

    def lookup(self, urls: Sequence[str]) -> dict[str, tuple[bytes, str, int]]:
        """url -> (fingerprint, decision JSON, checked generation) for spooled pages."""
        out: dict[str, tuple[bytes, str, int]] = {}
        for start in range(0, len(urls), 500):
            chunk = list(urls[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for url, fp, decision, checked in self.db.execute(
                f"SELECT url, fp, decision, checked FROM pages WHERE url IN ({marks})", chunk
            ):
                out[url] = (fp, decision, checked)
        return out

    def release(self, url: str, warc_file: str, record_id: str, generation: int) -> None:
        self.db.execute(
            "UPDATE pages SET state = 'released', warc_file = ?, record_id = ?, checked = ?"
            " WHERE url = ?",
            (warc_file, record_id, generation, url),
        )

    def checked(self, urls: Iterable[str], generation: int) -> None:
        with self.db:  # one transaction for the batch
            self.db.execute("BEGIN")
            self.db.executemany(
                "UPDATE pages SET checked = ? WHERE url = ?", [(generation, url) for url in urls]
            )

    def remove(self, url: str) -> None:
        self.db.execute("DELETE FROM pages WHERE url = ?", (url,))

    def add_excluded(self, url: str, fp: bytes) -> None:
        self.db.execute("INSERT OR REPLACE INTO excluded (url, fp) VALUES (?, ?)", (url, fp))

    def exclude(self, url: str) -> None:
        """A spooled page removed after all: its fingerprint moves to ``excluded``."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute(
                "INSERT OR REPLACE INTO excluded (url, fp) SELECT url, fp FROM pages WHERE url = ?",
                (url,),
            )
            self.db.execute("DELETE FROM pages WHERE url = ?", (url,))

    def excluded(self) -> Iterator[tuple[str, bytes]]:
        yield from self.db.execute("SELECT url, fp FROM excluded")

    def released_unchecked(
        self, generation: int, batch: int = BATCH
    ) -> Iterator[list[tuple[str, bytes, str, str, str]]]:
        """Batches of (url, fp, decision, warc_file, record_id) of released pages checked
        before ``generation``; memory stays at one batch whatever the crawl's size."""
        last = 0
        while True:
            rows = self.db.execute(
                "SELECT rowid, url, fp, decision, warc_file, record_id FROM pages"
                " WHERE state = 'released' AND checked < ? AND rowid > ? ORDER BY rowid LIMIT ?",
                (generation, last, batch),
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [row[1:] for row in rows]

    def add_reserved(self, key: str, fp: bytes) -> None:
        self.db.execute("INSERT OR REPLACE INTO reserved (key, fp) VALUES (?, ?)", (key, fp))

    def reserved(self) -> Iterator[tuple[str, bytes]]:
        yield from self.db.execute("SELECT key, fp FROM reserved")

    def add_cut(self, record_id: str, url: str, warc_file: str, decision: Decision) -> None:
        """Journal a copy to cut out of ``warc_file`` (committed at once: autocommit)."""
        self.db.execute(
            "INSERT OR REPLACE INTO cuts (record_id, url, warc_file, decision) VALUES (?, ?, ?, ?)",
            (record_id, url, warc_file, decision.to_json()),
        )

    def cuts(self) -> dict[str, dict[str, tuple[str, str]]]:
        """warc_file -> record id -> (url, exclusion decision JSON) of journalled cuts."""
        out: dict[str, dict[str, tuple[str, str]]] = defaultdict(dict)
        for record_id, url, warc_file, decision in self.db.execute(
            "SELECT record_id, url, warc_file, decision FROM cuts"
        ):
            out[warc_file][record_id] = (url, decision)
        return dict(out)

    def clear_cuts(self, warc_file: str | None = None) -> None:
        if warc_file is None:
            self.db.execute("DELETE FROM cuts")
        else:
            self.db.execute("DELETE FROM cuts WHERE warc_file = ?", (warc_file,))

    def close(self) -> None:
        self.db.close()


# --- the gate and the release step -----------------------------------------------------------


class NearDuplicateGate:
    """Item pipeline (priority 900) and release hooks; see the module docstring."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.session = CrawlSession.of(crawler)
        self.stats = crawler.stats
        self.works: ReservedWorks | None = None
        self.spool: PageSpool | None = None
        self.error: str | None = None
        # The directory whose .open files the crash recovery is finalising (see session).
        self.recovering: Path | None = None
        self._final_done = False
        self._final_clean = False  # the end-of-crawl pass finished every cut it began

    @classmethod
    def from_crawler(cls, crawler: Any) -> NearDuplicateGate:
        settings = crawler.settings
        if not tds.getbool(settings, "TDMCRAWL_DEDUP"):
            raise NotConfigured("TDMCRAWL_DEDUP is off")
        # With the output off (`check`) the gate still answers matches_text: an index in
        # memory, no spool, no file written.
        gate = cls(crawler)
        session = gate.session
        session.reserved_hooks.append(gate.reserved)
        session.add_page_step(STEP_NEAR_DUPLICATE, gate.process_item)
        session.release_hooks.append(gate.release_file)
        session.final_release_hooks.append(gate.release_all)
        session.neardup = gate
        # Connected after the session's own handlers: the registry is open by then, and the
        # output pipeline has run the release step (pipelines close before spider_closed).
        crawler.signals.connect(gate.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(gate.close, signal=signals.spider_closed)
        return gate

    # -- lifecycle

    def spider_opened(self, spider: Any = None) -> None:
        try:
            self.open()
        except Exception as exc:
            # Fail closed: without the index no page may be kept.
            self.error = f"{type(exc).__name__}: {exc}"
            logger.error(
                "tdmcrawl: near-duplicate gate unavailable, keeping nothing: %s", self.error
            )
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="tdmcrawl-error"))

    def open(self) -> None:
        if self.works is not None:
            return
        if not self.session.output_enabled:
            self.works = ReservedWorks.in_memory(None)
            if self.session.registry is not None:
                count = self.works.load_registry(self.session.registry)
                self._stat("registry_works", count, set_value=True)
            return
        out_dir = self.session.out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        settings = self.crawler.settings
        self.works = ReservedWorks.open(settings, out_dir)
        spool = out_dir / SPOOL_NAME
        if not (
            tds.getbool(settings, "TDMCRAWL_RESUME")
            or tds.getbool(settings, "TDMCRAWL_REFETCH_KEPT")
        ):
            for leftover in (spool, *spool.parent.glob(SPOOL_NAME + "-*")):
                leftover.unlink(missing_ok=True)  # a new crawl inherits nothing
        self.spool = PageSpool(spool)
        if self.session.registry is not None:
            count = self.works.load_registry(self.session.registry)
            self._stat("registry_works", count, set_value=True)
            self.session.registry_hooks.append(self._registry_synced)
        self._reload_reserved()
        self.works.advance_past(self.spool.max_checked())

    def _registry_synced(self) -> None:
        """Works registered since the crawl started join the index (removed ones stay:
        honouring an opt-out a little longer is the safe side)."""
        if self.works is not None and self.session.registry is not None:
            added = self.works.load_registry(self.session.registry)
            if added:
                self._stat("registry_works", added)

    def _reload_reserved(self) -> None:
        """Reserved pages found by an earlier run of this crawl (``--resume``)."""
        if self.works is None or self.spool is None:
            return
        items = []
        for key, raw in self.spool.reserved():
            try:
                fp = Fingerprint.from_bytes(raw)
            except FingerprintError:
                continue
            if fp.config_identity == self.works.config.identity:
                items.append((key, fp))
            if len(items) >= 1000:  # bounded memory: add in chunks
                self.works.add_many(items)
                items = []
        self.works.add_many(items)

    def close(self, *args: Any, **kwargs: Any) -> None:
        if self._final_clean and self.spool is not None:
            # Every file is renamed and every cut done: the journal has nothing left to finish.
            self.spool.clear_cuts()
        for part in (self.spool, self.works):
            if part is not None:
                try:
                    part.close()
                except Exception:
                    logger.exception("tdmcrawl: closing the near-duplicate %s failed", part)
        self.spool = None
        self.works = None

    # -- the reserved-page hook

    def reserved(self, url: str, text: str, decision: Decision) -> None:
        """A page found reserved: its signature joins the index (its text is dropped)."""
        if self.works is None or not text:
            return
        fp = fingerprint(text, self.works.config)
        if fp is None:
            return  # too short to match anything
        key = CRAWL_PREFIX + url
        self.works.add(key, fp)
        if self.spool is not None:
            self.spool.add_reserved(key, fp.to_bytes())
        self._stat("reserved_indexed")

    # -- the gate

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, PageItem) or not item.decision.allowed:
            return item  # a project's own items; a reserved page the output refuses anyway
        if self.error or self.works is None or self.spool is None:
            raise DropItem(f"near-duplicate gate unavailable: {self.error}", log_level="DEBUG")
        generation = self.works.generation
        prepared = item.prepared
        if prepared is not None:
            fp = self._prepared_fingerprint(item.url, prepared)
            (matches,) = self.works.matches([fp]) if fp is not None else ([],)
        else:
            fp, matches = _matches(self.works, item.text or "")
        if fp is None:
            return item  # too short to be a copy of anything
        if matches:
            decision = item.decision.merge(Decision(url=item.url, reasons=match_reasons(matches)))
            evidence = self.session.record_page_evidence(item.capture, decision, stage=STAGE_GATE)
            self.session.record_exclusion(decision, stage=STAGE_GATE, evidence=evidence)
            self.spool.add_excluded(item.url, fp.to_bytes())
            raise DropItem(f"near-duplicate of {matches[0].key}", log_level="DEBUG")
        self.spool.put(item.url, fp.to_bytes(), item.decision, generation)
        return item

    def _prepared_fingerprint(self, url: str, prepared: Any) -> Fingerprint | None:
        """A page worker's fingerprint (``crawler.workers.Prepared``); a page without a
        usable one has no verdict and is not kept (fail closed)."""
        assert self.works is not None
        why = prepared.error
        fp = None
        if not why and not prepared.checked:
            why = "the page worker did not fingerprint it"
        elif not why and prepared.fingerprint:
            try:
                fp = Fingerprint.from_bytes(prepared.fingerprint)
            except FingerprintError as exc:
                why = f"unreadable fingerprint: {exc}"
            else:
                if fp.config_identity != self.works.config.identity:
                    why = f"fingerprint of another index config ({fp.config_identity})"
        if why:
            self._stat("unverified")
            logger.error("tdmcrawl: %s not kept: its near-duplicate check failed (%s)", url, why)
            raise DropItem(f"near-duplicate check failed: {why}", log_level="DEBUG")
        return fp

    def matches_text(self, text: str) -> tuple[Reason, ...]:
        """The ``registry-content`` / ``reserved-copy`` reasons of a page's text, as the gate
        would find them (``tdmcrawl check``); empty when it is no copy."""
        if self.error or self.works is None:
            raise NearDuplicateUnavailable(self.error or "the near-duplicate index is not open")
        return match_reasons(_matches(self.works, text)[1])

    # -- the release step

    def release_file(self, path: Path, pages: list[Any]) -> set[str]:
        """``before_close`` veto: re-check a file's pages against the index as it stands."""
        if self.works is None or self.spool is None:
            return set()
        generation = self.works.generation
        spooled = self.spool.lookup([p.url for p in pages])
        stale = [
            (p, spooled[p.url])
            for p in pages
            if p.url in spooled and spooled[p.url][2] < generation
        ]
        fps = _fingerprints(row[0] for _page, row in stale)
        vetoed: set[str] = set()
        for (page, (_fp, decision, _checked)), matches in zip(
            stale, self.works.matches(fps), strict=True
        ):
            if matches:
                # Pages of a file a killed run left open were not counted by this run.
                self._exclude_late(
                    page.url,
                    decision,
                    matches,
                    page.ref.record_id,
                    page.ref.filename,
                    counted=self.recovering is None,
                    source=(path, page.ref.offset),
                )
                vetoed.add(page.record_ids[0])
        for page in pages:
            if page.url in spooled and page.record_ids[0] not in vetoed:
                self.spool.release(page.url, page.ref.filename, page.ref.record_id, generation)
        return vetoed

    def release_all(self, warc_dir: Path) -> list[Path]:
        """End of crawl: check the pages of files closed earlier against the final index,
        rewrite the files holding a copy; returns the rewritten (or deleted) files."""
        if self._final_done or self.works is None or self.spool is None:
            return []
        self._final_done = True
        generation = self.works.generation
        by_file: dict[str, list[str]] = defaultdict(list)
        offsets: dict[str, dict[str, int]] = {}
        for batch in self.spool.released_unchecked(generation):
            fps = _fingerprints(row[1] for row in batch)
            clean = []
            for (url, _fp, decision, warc_file, record_id), matches in zip(
                batch, self.works.matches(fps), strict=True
            ):
                if matches:
                    path = warc_dir / warc_file
                    if warc_file not in offsets:
                        offsets[warc_file] = record_offsets(path) if path.exists() else {}
                    offset = offsets[warc_file].get(record_id)
                    source = (path, offset) if offset is not None else None
                    self._exclude_late(url, decision, matches, record_id, warc_file, source=source)
                    by_file[warc_file].append(record_id)
                else:
                    clean.append(url)
            self.spool.checked(clean, generation)
        rewritten = []
        for name, ids in sorted(by_file.items()):
            rewritten.append(self._rewrite(warc_dir / name, ids))
            self.spool.clear_cuts(name)  # cut and its rows moved: nothing left to finish
        self._final_clean = True
        return rewritten

    def recover_cuts(self, warc_dir: Path) -> dict[str, set[str]]:
        """After a kill: finish the cuts the journal holds; see the module docstring.

        Copies journalled in finished files are cut out now (their file's rows moved
        to the new offsets); every journalled copy gets its ``release`` exclusion and
        loses its ``kept`` row. Returns, per ``.open`` file (by final name), the
        response ids its recovery must veto. The journal is cleared by
        :meth:`cuts_recovered` once the ``.open`` files are finalised too.
        """
        if self.spool is None:
            return {}
        audit = self.session.audit
        open_cuts: dict[str, set[str]] = {}
        for name, cuts in sorted(self.spool.cuts().items()):
            path = warc_dir / name
            if path.with_name(name + ".open").exists():
                open_cuts[name] = set(cuts)
            elif path.exists():
                self._rewrite(path, list(cuts))
            for record_id, (url, decision_json) in cuts.items():
                if audit is not None:
                    try:
                        decision = Decision.from_json(decision_json)
                    except ValueError:
                        decision = None
                    if decision is not None and not decision.allowed:
                        audit.record_exclusion(decision, stage=STAGE_RELEASE)
                    drop_kept(audit, [record_id])
                self.spool.remove(url)
            logger.warning("tdmcrawl: finished %d interrupted cut(s) in %s", len(cuts), name)
        return open_cuts

    def cuts_recovered(self) -> None:
        """The ``.open`` files are finalised (their vetoes cut): the journal is done."""
        if self.spool is not None:
            self.spool.clear_cuts()

    def _rewrite(self, path: Path, record_ids: list[str]) -> Path:
        if not path.exists():
            logger.error(
                "tdmcrawl: cannot remove %d late copies from %s: the file is gone",
                len(record_ids),
                path,
            )
            return path
        rewrite_without(path, record_ids)
        self._stat("files_rewritten")
        if not pending_pages(path):
            path.unlink()  # only its warcinfo record was left
            return path
        audit = self.session.audit
        if audit is not None:
            move_kept(audit, path.name, record_offsets(path))
        return path

    def _exclude_late(
        self,
        url: str,
        decision_json: str,
        matches: list[Any],
        record_id: str,
        warc_file: str,
        *,
        counted: bool = True,
        source: tuple[Path, int] | None = None,
    ) -> None:
        """Audit a page removed at release (stage ``release``); its ``kept`` row goes.

        The cut is journalled first: the caller rewrites the file after this returns.
        ``source``: where its response record is, so its head joins the evidence.
        """
        try:
            kept = Decision.from_json(decision_json)
        except ValueError:
            kept = Decision(url=url)
        decision = kept.merge(Decision(url=url, reasons=match_reasons(matches)))
        if self.spool is not None:
            self.spool.add_cut(record_id, url, warc_file, decision)
        evidence = None
        if source is not None:
            try:
                # The audit's spelling of the URL (the record holds its RFC 3986 form).
                capture = replace(capture_from_record(*source), url=url)
            except Exception:  # evidence is best effort; the removal is what must happen
                logger.exception("tdmcrawl: cannot read the record of %s for evidence", url)
            else:
                evidence = self.session.record_page_evidence(
                    capture, decision, stage=STAGE_RELEASE, note=STORED_HEAD_NOTE
                )
        self.session.record_exclusion(decision, stage=STAGE_RELEASE, evidence=evidence)
        if self.session.audit is not None:
            drop_kept(self.session.audit, [record_id])
        if counted:
            # Counted as kept by the session's keep_page (a page vetoed by its own write is
            # counted just after).
            self.session.kept -= 1
            if self.stats is not None:
                self.stats.inc_value("tdmcrawl/kept", -1)
        if self.spool is not None:
            self.spool.exclude(url)
        self._stat("released_copies")

    def _stat(self, key: str, value: int = 1, *, set_value: bool = False) -> None:
        if self.stats is None:
            return
        if set_value:
            self.stats.set_value(f"tdmcrawl/neardup/{key}", value)
        else:
            self.stats.inc_value(f"tdmcrawl/neardup/{key}", value)


def _matches(works: ReservedWorks, text: str) -> tuple[Fingerprint | None, list[Any]]:
    """A page text's fingerprint (None: too short to be a copy) and its verified matches."""
    fp = fingerprint(text, works.config, positions=False)
    if fp is None:
        return None, []
    (matches,) = works.matches([fp])
    return fp, matches


def _fingerprints(raws: Iterable[bytes]) -> list[Any]:
    return [Fingerprint.from_bytes(raw) for raw in raws]
