"""The HTML report and the Datasette view in a real headless chromium (offline flags)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from tdmcrawl.crawler.cli import main
from tests.support import paths
from tests.support.audit import (
    KNOWN_KAZAKH_URL,
    Browser,
    build_synthetic,
    chromium_path,
    start_serve,
    stop,
)

pytestmark = pytest.mark.skipif(
    chromium_path() is None,
    reason="chromium is not installed (apt-get install chromium; scripts/setup-dev does it)",
)

ARTIFACTS = paths.ARTIFACTS


def _visible_rows(browser: Browser) -> list[str]:
    return browser.evaluate(
        "Array.from(document.querySelectorAll('#exclusions tbody tr'))"
        ".filter(tr => tr.style.display !== 'none')"
        ".map(tr => tr.querySelector('td').textContent.trim())"
    )


def test_report_renders_charts_and_search_finds_a_url(
    demo: Path, browser: Browser, tmp_path: Path
) -> None:
    report = tmp_path / "report.html"
    assert CliRunner().invoke(main, ["audit", str(demo), "--html", str(report)]).exit_code == 0
    conn = sqlite3.connect(demo / "audit.sqlite")
    urls = [
        u
        for (u,) in conn.execute(
            "SELECT url FROM exclusions WHERE reason NOT IN ('registry-content', 'reserved-copy')"
            " ORDER BY id"
        )
    ]
    copies = [
        u
        for (u,) in conn.execute(
            "SELECT url FROM exclusions WHERE reason IN ('registry-content', 'reserved-copy')"
        )
    ]
    conn.close()
    browser.navigate(report.as_uri())
    assert browser.errors == []
    # Plotly draws each chart into .main-svg layers: at least one per chart.
    charts = browser.evaluate("document.querySelectorAll('.js-plotly-plot').length")
    svgs = browser.evaluate("document.querySelectorAll('.main-svg').length")
    assert charts >= 3 and svgs >= charts
    bars = browser.evaluate(
        "document.querySelectorAll('.main-svg .point, .main-svg .trace').length"
    )
    assert bars > 0
    assert sorted(_visible_rows(browser)) == sorted(urls)
    listed = browser.evaluate(
        "Array.from(document.querySelectorAll('#copies li .url')).map(e => e.title)"
    )
    assert sorted(listed) == sorted(copies) and copies
    target = next(u for u in urls if "diary" in u)
    browser.type_text("#search", "diary")
    assert _visible_rows(browser) == [target]
    assert browser.evaluate("document.getElementById('shown').textContent") == "1"
    browser.screenshot(ARTIFACTS / "audit-report.png")
    assert (ARTIFACTS / "audit-report.png").stat().st_size > 10_000
    assert browser.errors == []


def test_report_search_matches_kazakh_text(browser: Browser, tmp_path: Path) -> None:
    build_synthetic(tmp_path / "syn", exclusions=40, kept=3)
    report = tmp_path / "syn.html"
    assert (
        CliRunner().invoke(main, ["audit", str(tmp_path / "syn"), "--html", str(report)]).exit_code
        == 0
    )
    browser.navigate(report.as_uri())
    # Upper-case Kazakh letters find the lower-case URL (locale-aware lowering).
    needle = KNOWN_KAZAKH_URL.rsplit("/", 1)[1].upper()
    browser.type_text("#search", needle)
    assert _visible_rows(browser) == [KNOWN_KAZAKH_URL]
    assert browser.errors == []


def test_datasette_view_loads_without_console_errors(demo: Path, browser: Browser) -> None:
    proc, base = start_serve(demo)
    try:
        browser.navigate(base + "/audit/exclusions")
        assert browser.errors == []
        facets = browser.evaluate(
            "Array.from(document.querySelectorAll('.facet-info')).map(e => e.dataset.column)"
        )
        assert {"reason", "source", "domain"} <= set(facets)
        rows = browser.evaluate(
            "document.querySelectorAll('table.rows-and-columns tbody tr').length"
        )
        assert rows >= 1
        browser.screenshot(ARTIFACTS / "audit-datasette.png")
    finally:
        stop(proc)
