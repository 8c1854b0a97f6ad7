"""Rules shown to people in Unicode (қазақ.kz, /блог/), meaning what is stored."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tdmcrawl.registry.errors import InvalidInput
from tdmcrawl.registry.urlrules import display_form, parse_domain, parse_url_pattern
from tests.support.registry import URLS, run_script


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("https://xn--80awbu3c.kz/%D0%B1%D0%BB%D0%BE%D0%B3/*", "https://мысал.kz/блог/*"),
        ("xn--80aau21bd.kz", "қазақ.kz"),
        ("https://xn--p1ai:8080/%D2%9B", "https://рф:8080/қ"),
        (
            "https://example.kz/a%2Fb%2A%20c",
            "https://example.kz/a%2Fb%2A%20c",
        ),  # ASCII escapes kept
        ("https://example.kz/%FF", "https://example.kz/%FF"),  # not UTF-8: kept
        ("https://example.kz/%C2%A0", "https://example.kz/%C2%A0"),  # invisible: kept
        ("https://[::1]:8080/x", "https://[::1]:8080/x"),
        ("https://xn--zz.kz/", "https://xn--zz.kz/"),  # not valid punycode: kept
    ],
)
def test_display_form_table(stored, shown):
    assert display_form(stored) == shown


@settings(max_examples=300, deadline=None)
@given(URLS, st.booleans())
def test_display_form_parses_back_to_the_same_rule(url, prefix):
    try:
        rule = parse_url_pattern(url.split("?")[0] + "*" if prefix else url)
    except InvalidInput:
        return
    assert parse_url_pattern(display_form(rule.pattern)) == rule


@given(st.text(max_size=40))
def test_display_form_never_raises(text):
    assert isinstance(display_form(text), str)


def test_domain_display_parses_back():
    rule = parse_domain("Қазақ.KZ")
    assert display_form(rule.pattern) == "қазақ.kz"
    assert parse_domain(display_form(rule.pattern)) == rule


def test_script_confirms_and_reports_in_unicode_and_refuses_a_bare_word(tmp_path):
    db = str(tmp_path / "r.sqlite")
    answers = "Әлия\n\n2\nnope\nмысал.kz/блог\nn\ny\n"  # n: not the www twin
    proc = run_script(["--registry", db], stdin=answers)
    assert proc.returncode == 0, proc.stderr
    assert "'nope' is not a web address" in proc.stderr
    assert "Opt out: every page whose address starts with https://мысал.kz/блог/" in proc.stdout
    assert "Registered: every page whose address starts with https://мысал.kz/блог/" in proc.stdout
    flags = run_script(["--registry", db, "--name", "A", "--url", "nope", "--yes"])
    assert flags.returncode == 1 and "not a web address" in flags.stderr
