"""A compact uint64 -> uint32 multimap for LSH candidate generation.

The big in-memory LSH only needs "which works have this band key or anchor
key": 12 bytes per entry in two parallel NumPy arrays sorted by key, plus a
radix directory on the top bits of the key (keys are uniform hashes), so a
look-up is two gathers instead of a binary search, and a batch of look-ups
is a handful of vectorised operations. New entries wait in a dict and are
merged in linear time once the buffer reaches 1/16 of the table, so the
amortised cost of an insert stays small while memory stays bounded.
"""

from __future__ import annotations

import numpy as np

_MIN_BUFFER = 1 << 16
_EMPTY = np.empty(0, dtype=np.int64)


# A query of n keys probes n x (widest bucket) entries: cheaper than the exact-bucket
# expansion up to ~1,000 probes (one page's band keys: call overhead dominates), no better
# above (random memory reads dominate there; measured, bench_dedup_lsh.py).
_PROBE_BUDGET = 1024
_PROBE_WIDTH = 32  # no probing when a bucket holds more (keys shared by many works)


def _directory(keys: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Radix directory on the top bits: (offsets, shift, largest bucket)."""
    bits = max(4, min(32, int(keys.size).bit_length() - 2))
    shift = 64 - bits
    counts = np.bincount((keys >> np.uint64(shift)).astype(np.int64), minlength=1 << bits)
    offsets = np.zeros((1 << bits) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    dtype = np.uint32 if keys.size < 2**32 else np.int64
    return offsets.astype(dtype), shift, int(counts.max(initial=0))


class KeyTable:
    """Sorted (key, id) pairs with a radix directory and an insert buffer."""

    def __init__(self, keys: np.ndarray | None = None, ids: np.ndarray | None = None) -> None:
        if keys is None or ids is None:
            keys, ids = np.empty(0, np.uint64), np.empty(0, np.uint32)
        if keys.size != ids.size:
            raise ValueError("keys and ids differ in length")
        order = None if keys.size < 2 or (keys[1:] >= keys[:-1]).all() else np.argsort(keys)
        self._keys = keys.astype(np.uint64, copy=False) if order is None else keys[order]
        self._ids = (ids if order is None else ids[order]).astype(np.uint32, copy=False)
        self._set_directory()
        self._buffer: dict[int, int | list[int]] = {}
        self._buffered = 0

    def __len__(self) -> int:
        return int(self._keys.size) + self._buffered

    @property
    def nbytes(self) -> int:
        return self._keys.nbytes + self._ids.nbytes + self._offsets.nbytes

    def add(self, keys: np.ndarray, work_id: int) -> None:
        buf = self._buffer
        for key in keys.tolist():
            old = buf.get(key)
            if old is None:
                buf[key] = work_id
            elif isinstance(old, list):
                old.append(work_id)
            else:
                buf[key] = [old, work_id]
        self._buffered += int(keys.size)
        if self._buffered >= max(_MIN_BUFFER, self._keys.size >> 4):
            self.flush()

    def add_many(self, keys: np.ndarray, ids: np.ndarray) -> None:
        """Bulk insert (parallel arrays): one sort and one merge."""
        self.flush()
        self._merge(keys.astype(np.uint64), ids.astype(np.uint32))

    def flush(self) -> None:
        """Merge the insert buffer into the sorted arrays."""
        if not self._buffer:
            return
        keys, ids = [], []
        for key, value in self._buffer.items():
            if isinstance(value, list):
                keys.extend([key] * len(value))
                ids.extend(value)
            else:
                keys.append(key)
                ids.append(value)
        self._buffer, self._buffered = {}, 0
        self._merge(np.array(keys, dtype=np.uint64), np.array(ids, dtype=np.uint32))

    def _merge(self, keys: np.ndarray, ids: np.ndarray) -> None:
        order = np.argsort(keys, kind="stable")
        keys, ids = keys[order], ids[order]
        # linear merge: each new entry's final position = its rank + entries before it
        pos = np.searchsorted(self._keys, keys, side="right") + np.arange(keys.size)
        total = self._keys.size + keys.size
        merged_keys = np.empty(total, dtype=np.uint64)
        merged_ids = np.empty(total, dtype=np.uint32)
        old_mask = np.ones(total, dtype=bool)
        old_mask[pos] = False
        merged_keys[pos], merged_ids[pos] = keys, ids
        merged_keys[old_mask], merged_ids[old_mask] = self._keys, self._ids
        self._keys, self._ids = merged_keys, merged_ids
        self._set_directory()

    def _set_directory(self) -> None:
        self._offsets, shift, widest = _directory(self._keys)
        self._shift = shift
        self._shift64 = np.uint64(shift)
        # a key lies in its bucket, and the entries after a bucket belong to later buckets
        # (other top bits), so probing a fixed width past a bucket's start never finds a
        # wrong key: no per-key bucket sizes, no expansion, a handful of NumPy calls
        self._probe = np.arange(widest if widest <= _PROBE_WIDTH else 0, dtype=np.intp)

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """All (query position, id) pairs whose key is in the table, in query order."""
        qpos = ids = _EMPTY
        if keys.size and self._keys.size:
            bucket = keys >> self._shift64
            lo = self._offsets[bucket]
            width = self._probe.size
            if not 0 < keys.size * width <= _PROBE_BUDGET:
                counts = self._offsets[bucket + 1] - lo
                width = int(counts.max())  # the widest bucket this query touches
            if width and keys.size * width <= _PROBE_BUDGET:
                qpos, ids = self._probe_lookup(keys, lo, width)
            elif width:
                qpos, ids = self._expand_lookup(keys, lo.astype(np.intp), counts.astype(np.intp))
        if self._buffer:
            extra_q, extra_ids = [], []
            get = self._buffer.get
            for i, key in enumerate(keys.tolist()):
                value = get(key)
                if value is None:
                    continue
                if isinstance(value, list):
                    extra_q.extend([i] * len(value))
                    extra_ids.extend(value)
                else:
                    extra_q.append(i)
                    extra_ids.append(value)
            if extra_q:
                qpos = np.concatenate([qpos, np.array(extra_q, dtype=np.int64)])
                ids = np.concatenate([ids, np.array(extra_ids, dtype=np.int64)])
        return qpos, ids

    def _probe_lookup(
        self, keys: np.ndarray, lo: np.ndarray, width: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Compare each key with the ``width`` entries from its bucket's start: a handful
        of NumPy calls, what counts for one page (per-call overhead, not work, dominates)."""
        probe = self._probe if width == self._probe.size else np.arange(width, dtype=np.intp)
        pos = lo[:, None] + probe  # uint32 + intp: intp, no overflow
        found = (self._keys.take(pos, mode="clip") == keys[:, None]).ravel().nonzero()[0]
        if not found.size:
            return _EMPTY, _EMPTY
        pos = pos.ravel()[found]
        if int(pos.max()) >= self._keys.size:  # clipped past the end: the last entry, again
            keep = pos < self._keys.size
            found, pos = found[keep], pos[keep]
        return found // width, self._ids[pos].astype(np.int64)

    def _expand_lookup(
        self, keys: np.ndarray, lo: np.ndarray, counts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Compare each key with exactly its bucket's entries (large batches)."""
        total = int(counts.sum())
        if total == keys.size and (counts == 1).all():  # the common sparse case
            owner, pos = np.arange(keys.size), lo
        else:
            owner = np.repeat(np.arange(keys.size), counts)
            starts = np.cumsum(counts) - counts
            pos = lo[owner] + np.arange(total) - starts[owner]
        hit = self._keys[pos] == keys[owner]
        return owner[hit], self._ids[pos[hit]].astype(np.int64)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The sorted (keys, ids) arrays, buffer merged (for saving)."""
        self.flush()
        return self._keys, self._ids
