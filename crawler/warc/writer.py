"""The rotating ``.open`` -> rename WARC writer, and the evidence writer built on it.

:class:`RotatingWarcWriter` owns file names, the warcinfo record that opens
every file, size rotation and the rename, with a veto hook that sees a file's
pages before it is finalised (the near-duplicate release step).
:class:`EvidenceWriter` is the same writer for origin-file captures
(robots.txt, tdmrep.json, ai.txt) under ``DIR/evidence/``.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC
from pathlib import Path
from typing import Any

from tdmcrawl.crawler.errors import WarcOutputError
from tdmcrawl.crawler.warc.capture import Capture
from tdmcrawl.crawler.warc.exclusion import exclusion_records
from tdmcrawl.crawler.warc.records import (
    DEFAULT_MAX_SIZE,
    Clock,
    RecordFactory,
    RecordIdFactory,
    WarcRef,
    record_id_of,
    serialize_record,
)
from tdmcrawl.crawler.warc.rewrite import PendingPage, rewrite_without
from tdmcrawl.optout.decision import Decision

# (path of the .open file, its pages) -> record ids (any of a page's records) to remove
BeforeClose = Callable[[Path, list[PendingPage]], Iterable[str]]
# (final path, pages kept, pages vetoed) once a file is renamed; offsets moved if any was vetoed
AfterClose = Callable[[Path, list[PendingPage], list[PendingPage]], None]
# (.open path, pages kept, pages vetoed) after any rewrite, just before the rename: what must
# be durable before the file counts as finished (the audit's rows for its pages)
BeforeRename = Callable[[Path, list[PendingPage], list[PendingPage]], None]

_HOST_UNSAFE = re.compile(r"[^A-Za-z0-9._]+")


@dataclass(frozen=True)
class Serialized:
    """A record already serialised (one gzip member), with its id."""

    record_id: str
    member: bytes


@dataclass
class _OpenFile:
    final: Path
    handle: Any
    warcinfo_id: str
    pages: list[PendingPage] = field(default_factory=list)  # kept only for the hooks
    groups: int = 0

    @property
    def open_path(self) -> Path:
        return self.final.with_name(self.final.name + ".open")


class RotatingWarcWriter:
    """Writes record groups into ``{prefix}-{timestamp17}-{serial:05d}-{host}.warc.gz``.

    Files are ``.open`` while written and renamed by :meth:`close` or on
    rotation, after ``before_close`` (if given) has seen the file's pages and
    vetoed any: vetoed pages are cut out before the rename, so a finalised
    file never holds them. ``before_rename`` (if given) runs after that cut,
    before the rename. Groups never straddle files.
    """

    def __init__(
        self,
        directory: Path | str,
        *,
        warcinfo: dict[str, str],
        prefix: str = "tdmcrawl",
        max_size: int = DEFAULT_MAX_SIZE,
        hostname: str | None = None,
        clock: Clock | None = None,
        record_id: RecordIdFactory | None = None,
        compress: bool = True,
        before_close: BeforeClose | None = None,
        after_close: AfterClose | None = None,
        before_rename: BeforeRename | None = None,
    ) -> None:
        if max_size <= 0:
            raise ValueError(f"WARC max size must be positive, got {max_size}")
        self.directory = Path(directory)
        self.prefix = prefix
        self.max_size = int(max_size)
        self.hostname = _HOST_UNSAFE.sub("_", hostname or socket.gethostname()) or "localhost"
        self.warcinfo = dict(warcinfo)
        self.records = RecordFactory(clock=clock, record_id=record_id)
        # Response records built elsewhere (crawler.workers) are used only when they are what
        # this writer would build: the default clock and ids, gzip members.
        self.takes_prebuilt = clock is None and record_id is None and compress
        self.compress = compress
        self.before_close = before_close
        self.after_close = after_close
        self.before_rename = before_rename
        self.finished: list[Path] = []  # finalised files, in order
        self.vetoed: list[PendingPage] = []
        self._serial = 0
        self._file: _OpenFile | None = None
        self._lock = threading.Lock()

    # -- writing

    @property
    def current_warcinfo_id(self) -> str | None:
        """The warcinfo record id of the file the next page goes to, if one is open."""
        return self._file.warcinfo_id if self._file is not None else None

    def write_page(
        self,
        capture: Capture,
        decision: Decision | None = None,
        *,
        prebuilt: tuple[str, str, bytes] | None = None,
    ) -> WarcRef:
        """Response, request and (with a decision) metadata records; the response's ref.

        ``prebuilt``: (warcinfo id, record id, gzip member) of the response record, built
        from ``capture`` by a page worker against the file open then; used if the page
        goes to that file, rebuilt here otherwise (the file rotated meanwhile).
        """

        def build(warcinfo_id: str) -> list[Any]:
            response: Any
            if prebuilt is not None and self.takes_prebuilt and prebuilt[0] == warcinfo_id:
                response = Serialized(prebuilt[1], prebuilt[2])
                rid = prebuilt[1]
            else:
                response = self.records.response(capture, warcinfo_id=warcinfo_id)
                rid = record_id_of(response)
            group = [
                response,
                self.records.request(capture, concurrent_to=rid, warcinfo_id=warcinfo_id),
            ]
            if decision is not None:
                group.append(
                    self.records.metadata(
                        capture.url,
                        decision,
                        date=capture.fetched_at,
                        concurrent_to=rid,
                        warcinfo_id=warcinfo_id,
                    )
                )
            return group

        return self.write_group(capture.url, build)[0]

    def write_group(self, url: str, build: Callable[[str], list[Any]]) -> list[WarcRef]:
        """Write the records ``build(warcinfo_id)`` returns, all in one file."""
        with self._lock:
            current = self._ensure_file()
            records = build(current.warcinfo_id)
            members = [self._member(r) for r in records]
            if self._full(current, members):
                self._finalise(current)
                current = self._ensure_file()
                # Rebuilt against the new file's warcinfo record.
                records = build(current.warcinfo_id)
                members = [self._member(r) for r in records]
            ids = [r.record_id if isinstance(r, Serialized) else record_id_of(r) for r in records]
            return self._append(current, url, ids, members)

    def _member(self, record: Any) -> bytes:
        if isinstance(record, Serialized):
            return record.member
        return serialize_record(record, compress=self.compress)

    def write_members(self, url: str, members: list[tuple[str, bytes]]) -> list[WarcRef]:
        """Append records serialised elsewhere, byte for byte, all in one file.

        ``members`` are (record id, bytes) pairs: one whole gzip member per
        record for a compressing writer, one plain record otherwise. They
        keep their own headers (``WARC-Warcinfo-ID`` included): this is how
        ``tdmcrawl filter`` copies input records without re-serialising them.
        """
        data = [member for _, member in members]
        if not data:
            raise ValueError("write_members needs at least one record")
        if self.compress and not all(member[:2] == b"\x1f\x8b" for member in data):
            raise ValueError("a compressing WARC writer appends gzip members only")
        with self._lock:
            current = self._ensure_file()
            if self._full(current, data):
                self._finalise(current)
                current = self._ensure_file()
            return self._append(current, url, [record_id for record_id, _ in members], data)

    def close(self) -> list[Path]:
        """Finalise the current file (veto hook, rename). Idempotent."""
        with self._lock:
            if self._file is not None:
                self._finalise(self._file)
            return list(self.finished)

    @property
    def current_path(self) -> Path | None:
        return self._file.open_path if self._file else None

    # -- internals

    def _full(self, current: _OpenFile, members: list[bytes]) -> bool:
        # A file's first group always goes in, however large: groups never straddle files.
        return current.groups > 0 and current.handle.tell() + sum(map(len, members)) > self.max_size

    def _append(
        self, current: _OpenFile, url: str, record_ids: list[str], members: list[bytes]
    ) -> list[WarcRef]:
        refs: list[WarcRef] = []
        start = current.handle.tell()
        try:
            for record_id, member in zip(record_ids, members, strict=True):
                offset = current.handle.tell()
                current.handle.write(member)
                refs.append(WarcRef(current.final.name, offset, record_id))
            # Complete members reach the OS at once: a crash leaves a readable .open file.
            current.handle.flush()
        except OSError as exc:
            self._cut_back(current, start)
            raise WarcOutputError(
                f"cannot write to {current.open_path}: {exc}; free space, then run again "
                "(a crawl with --resume)"
            ) from exc
        current.groups += 1
        if self.before_close or self.after_close or self.before_rename:
            # A filter copying millions of records one by one needs no list of them.
            current.pages.append(PendingPage(url, tuple(r.record_id for r in refs), refs[0]))
        if current.handle.tell() >= self.max_size:
            self._finalise(current)
        return refs

    def _cut_back(self, current: _OpenFile, start: int) -> None:
        """After a failed write (disk full, file too large): no half group left behind for
        later groups to follow, so a writer that can write again goes on from ``start``."""
        # The buffered handle cannot drop the bytes it failed to write: close it (its own
        # flush fails again), cut the file, reopen it.
        with contextlib.suppress(OSError):
            current.handle.close()
        try:
            os.truncate(current.open_path, start)
            current.handle = open(current.open_path, "r+b")  # noqa: SIM115 - closed on finalise
            current.handle.seek(start)
        except OSError:
            # Left as it is: recover_open_files cuts it to its complete members.
            self._file = None

    def _ensure_file(self) -> _OpenFile:
        if self._file is not None:
            return self._file
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = self.records.clock().astimezone(UTC).strftime("%Y%m%d%H%M%S%f")[:17]
        suffix = ".warc.gz" if self.compress else ".warc"
        while True:
            name = f"{self.prefix}-{stamp}-{self._serial:05d}-{self.hostname}{suffix}"
            final = self.directory / name
            self._serial += 1
            if final.exists():
                continue
            try:
                # "x": another writer (a second process) may have taken the name just now.
                handle = open(final.with_name(name + ".open"), "xb")  # noqa: SIM115
            except FileExistsError:
                continue
            break
        info = self.records.warcinfo(final.name, self.warcinfo)
        handle.write(serialize_record(info, compress=self.compress))
        handle.flush()
        self._file = _OpenFile(final, handle, record_id_of(info))
        return self._file

    def _finalise(self, current: _OpenFile) -> None:
        self._file = None
        current.handle.flush()
        os.fsync(current.handle.fileno())
        current.handle.close()
        open_path = current.open_path
        vetoes = (
            set(self.before_close(open_path, list(current.pages))) if self.before_close else set()
        )
        gone = [p for p in current.pages if vetoes.intersection(p.record_ids)]
        if gone:
            self.vetoed += gone
            if len(gone) == len(current.pages):
                open_path.unlink()  # only the warcinfo would remain
                return
            rewrite_without(open_path, {p.record_ids[0] for p in gone})
        kept = [p for p in current.pages if p not in gone]
        if self.before_rename:
            self.before_rename(open_path, kept, gone)
        os.replace(open_path, current.final)
        self.finished.append(current.final)
        if self.after_close:
            self.after_close(current.final, kept, gone)


class EvidenceWriter:
    """robots.txt, tdmrep.json and ai.txt captures, in their own WARC files (DIR/evidence/)."""

    def __init__(
        self,
        directory: Path | str,
        *,
        warcinfo: dict[str, str],
        prefix: str = "tdmcrawl-evidence",
        max_size: int = DEFAULT_MAX_SIZE,
        **options: Any,
    ) -> None:
        self._writer = RotatingWarcWriter(
            directory, warcinfo=warcinfo, prefix=prefix, max_size=max_size, **options
        )

    def write_capture(self, url: str, capture: Capture) -> WarcRef:
        """Response and request records of one origin-file fetch; the response's ref."""
        if capture.url != url:
            capture = _with_url(capture, url)
        return self._writer.write_page(capture)

    def write_exclusion(
        self,
        capture: Capture,
        decision: Decision,
        *,
        stage: str,
        body: bytes | None = None,
        content_type: str | None = None,
        note: str | None = None,
    ) -> list[WarcRef]:
        """The evidence of a page excluded after fetching (crawler/warc/exclusion.py): its
        response head, the deciding meta tags' bytes, the decision; never its body.
        Returns the refs of the records written, the response head's first."""

        def build(warcinfo_id: str) -> list[Any]:
            return exclusion_records(
                self._writer.records,
                capture,
                decision,
                stage=stage,
                body=body,
                content_type=content_type,
                warcinfo_id=warcinfo_id,
                note=note,
            )

        return self._writer.write_group(capture.url, build)

    def close(self) -> list[Path]:
        return self._writer.close()

    @property
    def finished(self) -> list[Path]:
        return list(self._writer.finished)


def _with_url(capture: Capture, url: str) -> Capture:
    return replace(capture, url=url)
