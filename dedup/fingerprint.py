"""Fingerprints: what dedup keeps of a text (never the text itself).

A :class:`Fingerprint` is the sorted array of 64-bit word-shingle hashes of
the normalised text, the word index where each first occurs, its word count
and the identity of the config that made it. Everything else derives from
the shingles in microseconds: the MinHash signature, the LSH band keys, the
anchors, and exact verification (coverage, containment and Jaccard). The
bytes form is a small header, the little-endian hashes and positions: 12
bytes per distinct shingle, no pickle.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from tdmcrawl.dedup.config import DEFAULT_CONFIG, DedupConfig
from tdmcrawl.dedup.errors import FingerprintError
from tdmcrawl.dedup.minhash import anchor_keys, band_keys, signature
from tdmcrawl.dedup.text import shingle_hashes_from_tokens, token_hashes

_MAGIC = b"TDMF"
_VERSION = 1
_HEADER = struct.Struct("<4sBB")  # magic, version, identity length
_COUNTS = struct.Struct("<IIB")  # words, shingles, positions present


@dataclass(frozen=True, eq=False)
class Fingerprint:
    """Sorted distinct uint64 shingle hashes of a text, with its word count and config."""

    shingles: np.ndarray
    words: int
    config_identity: str
    positions: np.ndarray | None = None  # uint32 first word index of each shingle

    def __post_init__(self) -> None:
        if self.positions is not None and self.positions.shape != self.shingles.shape:
            raise FingerprintError("fingerprint positions and shingles differ in length")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Fingerprint):
            return NotImplemented
        if self.positions is None or other.positions is None:
            same_positions = self.positions is None and other.positions is None
        else:
            same_positions = np.array_equal(self.positions, other.positions)
        return (
            self.words == other.words
            and self.config_identity == other.config_identity
            and np.array_equal(self.shingles, other.shingles)
            and same_positions
        )

    __hash__ = None  # type: ignore[assignment]

    def __len__(self) -> int:
        return int(self.shingles.size)

    def __repr__(self) -> str:
        n, ident = self.shingles.size, self.config_identity
        return f"Fingerprint({n} shingles, {self.words} words, {ident})"

    def signature(self, config: DedupConfig = DEFAULT_CONFIG) -> np.ndarray:
        """uint32[num_perm] MinHash signature."""
        return signature(self.shingles, config.num_perm)

    @cached_property
    def _default_bands(self) -> np.ndarray:
        return band_keys(signature(self.shingles, DEFAULT_CONFIG.num_perm), DEFAULT_CONFIG)

    def band_keys(self, config: DedupConfig = DEFAULT_CONFIG) -> np.ndarray:
        if config is DEFAULT_CONFIG:
            return self._default_bands
        return band_keys(signature(self.shingles, config.num_perm), config)

    def anchor_keys(
        self, config: DedupConfig = DEFAULT_CONFIG, limit: int | None = None
    ) -> np.ndarray:
        return anchor_keys(self.shingles, config, limit)

    def to_bytes(self) -> bytes:
        ident = self.config_identity.encode("ascii")
        has_pos = self.positions is not None
        parts = [
            _HEADER.pack(_MAGIC, _VERSION, len(ident)),
            ident,
            _COUNTS.pack(self.words, self.shingles.size, has_pos),
            self.shingles.astype("<u8", copy=False).tobytes(),
        ]
        if self.positions is not None:
            parts.append(self.positions.astype("<u4", copy=False).tobytes())
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Fingerprint:
        data = bytes(data)
        if len(data) < _HEADER.size:
            raise FingerprintError(f"fingerprint bytes too short ({len(data)} bytes)")
        magic, version, ident_len = _HEADER.unpack_from(data)
        if magic != _MAGIC:
            raise FingerprintError("not a tdmcrawl fingerprint (bad magic bytes)")
        if version != _VERSION:
            raise FingerprintError(
                f"fingerprint format version {version}, this tdmcrawl reads {_VERSION}: "
                "recompute the fingerprints with this version"
            )
        pos = _HEADER.size + ident_len
        if len(data) < pos + _COUNTS.size:
            raise FingerprintError("fingerprint bytes truncated in the header")
        try:
            ident = data[_HEADER.size : pos].decode("ascii")
        except UnicodeDecodeError as exc:
            raise FingerprintError("fingerprint config identity is not ASCII") from exc
        words, count, has_pos = _COUNTS.unpack_from(data, pos)
        pos += _COUNTS.size
        width = 12 if has_pos else 8
        if has_pos > 1 or len(data) != pos + width * count:
            raise FingerprintError(
                f"fingerprint holds {len(data) - pos} bytes of hashes, header says {count} hashes"
            )
        shingles = np.frombuffer(data, dtype="<u8", count=count, offset=pos).astype(np.uint64)
        if count > 1 and not (shingles[1:] > shingles[:-1]).all():
            raise FingerprintError("fingerprint hashes are not sorted and distinct (corrupt)")
        positions = None
        if has_pos:
            positions = np.frombuffer(data, dtype="<u4", count=count, offset=pos + 8 * count)
            positions = positions.astype(np.uint32)
            if count and int(positions.max()) >= max(1, words):
                raise FingerprintError("fingerprint positions exceed its word count (corrupt)")
        return cls(shingles=shingles, words=int(words), config_identity=ident, positions=positions)


def fingerprint(
    text: str, config: DedupConfig = DEFAULT_CONFIG, *, positions: bool = True
) -> Fingerprint | None:
    """The fingerprint of ``text``, or None when it is too short to match anything.

    The short-text rule: a text with fewer than ``config.min_shingles`` distinct
    word n-grams (about ``min_shingles + ngram - 1`` words) gets no fingerprint,
    so two near-empty pages can never "match".

    ``positions=False`` skips the shingle positions, which only a *reserved
    work* needs (to measure how much of it a page covers): a page that is only
    queried can save that ~20 % of the cost. Adding such a fingerprint to an
    index makes its matches fall back to containment.
    """
    if not isinstance(text, str):
        raise TypeError(f"fingerprint() takes str, not {type(text).__name__}")
    tokens = token_hashes(text)
    if positions:
        shingles, where = shingle_hashes_from_tokens(
            tokens, config.ngram, config.seed, positions=True
        )
    else:
        shingles, where = shingle_hashes_from_tokens(tokens, config.ngram, config.seed), None
    if shingles.size < config.min_shingles:
        return None
    return Fingerprint(shingles, int(tokens.size), config.identity, where)


def _hits(page: np.ndarray, work: np.ndarray) -> np.ndarray:
    """Boolean mask over ``work``: which of its hashes the page has (both sorted, distinct)."""
    if page.size == 0:
        return np.zeros(work.size, dtype=bool)
    pos = np.searchsorted(page, work)
    pos[pos == page.size] = 0
    return page[pos] == work


def overlap(page: np.ndarray, work: np.ndarray) -> int:
    """The number of hashes two sorted distinct uint64 arrays share."""
    small, big = (page, work) if page.size <= work.size else (work, page)
    return int(np.count_nonzero(_hits(big, small)))


@dataclass(frozen=True)
class Similarity:
    """Exact measures between a page and a work, on their shingle sets.

    ``coverage``: the share of the work's words that lie in a shingle the page
    also has, i.e. how much of the work the page reproduces. Unlike containment
    it hardly drops with light edits (one changed word breaks ``ngram``
    shingles but uncovers one word, and short uncovered runs between covered
    words are counted as reproduced), so "half the work, 10 % edited" (~0.47)
    stays apart from "a 30 % quotation" (<= 0.3). Without positions it falls
    back to containment.
    """

    shared: int
    coverage: float
    containment: float  # |page ∩ work| / |work|
    page_containment: float  # |page ∩ work| / |page|
    jaccard: float


def similarity(
    page: np.ndarray,
    work: np.ndarray,
    work_positions: np.ndarray | None = None,
    work_words: int = 0,
    ngram: int = 5,
    gap: int = 0,
) -> Similarity:
    """Exact measures; ``gap``: uncovered runs of at most this many words between
    covered words count as covered (an edit inside a copied passage uncovers
    the edited word and, when edits are closer than ``ngram`` words, the words
    between them; the passage is still reproduced)."""
    hits = _hits(page, work)
    shared = int(np.count_nonzero(hits))
    union = page.size + work.size - shared
    containment = shared / work.size if work.size else 0.0
    coverage = containment
    if work_positions is not None and work_words > 0:
        starts = np.bincount(work_positions[hits].astype(np.int64), minlength=work_words)
        # word j is covered when a shared shingle starts in [j - ngram + 1, j]
        running = np.cumsum(starts)
        window = running.copy()
        window[ngram:] -= running[:-ngram]
        covered = np.flatnonzero(window[:work_words])
        count = covered.size
        if gap and count > 1:
            holes = np.diff(covered) - 1
            count += int(holes[holes <= gap].sum())
        coverage = float(count) / work_words
    return Similarity(
        shared=shared,
        coverage=coverage,
        containment=containment,
        page_containment=shared / page.size if page.size else 0.0,
        jaccard=shared / union if union else 0.0,
    )
