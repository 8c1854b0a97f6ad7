"""FastWARC reading and worker processes in `tdmcrawl filter` (issue 15): the same output as
warcio reading in one process, record for record, on clean and odd files; a failed worker
stops the run before anything is copied."""

from __future__ import annotations

import gzip
import json
import multiprocessing
import os
import random
import signal
import sqlite3
import zlib
from dataclasses import replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from tdmcrawl.crawler.errors import FilterError
from tdmcrawl.crawler.filter import FilterOptions, filter_warc_files
from tdmcrawl.crawler.filter import neardup as neardup_module
from tdmcrawl.crawler.filter import origins as origins_module
from tdmcrawl.crawler.filter.fastread import scan
from tdmcrawl.crawler.filter.neardup import NearDuplicates
from tdmcrawl.crawler.filter.options import FilterResult
from tdmcrawl.crawler.filter.read import RecordEntry, iter_records, read_body
from tdmcrawl.crawler.warc import digests
from tests.support.filter import Cap, long_text, output_files, page, robots, write_warc

A = "https://ақпарат.example.kz"
B = "https://news.example.kz"


def captures() -> list[Cap]:
    """Pages with what makes reading odd: a long header line (FastWARC reads lines of at
    most 8 KiB), chunked and gzip-encoded bodies, a broken HTTP head, a revisit, reserved
    pages and copies of them (near-duplicates), Kazakh URLs."""
    reserved = long_text(1)
    body = page("gz", long_text(3)).encode()
    chunked = b"".join(
        b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:100], body[100:]) if part
    )
    return [
        robots(A, "User-agent: *\nDisallow: /жабық/\n"),
        robots(B, "User-agent: *\nAllow: /\n"),
        Cap(f"{A}/түпнұсқа", page("1", reserved, "<meta name='robots' content='noai'>")),
        Cap(f"{B}/copy", page("2", reserved)),
        Cap(f"{A}/жабық/1", page("3", long_text(4))),
        Cap(
            f"{B}/long-header",
            page("4", long_text(5)),
            [("Content-Type", "text/html"), ("Link", "<https://x.kz/" + "ә" * 9000 + ">")],
        ),
        Cap(
            f"{B}/gzip",
            gzip.compress(body),
            [("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
        ),
        Cap(
            f"{B}/chunked",
            chunked,
            [("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")],
        ),
        Cap(f"{B}/broken", raw_block=b"NOT-HTTP garbage\r\n\r\nbody"),
        Cap(
            f"{B}/tdm",
            page("5", long_text(6)),
            [("Content-Type", "text/html"), ("TDM-Reservation", "1")],
        ),
        *(Cap(f"{B}/p/{n}", page(str(n), long_text(10 + n))) for n in range(6)),
    ]


def latin1_record() -> bytes:
    """A response another tool wrote: an ISO-8859-1 byte in its URI (warcio reads it as
    such, FastWARC's text API would not) and spaces around header values."""
    http = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + page("caf", long_text(9)).encode()
    )
    return (
        b"WARC/1.0\r\nWARC-Type:  response \r\nWARC-Target-URI: " + B.encode() + b"/caf\xe9\r\n"
        b"WARC-Record-ID: <urn:uuid:latin-1>\r\nWARC-Date: 2026-01-01T00:00:00Z\r\n"
        b"Content-Type: application/http; msgtype=response\r\n"
        b"Content-Length: " + str(len(http)).encode() + b"\r\n\r\n" + http + b"\r\n\r\n"
    )


def clean_warc(path: Path, *, gzipped: bool = True) -> Path:
    write_warc(path, captures(), gzip=gzipped)
    with open(path, "ab") as handle:
        handle.write(gzip.compress(latin1_record()) if gzipped else latin1_record())
    return path


def member_offsets(path: Path) -> list[int]:
    with open(path, "rb") as handle:
        iterator = ArchiveIterator(handle)
        offsets = []
        for record in iterator:
            iterator.read_to_end(record)
            offsets.append(iterator.get_record_offset())
    return offsets


def odd(kind: str, tmp_path: Path) -> Path:
    """A WARC file with one kind of oddity."""
    source = clean_warc(tmp_path / "clean.warc.gz")
    data = source.read_bytes()
    cut = member_offsets(source)[5]
    target = tmp_path / f"{kind}.warc.gz"
    if kind == "clean":
        return source
    if kind == "plain":
        target = tmp_path / "plain.warc"
        target.write_bytes(gzip.decompress(data))
    elif kind == "plain-cut":
        target = tmp_path / "plain-cut.warc"
        target.write_bytes(gzip.decompress(data)[:-150])
    elif kind == "cut-member":
        target.write_bytes(data[:-150])
    elif kind == "cut-trailer":
        target.write_bytes(data[:-3])
    elif kind == "garbage-bytes":
        target.write_bytes(data[:cut] + b"\x00garbage\xff" * 10 + data[cut:])
    elif kind == "non-warc-member":
        target.write_bytes(data[:cut] + gzip.compress(b"not a WARC record\r\n\r\n") + data[cut:])
    elif kind == "blank-member":
        target.write_bytes(data[:cut] + gzip.compress(b"\r\n\r\n") + data[cut:])
    elif kind == "one-stream":
        target.write_bytes(gzip.compress(gzip.decompress(data)))
    elif kind == "headless-member":
        head = b"WARC/1.1\r\nWARC-Type: resource\r\nWARC-Target-URI: https://x.kz/r\r\n\r\n"
        target.write_bytes(data[:cut] + gzip.compress(head) + data[cut:])
    elif kind == "trailing-zeros":
        target.write_bytes(data + b"\x00" * 64)
    elif kind in ("big-last", "big-last-cut"):
        # A last member of several MiB that does not compress: checked a chunk at a time.
        noise = random.Random(1).randbytes(3 << 20)
        big = Cap(f"{B}/big.bin", noise, [("Content-Type", "image/png")])
        write_warc(target, [*captures(), big], metadata=False)  # the big response is last
        if kind == "big-last-cut":
            target.write_bytes(target.read_bytes()[: -(1 << 20)])
    else:
        raise AssertionError(kind)
    return target


def outcome(out: Path, result: Any, warnings: list[str]) -> dict[str, Any]:
    """Everything a run produced but its run id, dates and file names."""
    members = []
    for path in output_files(out):
        data = path.read_bytes()
        offsets = [*member_offsets(path), len(data)]
        for start, end in pairwise(offsets):
            member = data[start:end]
            if b"tdmcrawl-filter-input" in zlib.decompress(member, 31)[:4096]:
                continue  # the run's own warcinfo: its id and date differ
            members.append(member)
    db = sqlite3.connect(out / "audit.sqlite")
    exclusions = db.execute(
        "SELECT url, reason, stage, source, evidence, matched_work, evidence_offset,"
        " evidence_record_id FROM exclusions ORDER BY id"
    ).fetchall()
    kept = db.execute("SELECT url, record_id FROM kept ORDER BY id").fetchall()
    db.close()
    summary = {k: v for k, v in result.to_dict().items() if k not in ("files", "crawl_id")}
    return {
        "members": members,
        "exclusions": exclusions,
        "kept": kept,
        "summary": summary,
        "warnings": warnings,
    }


def run(inputs: list[Path], out: Path, **options: Any) -> dict[str, Any]:
    warnings: list[str] = []
    try:
        result = filter_warc_files(
            inputs, out, options=FilterOptions(**options), warn=warnings.append
        )
    except FilterError as exc:
        return {"error": str(exc), "warnings": warnings}
    return outcome(out, result, warnings)


ODD = [
    ("clean", True),
    ("plain", False),
    ("plain-cut", False),
    ("cut-member", False),
    ("cut-trailer", False),
    ("garbage-bytes", False),
    ("non-warc-member", False),
    ("blank-member", False),
    ("one-stream", False),
    ("headless-member", False),
    ("trailing-zeros", False),
    ("big-last", True),
    ("big-last-cut", False),
]


@pytest.mark.parametrize(("kind", "proven"), ODD)
def test_fastwarc_reads_only_files_it_proves_clean(kind: str, proven: bool, tmp_path: Path) -> None:
    layout, _ = scan(odd(kind, tmp_path))
    assert (layout is not None) is proven


@pytest.mark.parametrize(("kind", "proven"), ODD)
def test_filter_output_is_the_same_with_fastwarc_and_workers_as_with_warcio_alone(
    kind: str, proven: bool, tmp_path: Path
) -> None:
    source = odd(kind, tmp_path)
    before = run([source], tmp_path / "warcio", fast_read=False, workers=0)
    after = run([source], tmp_path / "fast", fast_read=True, workers=2)
    assert after == before
    if kind == "clean":
        # The case is not vacuous: pages kept, excluded by policy and as near-duplicates.
        reasons = {row[1] for row in before["exclusions"]}
        assert {"noai", "robots", "reserved-copy", "tdmrep"} <= reasons
        assert len(before["kept"]) >= 8


def test_records_read_by_fastwarc_equal_warcio_field_for_field(tmp_path: Path) -> None:
    source = clean_warc(tmp_path / "in.warc.gz")
    layout, _ = scan(source)
    assert layout is not None

    def fields(layout_: Any) -> list[tuple[Any, ...]]:
        out = []
        for read in iter_records(source, lambda message: None, layout=layout_):
            http = (read.http.statusline, read.http.headers) if read.http is not None else None
            body = read_body(read) if read.http is not None and not read.bad else None
            entry = read.entry
            out.append(
                (
                    entry.rtype,
                    entry.uri,
                    entry.record_id,
                    entry.links,
                    entry.refers,
                    read.date,
                    read.content_type,
                    http,
                    body,
                    read.bad,
                )
            )
            # Offsets are known once a record is read to its end (warcio) or at once.
        return out

    fast, slow = fields(layout), fields(None)
    assert fast == slow
    assert any(f[7] is not None and len(str(f[7])) > 9000 for f in fast)  # the long line
    assert any(f[9] for f in fast)  # the broken head
    assert any(f[1] == f"{B}/café" for f in fast)  # the ISO-8859-1 URI, read as warcio does


def test_record_offsets_and_lengths_match_warcio(tmp_path: Path) -> None:
    source = clean_warc(tmp_path / "in.warc.gz")
    layout, _ = scan(source)
    assert layout is not None
    fast = [(r.entry.offset, r.entry.length) for r in iter_records(source, print, layout=layout)]
    slow = []
    for read in iter_records(source, print):
        slow.append(read.entry)
    assert fast == [(e.offset, e.length) for e in slow]


def test_record_at_reads_the_digest_from_the_warc_head_as_warcio_does(tmp_path: Path) -> None:
    for source in (
        clean_warc(tmp_path / "in.warc.gz"),
        clean_warc(tmp_path / "in.warc", gzipped=False),
    ):
        with open(source, "rb") as handle:
            iterator = ArchiveIterator(handle, check_digests=False)
            for record in iterator:
                expected = digests.describe(record, -1, compute=False)
                iterator.read_to_end(record)
                offset = iterator.get_record_offset()
                got = digests.record_at(source, offset)
                if expected.digest_header or expected.rec_type not in digests.PAYLOAD_TYPES:
                    assert got == digests.RecordInfo(**{**expected.__dict__, "offset": offset})
                else:  # no digest written: computed from the bytes, as before
                    assert got.digest.startswith("sha1:")


def test_many_pages_through_workers_give_the_single_process_output(tmp_path: Path) -> None:
    """More pages than one batch, so batches go to the workers, come back out of order
    and some are done in-process: the index and the spool are still built in read order."""
    reserved = [long_text(100 + n) for n in range(5)]
    caps = [robots(B, "User-agent: *\nAllow: /\n")]
    for n in range(150):
        if n % 30 == 0:
            text, head = reserved[n // 30], "<meta name='robots' content='noai'>"
        elif n % 7 == 0:
            text, head = reserved[(n // 30) % 5], ""  # a copy, before or after its original
        else:
            text, head = long_text(200 + n), ""
        caps.append(Cap(f"{B}/бет/{n}", page(str(n), text, head)))
    sources = [tmp_path / "a.warc.gz", tmp_path / "b.warc.gz"]
    write_warc(sources[0], caps[:80])
    write_warc(sources[1], [caps[0], *caps[80:]])
    single = run(sources, tmp_path / "single", workers=0, fast_read=False)
    workers = run(sources, tmp_path / "workers", workers=2)
    assert workers == single
    copies = [row for row in single["exclusions"] if row[1] == "reserved-copy"]
    assert len(copies) >= 15


def test_origin_files_read_in_several_processes_decide_pages_of_every_file(
    tmp_path: Path,
) -> None:
    """Pass 1 reads the files in parallel: a robots.txt captured only in the last file,
    and a newer capture of it in the middle one, still decide the pages of the first."""
    pages = [Cap(f"{B}/бет/{n}", page(str(n), long_text(300 + n))) for n in range(12)]
    sources = [tmp_path / f"{n}.warc.gz" for n in range(3)]
    write_warc(sources[0], pages[:6])
    old = replace(robots(B, "User-agent: *\nAllow: /\n"), date="2020-01-01T00:00:00Z")
    newer = replace(robots(B, "User-agent: *\nDisallow: /бет/1\n"), date="2026-12-01T00:00:00Z")
    write_warc(sources[1], [newer, *pages[6:]])
    write_warc(sources[2], [old])
    single = run(sources, tmp_path / "single", workers=0, fast_read=False)
    parallel = run(sources, tmp_path / "parallel", workers=2)
    assert parallel == single
    excluded = sorted(row[0] for row in single["exclusions"])
    # /бет/1, /бет/10 and /бет/11 (first and second file), by the newer capture
    assert [url.rsplit("/", 1)[1] for url in excluded] == ["1", "10", "11"]


def _dying_captures(path: Path, fast_read: bool) -> Any:
    """In a pass-1 process: it dies (as a crash or the OOM killer would)."""
    if multiprocessing.parent_process() is not None:
        os.kill(os.getpid(), signal.SIGKILL)
    return _REAL_CAPTURES(path, fast_read)


_REAL_CAPTURES = origins_module.input_captures


def test_a_pass_one_process_that_dies_stops_the_run_before_any_decision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = [clean_warc(tmp_path / "a.warc.gz"), clean_warc(tmp_path / "b.warc.gz")]
    monkeypatch.setattr(origins_module, "input_captures", _dying_captures)
    out = tmp_path / "out"
    with pytest.raises(FilterError, match="origin files in 2 processes failed"):
        filter_warc_files(sources, out, options=FilterOptions(workers=1))
    assert not (out / "audit.sqlite").exists()  # stopped before the run began
    assert output_files(out) == []


_REAL_BATCH = neardup_module._fingerprint_batch


def _dying_batch(config: Any, jobs: list[tuple[str, bytes, bool]]) -> list[Any]:
    """In a worker process: the worker dies (as a crash or the OOM killer would)."""
    if multiprocessing.parent_process() is not None:  # a worker, not the filter itself
        os.kill(os.getpid(), signal.SIGKILL)
    return _REAL_BATCH(config, jobs)


def test_a_worker_that_dies_stops_the_run_before_any_record_is_copied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = clean_warc(tmp_path / "in.warc.gz")
    # Forked workers run this module's function: they die on their first batch.
    monkeypatch.setattr(neardup_module, "_fingerprint_batch", _dying_batch)
    monkeypatch.setattr(neardup_module, "BATCH", 2)
    out = tmp_path / "out"
    with pytest.raises(FilterError, match="near-duplicate worker failed"):
        filter_warc_files([source], out, options=FilterOptions(workers=1))
    # Fail closed: no page was copied, none audited as kept.
    copied = [
        record.rec_type
        for path in output_files(out)
        for record in ArchiveIterator(open(path, "rb"))  # noqa: SIM115
    ]
    assert copied in ([], ["warcinfo"])
    db = sqlite3.connect(out / "audit.sqlite")
    assert db.execute("SELECT count(*) FROM kept").fetchone() == (0,)
    db.close()


def test_the_same_dead_worker_through_the_command_line_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from tdmcrawl.crawler.cli import main

    source = clean_warc(tmp_path / "in.warc.gz")
    monkeypatch.setattr(neardup_module, "_fingerprint_batch", _dying_batch)
    monkeypatch.setattr(neardup_module, "BATCH", 2)
    result = CliRunner().invoke(
        main, ["filter", str(source), "--out", str(tmp_path / "o"), "-s", "TDMCRAWL_WORKERS=1"]
    )
    assert result.exit_code == 1
    assert "near-duplicate worker failed" in result.output


def test_workers_setting_zero_runs_in_process_and_is_accepted(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tdmcrawl.crawler.cli import main

    source = clean_warc(tmp_path / "in.warc.gz")
    result = CliRunner().invoke(
        main,
        ["filter", str(source), "--out", str(tmp_path / "o"), "-s", "TDMCRAWL_WORKERS=0", "--json"],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["excluded_by_reason"]["reserved-copy"] == 1


def test_near_duplicates_with_a_killed_pool_fail_closed(tmp_path: Path) -> None:
    """The pool's processes killed from outside while pages are under way."""
    near = NearDuplicates.open(tmp_path, None, FilterResult(), workers=1)
    try:
        entry = RecordEntry(0, 1, "response", f"{B}/x", "<urn:x>", ())
        near.spool(entry, page("x", long_text(7)).encode())
        near._send()
        assert near._executor is not None
        for pid in list(near._executor._processes):  # type: ignore[attr-defined]
            os.kill(pid, signal.SIGKILL)
        for _ in range(3):
            near.spool(entry, page("y", long_text(8)).encode())
        with pytest.raises(FilterError, match="near-duplicate worker failed"):
            near.finish()
    finally:
        near.close()
