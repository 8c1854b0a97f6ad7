"""`tdmcrawl filter`: the opt-out policy on existing WARC files, end to end.

Input WARCs are built with warcio in tmp_path; the command runs through
Click's CliRunner; the output is read back with warcio and `warcio check`,
and the audit rows are read from the real SQLite file.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tdmcrawl.crawler.cli import main
from tests.support.filter import (
    Cap,
    long_text,
    output_files,
    page,
    payloads_of,
    records_of,
    robots,
    warcio_check,
    write_warc,
)

A = "https://kz.example"
B = "https://ru.example"
C = "http://c.example:8080"
D = "https://orig.example"
E = "https://norobots.example"
TDMREP = json.dumps([{"location": "/reserved/*", "tdm-reservation": 1}])
KK = "Қазақ тілі — мемлекеттік тіл. Әдебиет, өнер, ғылым және білім."
RU = "Русский текст о литературе и науке."

EXPECTED = {
    f"{A}/": None,
    f"{A}/image.png": None,
    f"{A}/private/secret": "robots",
    f"{A}/reserved/book": "tdmrep",
    f"{A}/header": "tdmrep",
    f"{A}/noai-meta": "noai",
    f"{A}/usage": "content-usage",
    f"{A}/copy": "reserved-copy",
    f"{B}/": "robots-ai-agents",
    f"{C}/page": "ai-txt",
    f"{D}/original": "noai",
    f"{E}/page": None,
}


def corpus() -> list[Cap]:
    """Every kind of signal; the copy of D's reserved page comes before its original."""
    return [
        Cap(f"{A}/copy", page("Көшірме", long_text(7))),
        robots(A, "User-agent: *\nAllow: /\n\nUser-agent: tdmcrawl\nDisallow: /private/\n"),
        Cap(f"{A}/.well-known/tdmrep.json", TDMREP, [("Content-Type", "application/json")]),
        Cap(f"{A}/", page("Басты бет", f"{KK} {long_text(1)}")),
        Cap(f"{A}/image.png", b"\x89PNG\r\n\x1a\n", [("Content-Type", "image/png")]),
        Cap(f"{A}/private/secret", page("Құпия", KK)),
        Cap(f"{A}/reserved/book", page("Кітап", KK)),
        Cap(f"{A}/header", page("Тақырып", KK), [*HTML_HEADERS, ("TDM-Reservation", "1")]),
        Cap(f"{A}/noai-meta", page("Страница", RU, "<meta name='robots' content='noai'>")),
        Cap(f"{A}/usage", page("Пайдалану", KK), [*HTML_HEADERS, ("Content-Usage", "train-ai=n")]),
        robots(B, "User-agent: GPTBot\nDisallow: /\n"),
        Cap(f"{B}/", page("Главная", RU)),
        robots(C, "User-agent: *\nAllow: /\n"),
        Cap(f"{C}/ai.txt", "User-agent: *\nDisallow: /\n", [("Content-Type", "text/plain")]),
        Cap(f"{C}/page", page("Бет", KK)),
        robots(D, "User-agent: *\nAllow: /\n"),
        Cap(f"{D}/original", page("Түпнұсқа", long_text(7), "<meta name='robots' content='noai'>")),
        Cap(f"{E}/page", page("Роботсыз", f"{KK} {long_text(3)}")),
    ]


HTML_HEADERS = [("Content-Type", "text/html; charset=utf-8")]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["filter", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


def pages_in(out: Path) -> set[str]:
    return {uri for kind, uri in records_of(output_files(out)) if kind == "response"}


def exclusions(out: Path) -> dict[str, tuple[str, str]]:
    with sqlite3.connect(out / "audit.sqlite") as db:
        rows = db.execute("SELECT url, reason, stage FROM exclusions").fetchall()
    return {url: (reason, stage) for url, reason, stage in rows}


@pytest.fixture(scope="module")
def filtered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    root = tmp_path_factory.mktemp("filter")
    source = root / "in.warc.gz"
    write_warc(source, corpus())
    out = root / "out"
    code, stdout, stderr = run(str(source), "--out", str(out), "--json")
    assert code == 0, stderr
    return source, out, stdout


def test_each_signal_drops_its_page_and_keeps_the_rest(filtered: tuple[Path, Path, str]) -> None:
    _, out, _ = filtered
    kept = pages_in(out)
    for url, reason in EXPECTED.items():
        assert (url in kept) == (reason is None), url
    # The origin files themselves are kept as captured.
    assert f"{A}/robots.txt" in kept and f"{C}/ai.txt" in kept


def test_every_excluded_url_has_one_audit_row_with_its_reason(
    filtered: tuple[Path, Path, str],
) -> None:
    _, out, _ = filtered
    rows = exclusions(out)
    expected = {url: reason for url, reason in EXPECTED.items() if reason}
    assert {url: reason for url, (reason, _) in rows.items()} == expected
    from tdmcrawl.crawler.audit.db import STAGES

    # The stage the audit schema has for the filter, else the crawl stage of the signal.
    assert rows[f"{A}/copy"][1] == ("filter" if "filter" in STAGES else "near-duplicate")
    with sqlite3.connect(out / "audit.sqlite") as db:
        evidence, matched = db.execute(
            "SELECT evidence, matched_work FROM exclusions WHERE url = ?", [f"{A}/copy"]
        ).fetchone()
        kept = {url for (url,) in db.execute("SELECT url FROM kept")}
    assert matched == f"{D}/original" and "near-duplicate" in evidence
    assert f"{A}/" in kept and f"{A}/copy" not in kept
    with sqlite3.connect(out / "audit.sqlite") as db:
        evidence = dict(db.execute("SELECT url, kind FROM evidence").fetchall())
    assert evidence[f"{A}/robots.txt"] == "robots.txt"
    assert evidence[f"{A}/.well-known/tdmrep.json"] == "tdmrep.json"
    assert evidence[f"{C}/ai.txt"] == "ai.txt"


def test_records_tied_to_a_dropped_page_go_with_it(filtered: tuple[Path, Path, str]) -> None:
    _, out, _ = filtered
    records = records_of(output_files(out))
    by_uri: dict[str, set[str]] = {}
    for kind, uri in records:
        by_uri.setdefault(uri, set()).add(kind)
    assert by_uri[f"{A}/"] == {"request", "response", "metadata"}
    for url, reason in EXPECTED.items():
        if reason:
            assert url not in by_uri, url
    # Our warcinfo first, then the input's warcinfo copied.
    assert [kind for kind, _ in records[:2]] == ["warcinfo", "warcinfo"]


def test_kept_records_are_byte_identical_and_pass_warcio_check(
    filtered: tuple[Path, Path, str],
) -> None:
    source, out, _ = filtered
    files = output_files(out)
    check = warcio_check(files)
    assert check.returncode == 0, check.stdout + check.stderr
    fastwarc = subprocess.run(
        [
            str(Path(sys.executable).with_name("fastwarc")),
            "check",
            "--verify-payloads",
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert fastwarc.returncode == 0, fastwarc.stdout + fastwarc.stderr
    before, after = payloads_of([source]), payloads_of(files)
    home = ("response", f"{A}/")
    assert after[home] == before[home] and "Қазақ тілі".encode() in after[home]
    raw = source.read_bytes()
    # Each kept gzip member is copied as it is.
    from warcio.archiveiterator import ArchiveIterator

    with open(files[0], "rb") as handle:
        iterator = ArchiveIterator(handle)
        members = []
        for record in iterator:
            iterator.read_to_end(record)
            if record.rec_type == "response":
                members.append((iterator.get_record_offset(), iterator.get_record_length()))
    data = files[0].read_bytes()
    assert all(data[o : o + n] in raw for o, n in members)


def test_json_summary_counts_reasons(filtered: tuple[Path, Path, str]) -> None:
    _, out, stdout = filtered
    summary = json.loads(stdout)
    wanted: dict[str, int] = {}
    for reason in filter(None, EXPECTED.values()):
        wanted[reason] = wanted.get(reason, 0) + 1
    assert summary["excluded_by_reason"] == wanted
    assert summary["bad_records"] == 0
    assert [Path(f).name for f in summary["files"]] == [p.name for p in output_files(out)]


def test_origin_without_robots_is_kept_with_a_warning_unless_required(tmp_path: Path) -> None:
    source = tmp_path / "in.warc.gz"
    write_warc(source, [Cap(f"{E}/page", page("Бет", KK))])
    code, _, _ = run(str(source), "--out", str(tmp_path / "lenient"))
    assert code == 0 and pages_in(tmp_path / "lenient") == {f"{E}/page"}
    with sqlite3.connect(tmp_path / "lenient" / "audit.sqlite") as db:
        (decision,) = db.execute("SELECT decision FROM kept").fetchone()
    assert "robots.txt of this origin is not in the inputs" in decision
    code, stdout, _ = run(str(source), "--out", str(tmp_path / "strict"), "--require-robots")
    assert code == 0 and "excluded: robots-unreachable" in stdout
    assert pages_in(tmp_path / "strict") == set()
    assert exclusions(tmp_path / "strict")[f"{E}/page"][0] == "robots-unreachable"


def test_evidence_warc_supplies_robots_txt(tmp_path: Path) -> None:
    source, evidence = tmp_path / "pages.warc.gz", tmp_path / "robots.warc"
    write_warc(source, [Cap(f"{B}/статья", page("Статья", RU)), Cap(f"{A}/", page("Бет", KK))])
    write_warc(evidence, [robots(B, "User-agent: tdmcrawl\nDisallow: /\n")], gzip=False)
    code, _, stderr = run(str(source), "--evidence", str(evidence), "--out", str(tmp_path / "o"))
    assert code == 0, stderr
    assert pages_in(tmp_path / "o") == {f"{A}/"}
    assert exclusions(tmp_path / "o") == {f"{B}/статья": ("robots", "pre-fetch")}


def test_robots_redirect_is_followed_through_the_captures(tmp_path: Path) -> None:
    source = tmp_path / "in.warc.gz"
    http = "http://kz.example"
    write_warc(
        source,
        [
            Cap(f"{http}/robots.txt", b"", [("Location", f"{A}/robots.txt")], "301 Moved"),
            robots(A, "User-agent: *\nDisallow: /\n"),
            Cap(f"{http}/page", page("Бет", KK)),
        ],
    )
    code, _, _ = run(str(source), "--out", str(tmp_path / "o"))
    assert code == 0
    assert exclusions(tmp_path / "o")[f"{http}/page"][0] == "robots"


def test_each_exclusion_points_to_the_input_record_it_was_decided_on(
    filtered: tuple[Path, Path, str],
) -> None:
    from warcio.archiveiterator import ArchiveIterator

    from tdmcrawl.crawler.verify import verify_corpus

    source, out, _ = filtered
    with sqlite3.connect(out / "audit.sqlite") as db:
        rows = db.execute(
            "SELECT url, evidence_warc, evidence_offset, evidence_record_id FROM exclusions"
        ).fetchall()
    assert rows
    for url, warc, offset, record_id in rows:
        assert warc == str(source.resolve()), url
        with open(warc, "rb") as handle:
            handle.seek(offset)
            record = next(iter(ArchiveIterator(handle)))
        assert record.rec_headers.get_header("WARC-Record-ID") == record_id
        assert record.rec_headers.get_header("WARC-Target-URI") == url
    # The output is a corpus with a manifest that verify accepts.
    assert verify_corpus(out).ok
