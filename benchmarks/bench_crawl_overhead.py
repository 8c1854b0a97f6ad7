"""What tdmcrawl's compliance and faithful WARC output cost, against bare Scrapy + warcio.

The realistic figure (issue 15): the benchmark web of ``benchmarks/realweb``
(a copy of the shared benchmark folder): 4 origins of news-site pages of
20-80 KB of HTML (inline CSS, scripts and JSON-LD, a large menu, the real
article text, teasers, a footer), 5 in-scope links a page with repeats, about
one page in 50 linking to a 404. The origins are served by this process (its
CPU is not counted); each crawler runs in its own process, and its CPU time
is the user + system time of that process and every child it waited for
(``os.wait4``), so worker processes a crawler starts count too.

* ``bare scrapy + warcio``: ``realweb/bare_scrapy.py``, the baseline a data
  engineer would write (one response record per page);
* ``tdmcrawl crawl``: every gate on, near-duplicates included, with a
  registry of reserved works (the near-duplicate index is not empty) and URL
  rules for other hosts; WARC output, evidence WARC, audit database, link log.

Both with ``-s CONCURRENT_REQUESTS=32 -s CONCURRENT_REQUESTS_PER_DOMAIN=16
-s DOWNLOAD_DELAY=0 -s AUTOTHROTTLE_ENABLED=False``, in alternating rounds in
one session. Reports wall and CPU ratios (range over the rounds), pages/s,
whether both kept the same pages, and (``--profile``) where the added CPU
time goes: one more run of each under cProfile (CPU clock), self time grouped
by component, the difference per component as a share of the added time.

The small-page figure of the first version of this benchmark (one short
paragraph a page, a tree of unique links, one origin, concurrency 16) is
kept beside it for continuity (``--small-pages``, 0 to skip).

tdmcrawl's commands run Scrapy with ``CONCURRENT_ITEMS=8`` (Scrapy's default
is 100 asyncio tasks for each page's spider output; neither crawler yields
items). The baseline keeps Scrapy's default, as ``../shared/bench`` defines
it; ``--bare-items 8`` runs it with tdmcrawl's value too, in the same rounds,
and gives the ratios against that as well: tdmcrawl's own work, apart from
what the setting saves.

    python benchmarks/bench_crawl_overhead.py [--pages 500] [--origins 4] [--rounds 3]
        [--profile] [--small-pages 3000] [--bare-items 8] [--before PYTHON]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WEB = HERE / "realweb"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(WEB))

import realweb  # noqa: E402  (benchmarks/realweb, by path)

SAME = {
    "CONCURRENT_REQUESTS": "32",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "16",
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "False",
}
TDMCRAWL = [sys.executable, "-m", "tdmcrawl.crawler.cli"]


# --- running a crawler process and measuring it ------------------------------------------


def measured(argv: list[str], log: Path, cwd: Path = ROOT) -> tuple[float, float]:
    """Wall and CPU seconds (user + system of the process and its waited-for children)."""
    with open(log, "wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:4]}... exited {proc.returncode}; see {log}:\n{log.read_text()}")
    return wall, usage.ru_utime + usage.ru_stime


def kept_urls(warc_dir: Path) -> set[str]:
    from warcio.archiveiterator import ArchiveIterator

    urls = set()
    for path in sorted(warc_dir.glob("*.warc.gz")):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type == "response":
                    urls.add(record.rec_headers.get_header("WARC-Target-URI"))
    return urls


def settings_args() -> list[str]:
    return [arg for name, value in SAME.items() for arg in ("-s", f"{name}={value}")]


def bare_argv(out: Path, seeds: list[str]) -> list[str]:
    return [sys.executable, str(WEB / "bare_scrapy.py"), str(out / "bare.warc.gz"), *seeds]


def tdmcrawl_argv(
    out: Path, seeds: list[str], registry: Path, python: str = sys.executable
) -> list[str]:
    return [
        python,
        *TDMCRAWL[1:],
        "crawl",
        *seeds,
        "--out",
        str(out),
        "--registry",
        str(registry),
        "--progress",
        "0",
    ]


def build_registry(path: Path, works: int = 300) -> Path:
    """Reserved works (Russian and Kazakh texts that no page of the web holds) and URL rules
    for hosts the crawl never visits: every registry check runs, none excludes a page."""
    from benchmarks.corpus.build import make_works
    from tdmcrawl.registry import Registry
    from tdmcrawl.registry.works import WorkText

    texts = [w for w in make_works() if w.lang in ("ru", "kk")][:works]
    with Registry(path) as reg:
        for i, work in enumerate(texts):
            reg.add_work_texts(f"Автор {i}", [WorkText(f"w{i}.txt", work.text)], title=work.key)
        for i in range(50):
            reg.add_url(f"Автор {i}", f"https://www.site{i}.example.kz/private/*")
    return path


# --- profiles: self CPU time by component --------------------------------------------------

COMPONENTS: list[tuple[str, str]] = [
    # (substring of the file path, component); first match wins. C functions count in the
    # Python function that calls them (zlib in the WARC writer, sqlite3 in the audit, ...).
    ("trafilatura", "extraction (trafilatura, courlan, justext)"),
    ("courlan", "extraction (trafilatura, courlan, justext)"),
    ("justext", "extraction (trafilatura, courlan, justext)"),
    ("htmldate", "extraction (trafilatura, courlan, justext)"),
    ("/dedup/extract", "extraction (dedup.extract: resiliparse, lxml)"),
    ("resiliparse", "extraction (dedup.extract: resiliparse, lxml)"),
    ("fastwarc", "WARC reading (fastwarc)"),
    ("/dedup/", "dedup: normalise, shingles, MinHash, LSH"),
    ("numpy", "dedup: normalise, shingles, MinHash, LSH"),
    ("/crawler/gates/neardup", "near-duplicate gate and spool"),
    ("/crawler/workers", "extraction workers (tdmcrawl side)"),
    ("/crawler/audit/", "audit database"),
    ("/crawler/manifest", "manifest (digests at close)"),
    ("/crawler/warc/", "WARC records (tdmcrawl)"),
    ("/crawler/output", "WARC records (tdmcrawl)"),
    ("warcio", "warcio"),
    ("/gzip.py", "gzip"),
    ("/optout/", "policy (optout)"),
    ("/crawler/gates/", "gates (origin, response, netguard)"),
    ("/crawler/capture", "capture (wire head)"),
    ("/crawler/spider", "spider: scope, link log"),
    ("/crawler/linklog", "spider: scope, link log"),
    ("/crawler/pages", "page items and steps"),
    ("/crawler/session", "page items and steps"),
    ("/crawler/", "other tdmcrawl crawler code"),
    ("/registry/", "registry"),
    ("w3lib", "URL handling (w3lib, urllib)"),
    ("urllib", "URL handling (w3lib, urllib)"),
    ("ipaddress", "URL handling (w3lib, urllib)"),
    ("linkextractors", "link extraction (Scrapy, lxml)"),
    ("parsel", "link extraction (Scrapy, lxml)"),
    ("lxml", "lxml (parsing)"),
    ("spidermw", "Scrapy middleware chains"),
    ("/scrapy/middleware", "Scrapy middleware chains"),
    ("downloadermiddlewares", "Scrapy middleware chains"),
    ("spidermiddlewares", "Scrapy middleware chains"),
    ("/scrapy/pqueues", "Scrapy scheduler and queues (JOBDIR)"),
    ("/scrapy/squeues", "Scrapy scheduler and queues (JOBDIR)"),
    ("/scrapy/core/scheduler", "Scrapy scheduler and queues (JOBDIR)"),
    ("queuelib", "Scrapy scheduler and queues (JOBDIR)"),
    ("pickle", "Scrapy scheduler and queues (JOBDIR)"),
    ("/scrapy/utils/request", "Scrapy scheduler and queues (JOBDIR)"),
    ("/scrapy/core/", "Scrapy engine and downloader"),
    ("/scrapy/", "Scrapy (other)"),
    ("twisted", "Twisted"),
    ("asyncio", "asyncio"),
    ("multiprocessing", "worker pool (multiprocessing)"),
    ("concurrent", "worker pool (multiprocessing)"),
    ("logging", "logging"),
    ("<frozen importlib", "imports (start-up)"),
]


IDLE = "idle (waiting for the network)"


def component(path: str) -> str:
    for needle, label in COMPONENTS:
        if needle in path:
            return label
    return "Python (other)"


def profile_run(dump: Path, target: list[str]) -> None:
    """Run a module (``-m NAME``) or a script under pyinstrument (sampling, 1 ms)."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001, async_mode="disabled")
    if target[0] == "-m":
        sys.argv = [target[1], *target[2:]]
        run: Callable[[], object] = lambda: runpy.run_module(target[1], run_name="__main__")  # noqa: E731
    else:
        sys.argv = list(target)
        run = lambda: runpy.run_path(target[0], run_name="__main__")  # noqa: E731
    profiler.start()
    try:
        run()
    except SystemExit as exc:
        if exc.code not in (None, 0):
            raise
    finally:
        session = profiler.stop()
        session.save(str(dump))
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        dump.with_suffix(".children").write_text(str(children.ru_utime + children.ru_stime))


def by_component(dump: Path) -> tuple[dict[str, float], float]:
    """Seconds of samples by component (a frame's own time, C calls in it included), idle
    time (the reactor waiting in select/epoll) apart; CPU seconds of child processes."""
    from pyinstrument.session import Session

    out: dict[str, float] = defaultdict(float)
    session = Session.load(str(dump))
    root = session.root_frame()
    stack = [(root, "Python (other)")] if root is not None else []
    while stack:
        frame, inherited = stack.pop()
        path = f"{frame.file_path or ''}:{frame.function or ''}"
        if frame.is_synthetic or (frame.file_path or "").startswith(("<built-in>", "<string>")):
            label = inherited  # C functions count in the component that calls them
        elif "/selectors.py" in path:
            label = IDLE
        else:
            label = component(path)
        own = frame.time - sum(child.time for child in frame.children)
        out[label] += max(own, 0.0)
        stack += [(child, label) for child in frame.children]
    # Samples are wall time: scaled to the process's CPU time (other load on the machine
    # would otherwise count as the components it interrupted).
    busy = sum(v for k, v in out.items() if k != IDLE)
    scale = session.cpu_time / busy if busy else 1.0
    out = {k: v * scale if k != IDLE else v for k, v in out.items()}
    children = float(dump.with_suffix(".children").read_text())
    return out, children


def profile_summary(
    tmp: Path, seeds: list[str], registry: Path, keep: str | None = None, top: int = 14
) -> None:
    runs = {}
    for name, argv in (
        ("bare", bare_argv(tmp / "prof-bare", seeds)),
        ("tdmcrawl", tdmcrawl_argv(tmp / "prof-tdm", seeds, registry)),
    ):
        (tmp / f"prof-{name}").mkdir(exist_ok=True)
        dump = (Path(keep) if keep else tmp) / f"{name}.prof"
        target = [*argv[1:], *settings_args()]  # a script, or -m and a module
        wrapped = [sys.executable, __file__, "--profile-run", str(dump), "--", *target]
        measured(wrapped, tmp / f"prof-{name}.log")
        runs[name] = by_component(dump)
    (bare, bare_children), (tdm, tdm_children) = runs["bare"], runs["tdmcrawl"]
    idle = (bare.pop(IDLE, 0.0), tdm.pop(IDLE, 0.0))
    added = {k: tdm.get(k, 0.0) - bare.get(k, 0.0) for k in set(bare) | set(tdm)}
    if tdm_children - bare_children > 0.05:
        added["worker processes (CPU of children)"] = tdm_children - bare_children
    total_bare = sum(bare.values()) + bare_children
    total_tdm = sum(tdm.values()) + tdm_children
    extra = total_tdm - total_bare
    print(
        f"\nprofile (pyinstrument, 1 ms samples, one run each, idle time apart: "
        f"{idle[0]:.1f} s and {idle[1]:.1f} s): bare {total_bare:.1f} s, tdmcrawl "
        f"{total_tdm:.1f} s, added {extra:.1f} s. Top components by share of the added time:"
    )
    print(f"{'component':<46} {'bare s':>7} {'tdm s':>7} {'added s':>8} {'share':>6}")
    for name, delta in sorted(added.items(), key=lambda kv: -kv[1])[:top]:
        b = bare.get(name, 0.0) if name in bare else (bare_children if "children" in name else 0)
        t = tdm.get(name, 0.0) if name in tdm else (tdm_children if "children" in name else 0)
        print(f"{name:<46} {b:>7.2f} {t:>7.2f} {delta:>8.2f} {delta / extra:>6.0%}")


# --- the realistic comparison ------------------------------------------------------------


def realistic(args: argparse.Namespace) -> None:
    origins, _ = realweb.build(args.pages, n_origins=args.origins)
    seeds = [o.base + "/" for o in origins]
    sizes = [len(r.body) for o in origins for p, r in o.routes.items() if p.startswith("/p/")]
    try:
        with tempfile.TemporaryDirectory(prefix="bench-crawl-") as tmp_name:
            tmp = Path(tmp_name)
            registry = build_registry(tmp / "registry.sqlite")
            rows: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
            kept: dict[str, set[str]] = {}
            print(
                f"site: {args.origins} origins x {args.pages} pages on loopback, HTML "
                f"{min(sizes) / 1e3:.0f}-{max(sizes) / 1e3:.0f} KB (median "
                f"{statistics.median(sizes) / 1e3:.0f} KB), settings {' '.join(settings_args())}; "
                f"load before: {os.getloadavg()[0]:.2f}",
                flush=True,
            )
            names = [
                "bare",
                *(["bare-items"] if args.bare_items else []),
                "tdmcrawl",
                *(["before"] if args.before else []),
            ]
            for round_ in range(args.rounds):
                for name in names:
                    out = tmp / f"{name}-{round_}"
                    out.mkdir()
                    cwd = ROOT
                    if name == "bare":
                        argv = bare_argv(out, seeds)
                    elif name == "bare-items":
                        # The baseline with tdmcrawl's CONCURRENT_ITEMS (crawler/run.py): what
                        # that Scrapy setting saves, apart from tdmcrawl's own work.
                        items = f"CONCURRENT_ITEMS={args.bare_items}"
                        argv = [*bare_argv(out, seeds), "-s", items]
                    elif name == "before":
                        # Another checkout's tdmcrawl (its own venv), e.g. main before a change.
                        argv = tdmcrawl_argv(out, seeds, registry, args.before)
                        cwd = Path(args.before).absolute().parents[2]
                    else:
                        argv = tdmcrawl_argv(out, seeds, registry)
                        argv += [a for kv in args.set for a in ("-s", kv)]
                    log = tmp / f"{name}-{round_}.log"
                    wall, cpu = measured(argv + settings_args(), log, cwd)
                    urls = kept_urls(out if name.startswith("bare") else out / "warc")
                    kept.setdefault(name, urls)
                    if urls != kept[name]:
                        print(f"  note: {name} kept other pages in round {round_ + 1}")
                    rows[name].append((wall, cpu, len(urls)))
                    print(
                        f"  round {round_ + 1} {name:<9} {wall:6.1f} s wall {cpu:6.1f} s CPU "
                        f"{len(urls)} pages kept (load {os.getloadavg()[0]:.2f})",
                        flush=True,
                    )
            if args.rounds:
                if args.bare_items:
                    LABELS["bare-items"] = f"bare, CONCURRENT_ITEMS={args.bare_items}"
                report(rows, kept)
            if args.profile:
                profile_summary(tmp, seeds, registry, args.profile_dir)
    finally:
        for o in origins:
            o.stop()


LABELS = {
    "bare": "bare scrapy + warcio",
    "bare-items": "bare, CONCURRENT_ITEMS=8",
    "tdmcrawl": "tdmcrawl crawl",
    "before": "tdmcrawl crawl (before)",
}


def report(rows: dict[str, list[tuple[float, float, int]]], kept: dict[str, set[str]]) -> None:
    print(f"\n{'crawler':<24} {'pages':>6} {'wall s':>13} {'CPU s':>13} {'pages/s':>13}")
    for name, label in LABELS.items():
        if name not in rows:
            continue
        walls = [r[0] for r in rows[name]]
        cpus = [r[1] for r in rows[name]]
        rates = [r[2] / r[0] for r in rows[name]]
        print(
            f"{label:<24} {rows[name][0][2]:>6} {span(walls):>13} {span(cpus):>13} "
            f"{span(rates, '.0f'):>13}"
        )
    for name in ("tdmcrawl", "before"):
        if name in rows:
            ratios(name, rows, kept)
    if "bare-items" in rows:
        ratios("tdmcrawl", rows, kept, base="bare-items")


def ratios(
    name: str,
    rows: dict[str, list[tuple[float, float, int]]],
    kept: dict[str, set[str]],
    base: str = "bare",
) -> None:
    wall_ratios = [t[0] / b[0] for b, t in zip(rows[base], rows[name], strict=True)]
    cpu_ratios = [t[1] / b[1] for b, t in zip(rows[base], rows[name], strict=True)]
    same = kept[base] == kept[name]
    against = "bare" if base == "bare" else LABELS[base]
    print(
        f"{LABELS[name]} / {against}, per round: wall {span(wall_ratios, '.2f')}x (median "
        f"{statistics.median(wall_ratios):.2f}x, goal <= 1.15x), CPU {span(cpu_ratios, '.2f')}x "
        f"(median {statistics.median(cpu_ratios):.2f}x, goal <= 1.3x); same pages kept: "
        f"{'yes' if same else 'NO'} ({len(kept[name])} and {len(kept[base])})"
    )
    if not same:
        only = sorted(kept[base] ^ kept[name])[:5]
        print(f"  differ, e.g.: {only}")


def span(values: list[float], fmt: str = ".1f") -> str:
    lo, hi = min(values), max(values)
    return f"{lo:{fmt}}" if f"{lo:{fmt}}" == f"{hi:{fmt}}" else f"{lo:{fmt}}-{hi:{fmt}}"


# --- the small-page figure (the first version of this benchmark) ---------------------------

FANOUT = 10
BODY_TEXT = (
    "Қазақ тілі — мемлекеттік тіл. Русский язык используется широко. "
    "Plain English text too, so the page has a realistic size. "
) * 12
SMALL_SPEED = {
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "False",
    "CONCURRENT_REQUESTS": "16",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "16",
    "LOG_LEVEL": "WARNING",
}


def page_html(n: int, total: int) -> bytes:
    links = "".join(
        f'<li><a href="/p/{child}">page {child}</a></li>'
        for child in range(n * FANOUT + 1, min(total, n * FANOUT + FANOUT + 1))
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Бет {n}</title></head>"
        f"<body><h1>Бет {n}</h1><p>{BODY_TEXT}</p><ul>{links}</ul></body></html>"
    ).encode()


def serve_small(total: int, port_queue: multiprocessing.Queue) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path == "/robots.txt":
                self._reply(200, "text/plain", b"User-agent: *\nAllow: /\n")
            elif self.path.startswith("/p/") and self.path[3:].isdigit():
                n = int(self.path[3:])
                if n < total:
                    self._reply(200, "text/html; charset=utf-8", page_html(n, total))
                    return
                self._reply(404, "text/plain", b"not found")
            else:
                self._reply(404, "text/plain", b"not found")

        def _reply(self, status: int, ctype: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


def bare_small(seed: str, out: str) -> None:
    """The first version's alternative: a plain spider and a naive warcio pipeline."""
    from io import BytesIO

    import scrapy
    from scrapy.crawler import CrawlerProcess
    from scrapy.linkextractors import LinkExtractor
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    class NaiveWarcPipeline:
        def open_spider(self) -> None:
            Path(out, "warc").mkdir(parents=True, exist_ok=True)
            self.file = open(Path(out, "warc", "bare.warc.gz"), "wb")  # noqa: SIM115
            self.writer = WARCWriter(self.file, gzip=True, warc_version="1.1")

        def close_spider(self) -> None:
            self.file.close()

        def process_item(self, item: dict) -> dict:
            headers = StatusAndHeaders(f"{item['status']} OK", item["headers"], protocol="HTTP/1.1")
            record = self.writer.create_warc_record(
                item["url"], "response", payload=BytesIO(item["body"]), http_headers=headers
            )
            self.writer.write_record(record)
            return item

    class BareSpider(scrapy.Spider):
        name = "bare"
        start_urls = (seed,)
        links = LinkExtractor()

        def parse(self, response: scrapy.http.Response):  # type: ignore[no-untyped-def]
            headers = [(k.decode(), v.decode()) for k, v in response.headers.items() for v in v]
            yield {
                "url": response.url,
                "status": response.status,
                "headers": headers,
                "body": response.body,
            }
            for link in self.links.extract_links(response):
                yield response.follow(link.url, callback=self.parse)

    settings = dict(SMALL_SPEED)
    settings.update(
        {
            "ROBOTSTXT_OBEY": True,
            "ITEM_PIPELINES": {NaiveWarcPipeline: 1000},
            "TELNETCONSOLE_ENABLED": False,
            "DEPTH_LIMIT": 100,
        }
    )
    process = CrawlerProcess(settings=settings)
    process.crawl(BareSpider)
    process.start()


def small_pages(total: int, before: str | None = None) -> None:
    ports: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve_small, args=(total, ports), daemon=True)
    server.start()
    seed = f"http://127.0.0.1:{ports.get(timeout=30)}/p/0"
    rows = []
    speed = [arg for name, value in SMALL_SPEED.items() for arg in ("-s", f"{name}={value}")]
    try:
        with tempfile.TemporaryDirectory(prefix="bench-crawl-small-") as tmp:
            names = ["bare scrapy + warcio", "tdmcrawl", *(["tdmcrawl (before)"] if before else [])]
            for name in names:
                out = Path(tmp, name.split()[0] + ("-before" if "before" in name else ""))
                cwd = ROOT
                if name.startswith("tdmcrawl"):
                    python = before if before and "before" in name else sys.executable
                    argv = [python, *TDMCRAWL[1:], "crawl", seed, "--out", str(out)]
                    argv += ["--progress", "0", "--max-depth", "100", *speed]
                    if python != sys.executable:
                        cwd = Path(python).absolute().parents[2]
                else:
                    argv = [sys.executable, __file__, "--bare-small", json.dumps([seed, str(out)])]
                out.mkdir()
                wall, cpu = measured(argv, out.with_suffix(".log"), cwd)
                pages = len(kept_urls(out / "warc"))
                rows.append((name, pages, wall, cpu))
    finally:
        server.terminate()
    print(
        f"\nsmall pages (the first version of this benchmark, for continuity): {total} pages of "
        "one short paragraph on one origin, a tree of unique links, concurrency 16"
    )
    print(f"{'crawler':<22} {'pages':>6} {'wall s':>7} {'CPU s':>7} {'pages/s':>8}")
    for name, pages, wall, cpu in rows:
        print(f"{name:<22} {pages:>6} {wall:>7.2f} {cpu:>7.2f} {pages / wall:>8.1f}")
    _, bp, bw, bc = rows[0]
    for name, tp, tw, tc in rows[1:]:
        print(
            f"{name} overhead: {(tw / tp) / (bw / bp):.2f}x the wall time per page, "
            f"{tc / bc:.2f}x the CPU"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500, help="pages per origin")
    parser.add_argument("--origins", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="profile one run of each")
    parser.add_argument("--profile-dir", help="keep the profiles (.prof) here")
    parser.add_argument("--small-pages", type=int, default=3000, help="0: skip that figure")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for this checkout's tdmcrawl only (e.g. TDMCRAWL_WORKERS=0)",
    )
    parser.add_argument(
        "--before",
        metavar="PYTHON",
        help="also run the tdmcrawl of another checkout (its venv's python, e.g. "
        "/work/main/.venv/bin/python), in the same alternating rounds",
    )
    parser.add_argument(
        "--bare-items",
        type=int,
        metavar="N",
        help="also run the baseline with -s CONCURRENT_ITEMS=N (tdmcrawl's own default is 8), "
        "in the same rounds, and give tdmcrawl's ratios against it too",
    )
    parser.add_argument("--bare-small", help=argparse.SUPPRESS)
    parser.add_argument("--profile-run", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.bare_small:
        bare_small(*json.loads(args.bare_small))
        return
    if args.profile_run:
        profile_run(Path(args.profile_run), rest[1:] if rest[:1] == ["--"] else rest)
        return
    if args.rounds or args.profile:
        realistic(args)
    if args.small_pages:
        small_pages(args.small_pages, args.before)


if __name__ == "__main__":
    main()
