"""Main-content extraction on real-looking pages, and bad input."""

from __future__ import annotations

import pytest

from tdmcrawl.dedup import extract_main_text, extract_query_text, fingerprint
from tdmcrawl.dedup.fingerprint import overlap
from tdmcrawl.dedup.text import shingle_hashes
from tests.support.dedup import ABAI, PUSHKIN, text

NAV = "Басты бет | Жаңалықтар | Саясат | Экономика | Спорт | Кіру"
FOOTER = "© 2025 Мысал Медиа. Барлық құқықтар қорғалған. Құпиялылық саясаты."
RELATED = "Тағы оқыңыз: Астанада жаңа мектеп ашылды және оқушылар қуанышты болды"


def page(body: str, charset: str = "utf-8") -> bytes:
    paras = "".join(f"<p>{p}</p>" for p in body.split(". "))
    html = (
        f"<html><head><meta charset='{charset}'><title>T</title><script>var x=1</script></head>"
        f"<body><header><nav>{NAV}</nav></header><div class='ad'>Жарнама</div>"
        f"<main><article><h1>Қара сөз</h1>{paras}</article></main>"
        f"<aside class='related'><a href='/r'>{RELATED}</a></aside>"
        f"<footer>{FOOTER}</footer></body></html>"
    )
    return html.encode(charset, "xmlcharrefreplace")


@pytest.mark.parametrize("engine", ["trafilatura", "resiliparse"])
@pytest.mark.parametrize("body", [ABAI, PUSHKIN, text("en", 100, 300)], ids=["kk", "ru", "en"])
def test_main_text_kept_and_navigation_removed(engine, body):
    out = extract_main_text(page(body), "https://example.kz/a", engine=engine)
    kept = overlap(shingle_hashes(out), shingle_hashes(body)) / shingle_hashes(body).size
    assert kept > 0.95
    assert "Экономика | Спорт" not in out and "Кіру" not in out.split()
    assert "құқықтар қорғалған" not in out


def test_default_engine_drops_related_links_and_footer():
    out = extract_main_text(page(ABAI))
    assert "Астанада жаңа мектеп" not in out
    assert "Құпиялылық" not in out


def test_legacy_charset_is_decoded():
    body = PUSHKIN
    out = extract_main_text(page(body, "windows-1251"))
    assert "Мой дядя самых честных правил" in out


def test_same_fingerprint_from_html_and_from_text():
    fp_html = fingerprint(extract_main_text(page(ABAI)))
    fp_text = fingerprint(ABAI)
    shared = overlap(fp_html.shingles, fp_text.shingles)
    assert shared / len(fp_text) > 0.95


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   ",
        b"\x00\xff\xfe binary",
        b"<html><body></body></html>",
        "<p>short</p>",
        b"<<<>>><html",
        b"<html><body><p>" + b"\xd0" * 50 + b"</p></body></html>",
    ],
)
def test_bad_or_empty_html_never_raises(raw):
    out = extract_main_text(raw)
    assert isinstance(out, str)
    assert fingerprint(out) is None  # nothing there to match


def test_page_without_an_article_still_yields_its_text():
    body = text("en", 200, 80)
    out = extract_main_text("<html><body><nav>Menu</nav><div>" + body + "</div></body></html>")
    assert overlap(shingle_hashes(out), shingle_hashes(body)) == shingle_hashes(body).size


def test_lxml_fallback_drops_navigation_and_scripts():
    body = text("ru", 300, 60)
    html = f"<html><body><nav>Меню сайта</nav><script>var a</script><div>{body}</div></body></html>"
    out = extract_main_text(html, engine="lxml")
    assert "Меню" not in out and "var a" not in out
    assert overlap(shingle_hashes(out), shingle_hashes(body)) == shingle_hashes(body).size


def test_xml_declaration_and_lone_surrogates_are_handled():
    body = text("en", 400, 80)
    out = extract_main_text(
        f"<?xml version='1.0' encoding='utf-8'?><html><body><p>{body}\udcff</p></body></html>",
        engine="lxml",
    )
    assert overlap(shingle_hashes(out), shingle_hashes(body)) == shingle_hashes(body).size


def test_wrong_types_and_engines_are_errors():
    with pytest.raises(TypeError):
        extract_main_text(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown extraction engine"):
        extract_main_text("<p>x</p>", engine="nope")  # type: ignore[arg-type]


def news_page(body: str) -> bytes:
    """A page as news sites make them: inline script and data, a large menu, teasers."""
    menu = "".join(f"<li><a href='/s/{k}'>Бөлім {k}</a></li>" for k in range(40))
    teasers = "".join(
        f"<div class='teaser'><a href='/t/{k}'><h4>Жаңалық {k}</h4></a><p>{RELATED}</p></div>"
        for k in range(8)
    )
    paras = "".join(f"<p>{p}.</p>" for p in body.split(". "))
    html = (
        "<html><head><meta charset='utf-8'><title>T</title><style>.a{color:red}</style>"
        "<script>window.dataLayer=[];gtag('js',new Date())</script></head><body>"
        f"<header><nav><ul>{menu}</ul></nav></header><main><article><h1>Қара сөз</h1>{paras}"
        f"</article></main><aside>{teasers}</aside><footer>{FOOTER}</footer>"
        "<script type='application/json'>{\"items\":[1,2,3]}</script></body></html>"
    )
    return html.encode("utf-8")


@pytest.mark.parametrize("body", [ABAI, PUSHKIN, text("en", 100, 300)], ids=["kk", "ru", "en"])
def test_query_text_covers_the_work_as_the_index_text_does(body):
    # The query side (extract_query_text) may keep some boilerplate, never lose the article:
    # a page's coverage of the work it copies is what decides a match.
    work = shingle_hashes(body)
    for html in (page(body), news_page(body)):
        query = shingle_hashes(extract_query_text(html, "https://example.kz/a"))
        assert overlap(query, work) / work.size > 0.95
        assert "window.dataLayer" not in extract_query_text(html)


def test_query_text_decodes_legacy_charsets():
    assert "Мой дядя самых честных правил" in extract_query_text(page(PUSHKIN, "windows-1251"))
