"""`tdmcrawl audit DIR --html FILE`: one self-contained HTML compliance report.

Charts are Plotly figures with the plotly.js bundle inlined, so the file
opens offline and can be archived with the crawl. The table of excluded URLs
holds at most ``max_rows`` rows (the report says how many exist and points to
``--export`` for all of them); a few lines of inline JavaScript filter it as
the reader types. Everything from the database is HTML-escaped: URLs and
evidence are attacker-controlled text.
"""

from __future__ import annotations

import json
from collections import defaultdict
from html import escape
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from tdmcrawl.crawler.audit.queries import crawls, iter_exclusions, summary, time_buckets

DEFAULT_MAX_ROWS = 5000
TOP_DOMAINS = 20

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px;
       padding: 0 1em; color: #1d1d1f; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
.totals span { display: inline-block; margin-right: 2em; font-size: 1.1em; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; }
th, td { border-bottom: 1px solid #eee; padding: 3px 6px; text-align: left;
         vertical-align: top; overflow-wrap: anywhere; }
th { background: #f5f5f7; position: sticky; top: 0; }
#search { width: 100%; font-size: 1.05em; padding: 6px; margin: .4em 0; box-sizing: border-box; }
pre { background: #f5f5f7; padding: .8em; overflow-x: auto; font-size: 12px; }
.note { color: #666; }
"""

# Filters the table as the reader types; NFC so composed and decomposed
# Kazakh letters match each other.
_SEARCH_JS = """
(function () {
  var input = document.getElementById('search');
  var rows = Array.prototype.slice.call(document.querySelectorAll('#exclusions tbody tr'));
  var texts = rows.map(function (tr) {
    return tr.textContent.normalize('NFC').toLocaleLowerCase();
  });
  var counter = document.getElementById('shown');
  input.addEventListener('input', function () {
    var q = input.value.trim().normalize('NFC').toLocaleLowerCase();
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var hit = q === '' || texts[i].indexOf(q) !== -1;
      rows[i].style.display = hit ? '' : 'none';
      if (hit) { shown++; }
    }
    counter.textContent = String(shown);
  });
})();
"""

_TABLE_COLUMNS = (
    ("url", "URL"),
    ("reason", "Reason"),
    ("source", "Source"),
    ("evidence", "Evidence"),
    ("matched_work", "Matched work"),
    ("similarity", "Similarity"),
    ("stage", "Stage"),
    ("decided_at", "Decided at (UTC)"),
    ("evidence_capture", "Evidence capture"),
    ("crawl_id", "Crawl"),
)


def write_report(db: Database, path: Path, *, max_rows: int = DEFAULT_MAX_ROWS) -> dict[str, Any]:
    """Render the report to ``path``; returns the figures it was built from."""
    # Imported here: plotly is an optional extra and slow to import.
    try:
        import plotly.graph_objects as go
        from plotly.offline import get_plotlyjs
    except ImportError:
        raise RuntimeError("the HTML report needs plotly: pip install 'tdmcrawl[audit]'") from None
    by_reason = summary(db, by="reason")
    by_domain = summary(db, by="domain", top=3)
    over_time = time_buckets(db)
    charts = [
        _bar_by_reason(go, by_reason),
        _bar_by_domain(go, by_domain),
        _over_time(go, over_time),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>tdmcrawl compliance audit</title>",
        f"<style>{_STYLE}</style>",
        f'<script type="text/javascript">{get_plotlyjs()}</script>',
        "</head><body>",
        "<h1>tdmcrawl compliance audit</h1>",
        _totals_html(by_reason),
        "<h2>Exclusions by reason</h2>",
        charts[0],
        f"<h2>Exclusions by domain (top {TOP_DOMAINS})</h2>",
        charts[1],
        f"<h2>Exclusions over time (per {over_time['unit']})</h2>",
        charts[2],
        "<h2>Excluded URLs</h2>",
        _table_html(db, by_reason["excluded"], max_rows),
        "<h2>Crawl settings</h2>",
        _crawls_html(db),
        f"<script>{_SEARCH_JS}</script>",
        "</body></html>",
    ]
    path.write_text("\n".join(parts), encoding="utf-8")
    return {"excluded": by_reason["excluded"], "kept": by_reason["kept"]}


def _figure_html(fig: Any, div_id: str) -> str:
    fig.update_layout(margin={"l": 40, "r": 20, "t": 20, "b": 40}, height=380)
    return fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config={"displaylogo": False, "responsive": True},
    )


def _bar_by_reason(go: Any, data: dict[str, Any]) -> str:
    groups = data["groups"]
    fig = go.Figure(
        go.Bar(
            x=[g["reason"] for g in groups],
            y=[g["count"] for g in groups],
            text=[f"{g['percent_of_excluded']}%" for g in groups],
            marker_color="#b23a48",
        )
    )
    fig.update_layout(xaxis_title="reason", yaxis_title="excluded URLs")
    return _figure_html(fig, "chart-by-reason")


def _bar_by_domain(go: Any, data: dict[str, Any]) -> str:
    groups = data["groups"][:TOP_DOMAINS][::-1]  # largest at the top of a horizontal bar chart
    fig = go.Figure(
        go.Bar(
            y=[g["domain"] for g in groups],
            x=[g["count"] for g in groups],
            orientation="h",
            hovertext=[", ".join(r["reason"] for r in g["top_reasons"]) for g in groups],
            marker_color="#3a6ea5",
        )
    )
    fig.update_layout(xaxis_title="excluded URLs")
    return _figure_html(fig, "chart-by-domain")


def _over_time(go: Any, data: dict[str, Any]) -> str:
    series: dict[str, dict[str, int]] = defaultdict(dict)
    for row in data["rows"]:
        series[row["reason"]][row["bucket"]] = row["count"]
    fig = go.Figure(
        [
            go.Bar(name=reason, x=list(points), y=list(points.values()))
            for reason, points in sorted(series.items())
        ]
    )
    fig.update_layout(barmode="stack", yaxis_title="excluded URLs", xaxis_type="category")
    return _figure_html(fig, "chart-over-time")


def _totals_html(data: dict[str, Any]) -> str:
    return (
        '<p class="totals">'
        f'<span>Pages kept: <b id="kept">{data["kept"]}</b> ({data["percent_kept"]}%)</span>'
        f'<span>Excluded: <b id="excluded">{data["excluded"]}</b> '
        f"({data['percent_excluded']}%)</span></p>"
    )


def _table_html(db: Database, total: int, max_rows: int) -> str:
    head = "".join(f"<th>{escape(title)}</th>" for _, title in _TABLE_COLUMNS)
    body = []
    for row in iter_exclusions(db, limit=max_rows):
        capture = ""
        if row["evidence_warc"]:
            capture = f"{row['evidence_warc']} @ {row['evidence_offset']}"
        row["evidence_capture"] = capture
        cells = "".join(
            f"<td>{escape('' if row[key] is None else str(row[key]))}</td>"
            for key, _ in _TABLE_COLUMNS
        )
        body.append(f"<tr>{cells}</tr>")
    listed = len(body)
    note = ""
    if listed < total:
        note = (
            f'<p class="note">The table lists the first {listed} of {total} exclusions; '
            "<code>tdmcrawl audit DIR --export csv</code> gives all of them.</p>"
        )
    return (
        f"{note}"
        '<input id="search" type="search" placeholder="Search URLs, reasons, evidence…" '
        'aria-label="Search excluded URLs">'
        f'<p class="note"><span id="shown">{listed}</span> of {listed} rows shown</p>'
        f'<table id="exclusions"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _crawls_html(db: Database) -> str:
    out = []
    for crawl in crawls(db):
        details = {
            k: crawl.get(k)
            for k in (
                "started_at",
                "resumed_at",
                "finished_at",
                "seeds",
                "versions",
                "settings",
                "stats",
            )
        }
        text = json.dumps(details, ensure_ascii=False, indent=2, sort_keys=True, default=str)
        out.append(f"<h3>Crawl {escape(crawl['crawl_id'])}</h3><pre>{escape(text)}</pre>")
    return "".join(out) or '<p class="note">No crawl recorded.</p>'
