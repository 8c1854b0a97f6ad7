"""Edits inside a copied passage, the one-page candidate path and the probing table look-up."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tdmcrawl.dedup import (
    DEFAULT_CONFIG,
    ConfigError,
    DedupConfig,
    MemoryIndex,
    fingerprint,
    similarity,
)
from tdmcrawl.dedup.index import verify
from tdmcrawl.dedup.table import KeyTable
from tests.support.dedup import ABAI, BOILERPLATE, FOOTER, text

NO_GAP = replace(DEFAULT_CONFIG, coverage_gap=0)


def kazakh_work(words: int) -> list[str]:
    """Real Kazakh prose (Abai), a short work as the benchmark's Kazakh works are."""
    body = " ".join(ABAI.split("\n", 2)[2].split())
    return body.split()[:words]


def close_edits(words: list[str], start: int, length: int) -> str:
    """Half of a work with edits four words apart: each pair uncovers the words between."""
    part = list(words[start : start + length])
    for i in range(5, length - 10, 14):
        part[i] = "өзгертілген"
        part[i + 4] = "сөз"
    return BOILERPLATE + " ".join(part) + FOOTER


def test_close_edits_inside_a_kazakh_excerpt_still_count_as_copied():
    work = kazakh_work(80)
    page = close_edits(work, 20, 36)
    cfg_fp, page_fp = fingerprint(" ".join(work)), fingerprint(page, positions=False)
    plain = similarity(page_fp.shingles, cfg_fp.shingles, cfg_fp.positions, cfg_fp.words)
    gapped = similarity(
        page_fp.shingles,
        cfg_fp.shingles,
        cfg_fp.positions,
        cfg_fp.words,
        gap=DEFAULT_CONFIG.coverage_gap,
    )
    # without gap filling the words between the edits of a pair are lost and the copy of half
    # the work falls below the threshold; with it, only the edited words are
    assert plain.coverage < DEFAULT_CONFIG.coverage_threshold <= gapped.coverage
    assert gapped.coverage < 0.5  # never more than the excerpt
    assert gapped.shared == plain.shared and gapped.containment == plain.containment

    # the index's verification takes the gap from its config
    record = (cfg_fp.shingles, cfg_fp.positions, cfg_fp.words)
    match = verify(page_fp, "abai", record, DEFAULT_CONFIG)
    assert match.key == "abai" and match.similarity == pytest.approx(gapped.coverage)
    old_page = fingerprint(page, NO_GAP, positions=False)
    assert verify(old_page, "abai", record, NO_GAP) is None


def test_gap_filling_does_not_inflate_an_exact_quotation():
    work = text("en", 300, 200).split()
    quote = " ".join(work[40:90])  # a quarter of the work, verbatim
    page = fingerprint(BOILERPLATE + text("en", 9000, 120) + " " + quote + FOOTER)
    work_fp = fingerprint(" ".join(work))
    args = (page.shingles, work_fp.shingles, work_fp.positions, work_fp.words)
    assert similarity(*args, gap=10).coverage == similarity(*args).coverage
    assert similarity(*args, gap=10).coverage < DEFAULT_CONFIG.coverage_threshold


def test_coverage_gap_is_part_of_the_config_identity():
    assert DedupConfig(coverage_gap=0).identity != DEFAULT_CONFIG.identity
    with pytest.raises(ConfigError, match="coverage_gap"):
        DedupConfig(coverage_gap=-1)
    assert DedupConfig.from_dict(DEFAULT_CONFIG.to_dict()).coverage_gap == 10


def test_one_page_candidates_equal_the_batch_rule():
    works = [
        text(lang, start, 120)
        for lang, start in (("kk", 0), ("kk", 200), ("ru", 0), ("ru", 500), ("en", 0), ("en", 800))
    ]
    index = MemoryIndex()
    index.add_many((f"w{i}", fingerprint(w)) for i, w in enumerate(works))
    index.remove("w1")
    index.add("late", fingerprint(text("kk", 400, 100)))  # sits in the insert buffer
    pages = [
        BOILERPLATE + " ".join(works[0].split()[10:70]) + FOOTER,
        BOILERPLATE + works[1] + FOOTER,  # removed work: no candidate
        " ".join(works[2].split()[:60]) + " " + " ".join(works[4].split()[50:110]),
        text("kk", 400, 100),
        text("en", 5000, 150),  # copies nothing
    ]
    for page in pages:
        fp = fingerprint(page, positions=False)
        one = index.candidates_many([fp])
        batch = index.candidates_many([fp, fp])
        assert one.tolist() == sorted(batch[batch < 2**32].tolist())
    found = [{m.key for m in index.query(fingerprint(p, positions=False))} for p in pages]
    assert found == [{"w0"}, set(), {"w2", "w4"}, {"late"}, set()]


def probe_table(keys: np.ndarray) -> KeyTable:
    return KeyTable(keys, np.arange(keys.size, dtype=np.uint32))


def expected(table_keys: np.ndarray, query: np.ndarray) -> list[tuple[int, int]]:
    return sorted(
        (q, i)
        for q, k in enumerate(query.tolist())
        for i in np.flatnonzero(table_keys == k).tolist()
    )


def test_probe_look_up_at_the_end_of_the_table_finds_each_entry_once():
    rng = np.random.default_rng(3)
    keys = np.sort(rng.integers(0, 2**64 - 1, size=5000, dtype=np.uint64, endpoint=True))
    keys[-4:] = keys[-1]  # the largest key, four times, in the last bucket
    keys[:3] = keys[0]
    table = probe_table(keys)
    assert table._probe.size  # the probing path is on
    query = np.array([keys[-1], 12345, keys[0], keys[-1], keys[2500]], dtype=np.uint64)
    qpos, ids = table.lookup(query)
    assert sorted(zip(qpos.tolist(), ids.tolist(), strict=True)) == expected(keys, query)


@pytest.mark.parametrize("size", [1, 16, 70, 300, 5000])
def test_look_up_paths_agree_for_any_query_size(size):
    rng = np.random.default_rng(size)
    keys = np.sort(rng.integers(0, 2**64 - 1, size=20000, dtype=np.uint64, endpoint=True))
    keys[100:140] = keys[100]  # one key shared by 40 works: wider than the probe allows
    for table_keys in (keys, np.delete(keys, np.s_[101:140])):
        table = probe_table(table_keys)
        query = np.concatenate(
            [
                table_keys[rng.integers(0, table_keys.size, size)],
                rng.integers(0, 2**64 - 1, size, dtype=np.uint64, endpoint=True),
                table_keys[100:101],
            ]
        )
        qpos, ids = table.lookup(query)
        assert sorted(zip(qpos.tolist(), ids.tolist(), strict=True)) == expected(table_keys, query)
