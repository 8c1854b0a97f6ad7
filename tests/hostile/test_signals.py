"""Hostile origins whose reserved pages reached the output: signals hidden by syntax,
size, encoding and redirects (issue 10, "Reserved pages that reach the WARC output").

One loopback web holds every attack, each on its own origin (the origin files are per
origin). Each attack goes through the three commands that decide on pages: `check`
(one process over every URL), `crawl` (one crawl seeded with every URL, its WARC output
and audit read back) and `filter` (a WARC file holding the same exchanges, as another
crawler would have captured them). Every test asserts that the page is reserved, or
never fetched, by each command, and that the decision says why.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from w3lib.url import safe_url_string

from tdmcrawl.crawler.cli import main
from tdmcrawl.crawler.demo.loopback import LoopbackWeb, Reply, Site, text_reply
from tests.support.filter import Cap, output_files, records_of, write_warc
from tests.support.web import FAST, KAZAKH, RUSSIAN, page, redirect, tdmcrawl

COMMANDS = ["check", "crawl", "filter"]
ALLOW_ALL = text_reply("User-agent: *\nAllow: /\n")
FILLER_KB = 300


def _html(markup: str, content_type: str = "text/html; charset=utf-8") -> Reply:
    return Reply(200, [("Content-Type", content_type)], markup.encode("utf-8"))


def _json(body: bytes) -> Reply:
    return Reply(200, [("Content-Type", "application/json")], body)


# -- the attacks ----------------------------------------------------------------------

XHTML_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
    '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
    '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="kk"><head>'
    '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />'
)


def xhtml(meta: str) -> str:
    return f"{XHTML_HEAD}{meta}<title>XHTML</title></head><body><p>{KAZAKH}</p></body></html>"


def script_filler() -> str:
    """300 KB of inline JavaScript (no markup in it)."""
    line = "var counter = (counter || 0) + 1; window.analyticsQueue.push([counter, 'x']);\n"
    return line * (FILLER_KB * 1024 // len(line) + 1)


def body_filler() -> str:
    para = f"<p>{RUSSIAN} {KAZAKH}</p>\n"
    return para * (FILLER_KB * 1024 // len(para.encode()) + 1)


def late_in_head() -> str:
    return (
        "<!DOCTYPE html><html><head><title>late</title>"
        f"<script>{script_filler()}</script>"
        '<meta name="robots" content="noai"></head>'
        f"<body><p>{KAZAKH}</p></body></html>"
    )


def late_in_body() -> str:
    return (
        "<!DOCTYPE html><html><head><title>late</title></head>"
        f"<body>{body_filler()}"
        '<meta name="tdm-reservation" content="1"></body></html>'
    )


def after_long_comment() -> str:
    comment = "<!-- " + "build 2026-11-22 cache warm; " * (FILLER_KB * 1024 // 28) + " -->\n"
    return (
        f"{comment}<!DOCTYPE html><html><head><title>late</title>"
        '<meta name="robots" content="noai"></head>'
        f"<body><p>{KAZAKH}</p></body></html>"
    )


def utf16_page(codec: str, label: str, meta: str) -> Reply:
    markup = (
        f'<!DOCTYPE html><html lang="kk"><head><title>UTF-16</title>{meta}</head>'
        f"<body><p>{KAZAKH}</p></body></html>"
    )
    return Reply(200, [("Content-Type", f"text/html; charset={label}")], markup.encode(codec))


TDM_RULES = 20_000


def many_tdmrep_rules() -> bytes:
    """20,000 reserving rules (about 1 MB), none for /free.html."""
    rules = [{"location": f"/s{i}/", "tdm-reservation": 1} for i in range(TDM_RULES)]
    return json.dumps(rules).encode()


HUGE_TDMREP = 9 * 1024 * 1024  # over TDMCRAWL_ORIGIN_MAXSIZE (8 MiB)


def huge_tdmrep() -> bytes:
    rule = b'{"location": "/elsewhere/%07d/", "tdm-reservation": 1},\n'
    count = HUGE_TDMREP // (len(rule) + 2)
    return (
        b"["
        + b"".join(rule % i for i in range(count))
        + b'{"location": "/", "tdm-reservation": 1}]'
    )


BIG_ROBOTS = 600 * 1024


def big_robots() -> bytes:
    """A Disallow past the first 500 KiB (the old parse limit)."""
    head = b"User-agent: *\nDisallow: /early/\n"
    filler_line = b"# padding padding padding padding padding padding padding padding\n"
    body = head + filler_line * ((520 * 1024) // len(filler_line)) + b"Disallow: /late/\n"
    return body + b"#" * (BIG_ROBOTS - len(body) - 1) + b"\n"


RAW_ROBOTS = (
    "User-agent: *\n"
    "Disallow: /?s={searchInput}/\n"
    "Disallow: /b/*?*|\n"
    "Disallow: /*?q=*\\\n"
    "Disallow: /c/^\n"
    "Disallow: /d/`\n"
    "Allow: /\n"
)


OVER_PARSE_LIMIT = 2 * 1024 * 1024 + 64 * 1024  # robots.txt and ai.txt are parsed up to 2 MiB


def over_parse_limit(records: bytes) -> bytes:
    """A robots-style file that allows everything, padded past the 2 MiB parse limit."""
    line = b"# generated by the site's SEO plugin; do not edit by hand\n"
    return records + line * (OVER_PARSE_LIMIT // len(line))


def bom_utf16(text: str) -> bytes:
    return "\ufeff".encode("utf-16-le") + text.encode("utf-16-le")


@dataclass(frozen=True)
class Attack:
    site: str
    path: str  # as a person would type it (raw characters allowed)
    reason: str | None  # the decisive reason code expected; None: kept
    fetched: bool = True  # False: robots.txt must stop it before the request


ATTACKS: dict[str, Attack] = {
    "xhtml_decl_noai": Attack("xhtml", "/decl-noai.html", "noai"),
    "xhtml_decl_tdm": Attack("xhtml", "/decl-tdm.xhtml", "tdmrep"),
    "late_script_head": Attack("late", "/script.html", "noai"),
    "late_body": Attack("late", "/body.html", "tdmrep"),
    "late_comment": Attack("late", "/comment.html", "noai"),
    "utf16le_http_charset": Attack("utf16", "/le.html", "noai"),
    "utf16be_http_charset": Attack("utf16", "/be.html", "tdmrep"),
    "many_rules_first": Attack("manytdm", "/s7/a.html", "tdmrep"),
    "many_rules_last": Attack("manytdm", f"/s{TDM_RULES - 1}/a.html", "tdmrep"),
    "many_rules_unmatched": Attack("manytdm", "/free.html", None),
    "huge_tdmrep": Attack("hugetdm", "/page.html", "tdmrep"),
    "cut_tdmrep_granted": Attack("cuttdm", "/open/a.html", None),
    "cut_tdmrep_unread": Attack("cuttdm", "/page.html", "tdmrep"),
    "big_robots_late": Attack("bigrobots", "/late/a.html", "robots", fetched=False),
    "raw_braces": Attack("rawchars", "/?s={searchInput}/x", "robots", fetched=False),
    "raw_pipe": Attack("rawchars", "/b/list?page=2|", "robots", fetched=False),
    "raw_backslash": Attack("rawchars", "/find?q=a\\", "robots", fetched=False),
    "raw_caret": Attack("rawchars", "/c/^top", "robots", fetched=False),
    "raw_backtick": Attack("rawchars", "/d/`x", "robots", fetched=False),
    "raw_other_allowed": Attack("rawchars", "/plain.html", None),
    "robots_loop": Attack("loop", "/page.html", "robots-unreachable", fetched=False),
    "robots_six_hops": Attack("chain6", "/page.html", "robots-unreachable", fetched=False),
    "utf16_robots": Attack("utf16robots", "/private/a.html", "robots", fetched=False),
    "utf16_robots_open": Attack("utf16robots", "/open.html", None),
    "utf16_tdmrep": Attack("utf16tdm", "/page.html", "tdmrep"),
    "utf16_ai_txt": Attack("utf16ai", "/page.html", "ai-txt"),
    "robots_over_parse_limit": Attack(
        "hugerobots", "/page.html", "robots-unreachable", fetched=False
    ),
    "ai_txt_over_parse_limit": Attack("hugeai", "/page.html", "ai-txt"),
}


def _sites() -> list[Site]:
    plain = page("Plain", KAZAKH)
    chain6 = Site("chain6", {"/page.html": plain, "/robots.txt": redirect("/hop0")})
    for i in range(6):
        chain6.add(f"/hop{i}", redirect(f"/hop{i + 1}"))
    chain6.add("/hop6", ALLOW_ALL)
    return [
        Site(
            "xhtml",
            {
                "/robots.txt": ALLOW_ALL,
                "/decl-noai.html": _html(xhtml('<meta name="robots" content="noai" />')),
                "/decl-tdm.xhtml": _html(
                    xhtml('<meta name="tdm-reservation" content="1" />'), "application/xhtml+xml"
                ),
            },
        ),
        Site(
            "late",
            {
                "/robots.txt": ALLOW_ALL,
                "/script.html": _html(late_in_head()),
                "/body.html": _html(late_in_body()),
                "/comment.html": _html(after_long_comment()),
            },
        ),
        Site(
            "utf16",
            {
                "/robots.txt": ALLOW_ALL,
                "/le.html": utf16_page(
                    "utf-16-le", "utf-16", '<meta name="robots" content="noai">'
                ),
                "/be.html": utf16_page(
                    "utf-16-be", "UTF-16BE", '<meta name="tdm-reservation" content="1">'
                ),
            },
        ),
        Site(
            "manytdm",
            {
                "/robots.txt": ALLOW_ALL,
                "/.well-known/tdmrep.json": _json(many_tdmrep_rules()),
                "/s7/a.html": plain,
                f"/s{TDM_RULES - 1}/a.html": plain,
                "/free.html": plain,
            },
        ),
        Site(
            "hugetdm",
            {
                "/robots.txt": ALLOW_ALL,
                "/.well-known/tdmrep.json": _json(huge_tdmrep()),
                "/page.html": plain,
            },
        ),
        Site(
            "cuttdm",
            {
                "/robots.txt": ALLOW_ALL,
                "/.well-known/tdmrep.json": _json(
                    b'[{"location": "/open/", "tdm-reservation": 0},\n'
                    b' {"location": "/", "tdm-reservation": 1'
                ),
                "/open/a.html": plain,
                "/page.html": plain,
            },
        ),
        Site(
            "bigrobots",
            {
                "/robots.txt": Reply(200, [("Content-Type", "text/plain")], big_robots()),
                "/late/a.html": plain,
            },
        ),
        Site(
            "rawchars",
            {
                "/robots.txt": text_reply(RAW_ROBOTS),
                "/": plain,
                "/b/list": plain,
                "/find": plain,
                "/c/%5Etop": plain,
                "/d/%60x": plain,
                "/plain.html": plain,
            },
        ),
        Site(
            "loop",
            {
                "/robots.txt": redirect("/robots-loop"),
                "/robots-loop": redirect("/robots.txt"),
                "/page.html": plain,
            },
        ),
        chain6,
        Site(
            "utf16robots",
            {
                "/robots.txt": text_reply(bom_utf16("User-agent: *\nDisallow: /private/\n")),
                "/private/a.html": plain,
                "/open.html": plain,
            },
        ),
        Site(
            "utf16tdm",
            {
                "/robots.txt": ALLOW_ALL,
                "/.well-known/tdmrep.json": _json(
                    bom_utf16('[{"location": "/", "tdm-reservation": 1}]')
                ),
                "/page.html": plain,
            },
        ),
        Site(
            "utf16ai",
            {
                "/robots.txt": ALLOW_ALL,
                "/ai.txt": text_reply(bom_utf16("User-Agent: *\nDisallow: /\n")),
                "/page.html": plain,
            },
        ),
        Site(
            "hugerobots",
            {
                "/robots.txt": text_reply(over_parse_limit(b"User-agent: *\nAllow: /\n")),
                "/page.html": plain,
            },
        ),
        Site(
            "hugeai",
            {
                "/robots.txt": ALLOW_ALL,
                "/ai.txt": text_reply(over_parse_limit(b"User-agent: *\nAllow: /\n")),
                "/page.html": plain,
            },
        ),
    ]


# -- running the three commands ---------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    kept: bool
    codes: tuple[str, ...]
    evidence: str
    warnings: tuple[str, ...]


def _wire(url: str) -> str:
    """The URL as Scrapy requests it (and a crawl writes it to WARC and the audit)."""
    return safe_url_string(url)


def _run_check(urls: dict[str, str]) -> dict[str, Outcome]:
    proc = tdmcrawl("check", "--json", *urls.values(), *FAST, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    out = {}
    for name, line in zip(urls, lines, strict=True):
        reasons = line["reasons"]
        out[name] = Outcome(
            line["allowed"],
            tuple(r["code"] for r in reasons),
            reasons[0]["evidence"] if reasons else "",
            tuple(line["warnings"]),
        )
    return out


def _audit(out_dir: Path, urls: dict[str, str]) -> dict[str, Outcome]:
    with sqlite3.connect(out_dir / "audit.sqlite") as db:
        excluded = {
            url: (reason, evidence, json.loads(decision))
            for url, reason, evidence, decision in db.execute(
                "SELECT url, reason, evidence, decision FROM exclusions"
            )
        }
        kept_rows = {
            url: json.loads(decision)
            for url, decision in db.execute("SELECT url, decision FROM kept")
        }
    in_warc = {uri for kind, uri in records_of(output_files(out_dir)) if kind == "response"}
    out = {}
    for name, url in urls.items():
        wire = _wire(url)
        if wire in excluded:
            reason, evidence, decision = excluded[wire]
            codes = (reason, *(r["code"] for r in decision["reasons"] if r["code"] != reason))
            out[name] = Outcome(wire in in_warc, codes, evidence, tuple(decision["warnings"]))
        else:
            decision = kept_rows.get(wire, {"warnings": []})
            out[name] = Outcome(wire in in_warc, (), "", tuple(decision["warnings"]))
    return out


def _run_crawl(urls: dict[str, str], out_dir: Path) -> dict[str, Outcome]:
    proc = tdmcrawl("crawl", *urls.values(), "--out", str(out_dir), *FAST, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return _audit(out_dir, urls)


def _captures(web: LoopbackWeb, urls: dict[str, str]) -> list[Cap]:
    """The origin files (and redirect hops) of every site, and every attacked URL, as a
    crawler that ignores opt-outs captured them."""
    pages = {name: urlsplit(_wire(url)).path for name, url in urls.items()}
    caps = []
    for name, site in web.sites.items():
        attacked = {pages[a] for a, attack in ATTACKS.items() if attack.site == name}
        for path, reply in site.routes.items():
            assert isinstance(reply, Reply)
            if path not in attacked:
                caps.append(_cap(web.url(name, path), reply))
    for name, url in urls.items():
        caps.append(_cap(url, web.sites[ATTACKS[name].site].routes[pages[name]]))
    return caps


def _cap(url: str, reply: Reply) -> Cap:
    status = f"{reply.status} {HTTPStatus(reply.status).phrase}"
    return Cap(_wire(url), reply.body, list(reply.headers), status)


def _run_filter(web: LoopbackWeb, urls: dict[str, str], root: Path) -> dict[str, Outcome]:
    source = root / "hostile.warc.gz"
    write_warc(source, _captures(web, urls))
    out_dir = root / "filtered"
    result = CliRunner().invoke(main, ["filter", str(source), "--out", str(out_dir), "--json"])
    assert result.exit_code == 0, result.output
    return _audit(out_dir, urls)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("hostile-signals")
    with LoopbackWeb(_sites()) as web:
        urls = {name: web.url(a.site, a.path) for name, a in ATTACKS.items()}
        outcomes = {
            "check": _run_check(urls),
            "crawl": _run_crawl(urls, root / "crawl"),
            "filter": _run_filter(web, urls, root),
        }
        yield web, urls, outcomes


def _assert_reserved(hostile, name: str, command: str) -> Outcome:
    web, urls, outcomes = hostile
    attack = ATTACKS[name]
    outcome = outcomes[command][name]
    assert not outcome.kept, f"{command} kept {urls[name]}"
    assert outcome.codes[:1] == (attack.reason,), outcome
    if not attack.fetched:
        assert not web.was_requested(_wire(urls[name])), f"{urls[name]} was requested"
    return outcome


def _assert_kept(hostile, name: str, command: str) -> Outcome:
    _web, urls, outcomes = hostile
    outcome = outcomes[command][name]
    assert outcome.codes == (), outcome
    if command != "check":
        assert outcome.kept, f"{command} did not keep {urls[name]}"
    return outcome


# -- XHTML with an XML declaration ----------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_xml_declaration_does_not_hide_robots_noai(hostile, command):
    _assert_reserved(hostile, "xhtml_decl_noai", command)


@pytest.mark.parametrize("command", COMMANDS)
def test_xml_declaration_does_not_hide_tdm_reservation_in_xhtml(hostile, command):
    outcome = _assert_reserved(hostile, "xhtml_decl_tdm", command)
    assert "tdm-reservation" in outcome.evidence


# -- meta tags late in the page ---------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_meta_after_300kb_of_inline_script_in_head_is_read(hostile, command):
    _assert_reserved(hostile, "late_script_head", command)


@pytest.mark.parametrize("command", COMMANDS)
def test_meta_after_300kb_of_body_is_read(hostile, command):
    outcome = _assert_reserved(hostile, "late_body", command)
    assert any("outside <head>" in w for w in outcome.warnings), outcome.warnings


@pytest.mark.parametrize("command", COMMANDS)
def test_meta_after_300kb_comment_before_html_is_read(hostile, command):
    _assert_reserved(hostile, "late_comment", command)


# -- UTF-16 declared only by the HTTP charset --------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_utf16le_page_declared_by_http_charset_only_is_read(hostile, command):
    _assert_reserved(hostile, "utf16le_http_charset", command)


@pytest.mark.parametrize("command", COMMANDS)
def test_utf16be_page_declared_by_http_charset_only_is_read(hostile, command):
    _assert_reserved(hostile, "utf16be_http_charset", command)


# -- tdmrep.json: large, oversized, cut -------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_tdmrep_with_20000_rules_reserves_like_a_small_one(hostile, command):
    _assert_reserved(hostile, "many_rules_first", command)
    _assert_reserved(hostile, "many_rules_last", command)
    _assert_kept(hostile, "many_rules_unmatched", command)  # read whole: no over-reading


@pytest.mark.parametrize("command", COMMANDS)
def test_tdmrep_over_the_origin_file_limit_reserves_everything(hostile, command):
    outcome = _assert_reserved(hostile, "huge_tdmrep", command)
    assert "tdmrep.json" in outcome.evidence and "fail closed" in outcome.evidence


@pytest.mark.parametrize("command", COMMANDS)
def test_cut_tdmrep_reserves_what_it_cannot_read(hostile, command):
    outcome = _assert_reserved(hostile, "cut_tdmrep_unread", command)
    assert "fail closed" in outcome.evidence
    # The rule read before the cut still answers for its paths (it comes first).
    _assert_kept(hostile, "cut_tdmrep_granted", command)


# -- robots.txt: long, raw characters, redirects, UTF-16 ---------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_robots_rule_past_500_kib_still_disallows(hostile, command):
    outcome = _assert_reserved(hostile, "big_robots_late", command)
    assert outcome.evidence == "Disallow: /late/"


@pytest.mark.parametrize(
    "name", ["raw_braces", "raw_pipe", "raw_backslash", "raw_caret", "raw_backtick"]
)
@pytest.mark.parametrize("command", COMMANDS)
def test_robots_rule_with_raw_unsafe_characters_matches_the_encoded_request(hostile, command, name):
    _assert_reserved(hostile, name, command)


# A guard, not an attack: it passed before the fix too, and keeps the fix from reserving
# more than the rules say.
@pytest.mark.parametrize("command", COMMANDS)
def test_robots_raw_character_rules_leave_other_paths_allowed(hostile, command):
    _assert_kept(hostile, "raw_other_allowed", command)


@pytest.mark.parametrize("command", COMMANDS)
def test_robots_redirect_loop_is_unreachable_not_allow_all(hostile, command):
    outcome = _assert_reserved(hostile, "robots_loop", command)
    assert "redirect" in outcome.evidence


@pytest.mark.parametrize("command", COMMANDS)
def test_robots_six_redirects_is_unreachable_not_allow_all(hostile, command):
    outcome = _assert_reserved(hostile, "robots_six_hops", command)
    assert "redirect" in outcome.evidence


@pytest.mark.parametrize("command", COMMANDS)
def test_utf16_robots_txt_is_read_not_empty(hostile, command):
    outcome = _assert_reserved(hostile, "utf16_robots", command)
    assert outcome.evidence == "Disallow: /private/"
    _assert_kept(hostile, "utf16_robots_open", command)


@pytest.mark.parametrize("command", COMMANDS)
def test_utf16_tdmrep_json_is_read(hostile, command):
    _assert_reserved(hostile, "utf16_tdmrep", command)


@pytest.mark.parametrize("command", COMMANDS)
def test_utf16_ai_txt_is_read(hostile, command):
    _assert_reserved(hostile, "utf16_ai_txt", command)


@pytest.mark.parametrize("command", COMMANDS)
def test_robots_txt_over_the_parse_limit_is_not_read_in_part(hostile, command):
    outcome = _assert_reserved(hostile, "robots_over_parse_limit", command)
    assert "whole" in outcome.evidence


@pytest.mark.parametrize("command", COMMANDS)
def test_ai_txt_over_the_parse_limit_reserves_every_path(hostile, command):
    outcome = _assert_reserved(hostile, "ai_txt_over_parse_limit", command)
    assert "fail closed" in outcome.evidence


# -- the switches: a limit that cuts, the RFC's lenient redirect reading --------------------


@pytest.fixture(scope="module")
def switched(hostile):
    """`check` with a meta scan limit of 64 KiB and the lenient robots redirect reading."""
    _web, urls, _ = hostile
    names = ["late_script_head", "xhtml_decl_noai", "many_rules_unmatched", "robots_loop"]
    proc = tdmcrawl(
        "check",
        "--json",
        *(urls[n] for n in names),
        *FAST,
        "-s",
        "TDMCRAWL_HTML_META_MAX_BYTES=65536",
        "-s",
        "TDMCRAWL_ROBOTS_REDIRECTS_UNAVAILABLE=True",
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return dict(zip(names, (json.loads(line) for line in proc.stdout.splitlines()), strict=True))


def test_meta_scan_cut_by_a_limit_reserves_with_the_cut_as_evidence(switched):
    # The noai tag lies after 300 KB of script: past the 64 KiB limit, so unread.
    result = switched["late_script_head"]
    assert [(r["code"], r["source"]) for r in result["reasons"]] == [
        ("noai", "meta"),
        ("tdmrep", "meta"),
    ]
    evidence = result["reasons"][0]["evidence"]
    assert "html_meta_max_bytes=65536" in evidence and "fail closed" in evidence
    # A page within the limit is read as usual: its own tag decides, nothing is cut.
    small = switched["xhtml_decl_noai"]
    assert [r["code"] for r in small["reasons"]] == ["noai"]
    assert "fail closed" not in small["reasons"][0]["evidence"]
    assert switched["many_rules_unmatched"]["allowed"] is True


def test_robots_redirect_loop_lenient_reading_is_a_documented_switch(switched):
    # The switch gives back the reading of before the fix (allow all), with a warning.
    result = switched["robots_loop"]
    assert result["allowed"] is True
    assert any("2.3.1.2" in w and "unavailable" in w for w in result["warnings"])


def test_filter_robots_redirect_lenient_reading_is_a_documented_flag(hostile, tmp_path):
    web, urls, _ = hostile
    source = tmp_path / "hostile.warc.gz"
    write_warc(source, _captures(web, urls))
    args = ["filter", str(source), "--no-near-duplicates", "--json"]
    lenient = CliRunner().invoke(
        main, [*args, "--out", str(tmp_path / "lenient"), "--robots-redirects-unavailable"]
    )
    assert lenient.exit_code == 0, lenient.output
    names = {n: urls[n] for n in ("robots_loop", "robots_six_hops")}
    for outcome in _audit(tmp_path / "lenient", names).values():
        assert outcome.kept and any("2.3.1.2" in w for w in outcome.warnings)


# -- filter: a page longer than what filter reads ------------------------------------------


def test_filter_page_longer_than_its_read_limit_is_reserved(tmp_path):
    """A crawl cancels a page over DOWNLOAD_MAXSIZE (16 MiB); filter reads 16 MiB of a
    record, so the meta tags after that are unread: the page is reserved, not kept."""
    origin = "https://long.example"
    filler = b"<p>" + KAZAKH.encode() + b"</p>\n"
    body = (
        b"<!DOCTYPE html><html><head><title>long</title></head><body>"
        + filler * (17 * 1024 * 1024 // len(filler))
        + b'<meta name="robots" content="noai"></body></html>'
    )
    source = tmp_path / "long.warc.gz"
    write_warc(
        source,
        [
            Cap(
                f"{origin}/robots.txt",
                b"User-agent: *\nAllow: /\n",
                [("Content-Type", "text/plain")],
            ),
            Cap(f"{origin}/long.html", body),
            Cap(
                f"{origin}/short.html", b"<!DOCTYPE html><html><head></head><body>ok</body></html>"
            ),
        ],
    )
    out_dir = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["filter", str(source), "--out", str(out_dir), "--no-near-duplicates", "--json"]
    )
    assert result.exit_code == 0, result.output
    outcomes = _audit(out_dir, {"long": f"{origin}/long.html", "short": f"{origin}/short.html"})
    assert not outcomes["long"].kept and outcomes["long"].codes[:1] == ("noai",)
    assert "only the first" in outcomes["long"].evidence
    assert outcomes["short"].kept
