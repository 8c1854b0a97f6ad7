"""`tdmcrawl recheck`, `verify`, `keygen` and `audit --work/--author` end to end on loopback.

One story, shared by the tests of this module: a site is crawled (v1); then it
changes (a kept page gains ``TDM-Reservation: 1``, an origin disallows our
token for a page, an author registers a copy of a kept page); ``recheck``
writes v2 (signed) without exactly those pages, with evidence; a second
recheck (v3) removes nothing. v1 is never modified.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.support.recheck import RecheckWeb
from tests.support.web import FAST, tdmcrawl

AUTHOR = "Әлия Сәрсенова"
TITLE = "Дала әні"


@dataclass
class Story:
    web: RecheckWeb
    tmp: Path
    v1: Path
    v2: Path
    v3: Path
    registry: Path
    work: Path
    key: Path
    entry_id: str
    v1_files: dict[str, str]
    v2_result: dict
    v3_result: dict

    def url(self, key: str) -> str:
        site, path = key.split("/", 1)
        return self.web.url(site, "/" + path)


def _tree(directory: Path) -> dict[str, str]:
    """Every file under ``directory`` -> its SHA-256: what "never modified" compares."""
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _json(proc) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("recheck")
    web = RecheckWeb().start()
    try:
        v1 = tmp / "v1"
        _json(
            tdmcrawl(
                "crawl",
                web.url("blog"),
                web.url("press"),
                "--out",
                str(v1),
                "--progress",
                "0",
                "--json",
                *FAST,
            )
        )
        v1_files = _tree(v1)
        web.change()
        work = tmp / "dala.txt"
        work.write_text(web.registered_copy_text, encoding="utf-8")
        registry = tmp / "registry.sqlite"
        added = _json(
            tdmcrawl(
                "registry",
                "add",
                "--registry",
                str(registry),
                "--author",
                AUTHOR,
                "--title",
                TITLE,
                "--file",
                str(work),
                "--json",
            )
        )
        key = tmp / "operator.key"
        _json(tdmcrawl("keygen", str(key), "--json"))
        v2, v3 = tmp / "v2", tmp / "v3"
        common = ("--registry", str(registry), "--pages", "--json", *FAST)
        v2_result = _json(
            tdmcrawl("recheck", str(v1), "--out", str(v2), "--sign-key", str(key), *common)
        )
        v3_result = _json(tdmcrawl("recheck", str(v2), "--out", str(v3), *common))
        yield Story(
            web, tmp, v1, v2, v3, registry, work, key, added["id"], v1_files, v2_result, v3_result
        )
    finally:
        web.stop()


def _rows(directory: Path, sql: str, *params) -> list[tuple]:
    db = sqlite3.connect(directory / "audit.sqlite")
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def _warc_urls(directory: Path) -> set[str]:
    urls = set()
    for path in (directory / "warc").glob("*.warc.gz"):
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle):
                uri = record.rec_headers.get_header("WARC-Target-URI")
                if uri:
                    urls.add(uri)
    return urls


def _member(path: Path, offset: int) -> bytes:
    """The whole gzip member starting at ``offset`` (one WARC record), as stored."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        data = handle.read()
    inflater = zlib.decompressobj(wbits=31)
    inflater.decompress(data)
    assert inflater.eof
    return data[: len(data) - len(inflater.unused_data)]


# --- recheck ---------------------------------------------------------------------------------


def test_recheck_removes_exactly_the_newly_reserved_pages(story: Story) -> None:
    removed = {story.url("blog/b.html"), story.url("press/p1.html"), story.url("blog/c.html")}
    assert set(story.v2_result["removed_urls"]) == removed
    assert story.v2_result["kept_after"] == story.v2_result["kept_before"] - 3
    blog, press = story.web.web.origin("blog"), story.web.web.origin("press")
    assert story.v2_result["newly_reserved"] == {
        "tdmrep": {blog: 1},
        "robots": {press: 1},
        "registry-content": {blog: 1},
    }
    rows = _rows(story.v2, "SELECT url, reason, source FROM exclusions WHERE stage = 'recheck'")
    assert {(u, r) for u, r, _s in rows} == {
        (story.url("blog/b.html"), "tdmrep"),
        (story.url("press/p1.html"), "robots"),
        (story.url("blog/c.html"), "registry-content"),
    }
    in_warc = _warc_urls(story.v2)
    assert not removed & in_warc
    kept = {u for (u,) in _rows(story.v2, "SELECT url FROM kept")}
    assert kept <= in_warc and not kept & removed
    assert {u for (u,) in _rows(story.v1, "SELECT url FROM kept")} - removed == kept


def test_the_corpus_rechecked_is_never_modified(story: Story) -> None:
    assert _tree(story.v1) == story.v1_files
    assert not list(story.v1.glob("*-shm")) and not list(story.v1.glob("*-wal"))


def test_kept_records_are_byte_for_byte_those_of_the_parent(story: Story) -> None:
    parent = {
        rid: (f, o)
        for f, o, rid in _rows(story.v1, "SELECT warc_file, warc_offset, record_id FROM kept")
    }
    rows = _rows(story.v2, "SELECT warc_file, warc_offset, record_id FROM kept")
    assert rows
    for warc_file, offset, record_id in rows:
        old_file, old_offset = parent[record_id]
        assert _member(story.v2 / "warc" / warc_file, offset) == _member(
            story.v1 / "warc" / old_file, old_offset
        )


def test_pages_are_requested_again_with_their_stored_validators(story: Story) -> None:
    sent = {path for path, etag in story.web.conditional if etag.startswith('"')}
    assert {"/a.html", "/d.html", "/p2.html", "/b.html"} <= sent
    assert story.v2_result["pages_not_modified"] >= 4
    assert story.v2_result["pages_requested"] == story.v2_result["kept_before"] - 1  # p1: robots


def test_each_removal_has_its_evidence(story: Story) -> None:
    def row(key: str) -> tuple:
        (found,) = _rows(
            story.v2,
            "SELECT evidence_warc, evidence_offset, evidence_record_id, matched_work"
            " FROM exclusions"
            " WHERE url = ? AND stage = 'recheck'",
            story.url(key),
        )
        return found

    # robots: the robots.txt fetched again today, in the new version's evidence.
    warc, offset, record_id, _ = row("press/p1.html")
    with open(story.v2 / "evidence" / warc, "rb") as handle:
        handle.seek(offset)
        record = next(iter(ArchiveIterator(handle)))
        assert record.rec_headers.get_header("WARC-Record-ID") == record_id
        assert b"Disallow: /p1.html" in record.content_stream().read()
    # a header: the response head as received, never the body.
    warc, offset, record_id, _ = row("blog/b.html")
    with open(story.v2 / "evidence" / warc, "rb") as handle:
        handle.seek(offset)
        record = next(iter(ArchiveIterator(handle)))
        assert record.rec_type == "metadata"
        assert record.rec_headers.get_header("Content-Type").startswith("application/http")
        head = record.content_stream().read()
    assert head.startswith(b"HTTP/1.1 200") and b"TDM-Reservation: 1\r\n" in head
    body_text = story.web.texts["blog/b.html"].encode()
    for path in (story.v2 / "evidence").glob("*.warc.gz"):
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle):
                assert body_text[:200] not in record.content_stream().read()
    # registry content: the entry, with its author and title as registered.
    *_, matched = row("blog/c.html")
    assert matched == story.entry_id
    assert _rows(
        story.v2, "SELECT author, title FROM registry_entries WHERE entry_id = ?", matched
    ) == [(AUTHOR, TITLE)]


def test_audit_url_points_to_the_evidence_of_a_recheck(story: Story) -> None:
    proc = tdmcrawl("audit", str(story.v2), "--url", story.url("blog/b.html"), "--json")
    report = _json(proc)
    (recheck,) = [r for r in report["excluded"] if r["stage"] == "recheck"]
    kinds = {c.get("kind") for c in recheck["evidence_captures"]}
    assert "response-head" in kinds
    assert all(
        c["warc_path"] and Path(c["warc_path"]).is_file() for c in recheck["evidence_captures"]
    )


def test_a_second_recheck_with_nothing_changed_removes_nothing(story: Story) -> None:
    assert story.v3_result["removed"] == 0
    assert (
        story.v3_result["kept_after"]
        == story.v3_result["kept_before"]
        == story.v2_result["kept_after"]
    )
    assert story.v3_result["files_rewritten"] == 0
    v2 = {p.name: p.read_bytes() for p in (story.v2 / "warc").glob("*.warc.gz")}
    v3 = {p.name: p.read_bytes() for p in (story.v3 / "warc").glob("*.warc.gz")}
    assert v2 == v3


def test_the_history_and_the_parent_travel_with_the_new_version(story: Story) -> None:
    stages = {s for (s,) in _rows(story.v3, "SELECT DISTINCT stage FROM exclusions")}
    assert "recheck" in stages  # v2's removals stay in v3's history
    manifest = json.loads((story.v2 / "manifest.json").read_text(encoding="utf-8"))
    header = manifest["header"]
    assert header["kind"] == "recheck"
    parent = header["parent"]
    assert parent["directory"] == str(story.v1.resolve())
    assert (
        parent["manifest_sha256"]
        == hashlib.sha256((story.v1 / "manifest.json").read_bytes()).hexdigest()
    )
    assert header["policy"]["pages"] is True and header["registry"]["work_files"] == 1
    (stats,) = _rows(
        story.v2, "SELECT stats FROM crawls WHERE crawl_id = ?", story.v2_result["crawl_id"]
    )
    assert json.loads(stats[0])["newly_reserved"] == story.v2_result["newly_reserved"]


def test_what_an_origin_no_longer_reserves_is_reported_never_readded(
    story: Story, tmp_path: Path
) -> None:
    # press lifts its Disallow again: v2's robots exclusion is reported, p1 stays out.
    press_site = story.web.web.sites["press"]
    disallowing = press_site.routes["/robots.txt"]
    press_site.add("/robots.txt", story.web.web.sites["blog"].routes["/robots.txt"])
    try:
        out = tmp_path / "v4"
        result = _json(tdmcrawl("recheck", str(story.v2), "--out", str(out), "--json", *FAST))
    finally:
        press_site.add("/robots.txt", disallowing)
    press = story.web.web.origin("press")
    assert result["no_longer_reserved"]["robots"][press]["urls"] == 1
    assert story.url("press/p1.html") not in _warc_urls(out)
    assert result["removed"] == 0


# --- verify ----------------------------------------------------------------------------------


def test_verify_passes_on_every_output(story: Story) -> None:
    for directory in (story.v1, story.v3):
        assert _json(tdmcrawl("verify", str(directory), "--json"))["ok"]
    signed = _json(
        tdmcrawl("verify", str(story.v2), "--public-key", str(story.key) + ".pub", "--json")
    )
    assert signed["ok"] and signed["signature"] == "valid"


def _copy(story: Story, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(story.v2, target)
    return target


def test_verify_fails_when_one_byte_of_a_warc_file_changes(story: Story, tmp_path: Path) -> None:
    corpus = _copy(story, tmp_path)
    path = sorted((corpus / "warc").glob("*.warc.gz"))[0]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    proc = tdmcrawl("verify", str(corpus))
    assert proc.returncode == 1
    assert f"warc/{path.name}" in proc.stderr and "Error: verify failed" in proc.stderr


def test_verify_fails_when_one_kept_row_changes(story: Story, tmp_path: Path) -> None:
    corpus = _copy(story, tmp_path)
    db = sqlite3.connect(corpus / "audit.sqlite")
    with db:
        (url,) = db.execute("SELECT url FROM kept ORDER BY id LIMIT 1").fetchone()
        db.execute("UPDATE kept SET warc_offset = warc_offset + 1 WHERE url = ?", (url,))
    db.close()
    proc = tdmcrawl("verify", str(corpus), "--json")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert not report["ok"] and url in report["first_discrepancy"]


def test_verify_fails_when_the_manifest_changes(story: Story, tmp_path: Path) -> None:
    corpus = _copy(story, tmp_path)
    manifest = corpus / "manifest.json"
    lines = manifest.read_text(encoding="utf-8").splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if '"payload_digest": "sha1:' in line)
    record = json.loads(lines[index].rstrip().rstrip(","))
    digest = record["payload_digest"]
    record["payload_digest"] = digest[:-1] + ("A" if digest[-1] != "A" else "B")
    lines[index] = lines[index].replace(digest, record["payload_digest"])
    manifest.write_text("".join(lines), encoding="utf-8")
    unsigned = tdmcrawl("verify", str(corpus))
    assert unsigned.returncode == 1 and "payload digest" in unsigned.stderr
    signed = tdmcrawl("verify", str(corpus), "--public-key", str(story.key) + ".pub")
    assert signed.returncode == 1 and "manifest.json.sig" in signed.stderr


def test_verify_fails_with_another_key(story: Story, tmp_path: Path) -> None:
    other = tmp_path / "other.key"
    _json(tdmcrawl("keygen", str(other), "--json"))
    proc = tdmcrawl("verify", str(story.v2), "--public-key", str(other) + ".pub")
    assert proc.returncode == 1 and "not made by the key" in proc.stderr


# --- is my work in it? -------------------------------------------------------------------------


def test_audit_work_finds_the_excluded_copy_and_no_kept_copy(story: Story) -> None:
    answer = _json(tdmcrawl("audit", str(story.v2), "--work", str(story.work), "--json"))
    assert answer["kept_copies"] == []
    copies = {(c["url"], c["reason"], c["stage"]) for c in answer["excluded_copies"]}
    assert (story.url("blog/c.html"), "registry-content", "recheck") in copies
    # A work that is in the corpus, given after DIR: its kept copy with its WARC location.
    other = story.tmp / "kept-work.txt"
    other.write_text(story.web.texts["blog/d.html"], encoding="utf-8")
    both = _json(tdmcrawl("audit", str(story.v2), str(other), "--work", str(story.work), "--json"))
    (kept,) = both["kept_copies"]
    assert kept["url"] == story.url("blog/d.html") and kept["work"] == str(other)
    assert (story.v2 / "warc" / kept["warc_file"]).is_file()
    # In the crawl's own output the same page was kept: the answer says where.
    before = _json(tdmcrawl("audit", str(story.v1), "--work", str(story.work), "--json"))
    (kept,) = before["kept_copies"]
    assert kept["url"] == story.url("blog/c.html") and kept["warc_file"].endswith(".warc.gz")


def test_audit_author_lists_the_exclusions_of_an_authors_entries(story: Story) -> None:
    answer = _json(tdmcrawl("audit", str(story.v2), "--author", AUTHOR.upper(), "--json"))
    assert [(r["url"], r["title"], r["author"]) for r in answer["exclusions"]] == [
        (story.url("blog/c.html"), TITLE, AUTHOR)
    ]
    nobody = _json(tdmcrawl("audit", str(story.v2), "--author", "Nobody", "--json"))
    assert nobody["exclusions"] == []


# --- other parents -------------------------------------------------------------------------------


def test_recheck_works_on_a_filter_output(story: Story, tmp_path: Path) -> None:
    filtered = tmp_path / "f1"
    _json(
        tdmcrawl(
            "filter",
            str(story.v1 / "warc"),
            "--evidence",
            str(story.v1 / "evidence"),
            "--out",
            str(filtered),
            "--json",
        )
    )
    assert _json(tdmcrawl("verify", str(filtered), "--json"))["ok"]
    out = tmp_path / "f2"
    result = _json(
        tdmcrawl(
            "recheck",
            str(filtered),
            "--out",
            str(out),
            "--registry",
            str(story.registry),
            "--json",
            *FAST,
        )
    )
    # Without --pages the header reservation of b.html is not read; the others are.
    assert set(result["removed_urls"]) == {story.url("press/p1.html"), story.url("blog/c.html")}
    assert _json(tdmcrawl("verify", str(out), "--json"))["ok"]


def test_recheck_refuses_to_write_into_dir_or_a_used_directory(story: Story) -> None:
    same = tdmcrawl("recheck", str(story.v1), "--out", str(story.v1))
    assert same.returncode == 1 and "never changes DIR" in same.stderr
    used = tdmcrawl("recheck", str(story.v1), "--out", str(story.v2))
    assert used.returncode == 1 and "not empty" in used.stderr
    assert _tree(story.v1) == story.v1_files


def test_the_report_of_a_new_version_names_its_parent(story: Story, tmp_path: Path) -> None:
    report = tmp_path / "отчёт.html"
    proc = tdmcrawl("audit", str(story.v2), "--html", str(report), "--lang", "ru", "--json")
    assert _json(proc)["verified"] is True
    html = report.read_text(encoding="utf-8")
    assert "новая версия прежнего корпуса" in html  # what it is: a recheck
    assert str(story.v1.resolve()) in html  # its parent
    assert "Проверено:" in html  # the verify status
    assert "Дала әні" in html  # the registry entry's title, in the group of copies
