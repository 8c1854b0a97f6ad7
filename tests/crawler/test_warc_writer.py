"""The rotating writer: names, .open -> rename, warcinfo first, rotation, vetoes, rewrites."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scrapy.settings import Settings

from tdmcrawl.crawler.errors import WarcOutputError
from tdmcrawl.crawler.provenance import warcinfo_fields
from tdmcrawl.crawler.warc.capture import Capture
from tdmcrawl.crawler.warc.records import RecordFactory, serialize_record
from tdmcrawl.crawler.warc.recover import recover_open_files
from tdmcrawl.crawler.warc.rewrite import PendingPage, record_offsets, rewrite_without
from tdmcrawl.crawler.warc.writer import EvidenceWriter, RotatingWarcWriter
from tdmcrawl.optout.decision import Decision
from tests.support.warc import counting_ids, fixed_clock, gzip_members, read_records, warcio_check

NAME = re.compile(r"^tdmcrawl-(\d{17})-(\d{5})-testhost\.warc\.gz$")


def page(n: int, size: int = 200) -> Capture:
    body = (f"<p>бет {n} " + "қ" * size + "</p>").encode()
    return Capture(
        url=f"http://127.0.0.1:8000/page/{n}",
        protocol="HTTP/1.1",
        status=200,
        reason="OK",
        headers=(
            (b"Content-Type", b"text/html; charset=utf-8"),
            (b"Content-Length", str(len(body)).encode()),
        ),
        body=body,
        request_method="GET",
        request_target=f"/page/{n}",
        request_protocol="HTTP/1.1",
        request_headers=((b"Host", b"127.0.0.1:8000"),),
        request_body=b"",
        peer_ip="127.0.0.1",
        fetched_at=datetime(2026, 3, 1, 12, 0, n, tzinfo=UTC),
    )


def writer(tmp_path: Path, **options: object) -> RotatingWarcWriter:
    defaults: dict[str, object] = dict(
        warcinfo={"software": "tdmcrawl-test"},
        hostname="testhost",
        clock=fixed_clock(datetime(2026, 3, 1, 12, 0, 0, 987654, tzinfo=UTC)),
        record_id=counting_ids(),
    )
    defaults.update(options)
    return RotatingWarcWriter(tmp_path / "warc", **defaults)  # type: ignore[arg-type]


def test_open_file_while_writing_then_renamed(tmp_path: Path) -> None:
    w = writer(tmp_path)
    ref = w.write_page(page(1), Decision(url=page(1).url))
    open_files = list((tmp_path / "warc").iterdir())
    assert [p.name for p in open_files] == [ref.filename + ".open"]
    assert NAME.match(ref.filename)
    assert NAME.match(ref.filename).group(1) == "20260301120000987"
    # A reader can already use the .open file: members are complete.
    assert len(read_records(open_files[0])) == 4
    closed = w.close()
    assert [p.name for p in closed] == [ref.filename]
    assert not any(p.name.endswith(".open") for p in (tmp_path / "warc").iterdir())
    assert w.close() == closed  # idempotent
    assert warcio_check(closed[0]).returncode == 0


def test_warcinfo_first_and_every_record_points_at_it(tmp_path: Path) -> None:
    w = writer(tmp_path)
    ref = w.write_page(page(1), Decision(url=page(1).url))
    (path,) = w.close()
    records = read_records(path)
    assert [r["type"] for r in records] == ["warcinfo", "response", "request", "metadata"]
    info_id = records[0]["warc"]["WARC-Record-ID"]
    assert records[0]["warc"]["WARC-Filename"] == path.name
    assert all(r["warc"]["WARC-Warcinfo-ID"] == info_id for r in records[1:])
    assert records[1]["warc"]["WARC-Record-ID"] == ref.record_id
    assert records[2]["warc"]["WARC-Concurrent-To"] == ref.record_id
    assert records[3]["warc"]["WARC-Concurrent-To"] == ref.record_id
    # The ref's offset is the start of the response's gzip member.
    data = path.read_bytes()
    assert gzip_members(data[ref.offset :])[0].startswith(b"WARC/1.1\r\nWARC-Type: response\r\n")


def test_rotation_by_size_keeps_groups_whole(tmp_path: Path) -> None:
    w = writer(tmp_path, max_size=3000)
    refs = [w.write_page(page(n), Decision(url=page(n).url)) for n in range(8)]
    files = w.close()
    assert len(files) > 2
    assert [int(NAME.match(p.name).group(2)) for p in files] == list(range(len(files)))
    seen_urls = []
    for path in files:
        # A group may make a file pass the limit, never two groups.
        assert path.stat().st_size < 3000 + 2000
        records = read_records(path)
        assert records[0]["type"] == "warcinfo"
        info_id = records[0]["warc"]["WARC-Record-ID"]
        assert all(r["warc"]["WARC-Warcinfo-ID"] == info_id for r in records[1:])
        assert (len(records) - 1) % 3 == 0
        seen_urls += [r["warc"]["WARC-Target-URI"] for r in records if r["type"] == "response"]
        assert warcio_check(path).returncode == 0
    assert seen_urls == [page(n).url for n in range(8)]
    assert {r.filename for r in refs} == {p.name for p in files}


def test_rotation_when_a_file_reaches_the_limit_exactly(tmp_path: Path) -> None:
    w = writer(tmp_path, max_size=1)  # every group closes its file at once
    w.write_page(page(1))
    assert w.current_path is None
    assert len(w.finished) == 1
    w.write_page(page(2))
    assert len(w.close()) == 2


def test_before_close_veto_removes_pages_before_the_rename(tmp_path: Path) -> None:
    seen: list[tuple[Path, list[PendingPage]]] = []
    vetoed_url = page(2).url

    def recheck(path: Path, pages: list[PendingPage]) -> list[str]:
        seen.append((path, pages))
        assert path.name.endswith(".open") and path.exists()
        return [p.record_ids[-1] for p in pages if p.url == vetoed_url]  # any id of the group

    w = writer(tmp_path, before_close=recheck)
    for n in range(1, 4):
        w.write_page(page(n), Decision(url=page(n).url))
    (path,) = w.close()
    assert [p.url for p in seen[0][1]] == [page(n).url for n in range(1, 4)]
    records = read_records(path)
    assert [r["warc"].get("WARC-Target-URI") for r in records if r["type"] == "response"] == [
        page(1).url,
        page(3).url,
    ]
    assert not any(r["warc"].get("WARC-Target-URI") == vetoed_url for r in records)
    assert [p.url for p in w.vetoed] == [vetoed_url]
    assert warcio_check(path).returncode == 0


def test_a_file_whose_pages_are_all_vetoed_is_not_released(tmp_path: Path) -> None:
    w = writer(tmp_path, before_close=lambda path, pages: [p.record_ids[0] for p in pages])
    w.write_page(page(1), Decision(url=page(1).url))
    assert w.close() == []
    assert list((tmp_path / "warc").iterdir()) == []


def test_rewrite_without_on_a_closed_file(tmp_path: Path) -> None:
    w = writer(tmp_path)
    refs = [w.write_page(page(n), Decision(url=page(n).url)) for n in range(3)]
    (path,) = w.close()
    before = record_offsets(path)
    assert before[refs[1].record_id] == refs[1].offset
    assert rewrite_without(path, [refs[1].record_id]) == path
    after = record_offsets(path)
    assert refs[1].record_id not in after
    assert len(after) == len(before) - 3  # response, request, metadata
    assert after[refs[0].record_id] == refs[0].offset
    assert after[refs[2].record_id] < refs[2].offset
    assert warcio_check(path).returncode == 0
    # Unknown ids: nothing changes.
    data = path.read_bytes()
    rewrite_without(path, ["<urn:uuid:not-there>"])
    assert path.read_bytes() == data


def test_rewrite_without_refuses_a_broken_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.warc.gz"
    bad.write_bytes(b"this is not a WARC file at all")
    with pytest.raises(WarcOutputError, match="cannot read WARC file"):
        rewrite_without(bad, ["<urn:uuid:x>"])


def test_invalid_max_size_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        writer(tmp_path, max_size=0)


def test_two_writers_in_the_same_millisecond_do_not_collide(tmp_path: Path) -> None:
    first, second = writer(tmp_path), writer(tmp_path)
    a = first.write_page(page(1))
    b = second.write_page(page(2))
    assert a.filename != b.filename
    assert len(first.close() + second.close()) == 2


def test_evidence_writer(tmp_path: Path) -> None:
    evidence = EvidenceWriter(
        tmp_path / "evidence",
        warcinfo={"software": "tdmcrawl-test"},
        hostname="testhost",
    )
    robots = page(1)
    ref = evidence.write_capture("http://127.0.0.1:8000/robots.txt", robots)
    assert ref.filename.startswith("tdmcrawl-evidence-")
    (path,) = evidence.close()
    assert path.parent == tmp_path / "evidence"
    records = read_records(path)
    assert [r["type"] for r in records] == ["warcinfo", "response", "request"]
    assert records[1]["warc"]["WARC-Target-URI"] == "http://127.0.0.1:8000/robots.txt"
    assert records[1]["warc"]["WARC-Record-ID"] == ref.record_id
    assert evidence.finished == [path]


def test_warcinfo_fields_describe_the_policy_and_the_normalisation() -> None:
    settings = Settings(
        {"TDMCRAWL_TOKEN": "mybot", "TDMCRAWL_AI_AGENTS": False, "TDMCRAWL_CRAWL_ID": "c-1"}
    )
    fields = warcinfo_fields(settings)
    assert fields["software"].startswith("tdmcrawl/")
    assert fields["tdmcrawl-token"] == "mybot"
    assert '"robots-ai-agents": false' in fields["tdmcrawl-policy"]
    assert "ai-agents-list-version" in fields["tdmcrawl-policy"]
    assert "X-Crawler-Transfer-Encoding" in fields["description"]
    assert fields["isPartOf"] == "c-1"
    assert fields["http-header-user-agent"].startswith("tdmcrawl/")


@pytest.mark.parametrize(
    ("setting", "key"),
    [
        ("TDMCRAWL_NOAI", "noai"),
        ("TDMCRAWL_TDMREP", "tdmrep"),
        ("TDMCRAWL_CONTENT_USAGE", "content-usage"),
        ("TDMCRAWL_CONTENT_SIGNAL", "content-signal"),
        ("TDMCRAWL_AI_TXT", "ai-txt"),
    ],
)
def test_warcinfo_policy_states_each_switch_as_set(setting: str, key: str) -> None:
    on = json.loads(warcinfo_fields(Settings({}))["tdmcrawl-policy"])
    off = json.loads(warcinfo_fields(Settings({setting: False}))["tdmcrawl-policy"])
    assert (on[key], off[key]) == (True, False)


def crashed_open_file(tmp_path: Path, pages: int, tail: bytes) -> Path:
    """A .open file as a killed crawler leaves it: complete pages, then a cut member."""
    w = writer(tmp_path)
    for n in range(pages):
        w.write_page(page(n), Decision(url=page(n).url))
    source = w.current_path
    assert source is not None
    left = tmp_path / "left"
    left.mkdir()
    target = left / source.name
    target.write_bytes(source.read_bytes() + tail)
    return target


def test_recover_open_files_cuts_a_half_written_tail(tmp_path: Path) -> None:
    member = serialize_record(RecordFactory().response(page(9)))
    leftover = crashed_open_file(tmp_path, 3, member[: len(member) // 2])
    (final,) = recover_open_files(leftover.parent).files
    assert final.name == leftover.name.removesuffix(".open")
    assert not leftover.exists()
    assert warcio_check(final).returncode == 0
    records = read_records(final)
    assert [r["warc"].get("WARC-Target-URI") for r in records if r["type"] == "response"] == [
        page(n).url for n in range(3)
    ]


def test_recover_open_files_drops_a_page_without_its_other_records(tmp_path: Path) -> None:
    lone_response = serialize_record(RecordFactory().response(page(9)))
    leftover = crashed_open_file(tmp_path, 2, lone_response)
    (final,) = recover_open_files(leftover.parent).files
    urls = [r["warc"].get("WARC-Target-URI") for r in read_records(final)]
    assert page(9).url not in urls and urls.count(page(1).url) == 3


def test_recover_open_files_runs_the_release_check(tmp_path: Path) -> None:
    leftover = crashed_open_file(tmp_path, 2, b"")
    seen: list[str] = []

    def veto_first(path: Path, pages: list[PendingPage]) -> list[str]:
        seen.extend(p.url for p in pages)
        return [pages[0].record_ids[1]]

    (final,) = recover_open_files(leftover.parent, before_close=veto_first).files
    assert seen == [page(0).url, page(1).url]
    urls = {r["warc"].get("WARC-Target-URI") for r in read_records(final)}
    assert page(0).url not in urls and page(1).url in urls


def test_recover_open_files_removes_a_file_without_pages(tmp_path: Path) -> None:
    leftover = tmp_path / "tdmcrawl-20260301120000000-00000-testhost.warc.gz.open"
    info = serialize_record(RecordFactory().warcinfo(leftover.name[:-5], {"software": "x"}))
    leftover.write_bytes(info + b"\x1f\x8b\x08garbage")
    assert recover_open_files(leftover.parent).files == []
    assert list(leftover.parent.iterdir()) == []
