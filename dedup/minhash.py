"""One-permutation MinHash signatures, LSH band keys and anchor keys, in NumPy.

The shingle hashes of a text are already uniform 64-bit values in sorted
order, so one-permutation hashing (Li, Owen & Zhang 2012) costs a single
``searchsorted``: bin ``i`` holds the hashes whose top bits equal ``i``, and
its minimum is the first of them. Empty bins are filled by rotation
densification (Shrivastava & Li 2014): the next non-empty bin to the right,
offset by the distance, so two sets agree on a bin with probability equal to
their Jaccard similarity, as with ``num_perm`` independent permutations. The
benchmark ``bench_dedup_speed.py`` checks the estimates against datasketch,
a classic NumPy MinHash and rensa on the same documents.

Band keys hash each band of ``rows`` values with the band number, so one key
space serves every band. Anchor keys are a consistent sample of the shingle
hashes (those with ``h % anchor_rate == 0``): a page that shares a passage
with a work shares its anchors, whatever else surrounds it.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from tdmcrawl.dedup.config import DedupConfig
from tdmcrawl.dedup.text import fmix64

ANCHOR_SALT = np.uint64(0x8F1BBCDCCA62C1D6)
_ROTATE = np.uint32(0x6A09E667)


@lru_cache(maxsize=16)
def _bin_bounds(num_perm: int) -> np.ndarray:
    shift = 64 - (num_perm.bit_length() - 1)
    return np.arange(num_perm, dtype=np.uint64) << np.uint64(shift)


@lru_cache(maxsize=16)
def _band_multipliers(bands: int, rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + 0x5EED)
    mult = rng.integers(0, 2**63, size=(bands, rows), dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    salt = rng.integers(0, 2**63, size=bands, dtype=np.uint64)
    return mult, salt


def signature(shingles: np.ndarray, num_perm: int) -> np.ndarray:
    """uint32[num_perm] one-permutation MinHash of a sorted uint64 shingle array (non-empty)."""
    n = shingles.size
    first = np.searchsorted(shingles, _bin_bounds(num_perm))
    nxt = np.empty(num_perm, dtype=np.int64)
    nxt[:-1] = first[1:]
    nxt[-1] = n
    filled = first < nxt
    values = (shingles[np.minimum(first, n - 1)] & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    if filled.all():
        return values
    full = np.flatnonzero(filled)
    bins = np.arange(num_perm)
    # the nearest non-empty bin at or to the right of each bin, wrapping around
    pick = np.searchsorted(full, bins)
    donor = full[pick % full.size]
    distance = ((donor - bins) % num_perm).astype(np.uint32)
    return values[donor] + distance * _ROTATE


def band_keys(sig: np.ndarray, config: DedupConfig) -> np.ndarray:
    """uint64[bands]: one key per LSH band (rows values hashed with the band number)."""
    mult, salt = _band_multipliers(config.bands, config.rows, config.seed)
    bands = sig.astype(np.uint64).reshape(config.bands, config.rows)
    return fmix64((bands * mult).sum(axis=1, dtype=np.uint64) + salt)


def anchor_keys(shingles: np.ndarray, config: DedupConfig, limit: int | None = None) -> np.ndarray:
    """Keys of the sampled shingles; a work keeps the ``limit`` smallest (a uniform subset)."""
    sampled = shingles[(shingles & np.uint64(config.anchor_rate - 1)) == 0]
    if limit is not None:
        sampled = sampled[:limit]
    # shingle hashes are fmix64 outputs already: a salt keeps them apart from band keys
    return sampled ^ ANCHOR_SALT


def estimate_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """The share of equal signature values: the MinHash estimate of Jaccard similarity."""
    return float(np.count_nonzero(a == b)) / a.size
