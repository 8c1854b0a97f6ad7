"""The link log that lets --resume after a kill skip kept pages (crawler/linklog.py)."""

from __future__ import annotations

from tdmcrawl.crawler.linklog import LinkLog, read_link_log


def test_lines_round_trip_and_a_cut_line_is_skipped(tmp_path):
    path = tmp_path / "links.jsonl"
    log = LinkLog(path, append=False)
    log.record("http://127.0.0.1:1/қазақ.html", 0, ["http://127.0.0.1:1/a", "http://127.0.0.1:1/ә"])
    log.record("http://127.0.0.1:1/a", 1, [])
    log.close()
    log.close()  # twice is harmless
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"url": "http://127.0.0.1:1/cut", "depth": 2, "lin')  # the kill
    pages = read_link_log(path)
    assert set(pages) == {"http://127.0.0.1:1/қазақ.html", "http://127.0.0.1:1/a"}
    assert pages["http://127.0.0.1:1/қазақ.html"].links[1].endswith("/ә")
    assert pages["http://127.0.0.1:1/a"].depth == 1


def test_append_keeps_earlier_lines_and_a_new_crawl_starts_empty(tmp_path):
    path = tmp_path / "links.jsonl"
    first = LinkLog(path, append=False)
    first.record("http://h/1", 0, ["http://h/2"])
    first.close()
    resumed = LinkLog(path, append=True)
    resumed.record("http://h/2", 1, [])
    resumed.close()
    assert set(read_link_log(path)) == {"http://h/1", "http://h/2"}
    LinkLog(path, append=False).close()
    assert read_link_log(path) == {}


def test_missing_or_garbage_file_means_nothing_known(tmp_path):
    assert read_link_log(tmp_path / "none.jsonl") == {}
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_bytes(b'\xff\xfe\x00binary\n[1, 2]\n{"url": 1}\n')
    assert read_link_log(garbage) == {}
