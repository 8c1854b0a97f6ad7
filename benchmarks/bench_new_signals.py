"""What RSL licences, the readings of evident intent and PDF/EPUB cost.

1. Per-URL cost of ``optout.evaluate`` with every new reading on (RSL from
   robots.txt, look-alike User-agent lines, robots.txt comments, TDMRep spellings)
   against the same call with all of them off, on an ai.robots.txt-style file with
   a licence, comment blocks and a look-alike line; and post-fetch with a ``Link``
   header naming a licence.
2. PDF and EPUB: time and peak memory (tracemalloc) of the TDMRep metadata and of
   the text, for a 400-page PDF and a 400-chapter EPUB, side by side with pypdf's
   own full-document reading (``PdfReader`` + every page) and a naive EPUB reader
   that unpacks every member at once.

    python benchmarks/bench_new_signals.py [--urls 2000] [--repeat 5] [--pages 400]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import pypdf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tdmcrawl.dedup.documents import epub_text, pdf_text
from tdmcrawl.optout.ai_agents import ai_training_tokens
from tdmcrawl.optout.documents import epub_value, pdf_value
from tdmcrawl.optout.fetched import FetchResult
from tdmcrawl.optout.policy import (
    OriginSignals,
    PolicyConfig,
    ResponseSignals,
    evaluate,
)
from tests.support.documents import epub_file, pdf_file, xmp_packet

SITE = "https://a.kz"
LICENCE = f"{SITE}/license.xml"
RSL = (
    b'<rsl xmlns="https://rslstandard.org/rsl"><content url="/premium/"><license>'
    b'<permits type="usage">ai-train</permits><payment type="crawl"/></license></content>'
    b'<content url="/"><license><permits type="usage">search ai-input</permits></license>'
    b"</content></rsl>"
)
OFF = PolicyConfig(
    rsl=False,
    tdmrep_object=False,
    tdmrep_string=False,
    tdmrep_variants=False,
    ai_agent_lookalikes=False,
    rsl_token_variants=False,
    robots_comments="off",
)


def robots_text(tokens: tuple[str, ...]) -> str:
    comments = "".join(
        f"# Section {i}: rules for the archive of {i} (no change since 2019)\n" for i in range(40)
    )
    return (
        f"License: {LICENCE}\n"
        "# The content of this site may not be used to train AI models.\n"
        + comments
        + "User-agent: *\nDisallow: /admin/\n\n"
        + "User-agent: Mozilla/5.0 (compatible; ImagesiftBot; +imagesift.com)\nDisallow: /\n\n"
        + "".join(f"User-agent: {t}\n" for t in tokens)
        + "Disallow: /\n\n"
        + "".join(f"User-agent: bot{i}\nDisallow: /p{i}/\n" for i in range(200))
    )


def per_call_us(fn: Callable[[int], object], n: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for i in range(n):
            fn(i)
        best = min(best, (time.perf_counter() - start) / n)
    return best * 1e6


def measured(fn: Callable[[], object]) -> tuple[float, float]:
    """(seconds, peak MiB allocated during the call): timed without tracemalloc,
    which slows Python several times, then run again under it for the peak."""
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak / 2**20


def pypdf_whole(body: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(body))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def naive_epub(body: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    return " ".join(m.decode("utf-8", "replace") for m in members.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pages", type=int, default=400)
    args = parser.parse_args()
    n, repeat = args.urls, args.repeat

    tokens = tuple(ai_training_tokens().tokens)
    robots = robots_text(tokens).encode()
    origin = OriginSignals.from_fetches(
        robots=FetchResult(f"{SITE}/robots.txt", 200, robots),
        rsl={LICENCE: FetchResult(LICENCE, 200, RSL)},
    )
    urls = [f"{SITE}/news/{i}/жаңалық?page={i}" for i in range(n)]
    on = evaluate(urls[0], origin)
    print(
        f"robots.txt: {len(robots.splitlines())} lines, {len(tokens)} AI tokens, a licence, "
        f"41 comment lines; {n} URLs, best of {repeat}; reasons with all on: "
        f"{', '.join(c.value for c in on.codes)}"
    )
    print(f"{'per URL':<56} {'µs/URL':>9}")
    pre_on = per_call_us(lambda i: evaluate(urls[i], origin), n, repeat)
    pre_off = per_call_us(lambda i: evaluate(urls[i], origin, config=OFF), n, repeat)
    print(f"{'pre-fetch, every new reading on':<56} {pre_on:>9.1f}")
    print(f"{'pre-fetch, RSL and every evident-intent reading off':<56} {pre_off:>9.1f}")
    page = ResponseSignals(
        200,
        [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Link", f'<{LICENCE}>; rel="license"; type="application/rsl+xml"'),
            ("X-TDM-Reservation", "1"),
        ],
        ("<html><head><title>t</title></head><body>" + "<p>мәтін</p>" * 3000 + "</body>").encode(),
    )
    m = max(1, n // 4)
    post_on = per_call_us(lambda i: evaluate(urls[i], origin, page), m, repeat)
    post_off = per_call_us(lambda i: evaluate(urls[i], origin, page, OFF), m, repeat)
    print(f"{'post-fetch HTML + Link + X-TDM-Reservation, all on':<56} {post_on:>9.1f}")
    print(f"{'post-fetch, all off':<56} {post_off:>9.1f}")

    text = "Қазақ тілі: ә ғ қ ң ө ұ ү һ і. Русский текст страницы. " * 40
    body = pdf_file([text] * args.pages, xmp=xmp_packet("1"), compress_xmp=True)
    book = epub_file([text] * args.pages, reservation="1")
    print()
    print(f"PDF {len(body) / 2**20:.1f} MiB, {args.pages} pages; EPUB {len(book) / 2**20:.1f} MiB")
    print(f"{'documents':<56} {'s':>7} {'peak MiB':>9}")
    for label, fn in [
        ("optout.documents.pdf_value (XMP, compressed stream)", lambda: pdf_value(body)),
        ("dedup.documents.pdf_text (page by page, capped)", lambda: pdf_text(body)),
        ("pypdf PdfReader + every page (the plain way)", lambda: pypdf_whole(body)),
        ("optout.documents.epub_value (package document only)", lambda: epub_value(book)),
        ("dedup.documents.epub_text (spine, members measured)", lambda: epub_text(book)),
        ("naive EPUB: every member unpacked at once", lambda: naive_epub(book)),
    ]:
        seconds, peak = measured(fn)
        print(f"{label:<56} {seconds:>7.3f} {peak:>9.1f}")


if __name__ == "__main__":
    main()
