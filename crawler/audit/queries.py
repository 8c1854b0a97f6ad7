"""Read-side queries over the audit database, shared by `tdmcrawl audit`'s
summary, URL story, exports, HTML report and merge.

Every function takes an open :class:`sqlite_utils.Database` (from
:func:`crawler.auditdb.open_database`) and returns plain dicts, so the CLI
prints them as text or JSON and the report renders them as HTML. Summaries
group on the indexes created by the ``m002_summary_indexes`` migration;
listings iterate a cursor, never a list, so millions of rows stream.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from tdmcrawl.crawler.audit.db import EXCLUSION_COLUMNS, PAGE_EVIDENCE_KINDS, domain_of
from tdmcrawl.optout.origins import RSL_LICENSE, evidence_kind, serialized_origin

# --by value -> (SQL expression of the group key, the column listed as "top" per group)
GROUPINGS: dict[str, tuple[str, str]] = {
    "reason": ("reason", "domain"),
    "domain": ("domain", "reason"),
    "source": ("source", "reason"),
    "day": ("substr(decided_at, 1, 10)", "reason"),
}


def totals(db: Database) -> dict[str, int]:
    kept = db.execute("SELECT count(*) FROM kept").fetchone()[0]
    excluded = db.execute("SELECT count(*) FROM exclusions").fetchone()[0]
    return {"kept": kept, "excluded": excluded}


def crawl_totals(db: Database, crawl_id: str) -> dict[str, Any]:
    """One crawl's totals over all its runs: pages kept, exclusions by (stage, reason)."""
    kept = db.execute("SELECT count(*) FROM kept WHERE crawl_id = ?", [crawl_id]).fetchone()[0]
    excluded = {
        (stage, reason): n
        for stage, reason, n in db.execute(
            "SELECT stage, reason, count(*) FROM exclusions WHERE crawl_id = ?"
            " GROUP BY stage, reason",
            [crawl_id],
        )
    }
    return {"kept": kept, "excluded": excluded}


def incomplete(db: Database, directory: Path) -> dict[str, Any] | None:
    """Why the audit of the crawl in ``directory`` may lack rows, or None.

    A crawl that has not finished (running, or stopped by a kill or a second
    Ctrl-C) has no ``finished_at``; a kill also leaves ``.open`` WARC files,
    whose last pages the audit may not have yet (rows are committed in batches).
    """
    base = directory if directory.is_dir() else directory.parent
    unfinished = [
        row[0]
        for row in db.execute(
            "SELECT crawl_id FROM crawls WHERE finished_at IS NULL ORDER BY started_at"
        )
    ]
    open_files = sorted(
        str(path.relative_to(base))
        for sub in ("warc", "evidence")
        for path in (base / sub).glob("*.open")
    )
    if not unfinished and not open_files:
        return None
    return {"unfinished_crawls": unfinished, "open_files": open_files}


def crawls(db: Database) -> list[dict[str, Any]]:
    """The crawls in the database with their settings, versions and stats decoded."""
    out = []
    for row in db.query("SELECT * FROM crawls ORDER BY started_at, crawl_id"):
        for key in ("seeds", "settings", "versions", "stats"):
            row[key] = _loads(row.get(key))
        out.append(row)
    return out


def summary(db: Database, *, by: str = "reason", top: int = 5) -> dict[str, Any]:
    """Counts per group with percentages and the ``top`` entries of the other column."""
    if by not in GROUPINGS:
        raise ValueError(f"--by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    key_sql, detail = GROUPINGS[by]
    counts = totals(db)
    excluded = counts["excluded"]
    seen = excluded + counts["kept"]
    groups: dict[str, dict[str, Any]] = {}
    for key, n in db.execute(
        f"SELECT {key_sql} AS k, count(*) AS n FROM exclusions GROUP BY k ORDER BY n DESC, k"
    ):
        groups[key] = {
            by: key,
            "count": n,
            "percent_of_excluded": _percent(n, excluded),
            "percent_of_seen": _percent(n, seen),
            f"top_{detail}s": [],
        }
    ranked = f"""
        SELECT k, d, n FROM (
            SELECT {key_sql} AS k, {detail} AS d, count(*) AS n,
                   row_number() OVER (PARTITION BY {key_sql} ORDER BY count(*) DESC, {detail}) AS rk
            FROM exclusions GROUP BY k, d)
        WHERE rk <= ? ORDER BY k, n DESC, d"""
    for key, item, n in db.execute(ranked, [top]):
        if key in groups:
            groups[key][f"top_{detail}s"].append({detail: item, "count": n})
    return {
        "by": by,
        "kept": counts["kept"],
        "excluded": excluded,
        "percent_kept": _percent(counts["kept"], seen),
        "percent_excluded": _percent(excluded, seen),
        "groups": list(groups.values()),
        "crawls": [_crawl_brief(c) for c in crawls(db)],
    }


def explain(db: Database, url: str) -> dict[str, Any]:
    """Everything the database knows about one URL: kept, excluded, or never seen."""
    kept = [
        {**row, "decision": _loads(row["decision"])}
        for row in db.query("SELECT * FROM kept WHERE url = ? ORDER BY kept_at", [url])
    ]
    excluded = []
    for row in db.query("SELECT * FROM exclusions WHERE url = ? ORDER BY decided_at", [url]):
        row["registry_state"] = registry_state_of(db, "exclusions", row)
        row.pop("id", None)
        row["decision"] = _loads(row["decision"])
        row["evidence_captures"] = _evidence_captures(db, row)
        excluded.append(row)
    for row in kept:
        row["registry_state"] = registry_state_of(db, "kept", row)
        row.pop("id", None)
    if excluded:
        status = "excluded"
    elif kept:
        status = "kept"
    else:
        status = "unseen"
    story: dict[str, Any] = {"url": url, "status": status, "kept": kept, "excluded": excluded}
    if status == "unseen":
        story["similar_urls"] = _similar_urls(db, url)
        story["domain_rows"] = db.execute(
            "SELECT (SELECT count(*) FROM exclusions WHERE domain = :d)"
            " + (SELECT count(*) FROM kept WHERE domain = :d)",
            {"d": domain_of(url)},
        ).fetchone()[0]
    return story


def registry_state_of(db: Database, table: str, row: dict[str, Any]) -> dict[str, Any] | None:
    """The registry state (source, cursor, sync time) a decision row was made with."""
    if "registry_states" not in db.table_names() or row.get("id") is None:
        return None
    mark = "exclusions_before" if table == "exclusions" else "kept_before"
    found = db.execute(
        f"SELECT source, registry_id, cursor, synced_at, stale, applied_at FROM registry_states"
        f" WHERE crawl_id = ? AND {mark} < ? ORDER BY id DESC LIMIT 1",
        [row["crawl_id"], row["id"]],
    ).fetchone()
    if found is None:
        return None
    keys = ("source", "registry_id", "cursor", "synced_at", "stale", "applied_at")
    state = dict(zip(keys, found, strict=True))
    state["stale"] = bool(state["stale"])
    return state


def locate_warcs(story: dict[str, Any], directory: Path) -> dict[str, Any]:
    """Add ``warc_path`` (or None when the file is gone) next to every WARC file name
    of an :func:`explain` story: kept pages live in ``DIR/warc/``, captures in
    ``DIR/evidence/``."""
    base = directory if directory.is_dir() else directory.parent

    def find(name: str | None) -> str | None:
        if not name:
            return None
        for sub in ("warc", "evidence", ""):
            candidate = base / sub / name
            if candidate.is_file():
                return str(candidate)
        return None

    for row in story["kept"]:
        row["warc_path"] = find(row.get("warc_file"))
    for row in story["excluded"]:
        for capture in row["evidence_captures"]:
            capture["warc_path"] = find(capture.get("warc_file"))
    return story


def iter_exclusions(
    db: Database,
    *,
    reason: str | None = None,
    domain: str | None = None,
    limit: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Exclusion rows in decision order; ``domain`` matches the host and its subdomains."""
    where, params = [], []
    if reason:
        where.append("reason = ?")
        params.append(reason)
    if domain:
        domain = domain.lower().strip(".")
        where.append("(domain = ? OR domain LIKE ? ESCAPE '\\')")
        params += [
            domain,
            "%." + domain.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"),
        ]
    sql = f"SELECT {', '.join(EXCLUSION_COLUMNS)} FROM exclusions"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    cursor = db.execute(sql, params)
    while batch := cursor.fetchmany(1000):
        for values in batch:
            yield dict(zip(EXCLUSION_COLUMNS, values, strict=True))


def time_buckets(db: Database) -> dict[str, Any]:
    """Exclusions over time per reason, bucketed by minute, hour or day to fit the span."""
    first, last = db.execute("SELECT min(decided_at), max(decided_at) FROM exclusions").fetchone()
    if first is None:
        return {"unit": "day", "rows": []}
    span = _parse_time(last) - _parse_time(first)
    # ISO 8601 prefixes: 10 characters are the day, 13 the hour, 16 the minute.
    if span > timedelta(days=2):
        unit, width, suffix = "day", 10, ""
    elif span > timedelta(hours=2):
        unit, width, suffix = "hour", 13, ":00"
    else:
        unit, width, suffix = "minute", 16, ""
    rows = [
        {"bucket": bucket + suffix, "reason": reason, "count": n}
        for bucket, reason, n in db.execute(
            f"SELECT substr(decided_at, 1, {width}) AS b, reason, count(*) FROM exclusions"
            " GROUP BY b, reason ORDER BY b, reason"
        )
    ]
    return {"unit": unit, "rows": rows}


def _evidence_captures(db: Database, row: dict[str, Any]) -> list[dict[str, Any]]:
    """The captures behind an exclusion: the deciding one (an origin file, or the page's
    response head), then the page's own evidence (head, meta tags) where it was fetched."""
    captures = _deciding_capture(db, row)
    listed = {c.get("record_id") for c in captures}
    keys = ("kind", "url", "warc_file", "warc_offset", "record_id", "captured_at")
    marks = ", ".join("?" * len(PAGE_EVIDENCE_KINDS))
    for found in db.execute(
        f"SELECT {', '.join(keys)} FROM evidence WHERE url = ? AND crawl_id = ?"
        f" AND kind IN ({marks}) ORDER BY id",
        [row["url"], row["crawl_id"], *PAGE_EVIDENCE_KINDS],
    ):
        capture = dict(zip(keys, found, strict=True))
        if capture["record_id"] in listed:
            for known in captures:
                if known.get("record_id") == capture["record_id"]:
                    known["kind"] = capture["kind"]
            continue
        captures.append({**capture, "linked": "page evidence"})
    return captures


def _deciding_capture(db: Database, row: dict[str, Any]) -> list[dict[str, Any]]:
    """The robots.txt/tdmrep.json/ai.txt capture (or page head) behind an exclusion."""
    if row.get("evidence_warc"):
        record_id = row.get("evidence_record_id")
        if record_id is None:
            found = db.execute(
                "SELECT record_id FROM evidence WHERE warc_file = ? AND warc_offset = ?",
                [row["evidence_warc"], row["evidence_offset"]],
            ).fetchone()
            record_id = found[0] if found else None
        kind = db.execute("SELECT kind FROM evidence WHERE record_id = ?", [record_id]).fetchone()
        return [
            {
                "warc_file": row["evidence_warc"],
                "warc_offset": row["evidence_offset"],
                "record_id": record_id,
                "kind": kind[0] if kind else None,
                "linked": "recorded",
            }
        ]
    # An rsl reason's evidence is the licence document, wherever it was named.
    kind = RSL_LICENSE.kind if row.get("reason") == "rsl" else evidence_kind(row["source"])
    if kind is None:
        return []
    # Not linked at decision time: the latest capture of that file for the
    # origin in the same crawl, taken no later than the decision.
    found = db.execute(
        "SELECT url, warc_file, warc_offset, record_id, captured_at FROM evidence"
        " WHERE origin = ? AND kind = ? AND crawl_id = ? AND captured_at <= ?"
        " ORDER BY captured_at DESC LIMIT 1",
        [serialized_origin(row["url"]), kind, row["crawl_id"], row["decided_at"]],
    ).fetchone()
    if found is None:
        return []
    keys = ("url", "warc_file", "warc_offset", "record_id", "captured_at")
    return [{**dict(zip(keys, found, strict=True)), "kind": kind, "linked": "same origin"}]


def _similar_urls(db: Database, url: str) -> list[str]:
    """Spellings an auditor may have meant: trailing slash and scheme swapped."""
    variants = {url.rstrip("/") if url.endswith("/") else url + "/"}
    for a, b in (("https://", "http://"), ("http://", "https://")):
        if url.startswith(a):
            rest = b + url[len(a) :]
            variants |= {rest, rest.rstrip("/") if rest.endswith("/") else rest + "/"}
    variants.discard(url)
    found = []
    for candidate in sorted(variants):
        hit = db.execute(
            "SELECT 1 FROM exclusions WHERE url = ? UNION ALL SELECT 1 FROM kept WHERE url = ?",
            [candidate, candidate],
        ).fetchone()
        if hit:
            found.append(candidate)
    return found


def _crawl_brief(crawl: dict[str, Any]) -> dict[str, Any]:
    settings = crawl.get("settings") or {}
    policy = {k: v for k, v in settings.items() if k.startswith("TDMCRAWL_")}
    if isinstance(settings.get("policy"), dict):
        policy.update(settings["policy"])
    return {
        "crawl_id": crawl["crawl_id"],
        "started_at": crawl.get("started_at"),
        "finished_at": crawl.get("finished_at"),
        "versions": crawl.get("versions") or {},
        "policy": policy,
    }


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:  # a hand-edited row: the epoch, rather than fail the report
        moment = datetime(1970, 1, 1)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
