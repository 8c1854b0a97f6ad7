"""Streaming exports of the exclusion rows: CSV for spreadsheets, JSONL for tools.

Rows are read from a cursor and written one by one, so memory stays flat for
millions of rows. CSV is written the way spreadsheet programs read it without
an import dialog: UTF-8 with a byte-order mark (else Excel guesses a legacy
code page and Kazakh letters turn to mojibake), CRLF line ends, every field
that needs it quoted. Text cells starting with ``= + - @`` (also behind
spaces, line breaks, NUL or zero-width characters) get a leading apostrophe,
so an evidence string can never run as a formula (OWASP "CSV injection"); the
JSONL export keeps every value exactly as stored.
"""

from __future__ import annotations

import csv
import io
import json
from typing import IO

from sqlite_utils import Database

from tdmcrawl.crawler.audit.db import EXCLUSION_COLUMNS
from tdmcrawl.crawler.audit.queries import iter_exclusions
from tdmcrawl.registry.transfer import CSV_BOM, csv_cell

FORMATS = ("csv", "jsonl")


def export_exclusions(
    db: Database,
    out: IO[bytes],
    *,
    fmt: str,
    reason: str | None = None,
    domain: str | None = None,
) -> int:
    """Write the exclusion rows to the binary stream ``out``; returns the row count."""
    if fmt not in FORMATS:
        raise ValueError(f"export format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
    rows = iter_exclusions(db, reason=reason, domain=domain)
    count = 0
    try:
        if fmt == "csv":
            text.write(CSV_BOM)
            writer = csv.writer(text, lineterminator="\r\n")
            writer.writerow(EXCLUSION_COLUMNS)
            for row in rows:
                writer.writerow([_csv_cell(row[c]) for c in EXCLUSION_COLUMNS])
                count += 1
        else:
            for row in rows:
                row["decision"] = _json_or_text(row["decision"])
                text.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
        text.flush()
    finally:
        # Leave the caller's stream open (it is usually stdout).
        text.detach()
    return count


def _csv_cell(value: object) -> object:
    # The registry's guard, so both exports read back with registry.transfer.csv_value.
    if isinstance(value, str):
        return csv_cell(value)
    return "" if value is None else value


def _json_or_text(value: str) -> object:
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value
