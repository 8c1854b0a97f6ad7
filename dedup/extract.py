"""Main-content extraction: the article text of an HTML page, boilerplate removed.

``bench_dedup_extract.py`` compares trafilatura and resiliparse on generated
pages with navigation, ads, related-links boxes and footers (English, Russian,
Kazakh). The chosen engine is ``DEFAULT_ENGINE``, used where the index is
built (reserved works: boilerplate kept there would make false matches).
Pages that are only queried against the index use ``QUERY_ENGINE``
(:func:`extract_query_text`): a match is measured as coverage of the reserved
work, so a little boilerplate left around a page's article changes nothing,
and resiliparse is about nine times faster than trafilatura on 20-80 KB news
pages (``bench_dedup_quality.py --html news --engine resiliparse`` holds the
quality figures; ``bench_crawl_overhead.py`` measures the crawl). When an
engine finds no main
content (very short or unusual pages) a plain lxml pass keeps the text of the
body without script, style, nav, header, footer, aside and form elements, so a
page never yields less text than it shows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

import lxml.html
from lxml import etree

from tdmcrawl.dedup.errors import ConfigError

Engine = Literal["trafilatura", "resiliparse", "lxml"]
DEFAULT_ENGINE: Engine = "trafilatura"
QUERY_ENGINE: Engine = "resiliparse"

_BOILERPLATE_TAGS = (
    "script",
    "style",
    "noscript",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "template",
    "svg",
    "iframe",
    "button",
    "select",
)

logging.getLogger("trafilatura").setLevel(logging.ERROR)


def _as_text(html: bytes | str) -> str:
    if isinstance(html, str):
        return html
    if not isinstance(html, bytes | bytearray | memoryview):
        raise TypeError(f"extract_main_text() takes bytes or str, not {type(html).__name__}")
    from w3lib.encoding import html_to_unicode

    return html_to_unicode(None, bytes(html))[1]


_UTF8_PARSER = lxml.html.HTMLParser(encoding="utf-8")


def _lxml_text(html: str) -> str:
    try:
        # bytes, so that an XML declaration naming an encoding is not an error
        doc = lxml.html.document_fromstring(html.encode("utf-8", "surrogatepass"), _UTF8_PARSER)
    except (etree.ParserError, ValueError, UnicodeError):
        return ""
    for el in list(doc.iter(*_BOILERPLATE_TAGS)):
        if el.getparent() is not None and isinstance(el, lxml.html.HtmlElement):
            el.drop_tree()
    body = doc.find("body")
    root = body if body is not None else doc
    parts = [str(t).strip() for t in root.itertext()]
    return "\n".join(p for p in parts if p)


def _trafilatura(html: str, url: str | None) -> str:
    import trafilatura

    text = trafilatura.extract(
        html,
        url=url,
        include_comments=False,
        include_tables=True,
        deduplicate=False,
        fast=True,
    )
    return text or ""


def _resiliparse(html: str) -> str:
    try:
        from resiliparse.extract.html2text import extract_plain_text
    except ModuleNotFoundError as exc:
        raise ConfigError("engine='resiliparse' needs: pip install resiliparse") from exc

    return extract_plain_text(
        html, main_content=True, alt_texts=False, links=False, form_fields=False, noscript=False
    )


_ENGINES: dict[str, Callable[[str, str | None], str]] = {
    "trafilatura": lambda source, url: _trafilatura(source, url),
    "resiliparse": lambda source, url: _resiliparse(source),
    "lxml": lambda source, url: "",
}


def extract_main_text(
    html: bytes | str, url: str | None = None, engine: Engine = DEFAULT_ENGINE
) -> str:
    """The main text of an HTML page ('' if it has none); never raises on bad HTML."""
    run = _ENGINES.get(engine)
    if run is None:
        raise ValueError(f"unknown extraction engine {engine!r} (one of {', '.join(_ENGINES)})")
    source = _as_text(html)
    if not source.strip():
        return ""
    try:
        text = run(source, url)
    except ConfigError:
        raise
    except Exception:  # an extractor bug on odd markup must not stop the crawl
        text = ""
    return text.strip() or _lxml_text(source)


def extract_query_text(html: bytes | str, url: str | None = None) -> str:
    """The main text of a page that is only queried against the index (``QUERY_ENGINE``)."""
    return extract_main_text(html, url, engine=QUERY_ENGINE)
