"""`tdmcrawl audit DIR --html FILE [--lang kk|ru|en]`: one self-contained report a lawyer can read.

The first screen says what the corpus is (runs, dates, software and list
versions, the operator's contact), the policy in plain words (which signals
were honoured, which switched off), the totals and whether the corpus matches
its manifest (``tdmcrawl verify``). Then: a glossary of the reason codes with
the standard each comes from; charts (Plotly, its bundle inlined, so the file
opens offline) with whole-number axes; copies of reserved works grouped by the
work they copy; the excluded URLs (at most ``max_rows``, filtered as the
reader types); the settings of every run as an appendix table.

Every word goes through the ``tdmcrawl`` gettext catalogs (Kazakh, Russian,
English: ``registry/i18n.py``). Everything from the database is HTML-escaped:
URLs and evidence are attacker-controlled text. Print CSS keeps tables whole
and drops the search box.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlite_utils import Database

from tdmcrawl.crawler.audit.facts import corpus_facts
from tdmcrawl.crawler.audit.glossary import POLICY_SWITCHES, REASON_BY_CODE, REASONS
from tdmcrawl.crawler.audit.queries import iter_exclusions, summary, time_buckets
from tdmcrawl.registry.i18n import NAMES, translations

DEFAULT_MAX_ROWS = 5000
TOP_HOSTS = 20
GROUP_URLS = 50  # URLs listed per group of copies (the count is always exact)
COPY_REASONS = ("registry-content", "reserved-copy")

_STYLE = """
:root { --ink: #1d1d1f; --muted: #5f6368; --line: #e3e3e6; --soft: #f5f5f7; }
body { font: 15px/1.5 system-ui, "Segoe UI", Roboto, "Noto Sans", sans-serif; margin: 1.5em auto;
       max-width: 1200px; padding: 0 1em; color: var(--ink); }
h1 { font-size: 1.7em; margin-bottom: .2em; } h2 { margin-top: 1.8em;
     border-bottom: 1px solid var(--line); } h3 { margin-top: 1.2em; }
.lead { color: var(--muted); margin-top: 0; }
.facts th { width: 16em; font-weight: 600; background: none; }
.screen { display: grid; grid-template-columns: 1fr 1fr; gap: 1.2em 2.5em; }
@media (max-width: 900px) { .screen { grid-template-columns: 1fr; } }
.totals { display: flex; gap: 2.5em; font-size: 1.15em; margin: .6em 0; }
.totals b { font-size: 1.35em; }
.status { padding: .55em .8em; border-radius: 6px; border: 1px solid var(--line); }
.status.ok { background: #e7f5ea; border-color: #9ccfa6; }
.status.bad { background: #fdecec; border-color: #e4a1a1; }
.status.none { background: var(--soft); }
ul.policy { list-style: none; padding: 0; margin: 0; }
ul.policy li { padding: .15em 0; display: flex; gap: .8em; }
.on, .off { flex: 0 0 8em; font-weight: 600; }
.on { color: #1e6b33; } .off { color: #a12a2a; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 7px; text-align: left;
         vertical-align: top; overflow-wrap: normal; word-break: normal; hyphens: manual; }
th { background: var(--soft); }
thead th { position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.code { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; white-space: nowrap; }
#search { width: 100%; font-size: 1.05em; padding: 6px; margin: .4em 0; box-sizing: border-box; }
.note { color: var(--muted); }
details summary { cursor: pointer; }
nav ol { columns: 2; }
@media print {
  body { max-width: none; margin: 0; font-size: 11pt; }
  #search, .search-note, nav { display: none; }
  thead { display: table-header-group; }
  tr, .js-plotly-plot, .status, .facts { break-inside: avoid; page-break-inside: avoid; }
  h2 { break-after: avoid; page-break-after: avoid; }
  details > *:not(summary) { display: block; }
  .table-wrap { overflow: visible; }
  a { color: inherit; text-decoration: none; }
}
"""

# Filters both tables as the reader types; NFC so composed and decomposed Kazakh letters
# match each other, locale-aware lowering for Cyrillic capitals.
_SEARCH_JS = """
(function () {
  var input = document.getElementById('search');
  if (!input) { return; }
  var rows = Array.prototype.slice.call(
    document.querySelectorAll('#exclusions tbody tr, #copies tbody tr'));
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
      if (hit && rows[i].closest('#exclusions')) { shown++; }
    }
    counter.textContent = String(shown);
  });
})();
"""

_BREAK_AFTER = re.compile(r"([/?&=#])")


def write_report(
    db: Database,
    path: Path,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    lang: str = "en",
    directory: Path | None = None,
    verified: Any = None,
) -> dict[str, Any]:
    """Render the report to ``path``; returns the figures it was built from.

    ``verified``: a :class:`crawler.verify.VerifyReport` of the corpus, or None when
    it was not checked.
    """
    # Imported here: plotly is an optional extra and slow to import.
    try:
        import plotly.graph_objects as go
        from plotly.offline import get_plotlyjs
    except ImportError:
        raise RuntimeError("the HTML report needs plotly: pip install 'tdmcrawl[audit]'") from None
    if directory is None and verified is not None:
        directory = Path(verified.directory)
    report = _Report(db, lang, directory, verified, go)
    body = report.render(max_rows)
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{escape(lang)}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(report.title)}</title>",
        f"<style>{_STYLE}</style>",
        f'<script type="text/javascript">{get_plotlyjs()}</script>',
        "</head><body>",
        body,
        f"<script>{_SEARCH_JS}</script>",
        "</body></html>",
    ]
    path.write_text("\n".join(parts), encoding="utf-8")
    return {
        "excluded": report.by_reason["excluded"],
        "kept": report.by_reason["kept"],
        "lang": lang,
        "verified": None if verified is None else verified.ok,
    }


class _Labels:
    """The report's fixed words, translated and HTML-escaped once.

    Gathered here because Babel's extractor does not see a ``_()`` call written inside an
    f-string (Python 3.11 tokenises an f-string as one token), and the page is f-strings.
    """

    def __init__(self, _: Any) -> None:
        self.contents = escape(_("Contents"))
        self.generated = escape(_("Generated by tdmcrawl audit. Language:"))
        self.what_corpus = escape(_("What this corpus is"))
        self.totals = escape(_("Totals"))
        self.integrity = escape(_("Integrity"))
        self.policy_words = escape(_("The policy in plain words"))
        self.pages_kept = escape(_("Pages kept"))
        self.urls_excluded = escape(_("URLs excluded"))
        self.no_manifest = escape(
            _("No manifest: this corpus was made before manifests, or its run did not finish.")
        )
        self.not_checked = escape(_("Not checked for this report (tdmcrawl verify DIR checks it)."))
        self.verify_failed = escape(_("Verification failed:"))
        self.crawler_name = escape(_("Crawler name read in robots.txt:"))
        self.code = escape(_("Code"))
        self.meaning = escape(_("What it means"))
        self.standard = escape(_("Standard"))
        self.urls = escape(_("URLs"))
        self.no_copies = escape(_("No page was excluded as a copy of a reserved work."))
        self.reserved_work = escape(_("Reserved work"))
        self.reason = escape(_("Reason"))
        self.pages = escape(_("Pages"))
        self.excluded_copies = escape(_("Excluded copies"))
        self.copies_note = escape(
            _(
                "Each row is one reserved work; the pages excluded as copies of it "
                "are listed inside."
            )
        )
        self.reserved_page = escape(_("Reserved page"))
        self.registry_entry = escape(_("Registry entry"))
        self.rows_shown = escape(_("Rows shown:"))
        self.name = escape(_("Name"))
        self.value = escape(_("Value"))
        self.run = escape(_("Run"))
        self.no_run = escape(_("No run recorded."))


class _Report:
    def __init__(
        self, db: Database, lang: str, directory: Path | None, verified: Any, go: Any
    ) -> None:
        catalog = translations(lang)
        self._ = catalog.gettext
        self.ngettext = catalog.ngettext
        self.lang = lang
        self.db = db
        self.go = go
        self.verified = verified
        self.facts = corpus_facts(db, directory)
        self.by_reason = summary(db, by="reason")
        self.title = self._("Compliance report: AI-training corpus")
        self.labels = _Labels(self._)

    def _nothing(self) -> str:
        text = escape(self._("Nothing was excluded."))
        return f'<p class="note">{text}</p>'

    # -- the page

    def render(self, max_rows: int) -> str:
        L = self.labels
        _ = self._
        over_time = time_buckets(self.db)
        sections = [
            ("glossary", _("Reason codes in plain words"), self._glossary()),
            ("by-reason", _("Exclusions by reason"), self._bar_by_reason()),
            ("by-host", _("Exclusions by host (top %(n)d)") % {"n": TOP_HOSTS}, self._by_host()),
            ("over-time", self._over_time_title(over_time["unit"]), self._over_time(over_time)),
            ("copies", _("Copies of reserved works, by work"), self._copies()),
            ("excluded", _("Excluded URLs"), self._table(max_rows)),
            ("settings", _("Appendix: settings of every run"), self._settings()),
        ]
        toc = "".join(
            f'<li><a href="#{key}">{escape(title)}</a></li>' for key, title, _h in sections
        )
        body = [self._first_screen(), f"<nav><h2>{L.contents}</h2><ol>{toc}</ol></nav>"]
        for key, title, html in sections:
            body.append(f'<section id="{key}"><h2>{escape(title)}</h2>{html}</section>')
        return "\n".join(body)

    def _over_time_title(self, unit: str) -> str:
        _ = self._
        titles = {
            "day": _("Exclusions over time (per day)"),
            "hour": _("Exclusions over time (per hour)"),
            "minute": _("Exclusions over time (per minute)"),
        }
        return titles.get(unit, titles["day"])

    # -- first screen

    def _first_screen(self) -> str:
        L = self.labels
        _ = self._
        facts = self.facts
        kinds = {
            "crawl": _("a crawl of the web"),
            "filter": _("existing WARC files filtered"),
            "recheck": _(
                "a new version of an earlier corpus, checked again against today's opt-outs"
            ),
        }
        versions = facts["versions"]
        rows = [
            (_("What it is"), escape(kinds.get(facts["kind"], facts["kind"]))),
            (_("Run id"), f'<span class="code">{escape(str(facts["crawl_id"] or "–"))}</span>'),
            (_("Made between"), escape(f"{_date(facts['start'])} – {_date(facts['end'])}")),
            (
                _("Software"),
                escape(
                    ", ".join(
                        f"{name} {versions[name]}"
                        for name in (
                            "tdmcrawl",
                            "scrapy",
                            "warcio",
                            "trafilatura",
                            "lxml",
                            "python",
                        )
                        if name in versions
                    )
                    or "–"
                ),
            ),
            (
                _("AI-crawler list version"),
                escape(
                    str(
                        versions.get("ai_training_tokens")
                        or facts["policy"].get("ai-agents-list-version")
                        or "–"
                    )
                ),
            ),
            (
                _("Near-duplicate configuration"),
                f'<span class="code">{escape(str(facts["dedup"] or "–"))}</span>',
            ),
            (_("Operator's contact"), _link(facts["contact"])),
        ]
        if facts["registry"]:
            registry = facts["registry"]
            rows.append(
                (
                    _("Authors' registry"),
                    escape(
                        _("%(rules)s URL rules, %(works)s registered work files")
                        % {
                            "rules": registry.get("url_rules", "?"),
                            "works": registry.get("work_files", "?"),
                        }
                    ),
                )
            )
        if facts["parent"]:
            parent = facts["parent"]
            rows.append(
                (
                    _("Earlier version"),
                    escape(
                        _("%(dir)s (%(kept)s pages kept there)")
                        % {"dir": parent.get("directory", "?"), "kept": parent.get("kept", "?")}
                    ),
                )
            )
        if len(facts["runs"]) > 1:
            runs = "".join(
                f"<li>{escape(self._run_kind(r['kind']))}: "
                f'<span class="code">{escape(r["crawl_id"])}</span>, '
                f"{escape(_date(r['started_at']))}</li>"
                for r in facts["runs"]
            )
            rows.append((_("Runs that made it"), f"<ul>{runs}</ul>"))
        table = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
        return (
            '<header id="first-screen">'
            f"<h1>{escape(self.title)}</h1>"
            f'<p class="lead">{L.generated} '
            f"{escape(NAMES.get(self.lang, self.lang))}</p>"
            '<div class="screen">'
            f'<div><h2 id="corpus">{L.what_corpus}</h2>'
            f'<table class="facts">{table}</table></div>'
            f'<div><h2 id="totals-title">{L.totals}</h2>{self._totals()}'
            f'<h2 id="verify-title">{L.integrity}</h2>{self._verify_status()}'
            f'<h2 id="policy">{L.policy_words}</h2>{self._policy()}</div>'
            "</div></header>"
        )

    def _run_kind(self, kind: str) -> str:
        _ = self._
        return {"crawl": _("crawl"), "filter": _("filter"), "recheck": _("recheck")}.get(kind, kind)

    def _totals(self) -> str:
        L = self.labels
        _ = self._
        data = self.by_reason
        return (
            '<p class="totals" id="totals">'
            f'<span>{L.pages_kept}: <b id="kept">{data["kept"]}</b> '
            f"({data['percent_kept']}%)</span>"
            f'<span>{L.urls_excluded}: <b id="excluded">{data["excluded"]}</b> '
            f"({data['percent_excluded']}%)</span></p>"
        )

    def _verify_status(self) -> str:
        L = self.labels
        _ = self._
        report = self.verified
        if report is None:
            if not self.facts["manifest"]:
                return f'<p class="status none" id="verify">{L.no_manifest}</p>'
            return f'<p class="status none" id="verify">{L.not_checked}</p>'
        if report.ok:
            text = _(
                "Verified: every WARC file matches the manifest's SHA-256, every kept record is "
                "where the audit says with its digest, and no excluded URL is in the WARC files."
            )
            signed = {
                "valid": _("The manifest's signature is valid."),
                "not signed": _("The manifest is not signed."),
            }.get(
                report.signature, _("The manifest is signed; its signature was not checked here.")
            )
            return f'<p class="status ok" id="verify">{escape(text)} {escape(signed)}</p>'
        first = str(report.discrepancies[0])
        return (
            f'<p class="status bad" id="verify">{L.verify_failed} '
            f'<span class="code">{escape(first)}</span></p>'
        )

    def _policy(self) -> str:
        L = self.labels
        _ = self._
        policy = self.facts["policy"]
        items = []
        for key, text in POLICY_SWITCHES:
            if key not in policy:
                continue
            on = bool(policy[key])
            state = _("Honoured") if on else _("Switched off")
            if key in ("fetch-reserved", "pages", "require-robots", "near-duplicates", "registry"):
                state = _("Yes") if on else _("No")
            items.append(
                f'<li data-switch="{escape(key)}"><span class="{"on" if on else "off"}">'
                f"{escape(state)}</span> {escape(_(text))}</li>"
            )
        token = policy.get("token")
        note = ""
        if token:
            name = escape(str(token))
            note = f'<p class="note">{L.crawler_name} <span class="code">{name}</span></p>'
        return f'<ul class="policy">{"".join(items)}</ul>{note}'

    # -- glossary

    def _glossary(self) -> str:
        L = self.labels
        _ = self._
        counts = {g["reason"]: g["count"] for g in self.by_reason["groups"]}
        head = (
            f"<th>{L.code}</th><th>{L.meaning}</th>"
            f'<th>{L.standard}</th><th class="num">{L.urls}</th>'
        )
        rows = []
        for entry in REASONS:
            rows.append(
                f'<tr id="reason-{entry.code}"><td class="code">{escape(entry.code)}</td>'
                f"<td>{escape(_(entry.meaning))}</td>"
                f'<td><a href="{escape(entry.url)}">{escape(entry.standard)}</a></td>'
                f'<td class="num">{counts.get(entry.code, 0)}</td></tr>'
            )
        return (
            f'<div class="table-wrap"><table id="glossary"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>"
        )

    # -- charts

    def _figure(self, fig: Any, div_id: str, count_axis: str, top: int) -> str:
        step = _integer_step(top)
        fig.update_layout(
            margin={"l": 60, "r": 20, "t": 20, "b": 60}, height=380, font={"size": 13}
        )
        axis = {"tick0": 0, "dtick": step, "tickformat": "d", "rangemode": "tozero"}
        (fig.update_yaxes if count_axis == "y" else fig.update_xaxes)(**axis)
        return fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=div_id,
            config={"displaylogo": False, "responsive": True, "staticPlot": False},
        )

    def _bar_by_reason(self) -> str:
        groups = self.by_reason["groups"]
        if not groups:
            return self._nothing()
        fig = self.go.Figure(
            self.go.Bar(
                x=[g["reason"] for g in groups],
                y=[g["count"] for g in groups],
                text=[f"{g['percent_of_excluded']}%" for g in groups],
                marker_color="#b23a48",
            )
        )
        fig.update_layout(xaxis_title=self._("reason"), yaxis_title=self._("excluded URLs"))
        return self._figure(fig, "chart-by-reason", "y", max(g["count"] for g in groups))

    def _by_host(self) -> str:
        hosts = host_counts(self.db)[:TOP_HOSTS][::-1]  # largest at the top
        if not hosts:
            return self._nothing()
        fig = self.go.Figure(
            self.go.Bar(
                y=[h for h, _n in hosts],
                x=[n for _h, n in hosts],
                orientation="h",
                marker_color="#3a6ea5",
            )
        )
        fig.update_layout(xaxis_title=self._("excluded URLs"))
        fig.update_yaxes(type="category", automargin=True)
        return self._figure(fig, "chart-by-domain", "x", max(n for _h, n in hosts))

    def _over_time(self, data: dict[str, Any]) -> str:
        if not data["rows"]:
            return self._nothing()
        series: dict[str, dict[str, int]] = defaultdict(dict)
        totals: dict[str, int] = defaultdict(int)
        for row in data["rows"]:
            series[row["reason"]][row["bucket"]] = row["count"]
            totals[row["bucket"]] += row["count"]
        fig = self.go.Figure(
            [
                self.go.Bar(name=reason, x=list(points), y=list(points.values()))
                for reason, points in sorted(series.items())
            ]
        )
        fig.update_layout(
            barmode="stack", yaxis_title=self._("excluded URLs"), xaxis_type="category"
        )
        return self._figure(fig, "chart-over-time", "y", max(totals.values()))

    # -- copies, grouped by the work they copy

    def _copies(self) -> str:
        L = self.labels
        _ = self._
        groups = copy_groups(self.db)
        if not groups:
            return f'<p class="note">{L.no_copies}</p>'
        head = (
            f"<th>{L.reserved_work}</th><th>{L.reason}</th>"
            f'<th class="num">{L.pages}</th><th>{L.excluded_copies}</th>'
        )
        rows = []
        for group in groups:
            urls = "".join(f"<li>{_url_html(u)}</li>" for u in group["urls"])
            more = group["count"] - len(group["urls"])
            if more > 0:
                more_text = escape(_("and %(n)d more (see --export)") % {"n": more})
                urls += f'<li class="note">{more_text}</li>'
            summary_text = self.ngettext("%(n)d page", "%(n)d pages", group["count"]) % {
                "n": group["count"]
            }
            rows.append(
                f"<tr><td>{self._work_label(group)}</td>"
                f'<td class="code">{escape(group["reason"])}</td>'
                f'<td class="num">{group["count"]}</td>'
                f"<td><details><summary>{escape(summary_text)}</summary><ul>{urls}</ul></details></td></tr>"
            )
        return (
            f'<p class="note">{L.copies_note}</p>'
            f'<div class="table-wrap"><table id="copies"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>"
        )

    def _work_label(self, group: dict[str, Any]) -> str:
        L = self.labels
        _ = self._
        work = str(group["work"])
        if group["reason"] == "reserved-copy":
            return f"{L.reserved_page}: {_url_html(work)}"
        text = f'{L.registry_entry} <span class="code">{escape(work)}</span>'
        if group.get("author"):
            text += f"<br>{escape(group['author'])}"
        if group.get("title"):
            text += f" — «{escape(group['title'])}»"
        return text

    # -- the excluded URLs

    def _table(self, max_rows: int) -> str:
        L = self.labels
        _ = self._
        columns = (
            ("url", _("URL")),
            ("reason", _("Reason")),
            ("source", _("Source")),
            ("evidence", _("Evidence")),
            ("stage", _("Stage")),
            ("decided_at", _("Decided at (UTC)")),
            ("evidence_capture", _("Evidence capture")),
        )
        head = "".join(f"<th>{escape(title)}</th>" for _k, title in columns)
        body = []
        total = 0
        for row in iter_exclusions(self.db):
            if row["reason"] in COPY_REASONS:
                continue  # shown once per work above
            total += 1
            if len(body) >= max_rows:
                continue
            capture = ""
            if row["evidence_warc"]:
                capture = f"{Path(str(row['evidence_warc'])).name} @ {row['evidence_offset']}"
            cells = [
                f"<td>{_url_html(row['url'])}</td>",
                f'<td class="code">{escape(row["reason"])}</td>',
                f'<td class="code">{escape(row["source"])}</td>',
                f"<td>{escape(str(row['evidence'] or ''))}</td>",
                f'<td class="code">{escape(row["stage"])}</td>',
                f'<td class="code">{escape(str(row["decided_at"] or ""))}</td>',
                f"<td>{_breakable(capture)}</td>",
            ]
            body.append(f"<tr>{''.join(cells)}</tr>")
        listed = len(body)
        note = ""
        if listed < total:
            text = _(
                "The table lists the first %(listed)d of %(total)d exclusions; "
                "tdmcrawl audit DIR --export csv gives all of them."
            ) % {"listed": listed, "total": total}
            note = f'<p class="note">{escape(text)}</p>'
        placeholder = _("Search URLs, reasons, evidence…")
        return (
            f"{note}"
            f'<input id="search" type="search" placeholder="{escape(placeholder)}" '
            f'aria-label="{escape(placeholder)}">'
            f'<p class="note search-note">{L.rows_shown} '
            f'<span id="shown">{listed}</span> / {listed}</p>'
            f'<div class="table-wrap"><table id="exclusions"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>"
        )

    # -- appendix

    def _settings(self) -> str:
        L = self.labels
        _ = self._
        out = []
        for run in self.facts["settings"]:
            blocks = []
            for title, values in (
                (_("Settings"), run["settings"]),
                (_("Versions"), run["versions"]),
                (_("Figures"), run["stats"]),
            ):
                if not isinstance(values, dict) or not values:
                    continue
                rows = "".join(
                    f'<tr><td class="code">{escape(str(key))}</td>'
                    f"<td>{_value_html(value)}</td></tr>"
                    for key, value in sorted(values.items())
                )
                blocks.append(
                    f'<h4>{escape(title)}</h4><div class="table-wrap"><table class="appendix">'
                    f"<thead><tr><th>{L.name}</th><th>{L.value}</th></tr></thead>"
                    f"<tbody>{rows}</tbody></table></div>"
                )
            out.append(
                f'<h3>{L.run} <span class="code">{escape(run["crawl_id"])}</span></h3>'
                + "".join(blocks)
            )
        return "".join(out) or f'<p class="note">{L.no_run}</p>'


# --- data for the sections -------------------------------------------------------------------


def host_counts(db: Database) -> list[tuple[str, int]]:
    """Exclusions per host, with the port where the URL has one (``127.0.0.1:8080``)."""
    counts: dict[str, int] = defaultdict(int)
    rows = db.execute(
        "SELECT lower(CASE WHEN instr(rest, '/') > 0 THEN substr(rest, 1, instr(rest, '/') - 1)"
        " ELSE rest END) AS netloc, count(*) FROM"
        " (SELECT substr(url, instr(url, '://') + 3) AS rest FROM exclusions) GROUP BY netloc"
    )
    for netloc, n in rows:
        counts[_host_port(str(netloc))] += n
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _host_port(netloc: str) -> str:
    netloc = netloc.split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1]
    try:
        parts = urlsplit(f"//{netloc}")
        host, port = parts.hostname or netloc, parts.port
    except ValueError:
        return netloc
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" if port else host


def copy_groups(db: Database) -> list[dict[str, Any]]:
    """Exclusions as copies of a reserved work, one group per (work, reason)."""
    entries: dict[str, tuple[str | None, str | None]] = {}
    tables = set(db.table_names())
    if "registry_entries" in tables:
        for entry_id, author, title in db.execute(
            "SELECT entry_id, author, title FROM registry_entries"
        ):
            entries[entry_id] = (author, title)
    groups = []
    for work, reason, count in db.execute(
        "SELECT matched_work, reason, count(*) FROM exclusions WHERE reason IN (?, ?)"
        " GROUP BY matched_work, reason ORDER BY count(*) DESC, matched_work",
        COPY_REASONS,
    ):
        urls = [
            url
            for (url,) in db.execute(
                "SELECT url FROM exclusions WHERE matched_work IS ? AND reason = ?"
                " ORDER BY url LIMIT ?",
                [work, reason, GROUP_URLS],
            )
        ]
        author, title = entries.get(str(work), (None, None))
        groups.append(
            {
                "work": work or "?",
                "reason": reason,
                "count": count,
                "urls": urls,
                "author": author,
                "title": title,
            }
        )
    return groups


def _integer_step(top: int, ticks: int = 8) -> int:
    """A whole-number tick step (1, 2, 5, 10, 20, ...) giving at most ``ticks`` ticks."""
    raw = max(1.0, top / ticks)
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= raw:
            return int(factor * magnitude)
    return int(10 * magnitude)


def _breakable(text: str) -> str:
    """Escaped text that may wrap after / ? & = # (and at spaces), never inside a word."""
    pieces = []
    for part in _BREAK_AFTER.split(text):
        if not part:
            continue
        pieces.append(escape(part))
        if _BREAK_AFTER.fullmatch(part):
            pieces.append("<wbr>")
    return "".join(pieces)


def _url_html(url: str) -> str:
    return f'<span class="url" title="{escape(url)}">{_breakable(url)}</span>'


def _value_html(value: Any) -> str:
    if isinstance(value, list):
        return "<br>".join(_breakable(str(v)) for v in value) or "–"
    if isinstance(value, dict):
        return (
            "<br>".join(
                f'<span class="code">{escape(str(k))}</span>: {_breakable(_plain(v))}'
                for k, v in sorted(value.items())
            )
            or "–"
        )
    return "–" if value is None else _breakable(str(value))


def _plain(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _link(url: str | None) -> str:
    if not url:
        return "–"
    if str(url).startswith(("http://", "https://", "mailto:")):
        return f'<a href="{escape(str(url))}">{_breakable(str(url))}</a>'
    return _breakable(str(url))


def _date(moment: str | None) -> str:
    if not moment:
        return "–"
    return str(moment).replace("T", " ").split(".", 1)[0].rstrip("Z") + " UTC"


__all__ = ["REASON_BY_CODE", "copy_groups", "host_counts", "write_report"]
