"""The audit report a lawyer reads, in a real headless chromium: first screen in Kazakh,
Russian and English, whole-number axes, hosts with their port, copies grouped by work,
no word broken mid-word, print CSS. Screenshots go to test-artifacts/."""

from __future__ import annotations

import base64
import re
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from tdmcrawl.crawler.audit.db import AuditLog
from tdmcrawl.crawler.cli import main
from tdmcrawl.optout.decision import Decision, Reason
from tdmcrawl.registry.i18n import LANGUAGES, translations
from tests.support import paths
from tests.support.audit import Browser, chromium_path

pytestmark = pytest.mark.skipif(
    chromium_path() is None,
    reason="chromium is not installed (apt-get install chromium; scripts/setup-dev does it)",
)

ARTIFACTS = paths.ARTIFACTS
LONG_WORD = "Қазақстанныңұлыдаласыныңәндеріменжырларыныңжинағы"
ORIGINAL = "https://әдебиет.kz:8443/түпнұсқа"
COPIES = 17


def _report(directory: Path, out: Path, *args: str) -> Path:
    result = CliRunner().invoke(main, ["audit", str(directory), "--html", str(out), *args])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def copies_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """17 pages excluded as copies of one reserved page, a long Kazakh word, small counts."""
    directory = tmp_path_factory.mktemp("copies")
    log = AuditLog.open(directory)
    log.start_crawl(settings={"TDMCRAWL_TOKEN": "tdmcrawl"}, versions={}, seeds=[])
    for i in range(COPIES):
        url = f"https://көшірме.kz:8080/бет-{i}"
        reason = Reason(
            "reserved-copy", "crawl", f"near-duplicate of {ORIGINAL}", None, ORIGINAL, 0.93
        )
        log.record_exclusion(Decision(url, (reason,)), stage="near-duplicate")
    for i, code in enumerate(("noai", "tdmrep", "tdmrep")):
        url = f"https://әдебиет.kz:8443/жабық/{i}"
        evidence = f'<meta name="robots" content="noai"> {LONG_WORD} {LONG_WORD}'
        log.record_exclusion(Decision(url, (Reason(code, "meta", evidence),)), stage="post-fetch")
    log.close()
    return directory


@pytest.fixture(scope="module")
def small_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Counts of 1 and 2: where a chart left alone ticks its axis at 0.5."""
    directory = tmp_path_factory.mktemp("small")
    log = AuditLog.open(directory)
    log.start_crawl(settings={}, versions={}, seeds=[])
    for i, code in enumerate(("noai", "tdmrep", "tdmrep")):
        url = f"http://127.0.0.1:{8000 + i % 2}/{i}"
        log.record_exclusion(Decision(url, (Reason(code, "header", code),)), stage="post-fetch")
    log.close()
    return directory


@pytest.mark.parametrize("lang", LANGUAGES)
def test_first_screen_says_what_the_corpus_is_in_each_language(
    demo: Path, browser: Browser, tmp_path: Path, lang: str
) -> None:
    report = _report(demo, tmp_path / f"report-{lang}.html", "--lang", lang)
    browser.navigate(report.as_uri())
    assert browser.errors == []
    _ = translations(lang).gettext
    assert browser.evaluate("document.documentElement.lang") == lang
    header = browser.evaluate("document.getElementById('first-screen').innerText")
    for message in (
        "Compliance report: AI-training corpus",
        "What this corpus is",
        "The policy in plain words",
        "Operator's contact",
        "AI-crawler list version",
        "Honoured",
    ):
        assert _(message) in header, (lang, message)
    if lang != "en":
        assert _("Honoured") != "Honoured"  # really translated
    conn = sqlite3.connect(demo / "audit.sqlite")
    (crawl_id,) = conn.execute("SELECT crawl_id FROM crawls").fetchone()
    conn.close()
    assert crawl_id in header
    # The verify status is on the first screen, and holds for the demo crawl.
    assert browser.evaluate("document.getElementById('verify').className") == "status ok"
    top = browser.evaluate("document.getElementById('verify').getBoundingClientRect().top")
    assert top < browser.evaluate("window.innerHeight")
    kept = browser.evaluate("document.getElementById('kept').textContent")
    assert kept.isdigit() and int(kept) > 0
    browser.screenshot(ARTIFACTS / f"audit-report-first-screen-{lang}.png")
    assert browser.errors == []


def test_glossary_explains_every_reason_code_of_the_design(
    demo: Path, browser: Browser, tmp_path: Path
) -> None:
    report = _report(demo, tmp_path / "r.html", "--lang", "ru")
    browser.navigate(report.as_uri())
    codes = browser.evaluate(
        "Array.from(document.querySelectorAll('#glossary tbody tr td.code'))"
        ".map(e => e.textContent)"
    )
    design = paths.DESIGN
    expected = (
        set(re.findall(r"^\| `([a-z-]+)` \|", design.read_text(encoding="utf-8"), re.MULTILINE))
        if design.exists()
        else {"rsl", "robots-comment", "robots", "registry-content"}
    )
    assert expected <= set(codes)
    standards = browser.evaluate(
        "Array.from(document.querySelectorAll('#glossary tbody tr')).map("
        "tr => tr.children[2].textContent.trim().length)"
    )
    assert all(n > 0 for n in standards)


def test_charts_have_whole_number_axes(small_db: Path, browser: Browser, tmp_path: Path) -> None:
    report = _report(small_db, tmp_path / "r.html", "--no-verify")
    browser.navigate(report.as_uri())
    assert browser.errors == []
    for chart, axis in (
        ("chart-by-reason", "ytick"),
        ("chart-over-time", "ytick"),
        ("chart-by-domain", "xtick"),
    ):
        ticks = browser.evaluate(
            f"Array.from(document.querySelectorAll('#{chart} .{axis} text'))"
            ".map(t => t.textContent)"
        )
        assert ticks, chart
        assert all(re.fullmatch(r"\d+", t.replace(",", "").replace("\u2009", "")) for t in ticks), (
            chart,
            ticks,
        )


def test_hosts_are_shown_with_their_port(copies_db: Path, browser: Browser, tmp_path: Path) -> None:
    report = _report(copies_db, tmp_path / "r.html", "--no-verify")
    browser.navigate(report.as_uri())
    hosts = browser.evaluate(
        "Array.from(document.querySelectorAll('#chart-by-domain .ytick text'))"
        ".map(t => t.textContent)"
    )
    assert set(hosts) == {"көшірме.kz:8080", "әдебиет.kz:8443"}


def test_copies_of_one_work_are_one_group(
    copies_db: Path, browser: Browser, tmp_path: Path
) -> None:
    report = _report(copies_db, tmp_path / "r.html", "--no-verify", "--lang", "kk")
    browser.navigate(report.as_uri())
    rows = browser.evaluate("document.querySelectorAll('#copies tbody tr').length")
    assert rows == 1
    count = browser.evaluate("document.querySelector('#copies tbody td.num').textContent")
    assert count == str(COPIES)
    listed = browser.evaluate("document.querySelectorAll('#copies tbody li .url').length")
    assert listed == COPIES
    assert ORIGINAL in browser.evaluate("document.querySelector('#copies tbody td').textContent")
    # The copies are not repeated as rows of the URL table.
    urls = browser.evaluate("document.querySelectorAll('#exclusions tbody tr').length")
    assert urls == 3
    browser.screenshot(ARTIFACTS / "audit-report-copies-kk.png")


def test_table_never_breaks_a_word(copies_db: Path, browser: Browser, tmp_path: Path) -> None:
    report = _report(copies_db, tmp_path / "r.html", "--no-verify")
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        width=700,
        height=1200,
        deviceScaleFactor=1,
        mobile=False,
    )
    try:
        browser.navigate(report.as_uri())
        style = browser.evaluate(
            "(() => { const s = getComputedStyle(document.querySelector('#exclusions td'));"
            " return [s.overflowWrap, s.wordBreak, s.hyphens]; })()"
        )
        assert style == ["normal", "normal", "manual"]
        # Every occurrence of the long word is laid out on one line (one client rect).
        lines = browser.evaluate(
            f"""(() => {{
              const word = {LONG_WORD!r};
              const out = [];
              const walker = document.createTreeWalker(document.querySelector('#exclusions'),
                                                       NodeFilter.SHOW_TEXT);
              while (walker.nextNode()) {{
                const node = walker.currentNode;
                let at = node.textContent.indexOf(word);
                while (at !== -1) {{
                  const range = document.createRange();
                  range.setStart(node, at); range.setEnd(node, at + word.length);
                  const tops = Array.from(range.getClientRects()).map(r => Math.round(r.top));
                  out.push(new Set(tops).size);
                  at = node.textContent.indexOf(word, at + 1);
                }}
              }}
              return out;
            }})()"""
        )
        assert lines and all(n == 1 for n in lines), lines
    finally:
        browser.call("Emulation.clearDeviceMetricsOverride")


def test_print_css_keeps_tables_and_drops_the_search_box(
    demo: Path, browser: Browser, tmp_path: Path
) -> None:
    report = _report(demo, tmp_path / "r.html", "--lang", "kk")
    browser.navigate(report.as_uri())
    browser.call("Emulation.setEmulatedMedia", media="print")
    try:
        search = browser.evaluate("getComputedStyle(document.getElementById('search')).display")
        head = browser.evaluate(
            "getComputedStyle(document.querySelector('#exclusions thead')).display"
        )
        assert search == "none" and head == "table-header-group"
        pdf = base64.b64decode(browser.call("Page.printToPDF", printBackground=True)["data"])
    finally:
        browser.call("Emulation.setEmulatedMedia", media="")
    assert pdf.startswith(b"%PDF")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "audit-report-kk.pdf").write_bytes(pdf)
    assert browser.errors == []
