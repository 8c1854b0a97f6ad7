"""`tdmcrawl filter` on a real Dask LocalCluster gives the single process's output.

The inputs are built so that every pass must see all files: robots.txt in one
file decides pages of another, a URL reserved in one file is dropped in all,
a copy is read (file 0) before its reserved original (file 4), registry rules
and works apply (to a PDF too), RSL licences named by a robots.txt or a page
of one file are captured in another, PDF and EPUB records carry their own
reservations, a robots.txt sits behind more redirects than RFC 9309 follows,
one file ends cut short, an evidence WARC holds a robots.txt. The records
written (byte for byte, in order), the audit rows, the counts and the manifest
are compared, and `tdmcrawl verify` checks the Dask output and its signature;
only the output files the records sit in differ. The command itself runs once
more on each side with `-s`, `--rsl-license`, `--robots-redirects-unavailable`,
`--sign-key` and a registry service followed through its replica.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tdmcrawl.crawler.filter import FilterOptions, filter_warc_files
from tdmcrawl.crawler.filter.parallel import close_client, dask_client, filter_on_dask
from tdmcrawl.crawler.manifest import read_manifest
from tdmcrawl.crawler.signing import generate_keypair
from tdmcrawl.registry import Registry
from tests.support.documents import epub_file, pdf_file, xmp_packet
from tests.support.filter import HTML, Cap, long_text, page, robots, warcio_check, write_warc
from tests.support.registry import work_text, write_work
from tests.support.registry_service import RegistryServer, post_json, upload_work
from tests.support.warc import gzip_members
from tests.support.web import KAZAKH

A = "https://kz.example"
B = "https://ru.example"
C = "http://c.example:8080"
D = "https://orig.example"
E = "https://books.example"  # RSL licences, PDF and EPUB
F = "https://far.example"  # robots.txt behind eight redirects
G = "https://paid.example"  # a paid RSL training licence (--rsl-license holds it)
NOAI = [("Content-Type", "text/html; charset=utf-8"), ("X-Robots-Tag", "noai")]
TDMREP = json.dumps([{"location": "/res/*", "tdm-reservation": 1}])
PDF = [("Content-Type", "application/pdf")]
EPUB = [("Content-Type", "application/epub+zip")]
RSL_TYPE = [("Content-Type", "application/rsl+xml")]
RSL_NS = 'xmlns="https://rslstandard.org/rsl"'
PAID = f"{G}/paid.xml"
TOKEN = "tdmcrawl"


def _licence(url: str, terms: str) -> str:
    return f'<rsl {RSL_NS}><content url="{url}"><license>{terms}</license></content></rsl>'


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
            robots(E, f"License: {E}/license.xml\nUser-agent: *\nAllow: /\n"),
            Cap(f"{E}/closed/page.html", page("Жабық", long_text(15))),  # licence: file 6
            Cap(f"{E}/open/kitap.pdf", pdf_file([KAZAKH]), PDF),
            Cap(f"{E}/open/reserved.pdf", pdf_file([KAZAKH], xmp=xmp_packet("1")), PDF),
            Cap(f"{E}/open/reserved.epub", epub_file([KAZAKH], reservation="1"), EPUB),
            Cap(f"{E}/open/copy.pdf", pdf_file([work_text(11, words=220)]), PDF),  # registry
            Cap(
                f"{E}/open/linked.html",
                page("Сілтеме", long_text(16)),
                [*HTML, ("Link", f'<{E}/page.xml>; rel="license"; type="application/rsl+xml"')],
            ),
            *_redirects(F, 8),
            Cap(f"{F}/page", page("Алыс", long_text(17))),
            robots(G, f"License: {PAID}\nUser-agent: *\nAllow: /\n"),
            Cap(f"{G}/book", page("Ақылы", long_text(18))),
        ],
        [
            Cap(
                f"{E}/license.xml",
                _licence("/closed/", '<prohibits type="usage">ai-train</prohibits>'),
                RSL_TYPE,
            ),
            Cap(
                f"{E}/page.xml", _licence("/", '<prohibits type="usage">all</prohibits>'), RSL_TYPE
            ),
            Cap(
                PAID,
                _licence(
                    "/",
                    '<permits type="usage">ai-train</permits><payment type="training">'
                    "<standard>https://collective.example/license</standard></payment>",
                ),
                RSL_TYPE,
            ),
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


def _redirects(origin: str, hops: int) -> list[Cap]:
    """robots.txt behind ``hops`` captured redirects (RFC 9309 follows at most five)."""
    chain = [f"{origin}/robots.txt"] + [f"{origin}/moved/{i}" for i in range(1, hops + 1)]
    return [
        Cap(source, b"", [("Location", target)], "301 Moved Permanently")
        for source, target in itertools.pairwise(chain)
    ]


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
            "registry_entries": db.execute(
                "select entry_id, author, title, kind from registry_entries order by entry_id"
            ).fetchall(),
            "registry_states": db.execute(
                "select source, registry_id, cursor, stale, entries, exclusions_before,"
                " kept_before from registry_states order by id"
            ).fetchall(),
        }
    finally:
        db.close()


# What differs between two runs of the same filter: when they ran, and which files the
# records sit in (one set per input on Dask).
_RUN_KEYS = ("created_at", "crawl_id", "crawls", "time_range")


def _manifest(out: Path) -> dict:
    manifest = read_manifest(out)
    header = {k: v for k, v in manifest.header.items() if k not in _RUN_KEYS}
    if header.get("registry"):
        header["registry"] = {
            k: v for k, v in header["registry"].items() if k not in ("synced_at", "opened_at")
        }
        # A registry service's replica is in each output directory: the same name.
        header["registry"]["location"] = Path(header["registry"]["location"]).name
    records = [(r.url, r.record_id, r.payload_digest) for r in manifest.records()]
    return {"header": header, "records": records, "evidence_files": manifest.evidence_files}


def _verify(out: Path, public_key: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tdmcrawl.crawler.cli", "verify", str(out)]
    return subprocess.run(
        [*command, "--public-key", str(public_key), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dask")
    inputs, evidence, registry = _inputs(tmp)
    private, public = generate_keypair(tmp / "operator.key")
    options = FilterOptions(registry=registry, sign_key=private)
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
        "private_key": private,
        "public_key": public,
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
        "robots-unreachable": 8,  # F: robots.txt behind eight redirects, and 7 of its hops
        "tdmrep": 3,  # B/res/x, and E's PDF and EPUB by their own metadata
        "noai": 2,  # A/twice in both files, D/orig
        "rsl": 4,  # E/closed (licence in file 6), E/open/linked.html (its Link), G twice
        "registry-url": 1,
        "registry-content": 2,  # A/reprint, and E/open/copy.pdf: the PDF's text
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


def test_the_manifest_is_the_single_process_one(runs):
    dask, single = _manifest(runs["tmp"] / "dask"), _manifest(runs["tmp"] / "single")
    assert dask == single
    assert dask["header"]["kind"] == "filter" and dask["header"]["registry"]["url_rules"] == 1
    assert len(dask["records"]) == runs["dask"].pages_kept
    manifest = read_manifest(runs["tmp"] / "dask")
    assert sorted(f.path for f in manifest.warc_files) == sorted(
        f"warc/{Path(p).name}" for p in runs["dask"].files
    )


def test_verify_accepts_the_dask_output_and_its_signature(runs):
    done = _verify(runs["tmp"] / "dask", runs["public_key"])
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True
    assert (runs["tmp"] / "dask" / "manifest.json.sig").is_file()


def test_documents_licences_and_redirects_are_decided_on_the_workers(runs):
    rows = {
        url: (reason, source)
        for url, _stage, reason, source, *_ in _audit(runs["tmp"] / "dask")["exclusions"]
    }
    assert rows[f"{E}/closed/page.html"] == ("rsl", "robots.txt")  # licence in another file
    assert rows[f"{E}/open/linked.html"][0] == "rsl"  # named by the page's Link header
    assert rows[f"{E}/open/reserved.pdf"] == ("tdmrep", "pdf")
    assert rows[f"{E}/open/reserved.epub"][0] == "tdmrep"
    assert rows[f"{E}/open/copy.pdf"][0] == "registry-content"
    assert rows[f"{F}/page"][0] == "robots-unreachable"  # eight redirects: a full disallow
    assert rows[f"{G}/book"][0] == "rsl"  # a paid licence nobody holds
    assert f"{E}/open/kitap.pdf" not in rows
    kept = {url for url, *_ in _audit(runs["tmp"] / "dask")["kept"]}
    assert f"{E}/open/kitap.pdf" in kept


def test_each_exclusion_points_to_the_input_record_it_was_decided_on(runs):
    from warcio.archiveiterator import ArchiveIterator

    db = sqlite3.connect(runs["tmp"] / "dask" / "audit.sqlite")
    rows = db.execute(
        "select url, evidence_warc, evidence_offset, evidence_record_id from exclusions"
    ).fetchall()
    db.close()
    inputs = {str(p.resolve()) for p in runs["inputs"]}
    assert rows and all(warc in inputs for _, warc, _, _ in rows)
    for url, warc, offset, record_id in rows:
        with open(warc, "rb") as handle:
            handle.seek(offset)
            record = next(iter(ArchiveIterator(handle)))
        assert record.rec_headers.get_header("WARC-Record-ID") == record_id
        assert record.rec_headers.get_header("WARC-Target-URI") == url


def test_the_command_with_settings_licences_signing_and_a_registry_service(runs, tmp_path):
    """The same options, -s and a registry service on both sides: one process and Dask."""
    with RegistryServer(tmp_path / "optout.sqlite") as service:
        status, _ = post_json(
            service.base + "/api/v1/entries",
            {"kind": "url", "pattern": f"{A}/registered/poem", "author": "Әлия"},
        )
        assert status == 201
        status, _ = upload_work(
            service.base, "Әлия", [("шығарма.txt", work_text(11, words=220).encode())]
        )
        assert status == 201
        args = [*map(str, runs["inputs"]), "--evidence", str(runs["evidence"])]
        args += ["--registry", service.base, "-s", "TDMCRAWL_NOAI=false"]
        args += ["--rsl-license", PAID, "--robots-redirects-unavailable"]
        args += ["--sign-key", str(runs["private_key"]), "--json"]
        command = [sys.executable, "-m", "tdmcrawl.crawler.cli", "filter", *args]
        outs = {"single": tmp_path / "single", "dask": tmp_path / "dask"}
        summaries = {}
        for name, extra in (("single", []), ("dask", ["--workers", "2"])):
            done = subprocess.run(
                [*command, "--out", str(outs[name]), *extra],
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, done.stderr
            summaries[name] = json.loads(done.stdout)
    assert _records(outs["dask"]) == _records(outs["single"])
    assert _audit(outs["dask"]) == _audit(outs["single"])
    assert _manifest(outs["dask"]) == _manifest(outs["single"])
    for summary in summaries.values():
        summary.pop("files"), summary.pop("crawl_id")
    assert summaries["dask"] == summaries["single"]
    # Each option took effect: noai read as no reservation, the paid licence held, the
    # robots.txt behind eight redirects unavailable (allow all), the service's rules applied.
    excluded = summaries["dask"]["excluded_by_reason"]
    assert "noai" not in excluded and excluded["registry-url"] == 1
    assert excluded["registry-content"] >= 1
    kept = {url for url, *_ in _audit(outs["dask"])["kept"]}
    assert {f"{G}/book", f"{F}/page", f"{D}/orig"} <= kept
    assert (outs["dask"] / "registry-replica.sqlite").is_file()
    assert _audit(outs["dask"])["registry_states"]  # the service's state, audited once
    done = _verify(outs["dask"], runs["public_key"])
    assert done.returncode == 0, done.stdout + done.stderr
