"""The near-duplicate gate and release step driven item by item (no crawl): real WARC files,
real audit database, real spool; the crawl order is whatever each test says."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from tdmcrawl.crawler.gates.neardup import SPOOL_NAME, NearDuplicateGate
from tdmcrawl.crawler.output import WarcOutputPipeline
from tdmcrawl.crawler.reserved import CRAWL_PREFIX, REGISTRY_PREFIX, SHINGLES_NAME, match_reasons
from tdmcrawl.crawler.session import CrawlSession
from tdmcrawl.crawler.warc.rewrite import record_offsets
from tdmcrawl.dedup import Match
from tdmcrawl.optout.decision import Decision
from tests.support.neardup import ORIGINAL_KK, OTHER_KK, filler, page_item
from tests.support.warc import read_records, warcio_check

ORIGINAL_URL = "http://127.0.0.1:8/original"


class Harness:
    """Session, gate and WARC output of one crawl, wired as the add-on wires them."""

    def __init__(self, out: Path, max_size: int = 1_000_000, *, resume: bool = False) -> None:
        self.out = out
        self.crawler = get_crawler(
            settings_dict={
                "TDMCRAWL_OUT_DIR": str(out),
                "TDMCRAWL_WARC_MAX_SIZE": max_size,
                "TDMCRAWL_CRAWL_ID": "test-crawl",
                "TDMCRAWL_RESUME": resume,
            }
        )
        self.crawler.stats.open_spider()
        self.session = CrawlSession.of(self.crawler)
        self.session.open()
        self.gate = NearDuplicateGate.from_crawler(self.crawler)
        self.gate.open()
        self.output = WarcOutputPipeline.from_crawler(self.crawler)
        self.output.open_spider()

    def keep(self, path: str, text: str) -> bool:
        """The item through the gate, then the output; False when the gate dropped it."""
        item = page_item(path, text)
        try:
            self.gate.process_item(item)
        except DropItem:
            return False
        self.output.process_item(item)
        self.session.count_kept(item)
        return True

    def find_reserved(self, text: str = ORIGINAL_KK) -> None:
        self.session.reserved(ORIGINAL_URL, text, Decision(url=ORIGINAL_URL))

    def finish(self) -> None:
        self.output.close_spider()
        self.gate.close()
        self.session.close()

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.out / "audit.sqlite")

    def exclusions(self) -> dict[str, tuple]:
        rows = self.db().execute(
            "select url, reason, stage, source, matched_work, similarity from exclusions"
        )
        return {row[0]: row[1:] for row in rows}

    def warc_urls(self) -> list[str]:
        return [
            r["warc"].get("WARC-Target-URI")
            for path in self.files()
            for r in read_records(path)
            if r["type"] == "response"
        ]

    def files(self) -> list[Path]:
        return sorted((self.out / "warc").glob("*.warc.gz"))


def url(path: str) -> str:
    return f"http://127.0.0.1:9/{path}"


def assert_kept_rows_match_the_files(h: Harness) -> None:
    found = {}
    for path in h.files():
        offsets = record_offsets(path)  # read back from the file as it is now
        for record in read_records(path):
            if record["type"] == "response":
                rid = record["warc"].get("WARC-Record-ID")
                found[rid] = (record["warc"].get("WARC-Target-URI"), path.name, offsets[rid])
    rows = h.db().execute("select record_id, url, warc_file, warc_offset from kept").fetchall()
    assert {rid: (u, f, o) for rid, u, f, o in rows} == found


def test_gate_excludes_a_copy_of_a_page_already_found_reserved(tmp_path):
    h = Harness(tmp_path)
    h.find_reserved()
    assert not h.keep("copy", "Бөлісу: " + ORIGINAL_KK)
    assert h.keep("other", OTHER_KK)
    h.finish()
    reason, stage, source, matched, similarity = h.exclusions()[url("copy")]
    assert (reason, stage, source, matched) == (
        "reserved-copy",
        "near-duplicate",
        "crawl",
        ORIGINAL_URL,
    )
    assert similarity > 0.95
    assert h.warc_urls() == [url("other")]
    assert h.session.kept == 1


def test_copy_in_a_file_closed_early_is_cut_out_at_the_end(tmp_path):
    h = Harness(tmp_path, max_size=4500)  # two pages per file
    for path, text in (("copy", ORIGINAL_KK), ("day0", filler(0)), ("day1", filler(1))):
        assert h.keep(path, text)
    assert h.output.writer.finished, "the copy's file must be renamed during the crawl"
    first = h.output.writer.finished[0]
    assert [
        r["warc"].get("WARC-Target-URI") for r in read_records(first) if r["type"] == "response"
    ] == [url("copy"), url("day0")]
    for i in range(2, 4):
        assert h.keep(f"day{i}", filler(i))
    h.find_reserved()  # found only now, after the copy's file was released
    h.finish()
    assert h.exclusions()[url("copy")][:3] == ("reserved-copy", "release", "crawl")
    assert url("copy") not in h.warc_urls()
    assert set(h.warc_urls()) == {url(f"day{i}") for i in range(4)}
    # Rewritten, not deleted: the page written after the copy is still there, moved up.
    assert [
        r["warc"].get("WARC-Target-URI") for r in read_records(first) if r["type"] == "response"
    ] == [url("day0")]
    assert_kept_rows_match_the_files(h)
    assert all(warcio_check(path).returncode == 0 for path in h.files())
    assert h.session.kept == 4
    assert h.crawler.stats.get_value("tdmcrawl/neardup/files_rewritten") == 1


def test_copy_in_the_open_file_is_vetoed_before_the_rename(tmp_path):
    h = Harness(tmp_path, max_size=5000)
    assert h.keep("day0", filler(0)) and h.keep("copy", ORIGINAL_KK)
    assert not h.output.writer.finished
    h.find_reserved()
    assert h.keep("day1", filler(1)) and h.keep("day2", filler(2))  # rotation: the file closes
    assert h.output.writer.finished
    assert h.crawler.stats.get_value("tdmcrawl/warc/vetoed") == 1
    assert url("copy") not in h.warc_urls()  # already before the end of the crawl
    h.finish()
    assert h.exclusions()[url("copy")][:2] == ("reserved-copy", "release")
    assert_kept_rows_match_the_files(h)
    assert h.crawler.stats.get_value("tdmcrawl/neardup/files_rewritten") is None


def test_page_vetoed_by_its_own_write_gets_no_kept_row(tmp_path):
    h = Harness(tmp_path, max_size=100)  # every page closes its file
    item = page_item("copy", ORIGINAL_KK)
    h.gate.process_item(item)  # passes: the original is not known yet
    h.find_reserved()  # found while the page is on its way to the output
    h.session.count_kept(h.output.process_item(item))
    h.finish()
    assert h.session.kept == 0
    assert h.files() == []  # its file held nothing else and was deleted
    assert h.db().execute("select count(*) from kept").fetchone()[0] == 0
    assert h.exclusions()[url("copy")][:2] == ("reserved-copy", "release")


def test_pages_checked_since_the_last_addition_are_not_queried_again(tmp_path):
    h = Harness(tmp_path, max_size=3000)
    for i in range(4):
        assert h.keep(f"day{i}", filler(i))
    queried: list[int] = []
    matches = h.gate.works.matches
    h.gate.works.matches = lambda fps: queried.append(len(fps)) or matches(fps)
    h.finish()
    assert sum(queried) == 0  # nothing was added to the index after they were checked


def test_short_pages_are_never_matched_and_unspooled(tmp_path):
    h = Harness(tmp_path)
    h.find_reserved("Қысқа мәтін.")  # too short to fingerprint: not indexed
    assert h.keep("short", "Қысқа мәтін.")
    h.finish()
    assert h.exclusions() == {}
    spool = sqlite3.connect(tmp_path / SPOOL_NAME)
    assert spool.execute("select count(*) from pages").fetchone()[0] == 0


def test_spool_and_index_files_hold_signatures_never_text(tmp_path):
    h = Harness(tmp_path)
    h.find_reserved()
    assert h.keep("other", OTHER_KK)
    h.finish()
    for name in (SPOOL_NAME, SHINGLES_NAME):
        data = (tmp_path / name).read_bytes()
        for word in ("мұражай", "кітапханасы", "Ертіс"):
            assert word.encode() not in data, name


def test_reserved_pages_of_an_earlier_run_are_reloaded(tmp_path):
    first = Harness(tmp_path)
    first.find_reserved()
    first.finish()
    second = Harness(tmp_path, resume=True)  # --resume: the same DIR, a new process
    assert not second.keep("copy", ORIGINAL_KK)
    second.finish()
    assert second.exclusions()[url("copy")][:2] == ("reserved-copy", "near-duplicate")


def test_a_new_crawl_inherits_nothing_from_an_old_spool(tmp_path):
    first = Harness(tmp_path)
    first.find_reserved()
    first.finish()
    second = Harness(tmp_path)  # not a resume (e.g. the demo run again over its directory)
    assert second.keep("copy", ORIGINAL_KK)
    second.finish()


def test_gate_fails_closed_when_the_index_is_unavailable(tmp_path):
    h = Harness(tmp_path)
    h.gate.error = "ConnectionError: redis is down"
    with pytest.raises(DropItem, match="unavailable"):
        h.gate.process_item(page_item("any", OTHER_KK))
    h.finish()


def test_gate_is_off_with_the_setting(tmp_path):
    from scrapy.exceptions import NotConfigured

    crawler = get_crawler(
        settings_dict={"TDMCRAWL_OUT_DIR": str(tmp_path), "TDMCRAWL_DEDUP": "false"}
    )
    with pytest.raises(NotConfigured, match="TDMCRAWL_DEDUP"):
        NearDuplicateGate.from_crawler(crawler)


def test_match_reasons_name_the_registry_entry_or_the_reserved_url():
    matches = [
        Match(REGISTRY_PREFIX + "abc-123#2", 0.91, 0.9, 0.8, 70),
        Match(CRAWL_PREFIX + "https://мысал.kz/мақала", 0.5, 0.45, 0.3, 30),
    ]
    first, second = match_reasons(matches)
    assert (first.code.value, first.source, first.matched_work, first.similarity) == (
        "registry-content",
        "registry",
        "abc-123",
        0.91,
    )
    assert "near-duplicate of abc-123#2: coverage=0.910" in first.evidence
    assert (second.code.value, second.source, second.matched_work) == (
        "reserved-copy",
        "crawl",
        "https://мысал.kz/мақала",
    )


def test_resumed_crawl_rechecks_the_files_of_the_earlier_run(tmp_path):
    first = Harness(tmp_path)
    assert first.keep("copy", ORIGINAL_KK) and first.keep("day0", filler(0))
    first.finish()
    assert url("copy") in first.warc_urls()
    second = Harness(tmp_path, resume=True)  # --resume into the same DIR
    second.find_reserved()
    assert second.keep("day1", filler(1))
    second.finish()
    assert sorted(second.warc_urls()) == [url("day0"), url("day1")]
    assert second.exclusions()[url("copy")][:2] == ("reserved-copy", "release")
    assert_kept_rows_match_the_files(second)


def test_unreachable_redis_index_is_a_clear_configuration_error(tmp_path):
    from scrapy.exceptions import NotConfigured

    from tdmcrawl.crawler.demo.loopback import free_port
    from tdmcrawl.crawler.reserved import ReservedWorks

    settings = get_crawler(
        settings_dict={"TDMCRAWL_DEDUP_REDIS": f"redis://127.0.0.1:{free_port()}/0"}
    ).settings
    expected = r"TDMCRAWL_DEDUP_REDIS=redis://127\.0\.0\.1:.*cannot use Redis"
    with pytest.raises(NotConfigured, match=expected):
        ReservedWorks.open(settings, tmp_path)
