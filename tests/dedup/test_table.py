"""The candidate table against a plain dict multimap (property test)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tdmcrawl.dedup import table as table_module
from tdmcrawl.dedup.table import KeyTable

# a small key space forces shared keys (one key -> many works), as popular shingles do
keys_st = st.lists(st.integers(0, 40).map(lambda k: (k * 0x9E3779B97F4A7C15) % 2**64), max_size=12)
ops_st = st.lists(st.tuples(st.sampled_from(["add", "bulk", "flush"]), keys_st), max_size=40)


def reference_lookup(ref: dict[int, list[int]], query: list[int]) -> list[tuple[int, int]]:
    return sorted((i, w) for i, k in enumerate(query) for w in ref.get(k, []))


@settings(max_examples=150, deadline=None)
@given(ops=ops_st, query=keys_st)
def test_lookup_matches_a_dict_multimap(ops, query):
    table = KeyTable()
    ref: dict[int, list[int]] = defaultdict(list)
    for work_id, (op, keys) in enumerate(ops):
        arr = np.array(keys, dtype=np.uint64)
        if op == "add":
            table.add(arr, work_id)
        elif op == "bulk":
            table.add_many(arr, np.full(arr.size, work_id, dtype=np.uint32))
        else:
            table.flush()
            continue
        for k in keys:
            ref[k].append(work_id)
    qpos, ids = table.lookup(np.array(query, dtype=np.uint64))
    assert sorted(zip(qpos.tolist(), ids.tolist(), strict=True)) == reference_lookup(ref, query)
    assert len(table) == sum(len(v) for v in ref.values())


def test_buffer_merges_when_full_and_keeps_answers(monkeypatch):
    monkeypatch.setattr(table_module, "_MIN_BUFFER", 8)
    table = KeyTable()
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 2**63, size=(50, 4), dtype=np.uint64)
    for work_id, row in enumerate(keys):
        table.add(row, work_id)
    assert table._keys.size >= 150 and table._buffered > 0  # merged along the way, some buffered
    qpos, ids = table.lookup(keys[:, 0])
    assert ids.tolist() == list(range(50)) and qpos.tolist() == list(range(50))
    keys_sorted, _ = table.arrays()
    assert np.all(keys_sorted[1:] >= keys_sorted[:-1])
