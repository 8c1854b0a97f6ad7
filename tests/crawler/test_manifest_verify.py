"""The manifest (streamed layout, header, records), Ed25519 signing, and verify's checks,
on small corpora written with the real WARC writer and audit log."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tdmcrawl.crawler.audit.db import AuditLog
from tdmcrawl.crawler.errors import UsageError
from tdmcrawl.crawler.manifest import ManifestError, finish_corpus, read_manifest
from tdmcrawl.crawler.signing import (
    SignatureError,
    check_signature,
    generate_keypair,
    load_private_key,
    load_public_key,
)
from tdmcrawl.crawler.verify import verify_corpus
from tdmcrawl.crawler.warc.capture import Capture
from tdmcrawl.crawler.warc.writer import RotatingWarcWriter
from tdmcrawl.optout.decision import Decision, Reason


def capture(n: int) -> Capture:
    body = f"<html><body><p>Бет {n}: қазақ мәтіні ә ғ қ ң ө ұ ү һ і.</p></body></html>".encode()
    return Capture(
        url=f"http://127.0.0.1:8000/бет/{n}",
        protocol="HTTP/1.1",
        status=200,
        reason="OK",
        headers=((b"Content-Type", b"text/html; charset=utf-8"),),
        body=body,
        request_method="GET",
        request_target=f"/{n}",
        request_protocol="HTTP/1.1",
        request_headers=((b"Host", b"127.0.0.1:8000"),),
        request_body=b"",
        peer_ip="127.0.0.1",
        fetched_at=datetime(2026, 3, 1, 12, 0, n, tzinfo=UTC),
    )


def corpus(directory: Path, pages: int = 4, *, max_size: int = 10**9) -> Path:
    """A corpus as a crawl leaves it: WARC files, kept rows, one exclusion, a manifest."""
    log = AuditLog.open(directory)
    log.start_crawl(settings={}, versions={}, seeds=[])
    writer = RotatingWarcWriter(
        directory / "warc", warcinfo={"software": "test"}, max_size=max_size
    )
    for n in range(pages):
        decision = Decision(capture(n).url)
        ref = writer.write_page(capture(n), decision)
        log.record_kept(
            capture(n).url,
            warc_file=ref.filename,
            offset=ref.offset,
            record_id=ref.record_id,
            decision=decision,
        )
    writer.close()
    excluded = Decision("http://127.0.0.1:8000/жабық", (Reason("noai", "header", "noai"),))
    log.record_exclusion(excluded, stage="post-fetch")
    log.close()
    finish_corpus(directory, kind="crawl", crawl_id=None, policy={}, dedup=None, registry=None)
    return directory


def test_the_manifest_is_plain_json_read_back_line_by_line(tmp_path: Path) -> None:
    directory = corpus(tmp_path / "c", pages=3, max_size=1500)
    whole = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    streamed = read_manifest(directory)
    assert streamed.header == whole["header"]
    assert [r.to_dict() for r in streamed.records()] == whole["records"]
    assert len(whole["records"]) == 3 and len(whole["warc_files"]) >= 2  # rotated
    assert whole["header"]["audit"] == {"excluded": 1, "file": "audit.sqlite", "kept": 3}
    assert all(r["payload_digest"].startswith("sha1:") for r in whole["records"])
    assert verify_corpus(directory).ok


def test_an_empty_corpus_has_a_valid_manifest(tmp_path: Path) -> None:
    directory = corpus(tmp_path / "c", pages=0)
    whole = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    assert whole["records"] == [] and whole["warc_files"] == []
    assert verify_corpus(directory).ok


def test_a_manifest_cut_short_is_named(tmp_path: Path) -> None:
    directory = corpus(tmp_path / "c")
    path = directory / "manifest.json"
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ManifestError, match=r"not closed|not a JSON value"):
        list(read_manifest(path).records())
    report = verify_corpus(directory)
    assert not report.ok and report.discrepancies[0].where == "manifest.json"


def test_verify_names_a_record_without_a_kept_row(tmp_path: Path) -> None:
    directory = corpus(tmp_path / "c")
    log = AuditLog.open(directory)
    log.start_crawl(settings={}, versions={}, seeds=[])
    log.close()
    import sqlite3

    db = sqlite3.connect(directory / "audit.sqlite")
    with db:
        (url,) = db.execute("SELECT url FROM kept ORDER BY warc_offset DESC LIMIT 1").fetchone()
        db.execute("DELETE FROM kept WHERE url = ?", (url,))
    db.close()
    report = verify_corpus(directory)
    texts = [str(d) for d in report.discrepancies]
    assert any("has no kept row" in t for t in texts)


def test_verify_names_an_excluded_url_in_the_warc_files(tmp_path: Path) -> None:
    directory = corpus(tmp_path / "c")
    log = AuditLog.open(directory)
    log.start_crawl(settings={}, versions={}, seeds=[])
    kept = capture(1).url
    log.record_exclusion(
        Decision(kept, (Reason("tdmrep", "header", "tdm-reservation: 1"),)), stage="post-fetch"
    )
    log.close()
    report = verify_corpus(directory)
    assert any(f"of the excluded URL {kept}" in str(d) for d in report.discrepancies)


def test_verify_names_a_warc_file_the_manifest_does_not_list(tmp_path: Path) -> None:
    directory = corpus(tmp_path / "c")
    extra = directory / "warc" / "extra.warc.gz"
    extra.write_bytes((directory / "warc").glob("*.warc.gz").__next__().read_bytes())
    report = verify_corpus(directory)
    assert (
        str(report.discrepancies[0]) == "warc/extra.warc.gz: a WARC file the manifest does not list"
    )


# --- signing ---------------------------------------------------------------------------------


def test_keygen_writes_an_owner_only_key_and_never_overwrites(tmp_path: Path) -> None:
    private, public = generate_keypair(tmp_path / "k")
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    with pytest.raises(UsageError, match="never overwrites"):
        generate_keypair(tmp_path / "k")


def test_a_signed_manifest_checks_and_any_change_is_caught(tmp_path: Path) -> None:
    private, public = generate_keypair(tmp_path / "k")
    key = load_private_key(private)
    directory = tmp_path / "c"
    corpus(directory)
    finish_corpus(
        directory, kind="crawl", crawl_id=None, policy={}, dedup=None, registry=None, sign_key=key
    )
    manifest = directory / "manifest.json"
    body = check_signature(manifest, load_public_key(public))
    assert body["algorithm"] == "Ed25519"
    assert verify_corpus(directory, public_key=load_public_key(public)).signature == "valid"
    manifest.write_bytes(manifest.read_bytes().replace(b'"kind": "crawl"', b'"kind": "crawX"'))
    with pytest.raises(SignatureError, match="changed after it was signed"):
        check_signature(manifest, load_public_key(public))
    other = generate_keypair(tmp_path / "other")[1]
    with pytest.raises(SignatureError):
        check_signature(manifest, load_public_key(other))


def test_keys_that_are_not_ed25519_pem_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("not a key", encoding="utf-8")
    with pytest.raises(UsageError, match="not an unencrypted PEM private key"):
        load_private_key(bad)
    with pytest.raises(UsageError, match="not a PEM public key"):
        load_public_key(bad)
