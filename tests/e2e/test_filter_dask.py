"""`tdmcrawl filter` on a real Dask LocalCluster gives the single process's output.

The inputs are built so that every pass must see all files: robots.txt in one
file decides pages of another, a URL reserved in one file is dropped in all,
a copy is read (file 0) before its reserved original (file 4), registry rules
and works apply, one file ends cut short, an evidence WARC holds a robots.txt.
The records written (byte for byte, in order), the audit rows and the counts
are compared; only the output files they sit in differ.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tdmcrawl.crawler.filter import FilterOptions, filter_warc_files
from tdmcrawl.crawler.filter.parallel import close_client, dask_client, filter_on_dask
from tdmcrawl.registry import Registry
from tests.support.filter import Cap, long_text, page, robots, warcio_check, write_warc
from tests.support.registry import work_text, write_work
from tests.support.warc import gzip_members

A = "https://kz.example"
B = "https://ru.example"
C = "http://c.example:8080"
D = "https://orig.example"
NOAI = [("Content-Type", "text/html; charset=utf-8"), ("X-Robots-Tag", "noai")]
TDMREP = json.dumps([{"location": "/res/*", "tdm-reservation": 1}])


def _inputs(tmp: Path) -> tuple[list[Path], Path, Path]:
    registry_db = tmp / "registry.sqlite"
    registry = Registry(registry_db)
    registry.add_url("Әлия", f"{A}/registered/*")
    registry.add_work("Әлия", [write_work(tmp, "work.txt", seed=11, words=220)])
    registry.close()
    original = long_text(4)
    files = [
        [
            robots(A, "User-agent: *\nDisallow: /closed/\n"),
            Cap(f"{A}/p0", page("Бет", long_text(1))),
            Cap(f"{A}/copy", page("Көшірме", original)),  # its original is in file 4
            Cap(f"{A}/twice", page("Екі рет", long_text(2))),  # reserved in file 3
        ],
        [
            Cap(f"{B}/.well-known/tdmrep.json", TDMREP, [("Content-Type", "application/json")]),
            robots(B, "User-agent: *\nAllow: /\n"),
            Cap(f"{B}/res/x", page("Резерв", long_text(5))),
            Cap(f"{B}/free", page("Свободно", long_text(6))),
        ],
        [
            Cap(f"{A}/closed/1", page("Жабық", long_text(7))),  # robots.txt of file 0
            Cap(f"{C}/x/1", page("C", long_text(8))),  # robots.txt in the evidence
            Cap(f"{C}/ok", page("C ok", long_text(9))),
        ],
        [
            Cap(f"{A}/twice", page("Екі рет", long_text(2)), NOAI),
            Cap(f"{A}/registered/poem", page("Өлең", long_text(10))),
            Cap(f"{A}/reprint", page("Қайта басу", work_text(11, words=220))),
        ],
        [
            robots(D, "User-agent: *\nAllow: /\n"),
            Cap(f"{D}/orig", page("Түпнұсқа", original), NOAI),
            Cap(f"{D}/other", page("Басқа", long_text(12))),
        ],
        [
            Cap(f"{B}/later", page("Позже", long_text(13))),
            Cap(f"{B}/cut", page("Обрезано", long_text(14))),
        ],
    ]
    paths = []
    for i, caps in enumerate(files):
        path = tmp / "in" / f"part-{i}.warc.gz"
        path.parent.mkdir(exist_ok=True)
        write_warc(path, caps)
        paths.append(path)
    data = paths[-1].read_bytes()
    paths[-1].write_bytes(data[: len(data) - 40])  # a crawl killed mid-write
    evidence = tmp / "evidence" / "robots.warc.gz"
    evidence.parent.mkdir()
    write_warc(evidence, [robots(C, "User-agent: *\nDisallow: /x/\n")])
    return paths, evidence.parent, registry_db


def _records(out: Path) -> list[bytes]:
    """Every output record as stored, files in name order, each file's own warcinfo left out."""
    members = []
    for path in sorted((out / "warc").glob("*.warc.gz")):
        members += gzip_members(path.read_bytes())[1:]
    return members


def _audit(out: Path) -> dict[str, list[tuple]]:
    db = sqlite3.connect(out / "audit.sqlite")
    try:
        return {
            "exclusions": db.execute(
                "select url, stage, reason, source, evidence, evidence_warc, decision"
                " from exclusions order by id"
            ).fetchall(),
            "kept": db.execute("select url, record_id, decision from kept order by id").fetchall(),
            "evidence": db.execute(
                "select url, kind, record_id from evidence order by id"
            ).fetchall(),
            "crawls": db.execute("select count(*) from crawls").fetchall(),
        }
    finally:
        db.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dask")
    inputs, evidence, registry = _inputs(tmp)
    options = FilterOptions(registry=registry)
    warnings: dict[str, list[str]] = {"single": [], "dask": []}
    single = filter_warc_files(
        inputs, tmp / "single", evidence=[evidence], options=options, warn=warnings["single"].append
    )
    client = dask_client(workers=2)
    try:
        assert len(client.scheduler_info()["workers"]) == 2
        parallel = filter_on_dask(
            client,
            inputs,
            tmp / "dask",
            evidence=[evidence],
            options=options,
            warn=warnings["dask"].append,
        )
    finally:
        close_client(client)
    return {
        "tmp": tmp,
        "inputs": inputs,
        "evidence": evidence,
        "registry": registry,
        "single": single,
        "dask": parallel,
        "warnings": warnings,
    }


def test_the_records_written_are_the_single_process_ones_byte_for_byte(runs):
    single, parallel = _records(runs["tmp"] / "single"), _records(runs["tmp"] / "dask")
    assert single and parallel == single
    assert warcio_check(sorted((runs["tmp"] / "dask" / "warc").glob("*.warc.gz"))).returncode == 0


def test_every_decision_needed_all_files_and_came_out_alike(runs):
    result = runs["dask"]
    assert dict(result.excluded) == {
        "robots": 2,  # A/closed/1 (robots.txt in file 0), C/x/1 (in the evidence)
        "tdmrep": 1,
        "noai": 2,  # A/twice in both files, D/orig
        "registry-url": 1,
        "registry-content": 1,
        "reserved-copy": 1,  # A/copy, read before its original
    }
    assert dict(result.excluded) == dict(runs["single"].excluded)


def test_the_audit_rows_are_the_single_process_ones(runs):
    assert _audit(runs["tmp"] / "dask") == _audit(runs["tmp"] / "single")
    assert _audit(runs["tmp"] / "dask")["crawls"] == [(1,)]


def test_the_counts_and_warnings_are_the_single_process_ones(runs):
    single, parallel = runs["single"].to_dict(), runs["dask"].to_dict()
    for result in (single, parallel):
        result.pop("files"), result.pop("crawl_id")
    assert parallel == single
    assert parallel["bad_records"] >= 1  # the cut file
    assert runs["warnings"]["dask"] == runs["warnings"]["single"] != []


def test_output_files_are_named_in_input_order(runs):
    names = [Path(p).name for p in runs["dask"].files]
    assert names == sorted(names)
    assert all(name.startswith("tdmcrawl-filter-0000") for name in names)
    assert not list((runs["tmp"] / "dask").glob(".filter-parts*"))  # scratch removed


def test_the_command_runs_on_a_local_cluster(runs, tmp_path):
    args = [*map(str, runs["inputs"]), "--evidence", str(runs["evidence"])]
    args += ["--registry", str(runs["registry"]), "--out", str(tmp_path / "cli")]
    done = subprocess.run(
        [sys.executable, "-m", "tdmcrawl.crawler.cli", "filter", *args, "--workers", "2", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "ERROR" not in done.stderr
    summary = json.loads(done.stdout)
    assert summary["pages_kept"] == runs["single"].pages_kept
    assert _records(tmp_path / "cli") == _records(runs["tmp"] / "single")


def test_the_command_uses_an_existing_cluster(runs, tmp_path):
    from distributed import LocalCluster

    args = [*map(str, runs["inputs"]), "--evidence", str(runs["evidence"])]
    args += ["--registry", str(runs["registry"]), "--out", str(tmp_path / "cli")]
    command = [sys.executable, "-m", "tdmcrawl.crawler.cli", "filter", *args]
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        done = subprocess.run(
            [*command, "--scheduler", cluster.scheduler_address],
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert done.returncode == 0, done.stderr
    assert _records(tmp_path / "cli") == _records(runs["tmp"] / "single")


def test_workers_and_scheduler_together_are_a_usage_error(tmp_path):
    source = tmp_path / "in.warc.gz"
    write_warc(source, [Cap(f"{A}/p", page("p", "text"))])
    command = [sys.executable, "-m", "tdmcrawl.crawler.cli", "filter", str(source)]
    for extra, status in (
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], 2),
        (["--workers", "0"], 2),
        (["--scheduler", "tcp://127.0.0.1:1"], 1),
    ):
        done = subprocess.run(
            [*command, "--out", str(tmp_path / "out"), *extra],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == status, (extra, done.stderr)
        assert "Traceback" not in done.stderr
        if status == 1:
            assert done.stderr.strip().splitlines()[-1].startswith("Error: cannot reach the Dask")
