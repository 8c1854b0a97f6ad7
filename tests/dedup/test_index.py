"""The reserved-works index: one test class run against the in-memory and the Redis backend."""

from __future__ import annotations

import json

import pytest

from tdmcrawl.dedup import (
    DEFAULT_CONFIG,
    DedupConfig,
    Fingerprint,
    IndexConfigMismatch,
    IndexFileError,
    MemoryIndex,
    ReservedIndex,
    fingerprint,
)
from tdmcrawl.dedup.redis_index import RedisIndex
from tests.support.dedup import ABAI, PUSHKIN, UDHR_EN, edit_words, excerpt, text, wrap
from tests.support.redis import redis_server

WORKS = {
    "reg:abai": ABAI,
    "reg:pushkin": PUSHKIN,
    "https://example.kz/udhr": UDHR_EN,
    **{f"reg:en{i}": text("en", 40 * i, 400) for i in range(1, 6)},
    **{f"reg:ru{i}": text("ru", 3000 + 40 * i, 400) for i in range(1, 6)},
    **{f"reg:kk{i}": text("kk", 300 * i, 250) for i in range(1, 4)},
}


@pytest.fixture(scope="module")
def redis_address(tmp_path_factory):
    with redis_server(tmp_path_factory.mktemp("redis")) as address:
        yield address


@pytest.fixture(params=["memory", "redis"])
def make_index(request, tmp_path):
    created = []

    def make(config: DedupConfig = DEFAULT_CONFIG, namespace: str = "t"):
        if request.param == "memory":
            index = MemoryIndex(config)
        else:
            host, port = request.getfixturevalue("redis_address")
            ns = f"{request.node.name}:{namespace}"
            index = RedisIndex(config, host=host, port=port, namespace=ns)
        created.append(index)
        return index

    yield make
    for index in created:
        if isinstance(index, RedisIndex):
            index.clear()


@pytest.fixture
def index(make_index):
    idx = make_index()
    for key, body in WORKS.items():
        idx.add(key, fingerprint(body))
    return idx


def best(index, page_text):
    fp = fingerprint(page_text)
    assert fp is not None
    matches = index.query(fp)
    return matches[0] if matches else None


class TestReservedIndex:
    def test_is_a_reserved_index(self, index):
        assert isinstance(index, ReservedIndex)
        assert len(index) == len(WORKS)
        assert "reg:abai" in index and "reg:nope" not in index

    @pytest.mark.parametrize("key", ["reg:abai", "reg:pushkin", "reg:ru2", "reg:en3", "reg:kk1"])
    def test_exact_copy_in_other_boilerplate_matches(self, index, key):
        match = best(index, wrap(WORKS[key], seed=3))
        assert match is not None and match.key == key
        assert match.containment == pytest.approx(1.0)
        assert match.similarity == pytest.approx(1.0) and match.measure == "coverage"
        assert 0 < match.jaccard < 1 and match.shared > 20

    def test_case_and_whitespace_changes_match(self, index):
        page = "\n\n".join(WORKS["reg:ru3"].upper().split(" "))
        match = best(index, page)
        assert match.key == "reg:ru3" and match.containment == pytest.approx(1.0)

    @pytest.mark.parametrize("share", [0.5, 0.7, 0.9])
    @pytest.mark.parametrize("key", ["reg:en2", "reg:ru4", "reg:abai"])
    def test_partial_copy_with_edits_matches(self, index, key, share):
        body = edit_words(excerpt(WORKS[key], share, seed=5), 0.05, seed=9)
        match = best(index, wrap(body, seed=4))
        assert match is not None and match.key == key
        # verified measures are exact, and reflect the share copied
        assert 0.35 <= match.similarity <= share + 0.01
        assert match.containment <= match.similarity

    @pytest.mark.parametrize("share", [0.08, 0.3])
    def test_quotation_is_not_a_copy(self, index, share):
        page = wrap(text("en", 8000, 300) + " " + excerpt(WORKS["reg:en4"], share), seed=1)
        assert index.query(fingerprint(page)) == []

    def test_unrelated_pages_on_the_same_topic_do_not_match(self, index):
        for start in (5000, 6000, 7000):
            assert index.query(fingerprint(wrap(text("en", start, 500)))) == []
            assert index.query(fingerprint(wrap(text("ru", start, 500)))) == []

    def test_query_many_equals_query(self, index):
        pages = [fingerprint(wrap(WORKS[k], seed=i)) for i, k in enumerate(WORKS)]
        pages.append(fingerprint(text("en", 9000, 300)))
        assert index.query_many(pages) == [index.query(p) for p in pages]
        assert [m[0].key for m in index.query_many(pages)[:-1]] == list(WORKS)

    def test_readding_a_key_replaces_the_work(self, index):
        index.add("reg:abai", fingerprint(text("en", 9500, 300)))
        assert len(index) == len(WORKS)
        assert best(index, ABAI) is None
        assert best(index, text("en", 9500, 300)).key == "reg:abai"

    def test_remove(self, index):
        assert index.remove("reg:pushkin") is True
        assert index.remove("reg:pushkin") is False
        assert best(index, PUSHKIN) is None
        assert len(index) == len(WORKS) - 1

    def test_fingerprint_of_another_config_is_refused(self, index):
        other = DedupConfig(ngram=4)
        with pytest.raises(IndexConfigMismatch, match="tdmcrawl registry reindex"):
            index.query(fingerprint(ABAI, other))
        with pytest.raises(IndexConfigMismatch):
            index.add("x", fingerprint(ABAI, other))

    def test_save_and_load_round_trip(self, index, tmp_path):
        index.save(tmp_path / "idx")
        loaded = MemoryIndex.load(tmp_path / "idx", DEFAULT_CONFIG)
        assert len(loaded) == len(WORKS)
        pages = [fingerprint(wrap(excerpt(WORKS[k], 0.6), seed=2)) for k in WORKS]
        assert loaded.query_many(pages) == index.query_many(pages)
        # a loaded index keeps growing, and saves again in place
        loaded.add("reg:new", fingerprint(text("ru", 9000, 300)))
        loaded.save(tmp_path / "idx")
        again = MemoryIndex.load(tmp_path / "idx")
        assert best(again, text("ru", 9000, 300)).key == "reg:new"
        assert best(again, ABAI).key == "reg:abai"
        loaded.close()
        again.close()


def test_memory_index_survives_the_insert_buffer_merge():
    index = MemoryIndex()
    bodies = {f"w{i}": text("en", 20 * i, 120) for i in range(300)}
    for key, body in bodies.items():
        index.add(key, fingerprint(body))
        if key == "w150":
            index._table.flush()  # half in the sorted arrays, half in the buffer
    for key in ("w0", "w149", "w151", "w299"):
        assert best(index, wrap(bodies[key])).key == key


def test_shingles_can_live_in_a_file(tmp_path):
    index = MemoryIndex(shingle_file=tmp_path / "shingles.bin")
    index.add("reg:abai", fingerprint(ABAI))
    assert (tmp_path / "shingles.bin").stat().st_size == 4 + 12 * len(fingerprint(ABAI))
    assert best(index, wrap(ABAI)).key == "reg:abai"
    index.close()


def test_load_refuses_another_config_and_names_the_command(tmp_path):
    index = MemoryIndex()
    index.add("reg:abai", fingerprint(ABAI))
    index.save(tmp_path / "idx")
    bigger = DedupConfig(num_perm=256, bands=32)
    with pytest.raises(IndexConfigMismatch) as err:
        MemoryIndex.load(tmp_path / "idx", bigger)
    assert "num_perm=128, config is 256" in str(err.value)
    assert "`tdmcrawl registry reindex`" in str(err.value)


def test_load_reports_missing_or_damaged_index(tmp_path):
    with pytest.raises(IndexFileError, match="no dedup index"):
        MemoryIndex.load(tmp_path / "nothing")
    index = MemoryIndex()
    index.add("reg:abai", fingerprint(ABAI))
    index.save(tmp_path / "idx")
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    manifest["works"] = 5
    (tmp_path / "idx" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexFileError, match="inconsistent"):
        MemoryIndex.load(tmp_path / "idx")
    (tmp_path / "idx" / "manifest.json").write_text("{not json")
    with pytest.raises(IndexFileError, match="unreadable"):
        MemoryIndex.load(tmp_path / "idx")


def test_redis_namespace_refuses_another_config(redis_address):
    host, port = redis_address
    first = RedisIndex(DEFAULT_CONFIG, host=host, port=port, namespace="cfgcheck")
    first.add("reg:abai", fingerprint(ABAI))
    with pytest.raises(IndexConfigMismatch, match="tdmcrawl registry reindex"):
        RedisIndex(DedupConfig(num_perm=256, bands=32), host=host, port=port, namespace="cfgcheck")
    first.clear()


def test_two_redis_clients_share_one_index(redis_address, tmp_path):
    host, port = redis_address
    writer = RedisIndex(host=host, port=port, namespace="shared")
    reader = RedisIndex(host=host, port=port, namespace="shared")
    writer.add("https://site.kz/reserved", fingerprint(ABAI))
    assert best(reader, wrap(excerpt(ABAI, 0.6))).key == "https://site.kz/reserved"
    # snapshot export / import through the on-disk format
    reader.save(tmp_path / "snap")
    imported = RedisIndex.load(tmp_path / "snap", host=host, port=port, namespace="imported")
    assert best(imported, ABAI).key == "https://site.kz/reserved"
    writer.clear()
    imported.clear()


def test_spooled_page_bytes_are_rechecked_against_a_grown_index():
    # the crawler's release step: a page kept early, re-checked after its original is found
    index = MemoryIndex()
    spooled = fingerprint(wrap(excerpt(PUSHKIN, 0.7), seed=8), positions=False).to_bytes()
    assert index.query(Fingerprint.from_bytes(spooled)) == []
    index.add("https://reserved.example/pushkin", fingerprint(PUSHKIN))
    (match,) = index.query(Fingerprint.from_bytes(spooled))
    assert match.key == "https://reserved.example/pushkin"
    assert "coverage=" in match.evidence() and match.key in match.evidence()


def test_work_without_positions_is_verified_by_containment():
    index = MemoryIndex()
    index.add("reg:abai", fingerprint(ABAI, positions=False))
    (match,) = index.query(fingerprint(wrap(ABAI)))
    assert match.measure == "containment" and match.similarity == match.containment == 1.0


def test_adding_the_same_work_again_adds_nothing():
    index = MemoryIndex()
    fp = fingerprint(ABAI)
    index.add("https://site.kz/abai", fp)
    entries = len(index._table)
    index.add("https://site.kz/abai", Fingerprint.from_bytes(fp.to_bytes()))
    assert len(index._table) == entries and len(index) == 1
    assert best(index, ABAI).key == "https://site.kz/abai"
