"""Meta tag extraction from HTML bytes: charsets, broken markup, garbage, huge bodies."""

import codecs
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tdmcrawl.optout.html_meta import CHUNK_BYTES, extract_meta, sniff_encoding


def _names(scan):
    return [(t.name, t.content) for t in scan.tags]


def test_html_meta_basic_head_names_are_lowercased():
    scan = extract_meta(
        b'<!doctype html><html><head><META NAME="Robots" CONTENT="NoAI">'
        b'<meta name="TDM-Reservation" content="1"><title>t</title></head><body>x</body></html>'
    )
    assert _names(scan) == [("robots", "NoAI"), ("tdm-reservation", "1")]
    assert all(t.in_head for t in scan.tags)


def test_html_meta_filter_by_names():
    body = b'<head><meta name="robots" content="noai"><meta name="description" content="d"></head>'
    assert _names(extract_meta(body, names={"ROBOTS"})) == [("robots", "noai")]


@pytest.mark.parametrize(
    ("raw", "encoding"),
    [
        # HTML standard's order: BOM, then HTTP charset, then <meta charset>, then default
        (
            '<meta charset="windows-1251"><meta name="description" content="Новости">'.encode(
                "cp1251"
            ),
            "cp1251",
        ),
        (
            '<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">'
            '<meta name="description" content="Новости">'.encode("koi8-r"),
            "koi8-r",
        ),
        (codecs.BOM_UTF8 + '<meta name="description" content="Новости">'.encode(), "utf-8"),
        ('<meta name="description" content="Новости">'.encode("utf-16"), "utf-16-le"),
        ('<meta name="description" content="Новости">'.encode(), "utf-8"),
        # an unknown charset label falls back to UTF-8
        ('<meta charset="x-klingon"><meta name="description" content="Новости">'.encode(), "utf-8"),
    ],
)
def test_html_meta_charsets(raw, encoding):
    scan = extract_meta(raw)
    assert scan.encoding == encoding
    assert _names(scan) == [("description", "Новости")]


def test_html_meta_http_charset_beats_meta_charset():
    raw = '<meta charset="utf-8"><meta name="description" content="Жаңалықтар">'.encode()
    assert sniff_encoding(raw, "text/html; charset=UTF-8")[0] == "utf-8"
    cp = '<meta charset="utf-8"><meta name="description" content="Новости">'.encode("cp1251")
    assert _names(extract_meta(cp, content_type="text/html; charset=windows-1251")) == [
        ("description", "Новости")
    ]


def test_html_meta_kazakh_content_survives():
    raw = '<head><meta name="tdm-policy" content="https://ақпарат.kz/саясат"></head>'.encode()
    assert extract_meta(raw).tags[0].content == "https://ақпарат.kz/саясат"


def test_html_meta_outside_head_is_found_and_flagged():
    raw = (
        b"<html><head><title>t</title></head><body><p>text</p>"
        b'<meta name="tdm-reservation" content="1"><meta itemprop="x" content="y"></body>'
    )
    scan = extract_meta(raw)
    assert [(t.name, t.in_head) for t in scan.tags] == [("tdm-reservation", False)]


@pytest.mark.parametrize(
    "raw",
    [
        b"<meta name=robots content=noai>",  # no html/head at all, unquoted
        b'<html><head><meta name="robots" content="noai"',  # cut mid-tag at EOF
        b'<html><head><meta name="robots" content="noai"><meta name=',
        b'<HEAD><Meta Name="robots" Content="noai"/></HEAD>',
        b'\x00\x00<head>\x00<meta name="robots" content="no\x00ai">',
    ],
)
def test_html_meta_broken_html(raw):
    scan = extract_meta(raw)
    assert scan.tags and scan.tags[0].name == "robots"
    assert scan.tags[0].content.replace(" ", "") in ("noai", "no\ufffdai")


def test_html_meta_whole_body_is_scanned_by_default():
    # Past the old 256 KiB prefix, past several of the scanner's chunks.
    late = (
        b"<html><head><!--" + b"x" * (3 * CHUNK_BYTES) + b'--><meta name="robots" content="noai">'
    )
    scan = extract_meta(late)
    assert _names(scan) == [("robots", "noai")] and scan.unread is None


def test_html_meta_a_limit_that_cuts_the_scan_says_so():
    late = b"<html><head><title>t</title>" + b" " * 5000 + b'<meta name="robots" content="noai">'
    scan = extract_meta(late, max_bytes=2048)
    assert scan.tags == ()
    assert "html_meta_max_bytes=2048" in scan.unread
    early = extract_meta(b'<meta name="robots" content="noai">' + b" " * 5000, max_bytes=2048)
    assert _names(early) == [("robots", "noai")] and early.unread
    whole = extract_meta(late, max_bytes=len(late))
    assert _names(whole) == [("robots", "noai")] and whole.unread is None


def test_html_meta_cut_says_whether_head_was_read():
    in_head = extract_meta(b"<head><title>t</title><meta name=a content=b>", complete=False)
    assert "<head> was not read to its end" in in_head.unread
    past = extract_meta(b"<head></head><body><p>x</p><meta name=a content=b>", complete=False)
    assert "past <head>" in past.unread


@pytest.mark.parametrize("raw", [b"", b"\xff" * 5000, bytes(range(256)) * 40, b"<meta", b"<meta>"])
def test_html_meta_garbage_gives_no_tags(raw):
    assert extract_meta(raw).tags == ()


def test_html_meta_not_bytes_gives_warning():
    scan = extract_meta("text")  # type: ignore[arg-type]
    assert scan.tags == () and scan.warnings


def test_html_meta_evidence_renders_the_tag():
    (tag,) = extract_meta(b'<meta name=" Robots " content=\'say "noai"\'>').tags
    assert tag.raw == '<meta name="Robots" content="say &quot;noai&quot;">'


@given(st.binary(max_size=3000))
def test_html_meta_never_raises_on_bytes(raw):
    scan = extract_meta(raw)
    assert all(t.name == t.name.lower() for t in scan.tags)


@given(st.text(max_size=500), st.sampled_from(["utf-8", "cp1251", "utf-16", "latin-1"]))
def test_html_meta_never_raises_on_text_in_any_encoding(text, encoding):
    raw = f'<head><meta name="robots" content="{text}">'.encode(encoding, "replace")
    scan = extract_meta(raw)
    assert len(scan.tags) <= 2


# -- issue 10: what hid meta tags --------------------------------------------------------

XHTML = (
    '<?xml version="1.0" encoding="{enc}"?>\n'
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
    '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
    '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Жаңалық</title>'
    '<meta name="robots" content="noai" /></head><body><p>Мәтін</p></body></html>'
)


@pytest.mark.parametrize(
    ("enc", "codec"), [("UTF-8", "utf-8"), ("utf-8", "utf-8"), ("ISO-8859-1", "latin-1")]
)
def test_html_meta_xml_declaration_is_read(enc, codec):
    # lxml refuses a str holding an encoding declaration; the scan must not.
    scan = extract_meta(XHTML.format(enc=enc).encode(codec, "replace"))
    assert _names(scan) == [("robots", "noai")] and scan.tags[0].in_head
    assert scan.unread is None


def test_html_meta_utf16_xhtml_without_bom_is_evident():
    scan = extract_meta(XHTML.format(enc="UTF-16").encode("utf-16-le"))
    assert scan.encoding == "utf-16-le" and _names(scan) == [("robots", "noai")]


@pytest.mark.parametrize(
    ("codec", "label", "encoding"),
    [
        ("utf-16-le", "utf-16", "utf-16-le"),  # WHATWG: the label utf-16 is UTF-16LE
        ("utf-16-le", "UTF-16LE", "utf-16-le"),
        ("utf-16-be", "utf-16be", "utf-16-be"),
    ],
)
def test_html_meta_http_charset_utf16_without_bom(codec, label, encoding):
    # The document starts with text, so nothing but the HTTP charset says UTF-16.
    raw = 'Жаңалық <meta name="tdm-reservation" content="1">'.encode(codec)
    scan = extract_meta(raw, content_type=f"text/html; charset={label}")
    assert scan.encoding == encoding
    assert _names(scan) == [("tdm-reservation", "1")]


# Our choice: where the declared charset and the bytes disagree and no BOM settles it,
# a meta tag readable either way counts (a browser shows one of them; we cannot know
# which the publisher checked).
@pytest.mark.parametrize(
    ("raw", "label"),
    [
        (b'<html><head><meta name="robots" content="noai"></head>', "utf-16"),
        ('<html><head><meta name="robots" content="noai"></head>'.encode("utf-16-le"), "utf-8"),
    ],
    ids=["says-utf16-sends-utf8", "says-utf8-sends-utf16"],
)
def test_html_meta_charset_that_contradicts_the_bytes_reads_both(raw, label):
    scan = extract_meta(raw, content_type=f"text/html; charset={label}")
    assert _names(scan) == [("robots", "noai")]


def test_html_meta_utf16_declared_in_the_page_is_read_as_utf8():
    # HTML standard: a <meta charset> naming UTF-16 in ASCII-compatible bytes means UTF-8.
    raw = b'<meta charset="utf-16"><meta name="robots" content="noai">'
    assert extract_meta(raw).encoding == "utf-8"
    assert _names(extract_meta(raw)) == [("robots", "noai")]


@pytest.mark.parametrize(
    "filler",
    [
        "<script>" + "var a = '</head><body>';\n" * 30_000 + "</script>",
        "<style>" + "p { color: red }\n" * 30_000 + "</style>",
        "<!--" + "x" * 400_000 + "-->",
    ],
    ids=["script", "style", "comment"],
)
def test_html_meta_late_in_a_long_head(filler):
    raw = f"<html><head>{filler}<meta name='robots' content='noai'></head><body>x</body>"
    scan = extract_meta(raw.encode())
    assert [(t.name, t.in_head) for t in scan.tags] == [("robots", True)]


def test_html_meta_after_a_long_comment_before_html():
    raw = "<!--" + "x" * 400_000 + "--><html><head><meta name=robots content=noai></head>"
    assert _names(extract_meta(raw.encode())) == [("robots", "noai")]


def test_html_meta_after_a_long_body_is_flagged_outside_head():
    raw = "<html><head></head><body>" + "<p>мәтін</p>" * 40_000 + "<meta name=robots content=noai>"
    scan = extract_meta(raw.encode())
    assert [(t.name, t.in_head) for t in scan.tags] == [("robots", False)]


# Our choice: markup a browser does not read as a tag (inside a comment or a script)
# is not a meta tag; a real parser, not a regular expression, decides.
@pytest.mark.parametrize(
    "hidden",
    [
        "<!-- <meta name=robots content=noai> -->",
        "<script>document.write('<meta name=robots content=noai>')</script>",
        "<textarea><meta name=robots content=noai></textarea>",
    ],
)
def test_html_meta_markup_that_is_no_tag_is_not_read(hidden):
    scan = extract_meta(f"<html><head>{hidden}</head><body>x</body></html>".encode())
    assert scan.tags == ()


# The parser stops after the last "<meta" of the bytes: the tags found are those of a
# parse of the whole document, whatever follows.
_PARTS = st.sampled_from(
    [
        "<html>",
        "<head>",
        "</head>",
        "<body>",
        "<p>текст</p>",
        "<meta name=robots content=noai>",
        '<meta name="tdm-reservation" content="1"/>',
        "<meta content='a>b' name=robots>",
        "<!-- <meta name=x content=y> -->",
        "<script>var s = '<meta name=z content=q>';</script>",
        "<title>t</title>",
        "<div>",
        "x" * 1000,
        "<meta",
        "<",
        '"',
    ]
)


@given(st.lists(_PARTS, max_size=30))
def test_html_meta_early_stop_finds_what_a_whole_parse_finds(parts):
    from tdmcrawl.optout import html_meta

    raw = "".join(parts).encode()
    scan = extract_meta(raw)
    whole = html_meta._Collector(None)
    html_meta._parse(raw, 0, len(raw), "utf-8", html_meta._new_parser(whole))
    assert [(t.name, t.content, t.in_head) for t in scan.tags] == [
        (t.name, t.content, t.in_head) for t in whole.tags
    ]


def test_html_meta_parser_reused_by_a_thread_carries_nothing_from_one_page_to_the_next():
    # One lxml parser a thread serves every page: each scan starts clean, also after a
    # page whose meta tags were in the body, and in other threads at the same time.
    in_body = b"<html><body><p>x</p><meta name=robots content=noai></body></html>"
    in_head = b"<html><head><meta name=tdm-reservation content=1></head><body>y</body></html>"
    first = extract_meta(in_body)
    second = extract_meta(in_head)
    assert [(t.name, t.in_head) for t in first.tags] == [("robots", False)]
    assert [(t.name, t.in_head) for t in second.tags] == [("tdm-reservation", True)]
    assert first.tags[0].content == "noai"  # the first result is not changed by the second

    def scan(page: bytes) -> list[tuple[str, bool]]:
        return [(t.name, t.in_head) for t in extract_meta(page).tags]

    pages = [in_body, in_head] * 200
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(scan, pages))
    assert results == [scan(page) for page in pages]
    assert results[0] == [("robots", False)] and results[1] == [("tdm-reservation", True)]
