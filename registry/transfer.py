"""Export and import of registry entries (JSON lines or CSV).

An exported row holds everything needed to rebuild the entry elsewhere: the id,
rule, who, timestamps, the token *hash* (so the author's token keeps working;
the token itself is never stored) and, for works, the extracted text of each
file (fingerprints are recomputed on import with the importing side's config).

Import validates every row first and writes all of them in one transaction, or
none (``ImportRejected`` lists the line of each bad row). It is idempotent: a
row whose id, or whose rule in the same scope, is already registered is
skipped. A row without ``token_hash`` gets a new token, reported once.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from tdmcrawl.registry import tokens
from tdmcrawl.registry.entries import check_id, utc_now
from tdmcrawl.registry.errors import ImportRejected, InvalidInput, RegistryError
from tdmcrawl.registry.store import NewEntry, Registry, new_entry
from tdmcrawl.registry.urlrules import RuleKind, UrlRule, parse_domain, parse_url_pattern
from tdmcrawl.registry.works import (
    WorkText,
    check_fingerprintable,
    config_identity,
    content_digest,
    work_text_from_bytes,
)

FORMATS = ("jsonl", "csv")
CSV_BOM = "\ufeff"
FORMULA_STARTS = frozenset("=+-@\t\r")
FORMULA_CHARS = frozenset("=+-@")
COLUMNS = (
    "id",
    "kind",
    "pattern",
    "scope",
    "author",
    "email",
    "title",
    "created_at",
    "updated_at",
    "token_hash",
    "files",
)
_TIMESTAMP_MAX = 40
PROGRESS_EVERY = 1000  # rows between progress reports of an import
Progress = Callable[[int, int, str], None]


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": len(self.added),
            "skipped": len(self.skipped),
            "added_ids": self.added,
            "skipped_rows": self.skipped,
            "new_tokens": [{"id": k, "token": v} for k, v in self.tokens.items()],
        }


# -- export -------------------------------------------------------------------


def export_rows(registry: Registry) -> Iterator[dict[str, Any]]:
    for entry in registry.entries():
        row: dict[str, Any] = {
            key: value for key, value in entry.to_dict().items() if key in COLUMNS
        }
        row["token_hash"] = registry.token_hash(entry.id)
        if entry.kind is RuleKind.WORK:
            row["files"] = [
                {"filename": part.filename, "text": part.text}
                for part in registry.work_texts(entry.id)
            ]
        yield row


def write_export(registry: Registry, out: TextIO, fmt: str = "jsonl") -> int:
    """Write every entry to ``out``; returns the number of rows."""
    count = 0
    if fmt == "csv":
        # The BOM is how Excel and LibreOffice know the file is UTF-8; without
        # it they show Kazakh and Russian names as mojibake. Import skips it.
        out.write(CSV_BOM)
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in export_rows(registry):
            if "files" in row:
                row["files"] = json.dumps(row["files"], ensure_ascii=False)
            writer.writerow(
                {k: "" if row.get(k) is None else csv_cell(str(row[k])) for k in COLUMNS}
            )
            count += 1
    elif fmt == "jsonl":
        for row in export_rows(registry):
            out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
    else:
        raise InvalidInput(f"unknown export format {fmt!r}: use jsonl or csv")
    return count


def _needs_quote_mark(text: str) -> bool:
    # A leading ' is itself escaped when what follows it would be, so that
    # csv_cell and csv_value are exact inverses for every string.
    if not text:
        return False
    first = text[0]
    plain = _PLAIN_FIRST.get(first)
    if plain is None:
        plain = (
            first.isprintable()
            and not first.isspace()
            and first not in FORMULA_STARTS
            and first != "'"
        )
        if len(_PLAIN_FIRST) < _PLAIN_FIRST_MAX:
            _PLAIN_FIRST[first] = plain
    if plain:
        return False  # the common case: a visible first character that starts no formula
    if first in FORMULA_STARTS:
        return True
    if first == "'":
        return _needs_quote_mark(text[1:])
    # What a spreadsheet may skip, trim or not show before a formula character: spaces and
    # line breaks, control characters (NUL), format characters (U+200B, BOM, U+2060): all
    # whitespace and everything str.isprintable() refuses.
    for char in text:
        if char in FORMULA_CHARS:
            return True  # a formula behind characters the reader does not see
        if char.isprintable() and not char.isspace():
            return False
    return False


# first character -> "visible, and starts neither a formula nor a quote" (memo: the export
# calls the guard for every cell; the first characters seen are few).
_PLAIN_FIRST: dict[str, bool] = {}
_PLAIN_FIRST_MAX = 65_536  # bounded, whatever the input


def csv_cell(text: str) -> str:
    """``text`` safe to open in a spreadsheet: a cell that starts with
    ``= + - @``, tab or CR, or with one of ``= + - @`` after spaces, line
    breaks, control or zero-width characters (`` =``, ``\\n=``, ``\\u200b=``,
    ``\\x00@``), gets a leading ``'`` so it is shown, never run as a formula
    (OWASP "CSV injection"). :func:`csv_value` undoes it on import."""
    return "'" + text if _needs_quote_mark(text) else text


def csv_value(cell: str) -> str:
    """The inverse of :func:`csv_cell`."""
    return cell[1:] if cell.startswith("'") and _needs_quote_mark(cell[1:]) else cell


# -- import -------------------------------------------------------------------


def guess_format(path: str) -> str:
    return "csv" if path.lower().endswith(".csv") else "jsonl"


def read_rows(text: str, fmt: str, source: str) -> list[tuple[int, dict[str, Any]]]:
    """(line number, row) for every row; rows that are not even parseable are
    collected and rejected together."""
    rows: list[tuple[int, dict[str, Any]]] = []
    problems: list[tuple[int, str]] = []
    text = text.removeprefix(CSV_BOM)  # stdin and str input keep it; files drop it
    if fmt == "jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append((number, f"not JSON ({exc.msg})"))
                continue
            if not isinstance(row, dict):
                problems.append((number, "not a JSON object"))
                continue
            rows.append((number, row))
    elif fmt == "csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        missing = {"kind", "pattern", "author"} - set(reader.fieldnames or ())
        if missing:
            raise ImportRejected(source, [(1, f"CSV header lacks {', '.join(sorted(missing))}")])
        start = 2
        try:
            for row in reader:
                if None in row:
                    problems.append((start, "more fields than the header"))
                else:
                    rows.append((start, _csv_row(row)))
                start = reader.line_num + 1
        except csv.Error as exc:
            problems.append((start, f"bad CSV ({exc})"))
    else:
        raise InvalidInput(f"unknown import format {fmt!r}: use jsonl or csv")
    if problems:
        raise ImportRejected(source, problems)
    return rows


def import_text(
    registry: Registry,
    text: str,
    fmt: str,
    source: str,
    progress: Progress | None = None,
) -> ImportReport:
    """Validate every row, then write them all in one transaction (or none).

    ``progress(done, total, step)`` hears how far it got: ``step`` is ``"checked"``
    while rows are validated (every :data:`PROGRESS_EVERY` rows and at the end),
    then ``"written"`` once they are committed."""
    rows = read_rows(text, fmt, source)
    total = len(rows)
    report = ImportReport()
    problems: list[tuple[int, str]] = []
    pending: list[tuple[int, NewEntry]] = []
    seen_ids: dict[str, int] = {}
    seen_rules: dict[tuple[str, str, str], int] = {}
    for done, (number, row) in enumerate(rows, start=1):
        if progress is not None and (done % PROGRESS_EVERY == 0 or done == total):
            progress(done, total, "checked")
        try:
            entry, token = _validate(registry, row)
        except (RegistryError, ValueError) as exc:
            problems.append((number, str(exc)))
            continue
        rule = (entry.kind.value, entry.rule_key, entry.scope)
        if entry.id in seen_ids:
            problems.append((number, f"id {entry.id} repeats line {seen_ids[entry.id]}"))
            continue
        if rule in seen_rules:
            problems.append((number, f"same rule and scope as line {seen_rules[rule]}"))
            continue
        seen_ids[entry.id] = seen_rules[rule] = number
        conflict = _conflict(registry, entry)
        if conflict is not None:
            problems.append((number, conflict))
            continue
        if token is not None:
            report.tokens[entry.id] = token
        pending.append((number, entry))
    if problems:
        raise ImportRejected(source, problems)
    with registry._write():
        for number, entry in pending:
            skip = _already_there(registry, entry)
            if skip is not None:
                report.skipped.append({"line": number, "id": entry.id, "reason": skip})
                report.tokens.pop(entry.id, None)
                continue
            registry._insert_unchecked(entry)
            report.added.append(entry.id)
    if progress is not None:
        progress(len(report.added), total, "written")
    return report


def import_file(registry: Registry, path: str, fmt: str | None = None) -> ImportReport:
    text, source = read_import_source(path)
    return import_text(registry, text, fmt or guess_format(path), source)


def read_import_source(path: str) -> tuple[str, str]:
    """(text, name for messages) of an import file, ``-`` being stdin."""
    try:
        if path == "-":
            return sys.stdin.read(), "stdin"
        return Path(path).read_text(encoding="utf-8-sig"), path
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None


def _csv_row(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {k: (csv_value(v) if v else None) for k, v in row.items()}
    if out.get("files"):
        try:
            out["files"] = json.loads(out["files"])
        except json.JSONDecodeError:
            out["files"] = "not JSON"
    return out


def _validate(registry: Registry, row: dict[str, Any]) -> tuple[NewEntry, str | None]:
    unknown = set(row) - set(COLUMNS)
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
    try:
        kind = RuleKind(str(row.get("kind")))
    except ValueError:
        raise InvalidInput(
            f"unknown kind {row.get('kind')!r}: url, prefix, domain or work"
        ) from None
    entry_id = check_id(row["id"]) if row.get("id") is not None else None
    token: str | None = None
    token_hash = row.get("token_hash")
    if token_hash is None:
        token = tokens.new_token()
        token_hash = tokens.hash_token(token)
    elif not tokens.is_token_hash(token_hash):
        raise InvalidInput("token_hash is not a token hash written by tdmcrawl")
    now = utc_now()
    created = _timestamp(row.get("created_at"), now, "created_at")
    who: dict[str, Any] = {
        "entry_id": entry_id,
        "token_hash": token_hash,
        "created_at": created,
        "updated_at": _timestamp(row.get("updated_at"), created, "updated_at"),
    }
    fields = (row.get("author"), row.get("email"), row.get("title"), row.get("scope"))
    if kind is RuleKind.WORK:
        parts = _work_parts(row.get("files"))
        digest = content_digest(parts)
        fps = check_fingerprintable(parts, registry.dedup_config)
        entry = new_entry(
            *fields,
            kind=kind,
            pattern=digest,
            rule_key=digest,
            host=None,
            parts=tuple(parts),
            fingerprints=tuple(fps),
            config_identity=config_identity(registry.dedup_config),
            **who,
        )
        return entry, token
    if row.get("files"):
        raise InvalidInput(f"a {kind.value} rule has no files")
    rule = _rule(kind, row.get("pattern"))
    entry = new_entry(
        *fields, kind=kind, pattern=rule.pattern, rule_key=rule.key, host=rule.host, **who
    )
    return entry, token


def _rule(kind: RuleKind, pattern: Any) -> UrlRule:
    if not isinstance(pattern, str):
        raise InvalidInput("pattern is missing")
    rule = parse_domain(pattern) if kind is RuleKind.DOMAIN else parse_url_pattern(pattern)
    if rule.kind is not kind:
        raise InvalidInput(f"pattern {pattern!r} is a {rule.kind.value} rule, not {kind.value}")
    return rule


def _work_parts(files: Any) -> list[WorkText]:
    if not isinstance(files, list) or not files:
        raise InvalidInput("a work needs files: a list of {filename, text}")
    parts = []
    for item in files:
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise InvalidInput("each file of a work needs a filename and a text")
        name = Path(str(item.get("filename") or "work.txt")).name
        # Stored texts are plain text whatever the original file was.
        parts.append(work_text_from_bytes(name, item["text"].encode("utf-8"), html=False))
    return parts


def _timestamp(value: Any, default: str, what: str) -> str:
    if value is None:
        return default
    try:
        if not isinstance(value, str) or len(value) > _TIMESTAMP_MAX:
            raise ValueError(value)
        datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{what} {value!r} is not an ISO 8601 timestamp") from None
    return value.strip()


def _conflict(registry: Registry, entry: NewEntry) -> str | None:
    row = registry.conn.execute(
        "SELECT kind, rule_key, scope FROM entries WHERE id = ?", (entry.id,)
    ).fetchone()
    if row is not None and tuple(row) != (entry.kind.value, entry.rule_key, entry.scope):
        return f"id {entry.id} is already used by a different entry"
    return None


def _already_there(registry: Registry, entry: NewEntry) -> str | None:
    if registry.conn.execute("SELECT 1 FROM entries WHERE id = ?", (entry.id,)).fetchone():
        return "already imported"
    existing = registry.existing_id(entry.kind, entry.rule_key, entry.scope)
    if existing is not None:
        return f"same rule already registered as {existing}"
    return None
