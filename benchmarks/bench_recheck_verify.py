"""How long `tdmcrawl verify` and `tdmcrawl recheck` take on a realistic corpus, and their memory.

The corpus is written with the crawl's own parts (RotatingWarcWriter, AuditLog,
PageSpool, the manifest): ``--pages`` HTML pages (300 to 1500 words of real
Kazakh, Russian and English sentences from benchmarks/corpus, in a site
template) over ``--origins`` loopback origins, whose robots.txt the recheck
fetches again (one origin in ten now disallows a tenth of its pages), and a
registry of ``--works`` works, a few of them copies of kept pages. Each command
runs in its own process (as a user runs it); wall time and the child's peak
RSS are measured, side by side with the alternative:

* verify      against ``warcio check`` (digests only: no manifest, no audit) and
                  ``sha256sum`` of the same files (the floor: reading the bytes);
* recheck     against ``tdmcrawl filter`` re-deciding every record of the same
                  WARC files with the same registry;
* a second recheck with nothing changed (every file copied as it is).

    python benchmarks/bench_recheck_verify.py --pages 10000 --origins 40
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from tdmcrawl.crawler.audit.db import AuditLog
from tdmcrawl.crawler.demo.loopback import LoopbackWeb, Reply, Site, text_reply
from tdmcrawl.crawler.gates.neardup import SPOOL_NAME, PageSpool
from tdmcrawl.crawler.manifest import finish_corpus
from tdmcrawl.crawler.provenance import warcinfo_fields
from tdmcrawl.crawler.run import build_settings
from tdmcrawl.crawler.warc.capture import Capture
from tdmcrawl.crawler.warc.writer import RotatingWarcWriter
from tdmcrawl.dedup import DEFAULT_CONFIG, fingerprint
from tdmcrawl.optout.decision import Decision
from tdmcrawl.registry import Registry
from tdmcrawl.registry.works import WorkText

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_neardup_release import make_text, sentences

TEMPLATE = (
    '<!DOCTYPE html><html lang="kk"><head><meta charset="utf-8"><title>{title}</title>'
    '<meta name="viewport" content="width=device-width"></head><body>'
    "<header><nav>Басты бет | Жаңалықтар | Мәдениет | Спорт | Кіру</nav></header>"
    "<main><article><h1>{title}</h1><p>{text}</p></article></main>"
    "<footer>© 2026 Мысал Медиа. Барлық құқықтар қорғалған.</footer></body></html>"
)
FAST = [
    "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False",
    "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8", "-s", "CONCURRENT_REQUESTS=32",
    "-s", "RETRY_TIMES=0",
]  # fmt: skip


def build_corpus(directory: Path, web: LoopbackWeb, pages: int, rng: random.Random) -> list[str]:
    """The corpus as a crawl would leave it; returns the texts (for the registry's copies)."""
    pool = sentences()
    origins = [web.origin(name) for name in web.sites]
    log = AuditLog.open(directory)
    settings = build_settings({"TDMCRAWL_OUT_DIR": str(directory)})
    log.start_crawl(settings={"TDMCRAWL_TOKEN": "tdmcrawl"}, versions={}, seeds=origins)
    writer = RotatingWarcWriter(
        directory / "warc", warcinfo=warcinfo_fields(settings), max_size=100_000_000
    )
    spool = PageSpool(directory / SPOOL_NAME)
    texts = []
    for n in range(pages):
        origin = origins[n % len(origins)]
        text = make_text(pool, rng, words=rng.randint(300, 1500))
        texts.append(text)
        body = TEMPLATE.format(title=f"Мақала {n}", text=text).encode()
        url = f"{origin}/article/{n}.html"
        capture = Capture(
            url=url,
            protocol="HTTP/1.1",
            status=200,
            reason="OK",
            headers=(
                (b"Content-Type", b"text/html; charset=utf-8"),
                (b"ETag", f'"{n}"'.encode()),
                (b"Content-Length", str(len(body)).encode()),
            ),
            body=body,
            request_method="GET",
            request_target=f"/article/{n}.html",
            request_protocol="HTTP/1.1",
            request_headers=((b"Host", origin.split("//")[1].encode()),),
            request_body=b"",
            peer_ip="127.0.0.1",
            fetched_at=datetime(2026, 10, 1, tzinfo=UTC),
        )
        decision = Decision(url)
        ref = writer.write_page(capture, decision)
        log.record_kept(
            url,
            warc_file=ref.filename,
            offset=ref.offset,
            record_id=ref.record_id,
            decision=decision,
        )
        fp = fingerprint(text, DEFAULT_CONFIG, positions=False)
        if fp is not None:
            spool.put(url, fp.to_bytes(), decision, 0)
            spool.release(url, ref.filename, ref.record_id, 0)
    writer.close()
    spool.close()
    log.close()
    finish_corpus(directory, kind="crawl", crawl_id=None, policy={}, dedup=None, registry=None)
    return texts


def measured(argv: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB of the command, its stdout).

    The peak is the kernel's VmHWM of the command's own address space, read from
    /proc while it runs (a fork of this benchmark would count its memory too)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err)
        peak = 0
        status = Path(f"/proc/{proc.pid}/status")
        while proc.poll() is None:
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
            except (OSError, ValueError):
                pass
            time.sleep(0.02)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            message = err.read().decode(errors="replace")[-2000:]
            raise SystemExit(f"{' '.join(argv[:5])}... failed ({proc.returncode}): {message}")
        return wall, peak / 1024 if peak else float("nan"), out.read().decode()


def tdm(*args: str) -> list[str]:
    return [sys.executable, "-m", "tdmcrawl.crawler.cli", *args]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10000)
    parser.add_argument("--origins", type=int, default=40)
    parser.add_argument("--works", type=int, default=200)
    args = parser.parse_args(argv)
    rng = random.Random(12)
    sites = [
        Site(f"s{i}", {"/robots.txt": text_reply("User-agent: *\nAllow: /\n")})
        for i in range(args.origins)
    ]
    web = LoopbackWeb(sites).start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-recheck-"))
    try:
        v1 = tmp / "v1"
        start = time.perf_counter()
        texts = build_corpus(v1, web, args.pages, rng)
        built = time.perf_counter() - start
        size = sum(p.stat().st_size for p in (v1 / "warc").glob("*.warc.gz"))
        print(
            f"corpus: {args.pages} pages, {args.origins} origins, {size / 2**20:.1f} MiB of WARC "
            f"(built in {built:.0f} s)"
        )
        # Today: a tenth of the origins disallow a tenth of their pages; some works registered.
        for i in range(0, args.origins, 10):
            rules = "".join(
                f"Disallow: /article/{n}.html\n" for n in range(i, args.pages, args.origins * 10)
            )
            sites[i].add(
                "/robots.txt",
                Reply(
                    200,
                    [("Content-Type", "text/plain")],
                    f"User-agent: tdmcrawl\n{rules}\nUser-agent: *\nAllow: /\n".encode(),
                ),
            )
        registry = tmp / "registry.sqlite"
        pool = sentences()
        with Registry(registry) as reg:
            for w in range(args.works):
                text = texts[w * 97 % len(texts)] if w < 5 else make_text(pool, rng, words=400)
                part = WorkText(f"work{w}.txt", text)
                reg.add_work_texts("Бенчмарк Автор", [part], title=f"Шығарма {w}")
        files = sorted(str(p) for p in (v1 / "warc").glob("*.warc.gz"))
        rows = []
        for name, argv_ in (
            ("tdmcrawl verify", tdm("verify", str(v1))),
            (
                "warcio check (digests only)",
                [str(Path(sys.executable).with_name("warcio")), "check", *files],
            ),
            ("sha256sum (reading the bytes)", ["sha256sum", *files]),
        ):
            wall, rss, _ = measured(argv_)
            rows.append((name, wall, rss))
        v2 = tmp / "v2"
        wall, rss, out = measured(
            tdm("recheck", str(v1), "--out", str(v2), "--registry", str(registry), "--json", *FAST)
        )
        rows.append(("tdmcrawl recheck (origins + registry)", wall, rss))
        result = json.loads(out.strip().splitlines()[-1])
        wall, rss, _ = measured(tdm("verify", str(v2)))
        rows.append(("tdmcrawl verify (the new version)", wall, rss))
        v3 = tmp / "v3"
        wall, rss, _ = measured(
            tdm("recheck", str(v2), "--out", str(v3), "--registry", str(registry), "--json", *FAST)
        )
        rows.append(("tdmcrawl recheck again (nothing changed)", wall, rss))
        wall, rss, _ = measured(
            tdm(
                "filter",
                str(v1 / "warc"),
                "--out",
                str(tmp / "f"),
                "--registry",
                str(registry),
                "--json",
            )
        )
        rows.append(("tdmcrawl filter (re-decide every record)", wall, rss))
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in result["seconds"].items())
        print(f"recheck steps: {steps}")
        reasons = ", ".join(f"{k}: {sum(v.values())}" for k, v in result["newly_reserved"].items())
        print(
            f"recheck removed {result['removed']} pages ({reasons}); "
            f"files copied {result['files_copied']}, rewritten {result['files_rewritten']}"
        )
        width = max(len(r[0]) for r in rows)
        heads = ("wall s", "pages/s", "MiB/s", "peak RSS MiB")
        print(f"{'command':<{width}}  {heads[0]:>8}  {heads[1]:>9}  {heads[2]:>7}  {heads[3]:>12}")
        for name, wall, rss in rows:
            print(
                f"{name:<{width}}  {wall:8.2f}  {args.pages / wall:9.0f}  "
                f"{size / 2**20 / wall:7.1f}  {rss:12.0f}"
            )
    finally:
        web.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
