"""The audit server and the audit export under attack.

- ``audit serve`` stopped by SIGTERM, SIGINT or SIGHUP (sent to it alone, as a service
  manager or a closed terminal does) stops its Datasette child and removes its
  temporary directory: nothing keeps serving the audit after the command is gone.
- The CSV export's formula guard sees through what a spreadsheet skips before a
  formula character (a space, a line feed, U+200B, NUL, a BOM, a no-break space),
  and the registry's import undoes the guard exactly.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tdmcrawl.crawler.audit.db import AuditLog
from tdmcrawl.optout.decision import Decision, Reason, ReasonCode
from tdmcrawl.registry import Registry
from tdmcrawl.registry.transfer import csv_cell, csv_value
from tests.support.audit import build_synthetic, free_port, get
from tests.support.web import tdmcrawl

# --- audit serve and signals ------------------------------------------------------------------


def tdmcrawl_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "tdmcrawl.crawler.cli", *args]


def _group_alive(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that are still running (zombies count as gone)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            alive.append(int(entry.name))
    return alive


def _answers(url: str) -> bool:
    try:
        return get(url)[0] == 200
    except OSError:
        return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=str)
def test_audit_serve_stops_datasette_and_cleans_up_on_signal(signum, tmp_path):
    build_synthetic(tmp_path / "crawl", exclusions=20, kept=5)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    port = free_port()
    proc = subprocess.Popen(
        tdmcrawl_argv("audit", "serve", str(tmp_path / "crawl"), "--port", str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _answers(base + "/-/versions.json"):
            assert proc.poll() is None, proc.stderr.read().decode(errors="replace")
            assert time.monotonic() < deadline, "datasette did not start"
            time.sleep(0.2)
        assert list(scratch.iterdir()), "audit serve keeps its metadata in a temporary directory"

        os.kill(proc.pid, signum)  # the command alone, not its process group
        proc.wait(timeout=30)

        deadline = time.monotonic() + 15
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _group_alive(proc.pid) == [], "datasette outlived audit serve"
        assert not _answers(base + "/-/versions.json")
        assert list(scratch.iterdir()) == [], "the temporary directory was left behind"
        assert proc.returncode == 0, proc.stderr.read().decode(errors="replace")
    finally:
        for pid in _group_alive(proc.pid):
            os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stderr.close()


# --- the CSV formula guard --------------------------------------------------------------------

HIDDEN_FORMULAS = [
    ' =HYPERLINK("http://evil.example","x")',
    "\n=1+1",
    "\u200b=cmd|' /C calc'!A0",
    "\x00@SUM(1+1)",
    "   +7 701 000 00 00",
    "\r\n-2+3",
    "\ufeff=1+1",
    "\u00a0=1+1",
    "\u200b \u2060@evil",
    "\t=already caught",
    "=plain formula",
]
HARMLESS = ["Disallow: /жабық/", " plain text", "\u200bzero width then text", "'quoted"]


def _audit_with_evidence(directory: Path, texts: list[str]) -> dict[str, str]:
    log = AuditLog.open(directory)
    crawl_id = log.start_crawl(settings={}, versions={}, seeds=[])
    urls = {}
    for i, text in enumerate(texts):
        url = f"https://example.kz/бет/{i}"
        reason = Reason(ReasonCode.ROBOTS, "robots.txt", text, line=1)
        log.record_exclusion(Decision(url, reasons=(reason,)), stage="pre-fetch")
        urls[url] = text
    log.finish_crawl(crawl_id, {})
    log.close()
    return urls


def test_csv_export_guards_formulas_behind_hidden_prefixes(tmp_path):
    expected = _audit_with_evidence(tmp_path / "crawl", HIDDEN_FORMULAS + HARMLESS)
    # Bytes: text mode would turn the CR LF inside a cell into LF.
    proc = subprocess.run(
        tdmcrawl_argv("audit", str(tmp_path / "crawl"), "--export", "csv"),
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert {row["url"] for row in rows} == set(expected)
    for row in rows:
        original, cell = expected[row["url"]], row["evidence"]
        if original in HIDDEN_FORMULAS:
            assert cell == "'" + original, (original, cell)
        else:
            assert cell == original
        assert csv_value(cell) == original


@pytest.mark.parametrize("text", HIDDEN_FORMULAS + HARMLESS + ["'" + t for t in HIDDEN_FORMULAS])
def test_csv_formula_guard_is_exactly_undone(text):
    cell = csv_cell(text)
    assert csv_value(cell) == text
    if text in HIDDEN_FORMULAS:
        assert cell.startswith("'")


@given(
    st.text(alphabet=" \n\r\t\x00\x1b\u200b\u200e\ufeff\u2060\u00a0\u3000", max_size=6),
    st.sampled_from("=+-@"),
    st.text(max_size=12),
)
def test_csv_formula_guard_catches_any_hidden_prefix(prefix, formula, rest):
    text = prefix + formula + rest
    cell = csv_cell(text)
    assert cell.startswith("'") and csv_value(cell) == text


def test_registry_csv_round_trip_keeps_hidden_prefix_names(tmp_path):
    names = ["\u200b=1+1", "\u200b\u2060@SUM(1)", "=HYPERLINK(1)", "Қасымова Әлия"]
    db = tmp_path / "a.sqlite"
    for i, name in enumerate(names):
        proc = tdmcrawl(
            "registry",
            "add",
            "--registry",
            str(db),
            "--author",
            name,
            "--title",
            name,
            "--domain",
            f"site{i}.kz",
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
    out = tmp_path / "export.csv"
    proc = tdmcrawl("registry", "export", "--registry", str(db), "--format", "csv", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"), newline="")))
    cells = {row["author"] for row in rows}
    assert "'\u200b=1+1" in cells and "'\u200b\u2060@SUM(1)" in cells
    copy = tmp_path / "b.sqlite"
    proc = tdmcrawl("registry", "import", "--registry", str(copy), str(out), timeout=60)
    assert proc.returncode == 0, proc.stderr
    with Registry(copy, create=False) as reg:
        assert sorted(e.author for e in reg.entries()) == sorted(names)
