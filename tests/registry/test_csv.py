"""CSV export for spreadsheets: UTF-8 with a BOM and no formula injection,
while export -> import stays exact."""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from tdmcrawl.crawler.cli import main
from tdmcrawl.registry import Registry
from tdmcrawl.registry.transfer import CSV_BOM, FORMULA_STARTS, csv_cell, csv_value

HOSTILE_AUTHORS = [
    '=HYPERLINK("http://evil.example","click")',
    "+7 701 000 00 00",
    "-Әлия",
    "@Иван",
    "\tтаб",
    "\r=cr",
    "'=already quoted",
    "''+two quotes",
    "'plain apostrophe",
    "O'Brien = author",
    "Қасымова Әлия",
]


def run(*args: str):
    return CliRunner().invoke(main, ["registry", *args], catch_exceptions=False)


@pytest.fixture
def exported(tmp_path):
    db = str(tmp_path / "a.sqlite")
    for i, author in enumerate(HOSTILE_AUTHORS):
        result = run(
            "add",
            "--registry",
            db,
            "--author",
            author,
            "--title",
            author,
            "--domain",
            f"site{i}.kz",
        )
        assert result.exit_code == 0, result.output
    out = tmp_path / "optout.csv"
    assert run("export", "--registry", db, "--format", "csv", "-o", str(out)).exit_code == 0
    return db, out


def test_csv_starts_with_a_bom_and_spreadsheet_cells_never_start_a_formula(exported):
    _db, out = exported
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw.count(b"\xef\xbb\xbf") == 1
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert len(rows) == len(HOSTILE_AUTHORS)
    for row in rows:
        for cell in row.values():
            assert not cell or cell[0] not in FORMULA_STARTS, cell
    by_author = {row["author"] for row in rows}
    assert '\'=HYPERLINK("http://evil.example","click")' in by_author
    assert "''=already quoted" in by_author and "'plain apostrophe" in by_author
    assert "Қасымова Әлия" in by_author  # text without a trigger is unchanged


def _people(db: str) -> list[tuple[str, str | None]]:
    with Registry(db, create=False) as reg:
        return sorted((e.author, e.title) for e in reg.entries())


def test_csv_import_restores_every_name_exactly(exported, tmp_path):
    db, out = exported
    copy = str(tmp_path / "b.sqlite")
    result = run("import", "--registry", copy, str(out))
    assert result.exit_code == 0, result.output
    original = _people(db)
    assert _people(copy) == original
    authors = {author for author, _ in original}
    # Registration trims surrounding whitespace; every other hostile name survives as given.
    assert {a for a in HOSTILE_AUTHORS if a == a.strip()} <= authors
    again = run("import", "--registry", copy, str(out), "--json")
    assert again.exit_code == 0 and '"added": 0' in again.stdout


def test_csv_from_stdin_with_its_bom_imports(exported, tmp_path):
    _db, out = exported
    copy = str(tmp_path / "c.sqlite")
    # Read without stripping the BOM, as a pipe would deliver it.
    result = CliRunner().invoke(
        main,
        ["registry", "import", "--registry", copy, "-", "--format", "csv"],
        input=out.read_text(encoding="utf-8"),
    )
    assert result.exit_code == 0, result.output
    with Registry(copy, create=False) as reg:
        assert len(list(reg.entries())) == len(HOSTILE_AUTHORS)


@given(st.text(max_size=30))
def test_csv_escape_is_exactly_undone_and_never_leaves_a_formula(text):
    cell = csv_cell(text)
    assert csv_value(cell) == text
    assert not cell or cell[0] not in FORMULA_STARTS


@given(st.text(alphabet="'=+-@\t\rаә x", max_size=12))
def test_csv_escape_on_quote_heavy_text(text):
    assert csv_value(csv_cell(text)) == text


def test_bom_constant_is_the_utf8_bom():
    assert CSV_BOM.encode("utf-8") == b"\xef\xbb\xbf"
