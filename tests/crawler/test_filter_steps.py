"""tdmcrawl.crawler.filter as a library: origins, redirects, registry rules and works,
rotation, and the documented defaults."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tdmcrawl.crawler.errors import FilterError
from tdmcrawl.crawler.filter import FilterOptions, collect_origins, filter_warc_files
from tdmcrawl.optout.fetched import RobotsStatus
from tdmcrawl.optout.origins import origin_key
from tdmcrawl.optout.policy import PolicyConfig
from tests.support.filter import (
    Cap,
    long_text,
    output_files,
    page,
    records_of,
    robots,
    warcio_check,
    write_warc,
)
from tests.support.registry import work_text, write_work

A = "https://kz.example"


def kept(out: Path) -> set[str]:
    return {uri for kind, uri in records_of(output_files(out)) if kind == "response"}


def reasons(out: Path) -> dict[str, str]:
    with sqlite3.connect(out / "audit.sqlite") as db:
        return dict(db.execute("SELECT url, reason FROM exclusions").fetchall())


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://KZ.example/a?b", "https://kz.example:443"),
        ("http://kz.example/", "http://kz.example:80"),
        ("http://kz.example:8080/x", "http://kz.example:8080"),
        ("https://қазақ.example/", "https://қазақ.example:443"),
        ("dns:kz.example", None),
        ("http://[::1", None),
        ("", None),
    ],
)
def test_origin_key(url: str, key: str | None) -> None:
    assert origin_key(url) == key


def test_latest_robots_capture_wins(tmp_path: Path) -> None:
    source = tmp_path / "in.warc.gz"
    write_warc(
        source,
        [
            Cap(f"{A}/robots.txt", "User-agent: *\nDisallow: /\n", date="2026-03-01T00:00:00Z"),
            Cap(f"{A}/robots.txt", "User-agent: *\nAllow: /\n", date="2026-01-01T00:00:00Z"),
        ],
    )
    origins = collect_origins([source], [], print, FilterOptions())
    outcome = origins["https://kz.example:443"].robots
    assert outcome is not None and not outcome.robots.allowed(f"{A}/x", "tdmcrawl")


def test_redirect_loop_of_robots_txt_stops_after_five_hops(tmp_path: Path) -> None:
    source = tmp_path / "in.warc.gz"
    hops = [Cap(f"{A}/robots.txt", b"", [("Location", "/r0/robots.txt")], "302 Found")]
    hops += [
        Cap(f"{A}/r{i}/robots.txt", b"", [("Location", f"/r{i + 1}/robots.txt")], "302 Found")
        for i in range(8)
    ]
    write_warc(source, hops)
    origins = collect_origins([source], [], print, FilterOptions())
    outcome = origins["https://kz.example:443"].robots
    # Our fail-closed reading: more than five redirects is unreachable (complete disallow).
    assert outcome is not None and outcome.status is RobotsStatus.UNREACHABLE
    # RFC 9309 2.3.1.2's permitted reading, behind the switch: unavailable (allow all).
    lenient = FilterOptions(policy=PolicyConfig(robots_redirects_unavailable=True))
    outcome = collect_origins([source], [], print, lenient)["https://kz.example:443"].robots
    assert outcome is not None and outcome.status is RobotsStatus.UNAVAILABLE


def test_registry_url_rule_and_registered_work(tmp_path: Path) -> None:
    from tdmcrawl.registry import Registry

    db = tmp_path / "registry.sqlite"
    registry = Registry(db)
    registry.add_url("Әлия", f"{A}/registered/*")
    registry.add_work("Әлия", [write_work(tmp_path, "work.txt", seed=11, words=220)])
    registry.close()
    source = tmp_path / "in.warc.gz"
    write_warc(
        source,
        [
            robots(A, "User-agent: *\nAllow: /\n"),
            Cap(f"{A}/registered/poem", page("Өлең", "Қысқа өлең")),
            Cap(f"{A}/reprint", page("Қайта басу", work_text(11, words=220))),
            Cap(f"{A}/own", page("Өз мәтіні", long_text(12))),
        ],
    )
    out = tmp_path / "out"
    result = filter_warc_files([source], out, options=FilterOptions(registry=db))
    assert reasons(out) == {
        f"{A}/registered/poem": "registry-url",
        f"{A}/reprint": "registry-content",
    }
    assert kept(out) == {f"{A}/robots.txt", f"{A}/own"}
    assert result.pages_kept == 1 and result.excluded["registry-content"] == 1


def test_unusable_registry_is_a_filter_error(tmp_path: Path) -> None:
    source = tmp_path / "in.warc.gz"
    write_warc(source, [Cap(f"{A}/", page("Бет", "Мәтін"))])
    bogus = tmp_path / "bogus.sqlite"
    bogus.write_text("not sqlite")
    with pytest.raises(FilterError, match="registry"):
        filter_warc_files([source], tmp_path / "out", options=FilterOptions(registry=bogus))


def test_near_duplicate_check_can_be_switched_off(tmp_path: Path) -> None:
    source = tmp_path / "in.warc.gz"
    write_warc(
        source,
        [
            Cap(f"{A}/copy", page("Көшірме", long_text(5))),
            Cap(
                f"{A}/original",
                page("Түпнұсқа", long_text(5)),
                [("Content-Type", "text/html"), ("X-Robots-Tag", "noai")],
            ),
        ],
    )
    with_check = filter_warc_files([source], tmp_path / "on")
    without = filter_warc_files(
        [source], tmp_path / "off", options=FilterOptions(near_duplicates=False)
    )
    assert with_check.excluded == {"noai": 1, "reserved-copy": 1}
    assert without.excluded == {"noai": 1}
    assert kept(tmp_path / "off") == {f"{A}/copy"}


def test_rotation_splits_output_and_every_file_checks(tmp_path: Path) -> None:
    source = tmp_path / "in.warc.gz"
    write_warc(source, [Cap(f"{A}/p{i}", page(f"Бет {i}", long_text(100 + i))) for i in range(12)])
    out = tmp_path / "out"
    result = filter_warc_files([source], out, options=FilterOptions(max_size=6000))
    files = output_files(out)
    assert len(files) == len(result.files) > 2
    assert warcio_check(files).returncode == 0
    assert kept(out) == {f"{A}/p{i}" for i in range(12)}
    assert not list(out.rglob("*.open")) and not list(out.glob(".filter-*"))
    with sqlite3.connect(out / "audit.sqlite") as db:
        rows = db.execute("SELECT warc_file, warc_offset FROM kept").fetchall()
    assert len(rows) == 12 and {name for name, _ in rows} == {p.name for p in files}


def test_kept_rows_point_at_the_copied_response(tmp_path: Path) -> None:
    from warcio.archiveiterator import ArchiveIterator

    source = tmp_path / "in.warc.gz"
    write_warc(source, [Cap(f"{A}/бет", page("Бет", "Қазақша"))])
    out = tmp_path / "out"
    filter_warc_files([source], out)
    with sqlite3.connect(out / "audit.sqlite") as db:
        name, offset, record_id = db.execute(
            "SELECT warc_file, warc_offset, record_id FROM kept"
        ).fetchone()
    with open(out / "warc" / name, "rb") as handle:
        handle.seek(offset)
        record = next(iter(ArchiveIterator(handle)))
        assert record.rec_type == "response"
        assert record.rec_headers.get_header("WARC-Record-ID") == record_id


def test_uncaptured_robots_redirect_counts_as_no_robots_txt(tmp_path: Path) -> None:
    source = tmp_path / "in.warc.gz"
    write_warc(
        source,
        [
            Cap(
                f"{A}/robots.txt",
                b"",
                [("Location", "https://elsewhere.example/robots.txt")],
                "301 Moved",
            ),
            Cap(f"{A}/.well-known/tdmrep.json", "[]", [("Content-Type", "application/json")]),
            Cap(f"{A}/page", page("Бет", "Мәтін")),
        ],
    )
    lenient = filter_warc_files([source], tmp_path / "lenient")
    assert lenient.pages_kept == 1
    with sqlite3.connect(tmp_path / "lenient" / "audit.sqlite") as db:
        (decision,) = db.execute("SELECT decision FROM kept").fetchone()
    assert "robots.txt of this origin is not in the inputs" in decision
    strict = filter_warc_files(
        [source], tmp_path / "strict", options=FilterOptions(require_robots=True)
    )
    assert strict.excluded == {"robots-unreachable": 1}


def test_non_web_records_are_copied_undecided(tmp_path: Path) -> None:
    from io import BytesIO

    from warcio.warcwriter import WARCWriter

    source = tmp_path / "in.warc.gz"
    write_warc(source, [Cap(f"{A}/", page("Бет", "Мәтін"))])
    with open(source, "ab") as handle:
        writer = WARCWriter(handle, gzip=True)
        writer.write_record(
            writer.create_warc_record(
                "dns:kz.example",
                "resource",
                payload=BytesIO(b"kz.example. 60 IN A 192.0.2.1\n"),
                warc_content_type="text/dns",
            )
        )
    out = tmp_path / "out"
    result = filter_warc_files([source], out)
    assert ("resource", "dns:kz.example") in records_of(output_files(out))
    assert result.pages_in == 1 and result.pages_kept == 1


def _chunked(data: bytes) -> bytes:
    return (
        b"".join(
            f"{len(data[i : i + 50]):x}\r\n".encode() + data[i : i + 50] + b"\r\n"
            for i in range(0, len(data), 50)
        )
        + b"0\r\n\r\n"
    )


def test_chunked_gzip_bodies_are_decoded_for_signals_and_copied_raw(tmp_path: Path) -> None:
    import gzip

    encoded = [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Content-Encoding", "gzip"),
        ("Transfer-Encoding", "chunked"),
    ]
    reserved = page("Жабық", "Мәтін", "<meta name='tdmcrawl' content='noai'>")
    source = tmp_path / "in.warc.gz"
    write_warc(
        source,
        [
            Cap(f"{A}/open", _chunked(gzip.compress(page("Ашық", "Ашық мәтін").encode())), encoded),
            Cap(f"{A}/closed", _chunked(gzip.compress(reserved.encode())), encoded),
        ],
    )
    out = tmp_path / "out"
    result = filter_warc_files([source], out)
    assert result.excluded == {"noai": 1}
    assert kept(out) == {f"{A}/open"}
    assert warcio_check(output_files(out)).returncode == 0


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    texts=st.lists(
        st.text(alphabet="әғқңөұүһі абвгдеёжзий<>&\"'xyz.", min_size=1, max_size=60),
        min_size=1,
        max_size=4,
    ),
    reserved=st.lists(st.booleans(), min_size=4, max_size=4),
)
def test_property_kept_payloads_survive_byte_for_byte(
    tmp_path: Path, texts: list[str], reserved: list[bool]
) -> None:
    import uuid

    from tests.support.filter import payloads_of

    root = tmp_path / uuid.uuid4().hex
    root.mkdir()
    caps = []
    for i, text in enumerate(texts):
        headers = [("Content-Type", "text/plain; charset=utf-8")]
        if reserved[i]:
            headers.append(("TDM-Reservation", "1"))
        caps.append(Cap(f"{A}/p{i}", text, headers))
    source = root / "in.warc.gz"
    write_warc(source, caps)
    out = root / "out"
    filter_warc_files([source], out, options=FilterOptions(near_duplicates=False))
    after = payloads_of(output_files(out))
    for i, text in enumerate(texts):
        key = ("response", f"{A}/p{i}")
        assert (key in after) == (not reserved[i])
        if key in after:
            assert after[key] == text.encode("utf-8")


def test_audit_stage_is_the_signals_stage() -> None:
    from tdmcrawl.crawler.filter import audit_stage
    from tdmcrawl.optout.decision import Decision, Reason

    def decision(*reasons: tuple[str, str]) -> Decision:
        return Decision(f"{A}/", tuple(Reason(code, source, "e") for code, source in reasons))

    robots_txt = decision(("robots", "robots.txt"))
    meta = decision(("noai", "meta"))
    copy = decision(("reserved-copy", "crawl"))
    meta_and_copy = decision(("noai", "meta"), ("reserved-copy", "crawl"))
    assert [audit_stage(d) for d in (robots_txt, meta, copy, meta_and_copy)] == [
        "pre-fetch",
        "post-fetch",
        "near-duplicate",
        "post-fetch",
    ]
