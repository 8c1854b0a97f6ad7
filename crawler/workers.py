"""A kept page's text, fingerprint and response record, prepared in worker processes.

The costly part of keeping a page is plain computation on its bytes: the main
text (``dedup.extract_query_text``), its fingerprint, and the gzip member of
its WARC response record (digests and compression of the whole body). With
``TDMCRAWL_WORKERS`` > 0 the post-fetch gate hands that to worker processes
while it evaluates the page's signals, and the reactor thread only matches
the fingerprint against the index and appends the prepared bytes. Decisions
are unchanged: a page's fingerprint is the one the reactor thread would
compute, a page is still written only after its near-duplicate verdict, and
a page whose preparation failed (a worker died) gets no verdict and is never
kept (``crawler.gates.neardup``).

The workers are ``python -m tdmcrawl.crawler.workers`` child processes, fed
through their standard input and answering on their standard output (one
pickled job or answer per frame); the reactor thread reads and writes the
pipes without blocking. A worker ignores SIGINT and SIGTERM (the crawl
finishes the pages under way on the first one) and exits when its input
closes: at the end of the crawl, or when the crawl process was killed. A
worker that dies fails the jobs it held; the next job starts a new one, and
after ``MAX_RESTARTS`` the crawl prepares pages in its own thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import pickle
import signal
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import BinaryIO

from tdmcrawl.crawler.warc.capture import Capture
from tdmcrawl.crawler.warc.records import RecordFactory, record_id_of, serialize_record
from tdmcrawl.dedup import DEFAULT_CONFIG, DedupConfig, document_kind, document_text, fingerprint
from tdmcrawl.dedup.extract import DEFAULT_ENGINE, QUERY_ENGINE, Engine, extract_main_text

logger = logging.getLogger(__name__)

FRAME = struct.Struct("<QI")  # job id, length of the pickled job or answer
MAX_RESTARTS = 5
PIPE_SIZE = 1 << 20
# A worker that holds jobs and answers none for this long is stuck (a pathological page
# in an extractor, a stopped process): it is killed and its pages fail (not kept), so a
# crawl never waits for ever. Generous: the largest page allowed takes seconds.
STALL_TIMEOUT = 300.0


# --- the work (runs in a worker, or in the crawl's thread) -------------------------------


def page_text(
    body: bytes,
    content_type: str,
    url: str,
    encoding: str | None = None,
    engine: Engine = DEFAULT_ENGINE,
) -> str:
    """The main text of a page: the one place the crawler turns a body into text (PDF and
    EPUB files included: ``dedup.document_text``, bounded). ``engine``: ``DEFAULT_ENGINE``
    for a reserved page (its text joins the index), ``QUERY_ENGINE`` for a page only checked
    against it (see ``dedup.extract``)."""
    kind = document_kind(content_type, body, url)
    if kind is not None:
        return document_text(body, kind)
    if content_type.startswith("text/plain"):
        return body.decode(encoding or "utf-8", errors="replace")
    try:
        return extract_main_text(body, url, engine=engine)
    except Exception:  # a parser failure must not stop the gate
        logger.debug("extract_main_text failed on %s", url, exc_info=True)
        return lxml_text(body)


def lxml_text(body: bytes) -> str:
    from lxml import etree, html

    try:
        tree = html.fromstring(body)
    except (etree.ParserError, ValueError):
        return ""
    for node in tree.xpath("//script|//style|//noscript"):
        node.drop_tree()
    return " ".join(tree.text_content().split())


@dataclass(frozen=True)
class Job:
    """What a worker needs: the decoded body for the text, the capture for the record."""

    url: str
    body: bytes  # decoded (content-coding removed), as the gates read it
    content_type: str
    encoding: str | None = None
    text: bool = True  # fingerprint wanted (the near-duplicate gate is on)
    capture: Capture | None = field(default=None, repr=False)
    warcinfo_id: str | None = None  # the open output file's: the record is built against it
    config: DedupConfig | None = None  # the index's (``DEFAULT_CONFIG`` when None)


@dataclass(frozen=True)
class Prepared:
    """A job's answer. ``checked``: the text was fingerprinted (``Job.text``); then
    ``fingerprint`` is its bytes, or None when the text is too short to be a copy of
    anything; ``record``: (warcinfo id, record id, gzip member) of the response record;
    ``error``: why there is no answer (then nothing else is set)."""

    fingerprint: bytes | None = None
    record: tuple[str, str, bytes] | None = None
    error: str | None = None
    checked: bool = False


def prepare(job: Job) -> Prepared:
    fp = None
    if job.text:
        text = page_text(job.body, job.content_type, job.url, job.encoding, QUERY_ENGINE)
        found = fingerprint(text, job.config or DEFAULT_CONFIG, positions=False)
        fp = found.to_bytes() if found is not None else None
    record = None
    if job.capture is not None and job.warcinfo_id:
        response = RecordFactory().response(job.capture, warcinfo_id=job.warcinfo_id)
        record = (job.warcinfo_id, record_id_of(response), serialize_record(response))
    return Prepared(fingerprint=fp, record=record, checked=job.text)


def serve(source: BinaryIO, sink: BinaryIO) -> None:
    """A worker's loop: one answer per job, until the input ends."""
    while True:
        head = _read_exactly(source, FRAME.size)
        if head is None:
            return
        job_id, length = FRAME.unpack(head)
        data = _read_exactly(source, length)
        if data is None:
            return
        try:
            answer = prepare(pickle.loads(data))
        except Exception as exc:  # the job's own failure: the page gets no verdict
            answer = Prepared(error=f"{type(exc).__name__}: {exc}")
        out = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        sink.write(FRAME.pack(job_id, len(out)) + out)
        sink.flush()


def _read_exactly(source: BinaryIO, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = source.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def main() -> None:
    # The crawl decides when to stop: a Ctrl-C to the process group must not kill the
    # pages under way; the input closing (the end, or a killed crawl) ends the worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    serve(sys.stdin.buffer, sys.stdout.buffer)
    # Every answer is flushed: skip the interpreter's teardown (numpy, resiliparse...),
    # which the crawl would wait for at its close.
    os._exit(0)


# --- the pool (the crawl's side, in the reactor thread) ----------------------------------


class _Worker:
    """One worker process and its pipes, read and written without blocking."""

    def __init__(self, pool: WorkerPool) -> None:
        self.pool = pool
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tdmcrawl.crawler.workers"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.wfd = self.proc.stdin.fileno()
        self.rfd = self.proc.stdout.fileno()
        os.set_blocking(self.wfd, False)
        os.set_blocking(self.rfd, False)
        for fd in (self.wfd, self.rfd):
            _widen_pipe(fd)
        self.out = bytearray()
        self.inp = bytearray()
        self.jobs: dict[int, asyncio.Future[Prepared]] = {}
        self.alive = True
        self.writing = False
        self.progress = time.monotonic()  # the last answer, or when it last became busy
        pool.loop.add_reader(self.rfd, self._readable)

    def send(self, job_id: int, data: bytes, future: asyncio.Future[Prepared]) -> None:
        if not self.jobs:
            self.progress = time.monotonic()
        self.jobs[job_id] = future
        self.out += FRAME.pack(job_id, len(data))
        self.out += data
        self._flush()

    def _flush(self) -> None:
        try:
            while self.out:
                written = os.write(self.wfd, self.out)
                del self.out[:written]
        except BlockingIOError:
            pass
        except OSError as exc:  # the worker is gone
            self.fail(f"cannot send to the worker: {exc}")
            return
        if self.out and not self.writing:
            self.pool.loop.add_writer(self.wfd, self._flush)
            self.writing = True
        elif not self.out and self.writing:
            self.pool.loop.remove_writer(self.wfd)
            self.writing = False

    def _readable(self) -> None:
        try:
            chunk = os.read(self.rfd, 1 << 20)
        except BlockingIOError:
            return
        except OSError as exc:
            self.fail(f"cannot read from the worker: {exc}")
            return
        if not chunk:
            self.fail(f"the worker exited ({self.proc.poll()})")
            return
        self.inp += chunk
        while len(self.inp) >= FRAME.size:
            job_id, length = FRAME.unpack_from(self.inp)
            if len(self.inp) < FRAME.size + length:
                break
            data = bytes(self.inp[FRAME.size : FRAME.size + length])
            del self.inp[: FRAME.size + length]
            self.progress = time.monotonic()
            future = self.jobs.pop(job_id, None)
            if future is None or future.done():
                continue
            try:
                future.set_result(pickle.loads(data))
            except Exception as exc:
                future.set_result(Prepared(error=f"unreadable answer: {exc}"))

    def fail(self, why: str) -> None:
        """The worker is gone: every job it held fails (those pages get no verdict)."""
        if not self.alive:
            return
        self.alive = False
        self._detach()
        if self.jobs:
            logger.error(
                "tdmcrawl: a page worker failed (%s): %d page(s) under way are not kept",
                why,
                len(self.jobs),
            )
        for future in self.jobs.values():
            if not future.done():
                future.set_result(Prepared(error=why))
        self.jobs.clear()
        self.pool.worker_failed(self)

    def _detach(self) -> None:
        self.pool.loop.remove_reader(self.rfd)
        if self.writing:
            self.pool.loop.remove_writer(self.wfd)
            self.writing = False
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass

    def close(self, timeout: float) -> None:
        """Close the input (the worker ends), wait for it: its CPU time is the crawl's.
        Jobs still under way (a crawl stopped early) get no verdict: their pages are
        not kept, and nothing waits for them any longer."""
        if self.alive:
            self.alive = False
            self._detach()
        for future in self.jobs.values():
            if not future.done():
                future.set_result(Prepared(error="the crawl closed its page workers"))
        self.jobs.clear()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _widen_pipe(fd: int) -> None:
    """A pipe of 1 MiB (Linux; 64 KiB by default): a page's job is written in one call
    instead of a write, a wait for the worker to read, and another write."""
    # Another system, or over /proc/sys/fs/pipe-max-size: the default size works too.
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_SIZE)


class WorkerPool:
    """``processes`` page workers; :meth:`submit` returns a future of :class:`Prepared`."""

    def __init__(
        self,
        processes: int,
        loop: asyncio.AbstractEventLoop | None = None,
        *,
        stall_timeout: float = STALL_TIMEOUT,
    ) -> None:
        self.processes = processes
        self.loop = loop or asyncio.get_event_loop()
        self.workers: list[_Worker] = []
        self.restarts = 0
        self.stall_timeout = stall_timeout
        self._next_id = 0
        self._closed = False
        self._watch: asyncio.TimerHandle | None = None

    @property
    def available(self) -> bool:
        """False once closed, or after too many workers died: prepare pages in-thread."""
        return not self._closed and self.restarts <= MAX_RESTARTS

    def start(self) -> None:
        while len(self.workers) < self.processes:
            self.workers.append(_Worker(self))
        if self._watch is None:
            self._watch = self.loop.call_later(self._watch_period, self._check_stalls)

    @property
    def _watch_period(self) -> float:
        return max(0.05, min(self.stall_timeout / 4, 10.0))

    def _check_stalls(self) -> None:
        self._watch = None
        if self._closed:
            return
        now = time.monotonic()
        for worker in list(self.workers):
            if worker.alive and worker.jobs and now - worker.progress > self.stall_timeout:
                with contextlib.suppress(OSError):
                    worker.proc.kill()
                worker.fail(f"no answer for {self.stall_timeout:g} s: the worker was stopped")
        self._watch = self.loop.call_later(self._watch_period, self._check_stalls)

    def submit(self, job: Job) -> asyncio.Future[Prepared]:
        future: asyncio.Future[Prepared] = self.loop.create_future()
        if not self.available:
            future.set_result(Prepared(error="no page worker"))
            return future
        self.start()
        worker = min(self.workers, key=lambda w: len(w.jobs))
        self._next_id += 1
        worker.send(self._next_id, pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL), future)
        return future

    def worker_failed(self, worker: _Worker) -> None:
        if worker in self.workers:
            self.workers.remove(worker)
        self.restarts += 1
        try:
            worker.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            worker.proc.kill()
        if self.restarts > MAX_RESTARTS:
            logger.error(
                "tdmcrawl: page workers died %d times: pages are prepared in the crawl "
                "process from now on",
                self.restarts,
            )

    def close(self, timeout: float = 10.0) -> None:
        self._closed = True
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        for worker in self.workers:
            worker.close(timeout)
        self.workers.clear()

    def pids(self) -> list[int]:
        return [w.proc.pid for w in self.workers if w.alive]


if __name__ == "__main__":
    # Run as the module's own name, so the answers pickle as tdmcrawl.crawler.workers.Prepared.
    from tdmcrawl.crawler import workers

    workers.main()
