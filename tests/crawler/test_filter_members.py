"""RotatingWarcWriter.write_members, the writer step `tdmcrawl filter` copies through:
records serialised elsewhere appended byte for byte, with the crawl's naming, warcinfo,
.open -> rename, rotation and veto hook."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tdmcrawl.crawler.filter import FilterOptions, filter_warc_files
from tdmcrawl.crawler.warc.records import FORMAT_FIELDS, RecordFactory, serialize_record
from tdmcrawl.crawler.warc.rewrite import PendingPage
from tdmcrawl.crawler.warc.writer import RotatingWarcWriter
from tdmcrawl.optout.decision import Decision
from tests.support.filter import Cap, output_files, page, robots, write_warc
from tests.support.warc import counting_ids, fixed_clock, read_records, warcio_check

NAME = re.compile(r"^tdmcrawl-filter-(\d{17})-(\d{5})-testhost\.warc\.gz$")


def writer(tmp_path: Path, **options: object) -> RotatingWarcWriter:
    defaults: dict[str, object] = dict(
        warcinfo={"software": "tdmcrawl-test filter"},
        prefix="tdmcrawl-filter",
        hostname="testhost",
        clock=fixed_clock(datetime(2026, 3, 1, 12, 0, 0, 987654, tzinfo=UTC)),
        record_id=counting_ids("11111111-1111-1111-1111-"),
    )
    defaults.update(options)
    return RotatingWarcWriter(tmp_path / "warc", **defaults)  # type: ignore[arg-type]


def foreign_members(count: int, *, compress: bool = True, size: int = 300) -> list[bytes]:
    """Metadata records as another tool wrote them (own ids and warcinfo id)."""
    factory = RecordFactory(clock=fixed_clock(), record_id=counting_ids())
    moment = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    return [
        serialize_record(
            factory.metadata(
                f"https://kz.example/бет/{n}",
                Decision(f"https://kz.example/бет/{n}", (), ("ә" * size,)),
                date=moment,
                concurrent_to=f"<urn:uuid:parent-{n}>",
                warcinfo_id="<urn:uuid:their-warcinfo>",
            ),
            compress=compress,
        )
        for n in range(count)
    ]


def record_id(n: int) -> str:
    return f"<urn:uuid:00000000-0000-0000-0000-{n + 1:012d}>"


def test_members_are_appended_byte_for_byte_after_our_warcinfo(tmp_path: Path) -> None:
    members = foreign_members(3)
    out = writer(tmp_path)
    refs = [
        out.write_members(f"https://kz.example/бет/{n}", [(record_id(n), member)])[0]
        for n, member in enumerate(members)
    ]
    files = out.close()
    assert len(files) == 1 and NAME.match(files[0].name)
    data = files[0].read_bytes()
    for ref, member in zip(refs, members, strict=True):
        assert ref.filename == files[0].name
        assert data[ref.offset : ref.offset + len(member)] == member
    records = read_records(files[0])
    assert [r["type"] for r in records] == ["warcinfo", "metadata", "metadata", "metadata"]
    assert records[0]["warc"]["WARC-Filename"] == files[0].name
    # The copied records keep the headers they came with, the foreign warcinfo id included.
    assert [r["warc"]["WARC-Record-ID"] for r in records[1:]] == [record_id(n) for n in range(3)]
    assert {r["warc"]["WARC-Warcinfo-ID"] for r in records[1:]} == {"<urn:uuid:their-warcinfo>"}
    assert warcio_check(files[0]).returncode == 0


def test_members_rotate_whole_and_files_are_open_until_closed(tmp_path: Path) -> None:
    members = foreign_members(6, size=400)
    out = writer(tmp_path, max_size=2 * len(members[0]) + 200)
    for n, member in enumerate(members):
        out.write_members("", [(record_id(n), member)])
        assert out.current_path is None or out.current_path.name.endswith(".warc.gz.open")
    files = out.close()
    assert len(files) >= 3
    assert not list((tmp_path / "warc").glob("*.open"))
    assert [int(NAME.match(p.name).group(2)) for p in files] == list(range(len(files)))
    copied = [r for path in files for r in read_records(path) if r["type"] == "metadata"]
    assert [r["warc"]["WARC-Record-ID"] for r in copied] == [record_id(n) for n in range(6)]
    assert all(read_records(path)[0]["type"] == "warcinfo" for path in files)


def test_one_group_never_straddles_two_files(tmp_path: Path) -> None:
    members = foreign_members(4)
    out = writer(tmp_path, max_size=len(members[0]) + 50)
    first = out.write_members("a", [(record_id(0), members[0]), (record_id(1), members[1])])
    second = out.write_members("b", [(record_id(2), members[2]), (record_id(3), members[3])])
    out.close()
    assert first[0].filename == first[1].filename != second[0].filename == second[1].filename


def test_veto_hook_sees_member_groups_and_cuts_them(tmp_path: Path) -> None:
    members = foreign_members(3)
    seen: list[list[PendingPage]] = []

    def veto(path: Path, pages: list[PendingPage]) -> list[str]:
        seen.append(pages)
        return [pages[1].record_ids[0]]

    out = writer(tmp_path, before_close=veto)
    for n, member in enumerate(members):
        out.write_members(f"u{n}", [(record_id(n), member)])
    files = out.close()
    assert [p.url for p in seen[0]] == ["u0", "u1", "u2"]
    ids = [r["warc"]["WARC-Record-ID"] for r in read_records(files[0])[1:]]
    assert ids == [record_id(0), record_id(2)]


def test_plain_members_go_to_a_plain_writer(tmp_path: Path) -> None:
    members = foreign_members(2, compress=False)
    out = writer(tmp_path, compress=False)
    for n, member in enumerate(members):
        out.write_members("", [(record_id(n), member)])
    files = out.close()
    assert files[0].name.endswith(".warc") and files[0].read_bytes().endswith(b"".join(members))
    assert len(read_records(files[0])) == 3


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([], "at least one record"),
        ([("<urn:uuid:x>", b"WARC/1.1\r\n\r\n\r\n")], "gzip members only"),
    ],
)
def test_bad_members_are_refused_before_any_file_is_opened(
    tmp_path: Path, members: list[tuple[str, bytes]], message: str
) -> None:
    out = writer(tmp_path)
    with pytest.raises(ValueError, match=message):
        out.write_members("", members)
    assert out.close() == [] and not (tmp_path / "warc").exists()


def test_filter_output_follows_the_crawl_writers_naming_and_warcinfo(tmp_path: Path) -> None:
    source = tmp_path / "in.warc.gz"
    write_warc(
        source,
        [
            robots("https://kz.example", "User-agent: *\nAllow: /\n"),
            *(Cap(f"https://kz.example/бет/{n}", page("Бет", "Қазақ " * 200)) for n in range(4)),
        ],
    )
    out = tmp_path / "out"
    result = filter_warc_files(
        [source],
        out,
        options=FilterOptions(
            prefix="кз-filter", max_size=3000, crawl_id="run-1", near_duplicates=False
        ),
    )
    files = output_files(out)
    assert [str(p) for p in files] == result.files and len(files) > 1
    host = RotatingWarcWriter(tmp_path, warcinfo={}).hostname  # the writer's own spelling
    pattern = re.compile(rf"^кз-filter-\d{{17}}-(\d{{5}})-{re.escape(host)}\.warc\.gz$")
    assert [int(pattern.match(p.name).group(1)) for p in files] == list(range(len(files)))
    for path in files:
        info = read_records(path)[0]
        fields = dict(line.split(": ", 1) for line in info["content"].decode().splitlines())
        assert info["type"] == "warcinfo" and info["warc"]["WARC-Filename"] == path.name
        assert fields["isPartOf"] == "run-1" and fields["format"] == FORMAT_FIELDS["format"]
        assert "filter" in fields["software"] and "in.warc.gz" in fields["tdmcrawl-filter-input"]
