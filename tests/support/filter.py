"""Helpers for the `tdmcrawl filter` tests: input WARC files built with warcio,
pages carrying each kind of opt-out signal, and reading the output back."""

from __future__ import annotations

import gzip as gzip_module
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from urllib.parse import quote, urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tests.support.registry import work_text

WARCIO = Path(sys.executable).with_name("warcio")
HTML = [("Content-Type", "text/html; charset=utf-8")]


@dataclass
class Cap:
    """One capture: a response record, with a request and a metadata record by default."""

    url: str
    body: bytes | str = b""
    headers: list[tuple[str, str]] = field(default_factory=lambda: list(HTML))
    status: str = "200 OK"
    date: str | None = None
    raw_block: bytes | None = None  # a response block written as is (broken heads)


def page(title: str, text: str, head: str = "") -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>{head}"
        f"</head><body><nav>Мәзір</nav><article><p>{text}</p></article></body></html>"
    )


def long_text(seed: int) -> str:
    return work_text(seed, words=220)


def write_warc(
    path: Path, caps: list[Cap], *, gzip: bool = True, requests: bool = True, metadata: bool = True
) -> dict[str, str]:
    """Write ``caps`` as warcinfo + request/response/metadata records; url -> response id."""
    ids: dict[str, str] = {}
    with open(path, "wb") as handle:
        writer = WARCWriter(handle, gzip=gzip, warc_version="WARC/1.1")
        # As crawler/warc.py: no payload digest where there is no HTTP payload (FastWARC).
        writer.NO_PAYLOAD_DIGEST_TYPES = ("warcinfo", "revisit", "metadata")
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "tests"}))
        for cap in caps:
            body = cap.body.encode("utf-8") if isinstance(cap.body, str) else cap.body
            extra = {"WARC-Date": cap.date} if cap.date else {}
            raw = None
            if cap.raw_block is not None:
                # warcio would refuse to write a broken HTTP head: written by hand.
                rid = f"<urn:uuid:{uuid.uuid4()}>"
                raw = (
                    (
                        f"WARC/1.1\r\nWARC-Type: response\r\nWARC-Record-ID: {rid}\r\n"
                        f"WARC-Target-URI: {cap.url}\r\nWARC-Date: 2026-01-01T00:00:00Z\r\n"
                        "Content-Type: application/http; msgtype=response\r\n"
                        f"Content-Length: {len(cap.raw_block)}\r\n\r\n"
                    ).encode()
                    + cap.raw_block
                    + b"\r\n\r\n"
                )
            else:
                http = StatusAndHeaders(cap.status, list(cap.headers), protocol="HTTP/1.1")
                response = writer.create_warc_record(
                    cap.url,
                    "response",
                    payload=BytesIO(body),
                    http_headers=http,
                    warc_headers_dict=extra,
                )
                rid = response.rec_headers.get_header("WARC-Record-ID")
            ids[cap.url] = rid
            if requests:
                parts = urlsplit(cap.url)
                head = StatusAndHeaders(
                    f"GET {quote(parts.path or '/')} HTTP/1.1",
                    [("Host", parts.netloc)],
                    is_http_request=True,
                )
                request = writer.create_warc_record(
                    cap.url,
                    "request",
                    payload=BytesIO(b""),
                    http_headers=head,
                    warc_headers_dict={"WARC-Concurrent-To": rid},
                )
                writer.write_record(request)
            if raw is not None:
                handle.write(gzip_module.compress(raw) if gzip else raw)
            else:
                writer.write_record(response)
            if metadata:
                meta = writer.create_warc_record(
                    cap.url,
                    "metadata",
                    payload=BytesIO(b"fetchTimeMs: 12\r\n"),
                    warc_content_type="application/warc-fields",
                    warc_headers_dict={"WARC-Concurrent-To": rid},
                )
                writer.write_record(meta)
    return ids


def robots(origin: str, body: str, status: str = "200 OK") -> Cap:
    return Cap(f"{origin}/robots.txt", body, [("Content-Type", "text/plain")], status)


def records_of(paths: list[Path]) -> list[tuple[str, str]]:
    """(record type, target URI) of every record in ``paths``, in order."""
    out = []
    for path in paths:
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle):
                out.append(
                    (record.rec_type, record.rec_headers.get_header("WARC-Target-URI") or "")
                )
    return out


def payloads_of(paths: list[Path]) -> dict[tuple[str, str], bytes]:
    out = {}
    for path in paths:
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle):
                uri = record.rec_headers.get_header("WARC-Target-URI") or ""
                out[(record.rec_type, uri)] = record.content_stream().read()
    return out


def output_files(out: Path) -> list[Path]:
    return sorted((out / "warc").glob("*.warc.gz"))


def warcio_check(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(WARCIO), "check", "-v", *map(str, paths)], capture_output=True, text=True, timeout=60
    )
