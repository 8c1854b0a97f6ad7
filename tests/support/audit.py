"""Audit databases for the audit tests, written through the real AuditLog API.

`build_synthetic` makes a deterministic crawl with every reason code, Kazakh
and Russian URLs and evidence, kept pages and evidence captures; the row
counts are returned so tests compare against what was written, not against
literals copied from output.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tdmcrawl.crawler.audit.db import AuditLog
from tdmcrawl.optout.decision import Decision, Reason, ReasonCode

# (reason, source, evidence, line, matched_work, similarity, stage)
SAMPLE_REASONS = [
    (ReasonCode.ROBOTS, "robots.txt", "Disallow: /жабық/", 4, None, None, "pre-fetch"),
    (
        ReasonCode.ROBOTS_AI_AGENTS,
        "robots.txt",
        "User-agent: GPTBot / Disallow: /",
        1,
        None,
        None,
        "pre-fetch",
    ),
    (ReasonCode.TDMREP, "header", "TDM-Reservation: 1", None, None, None, "post-fetch"),
    (
        ReasonCode.TDMREP,
        "well-known",
        '{"location": "/*", "tdm-reservation": 1}',
        None,
        None,
        None,
        "pre-fetch",
    ),
    (
        ReasonCode.NOAI,
        "meta",
        '<meta name="robots" content="noai">',
        None,
        None,
        None,
        "post-fetch",
    ),
    (
        ReasonCode.CONTENT_USAGE,
        "header",
        "Content-Usage: train-ai=n",
        None,
        None,
        None,
        "post-fetch",
    ),
    (
        ReasonCode.REGISTRY_URL,
        "registry",
        "https://әдебиет.kz/* (rule 7)",
        None,
        "reg-7",
        None,
        "pre-fetch",
    ),
    (
        ReasonCode.RESERVED_COPY,
        "crawl",
        "Jaccard 0.91 over 812 shingles",
        None,
        "https://новости.рф/статья",
        0.91,
        "near-duplicate",
    ),
]
DOMAINS = ["әдебиет.kz", "новости.рф", "example.org", "blog.example.org", "қазақ.kz"]
KNOWN_KAZAKH_URL = "https://әдебиет.kz/жабық/өлең-0"


@dataclass
class SyntheticAudit:
    directory: Path
    crawl_id: str
    kept: list[str] = field(default_factory=list)
    excluded: dict[str, Decision] = field(default_factory=dict)

    @property
    def by_reason(self) -> Counter[str]:
        return Counter(d.reasons[0].code.value for d in self.excluded.values())

    @property
    def by_domain(self) -> Counter[str]:
        return Counter(url.split("/")[2] for url in self.excluded)


def _clock(start: float = 1_790_000_000.0, step: float = 7.0):
    """Deterministic UTC timestamps, `step` seconds apart."""
    counter = itertools.count()

    def now() -> str:
        t = time.gmtime(start + step * next(counter))
        return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", t)

    return now


def build_synthetic(
    directory: Path, *, exclusions: int = 200, kept: int = 50, step: float = 7.0
) -> SyntheticAudit:
    log = AuditLog.open(directory, clock=_clock(step=step), batch_size=64)
    crawl_id = log.start_crawl(
        settings={"TDMCRAWL_TOKEN": "tdmcrawl", "TDMCRAWL_AI_AGENTS": True, "DEPTH_LIMIT": 3},
        versions={"tdmcrawl": "0.1.0", "scrapy": "2.13"},
        seeds=[f"https://{d}/" for d in DOMAINS],
    )
    audit = SyntheticAudit(directory, crawl_id)
    for domain in DOMAINS:
        log.record_evidence(
            f"https://{domain}/robots.txt",
            warc_file="evidence/tdmcrawl-evidence-0.warc.gz",
            offset=len(domain) * 100,
            record_id=f"<urn:uuid:robots-{domain}>",
            kind="robots.txt",
        )
    for i in range(exclusions):
        code, source, evidence, line, work, sim, stage = SAMPLE_REASONS[i % len(SAMPLE_REASONS)]
        domain = DOMAINS[(i // len(SAMPLE_REASONS)) % len(DOMAINS)]
        url = f"https://{domain}/жабық/өлең-{i}"
        decision = Decision(url, reasons=(Reason(code, source, evidence, line, work, sim),))
        log.record_exclusion(decision, stage=stage)
        audit.excluded[url] = decision
    for i in range(kept):
        url = f"https://example.org/ашық/{i}"
        log.record_kept(
            url,
            warc_file="warc/tdmcrawl-00000.warc.gz",
            offset=1000 * i,
            record_id=f"<urn:uuid:kept-{i}>",
            decision=Decision(url),
        )
        audit.kept.append(url)
    log.finish_crawl(crawl_id, {"pages_kept": kept, "pages_excluded": exclusions})
    log.close()
    return audit


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def chromium_flags(profile: Path) -> list[str]:
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ]


def run_chromium(args: list[str], profile: Path, timeout: float = 60) -> str:
    exe = chromium_path()
    assert exe is not None
    done = subprocess.run(
        [exe, *chromium_flags(profile), *args], capture_output=True, text=True, timeout=timeout
    )
    return done.stdout


# --- a real crawl: `tdmcrawl demo`, run once per test session -----------------------

_DEMO_CACHE: dict[str, Path] = {}


def tdmcrawl_argv(*args: str) -> list[str]:
    """Run the installed CLI in a child process, as a user would."""
    return [sys.executable, "-c", "from crawler.cli import main; main()", *args]


def demo_crawl(base: Path, name: str = "demo") -> Path:
    """The output DIR of one `tdmcrawl demo` run per ``name``, shared by every audit
    test module."""
    if name not in _DEMO_CACHE:
        out = base / name
        done = subprocess.run(
            tdmcrawl_argv("demo", "--out", str(out)),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        _DEMO_CACHE[name] = out
    return _DEMO_CACHE[name]


def locate_warc(directory: Path, name: str) -> Path:
    """A WARC named by the audit DB: kept pages live in warc/, captures in evidence/."""
    for sub in ("warc", "evidence", ""):
        candidate = directory / sub / name
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(name)


def read_record_at(path: Path, offset: int):
    """(WARC-Type, WARC-Record-ID, WARC-Target-URI, payload bytes) of the record at offset."""
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as fh:
        fh.seek(offset)
        record = next(iter(ArchiveIterator(fh)))
        headers = record.rec_headers
        return (
            headers.get_header("WARC-Type"),
            headers.get_header("WARC-Record-ID"),
            headers.get_header("WARC-Target-URI"),
            record.content_stream().read(),
        )


# --- headless chromium over the DevTools protocol ----------------------------------


class Browser:
    """Headless chromium driven over CDP: navigate, evaluate, type, screenshot.

    Console errors (``console.error``), uncaught exceptions and browser log
    entries of level error are collected in ``errors`` as they arrive.
    """

    def __init__(self, profile: Path, timeout: float = 30) -> None:
        import json
        import threading
        import urllib.request

        import websocket

        self._json = json
        self.timeout = timeout
        exe = chromium_path()
        assert exe is not None
        self.proc = subprocess.Popen(
            [
                exe,
                *chromium_flags(profile),
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
                "--window-size=1280,1600",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        endpoint = None
        deadline = time.monotonic() + timeout
        while endpoint is None and time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                break
            if "DevTools listening on ws://" in line:
                endpoint = line.split("ws://", 1)[1].split("/", 1)[0]
        if endpoint is None:
            self.close()
            raise RuntimeError("chromium did not report its DevTools endpoint")
        # Drain stderr so a chatty browser never blocks on a full pipe.
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()
        with urllib.request.urlopen(f"http://{endpoint}/json/list", timeout=10) as resp:
            pages = [t for t in json.load(resp) if t["type"] == "page"]
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=timeout)
        self._next_id = 0
        self.errors: list[str] = []
        self.events: list[dict] = []
        for domain in ("Runtime", "Log", "Page"):
            self.call(f"{domain}.enable")

    def call(self, method: str, **params: object) -> dict:
        self._next_id += 1
        msg_id = self._next_id
        self.ws.send(self._json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = self._json.loads(self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._event(msg)

    def _event(self, msg: dict) -> None:
        method, params = msg.get("method"), msg.get("params", {})
        self.events.append(msg)
        if method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(
                " ".join(str(a.get("value", a.get("description"))) for a in params.get("args", []))
            )
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.errors.append(
                details.get("exception", {}).get("description") or details.get("text", "exception")
            )
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url')}")

    def navigate(self, url: str) -> None:
        self.events.clear()
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + self.timeout
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not load")
            self._event(self._json.loads(self.ws.recv()))

    def evaluate(self, expression: str) -> object:
        result = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"].get("text"))
        return result["result"].get("value")

    def type_text(self, selector: str, text: str) -> None:
        self.evaluate(f"document.querySelector({self._json.dumps(selector)}).focus()")
        self.call("Input.insertText", text=text)

    def screenshot(self, path: Path) -> None:
        import base64

        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        if getattr(self, "ws", None) is not None:
            self.ws.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


# --- bulk synthetic databases (index tests, benchmarks/bench_audit.py) --------------

BULK_REASONS = [(r[0].value, r[1], r[2], r[3], r[6]) for r in SAMPLE_REASONS]


def build_bulk(directory: Path, *, exclusions: int, kept: int = 0, domains: int = 2000) -> str:
    """An audit DB with the crawler's schema and ``exclusions`` rows, written in one
    transaction with executemany (what AuditLog's thread would take minutes to do).
    Spread over ``domains`` hosts (some Kazakh) and 30 days; returns the crawl id."""
    import json
    import sqlite3

    from tdmcrawl.crawler.audit.db import EXCLUSION_COLUMNS, KEPT_COLUMNS

    log = AuditLog.open(directory)
    crawl_id = log.start_crawl(
        settings={"TDMCRAWL_TOKEN": "tdmcrawl"}, versions={"tdmcrawl": "0.1.0"}, seeds=[]
    )
    log.finish_crawl(crawl_id, {"pages_kept": kept, "pages_excluded": exclusions})
    log.close()
    hosts = [f"сайт{i}.kz" if i % 5 == 0 else f"site{i}.example.org" for i in range(domains)]

    def exclusion_rows():
        for i in range(exclusions):
            code, source, evidence, line, stage = BULK_REASONS[i % len(BULK_REASONS)]
            host = hosts[(i * 7919) % domains]
            url = f"https://{host}/бет/{i}"
            day, sec = divmod(i * 2_592_000 // max(exclusions, 1), 86400)
            decided = f"2026-10-{day + 1:02d}T{sec // 3600:02d}:{sec % 3600 // 60:02d}:00.000Z"
            decision = json.dumps(
                {
                    "allowed": False,
                    "url": url,
                    "reasons": [{"code": code, "source": source, "evidence": evidence}],
                },
                ensure_ascii=False,
            )
            yield (
                crawl_id,
                url,
                host,
                stage,
                code,
                source,
                evidence,
                line,
                None,
                None,
                decided,
                None,
                None,
                None,
                decision,
            )

    def kept_rows():
        for i in range(kept):
            host = hosts[i % domains]
            yield (
                crawl_id,
                f"https://{host}/ашық/{i}",
                host,
                "tdmcrawl-00000.warc.gz",
                i * 4096,
                f"<urn:uuid:kept-{i}>",
                "2026-10-01T00:00:00.000Z",
                '{"allowed": true}',
            )

    conn = sqlite3.connect(directory / "audit.sqlite")
    # A large page cache: inserting into eight indexes otherwise spills the
    # same pages to the WAL again and again.
    conn.execute("PRAGMA cache_size = -262144")
    try:
        with conn:
            conn.executemany(
                f"INSERT INTO exclusions ({', '.join(EXCLUSION_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(EXCLUSION_COLUMNS))})",
                exclusion_rows(),
            )
            conn.executemany(
                f"INSERT INTO kept ({', '.join(KEPT_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(KEPT_COLUMNS))})",
                kept_rows(),
            )
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return crawl_id


# `tdmcrawl audit serve` in a subprocess (Datasette on a free loopback port).


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def start_serve(directory: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        tdmcrawl_argv("audit", "serve", str(directory), "--port", str(port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode(errors="replace"))
        try:
            if get(base + "/-/versions.json")[0] == 200:
                return proc, base
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise AssertionError("datasette did not start within 30 s")


def stop(proc: subprocess.Popen) -> None:
    # The CLI runs datasette as its child: end the session this test started.
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()
