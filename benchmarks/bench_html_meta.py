"""The HTML meta scan: time per page and peak memory, side by side with the alternatives.

Methods, each on the same pages in one run:

* ``streamed`` (optout.html_meta now): the whole page, decoded 256 KiB at a time
  and fed to lxml's parser with a target that sees start tags only; no tree;
  parsing stops after the last ``<meta``.
* ``whole tree``: ``lxml.html.fromstring`` on the whole page, then its ``<meta>``
  elements: the obvious way to read every meta tag.
* ``256 KiB prefix`` (before issue 10): lxml on the ``<head>`` of the first
  256 KiB, a regular expression on the rest of that prefix; misses everything
  later (loaded from git history, commit 6202916; skipped outside a git checkout).

Pages are built from the Kazakh, Russian and English text pools in
``benchmarks/corpus``: a news article as a CMS writes it (about 30 head tags,
JSON-LD, 40 KB of inline script, navigation, comments, footer), the same with
schema.org microdata (``<meta itemprop>``) all through the body, a page with
no meta tag at all, the hostile pages of tests/hostile/test_signals.py (300 KB
of script in the head, 300 KB of body before the tag) and one at the crawl's
download limit (16 MiB).

    python benchmarks/bench_html_meta.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path

import lxml.html

from tdmcrawl.optout.html_meta import extract_meta

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "corpus"
BEFORE = "6202916"
NAMES = {"robots", "tdmcrawl", "tdm-reservation", "tdm-policy"}


def sentences() -> list[str]:
    lines: list[str] = []
    for lang in ("kk", "ru", "en"):
        with gzip.open(CORPUS / f"{lang}.lines.gz", "rt", encoding="utf-8") as handle:
            lines += [line.strip() for line in handle if line.strip()]
    return lines


def head(rng: random.Random, lines: list[str], extra: str = "") -> str:
    metas = "".join(
        f'<meta property="og:{k}" content="{rng.choice(lines)[:80]}">'
        for k in ("title", "description", "site_name", "type", "url", "image", "locale")
    )
    metas += "".join(
        f'<link rel="stylesheet" href="/static/css/{i}.css?v=5.{i}">' for i in range(12)
    )
    events = ({"event": "view", "id": i, "title": rng.choice(lines)[:60]} for i in range(400))
    script = "window.dataLayer = window.dataLayer || [];\n" + "".join(
        f"dataLayer.push({json.dumps(event)});\n" for event in events
    )
    ld = json.dumps({"@type": "NewsArticle", "headline": rng.choice(lines)}, ensure_ascii=False)
    return (
        '<!DOCTYPE html><html lang="kk"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{rng.choice(lines)[:70]}</title>"
        '<meta name="description" content="Жаңалықтар">'
        '<meta name="robots" content="index, follow, noai">'
        f"{metas}<script>{script}</script>"
        f'<script type="application/ld+json">{ld}</script>{extra}</head>'
    )


def body(rng: random.Random, lines: list[str], paragraphs: int, microdata: bool) -> str:
    nav = "".join(
        f'<li><a href="/section/{i}">{rng.choice(lines)[:20]}</a></li>' for i in range(60)
    )
    parts = [f'<body><header><nav><ul class="menu">{nav}</ul></nav></header><main><article>']
    for i in range(paragraphs):
        if microdata and i % 5 == 0:
            parts.append(f'<meta itemprop="position" content="{i}">')
        parts.append(f'<p class="text">{rng.choice(lines)} {rng.choice(lines)}</p>')
    comments = "".join(
        f'<div class="comment"><b>user{i}</b><p>{rng.choice(lines)}</p></div>' for i in range(40)
    )
    footer = "".join(f'<a href="/p/{i}">{rng.choice(lines)[:30]}</a> ' for i in range(80))
    return parts[0] + "".join(parts[1:]) + f"</article>{comments}</main><footer>{footer}</footer>"


def pages() -> list[tuple[str, bytes]]:
    rng = random.Random(10)
    lines = sentences()
    article = head(rng, lines) + body(rng, lines, 250, False) + "</body></html>"
    micro = head(rng, lines) + body(rng, lines, 250, True) + "</body></html>"
    bare = "<html><body>" + "".join(f"<p>{rng.choice(lines)}</p>" for _ in range(800))
    late_head = head(rng, lines, "<script>" + "var counter = counter + 1;\n" * 12_000 + "</script>")
    late_head = late_head.replace('<meta name="robots" content="index, follow, noai">', "")
    late_head = late_head.replace("</head>", '<meta name="robots" content="noai"></head>')
    late_head += body(rng, lines, 40, False) + "</body></html>"
    late_body = head(rng, lines) + body(rng, lines, 2400, False)
    late_body += '<meta name="tdm-reservation" content="1"></body></html>'
    end = b'<meta name="tdm-reservation" content="1"></body></html>'
    huge = (head(rng, lines) + body(rng, lines, 75_000, False)).encode()
    huge = huge[: 16 * 1024 * 1024 - len(end)] + end
    out = [
        ("news article", article.encode()),
        ("article, microdata in body", micro.encode()),
        ("no meta tag", bare.encode()),
        ("meta after 300 KB script", late_head.encode()),
        ("meta after 300 KB of body", late_body.encode()),
        ("16 MiB page, meta at end", huge),
    ]
    return [(f"{label} ({len(page) // 1024:,} KiB)", page) for label, page in out]


def whole_tree(page: bytes) -> list[tuple[str, str]]:
    root = lxml.html.fromstring(page)
    return [
        (m.get("name", "").strip().lower(), m.get("content", ""))
        for m in root.iter("meta")
        if m.get("name", "").strip().lower() in NAMES
    ]


def streamed(page: bytes) -> list[tuple[str, str]]:
    return [(t.name, t.content) for t in extract_meta(page, names=NAMES).tags]


def before() -> Callable[[bytes], list[tuple[str, str]]] | None:
    try:
        source = subprocess.run(
            ["git", "show", f"{BEFORE}:optout/html_meta.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("html_meta_before")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, "html_meta_before.py", "exec"), module.__dict__)

    def run(page: bytes) -> list[tuple[str, str]]:
        return [(t.name, t.content) for t in module.extract_meta(page, names=NAMES).tags]

    return run


def best_ms(fn: Callable[[bytes], object], page: bytes, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(page)
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1])


def reset_peak_kb() -> int:
    """Reset this process's peak RSS (Linux: a forked child starts with its parent's
    peak, which ru_maxrss keeps) and return the current RSS."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    return status_kb("VmRSS")


def peak_rss_mb(method: str, page: bytes) -> float:
    """Peak RSS growth of one run of ``method`` on ``page``, in a fresh process that
    reads the page from a file (so building it does not count)."""
    with tempfile.NamedTemporaryFile(suffix=".html") as handle:
        handle.write(page)
        handle.flush()
        here = str(Path(__file__).parent)
        code = (
            f"import sys; sys.path.insert(0, {here!r}); import bench_html_meta as b; "
            f"page = open({handle.name!r}, 'rb').read(); "
            "fn = dict(streamed=b.streamed, tree=b.whole_tree, prefix=b.before())"
            f"[{method.split()[-1]!r}]; "
            "base = b.reset_peak_kb(); fn(page); print((b.status_kb('VmHWM') - base) / 1024)"
        )
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(run.stderr)
    return float(run.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    methods: list[tuple[str, Callable[[bytes], list[tuple[str, str]]]]] = [
        ("streamed", streamed),
        ("whole tree", whole_tree),
    ]
    old = before()
    if old is not None:
        methods.append(("256 KiB prefix", old))
    print(f"ms per page, best of {args.repeat}; tags found (robots, tdm-*) in brackets")
    print(f"{'page':<44}" + "".join(f"{name:>22}" for name, _ in methods))
    built = pages()
    for label, page in built:
        cells = []
        for _, fn in methods:
            found = len(fn(page))
            cells.append(f"{best_ms(fn, page, args.repeat):>16.2f} [{found}]")
        print(f"{label:<44}" + "".join(f"{c:>22}" for c in cells))
    print()
    label, page = built[-1]
    print(f"peak memory, {label}: MB of RSS growth over the page already in memory")
    for name, _ in methods:
        print(f"  {name:<20} {peak_rss_mb(name, page):>8.1f}")


if __name__ == "__main__":
    main()
