"""The index of reserved works: candidates from LSH bands and anchors, then exact verification.

A query asks: which reserved works does this page reproduce? Two kinds of
keys find candidates. The MinHash LSH bands find near-complete copies (high
Jaccard); the anchors, a consistent 1-in-``anchor_rate`` sample of shingle
hashes of which a work keeps at most ``max_anchors``, find partial copies:
an excerpt of half a work inside unrelated boilerplate shares about half of
the work's anchors, although its Jaccard similarity is far below any LSH
threshold. Every candidate is then verified on the exact shingle sets; a
:class:`Match` is returned only when the shingles the page shares with the
work cover at least ``coverage_threshold`` of the work's words (and number at
least ``min_shared``), so a false exclusion needs both the candidate step and
the exact count to be wrong.

Memory: the in-memory candidate table holds (bands + anchors) x 12 bytes
per work plus the keys; the shingle arrays used for verification live in a
``ShingleStore`` (RAM or an append-only file), read for candidates only.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from tdmcrawl.dedup.config import DEFAULT_CONFIG, DedupConfig
from tdmcrawl.dedup.errors import REINDEX_COMMAND, IndexConfigMismatch, IndexFileError
from tdmcrawl.dedup.fingerprint import Fingerprint, similarity
from tdmcrawl.dedup.minhash import ANCHOR_SALT
from tdmcrawl.dedup.store import FileShingleStore, MemoryShingleStore
from tdmcrawl.dedup.table import KeyTable

FORMAT_NAME = "tdmcrawl-dedup-index"
FORMAT_VERSION = 1
_PYTHON_HITS = 256  # one page with at most this many table hits counts them in Python


@dataclass(frozen=True)
class Match:
    """A verified match of a page against one reserved work.

    ``similarity`` is the measure that decided (``measure``), computed exactly
    on the shingle sets: the coverage, the share of the work's words that the
    page reproduces. ``containment`` is |page ∩ work| / |work| on shingles,
    ``jaccard`` |page ∩ work| / |page ∪ work|, ``shared`` the shingle count;
    all three go to the audit evidence.
    """

    key: str
    similarity: float
    containment: float
    jaccard: float = 0.0
    shared: int = 0
    measure: str = "coverage"

    def evidence(self) -> str:
        """One line for the audit's ``evidence`` column."""
        return (
            f"near-duplicate of {self.key}: {self.measure}={self.similarity:.3f} "
            f"containment={self.containment:.3f} jaccard={self.jaccard:.3f} "
            f"shared_shingles={self.shared}"
        )


@runtime_checkable
class ReservedIndex(Protocol):
    """What the crawler and the registry use; in-memory and Redis implementations."""

    config: DedupConfig

    def add(self, key: str, fp: Fingerprint) -> None: ...

    def remove(self, key: str) -> bool: ...

    def query(self, fp: Fingerprint) -> list[Match]: ...

    def query_many(self, fps: Sequence[Fingerprint]) -> list[list[Match]]: ...

    def save(self, path: str | os.PathLike[str]) -> None: ...

    def __len__(self) -> int: ...

    def __contains__(self, key: object) -> bool: ...


def check_fingerprint(fp: Fingerprint, config: DedupConfig) -> None:
    if not isinstance(fp, Fingerprint):
        raise TypeError(f"expected a Fingerprint, got {type(fp).__name__}")
    if fp.config_identity != config.identity:
        raise IndexConfigMismatch(
            f"fingerprint made with config {fp.config_identity}, index uses {config.identity}: "
            f"recompute it with the index's DedupConfig, or run `{REINDEX_COMMAND}`"
        )


def query_keys(
    fps: Sequence[Fingerprint], config: DedupConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All look-up keys of a batch of pages: (keys, owning page, is-anchor flag).

    A page looks up its band keys and every sampled shingle it has (works keep
    at most ``max_anchors`` of theirs; a page must offer all of its own).
    Vectorised over the whole batch: one pass over all the pages' shingles.
    """
    count = len(fps)
    if count == 0:
        empty = np.empty(0, dtype=np.int64)
        return np.empty(0, dtype=np.uint64), empty, empty.astype(bool)
    bands = np.concatenate([fp.band_keys(config) for fp in fps])
    shingles = fps[0].shingles if count == 1 else np.concatenate([fp.shingles for fp in fps])
    sampled = (shingles & np.uint64(config.anchor_rate - 1)) == 0
    anchors = shingles[sampled] ^ ANCHOR_SALT
    if count == 1:
        owners = np.zeros(bands.size + anchors.size, dtype=np.int64)
    else:
        pages = np.arange(count, dtype=np.int64)
        sizes = np.fromiter((fp.shingles.size for fp in fps), dtype=np.int64, count=count)
        owners = np.concatenate([np.repeat(pages, config.bands), np.repeat(pages, sizes)[sampled]])
    is_anchor = np.zeros(bands.size + anchors.size, dtype=bool)
    is_anchor[bands.size :] = True
    return np.concatenate([bands, anchors]), owners, is_anchor


def candidate_pairs(
    owner: np.ndarray,
    work: np.ndarray,
    is_anchor: np.ndarray,
    anchors_of: np.ndarray,
    config: DedupConfig,
) -> np.ndarray:
    """Unique (page, work) codes that deserve verification.

    A band hit always does; anchor hits do when they are at least
    ``min_anchor_hits`` and ``anchor_candidate_fraction`` of the work's anchors
    (hits / anchors estimates the containment, which is ~0.25 or more for any
    copy that passes verification, so the estimate's noise costs little recall).
    """
    code = (owner << 32) | work
    band_codes = np.unique(code[~is_anchor])
    acodes, counts = np.unique(code[is_anchor], return_counts=True)
    if acodes.size:
        need = np.maximum(
            config.min_anchor_hits,
            np.ceil(config.anchor_candidate_fraction * anchors_of[acodes & 0xFFFFFFFF]),
        )
        acodes = acodes[counts >= need]
    return np.union1d(band_codes, acodes)


def verify(
    page: Fingerprint,
    key: str,
    work: tuple[np.ndarray, np.ndarray | None, int],
    config: DedupConfig,
) -> Match | None:
    """Exact check of one candidate: a Match when the page reproduces enough of the work."""
    shingles, positions, words = work
    sim = similarity(page.shingles, shingles, positions, words, config.ngram, config.coverage_gap)
    if sim.shared < config.min_shared or sim.coverage < config.coverage_threshold:
        return None
    return Match(
        key=key,
        similarity=sim.coverage,
        containment=sim.containment,
        jaccard=sim.jaccard,
        shared=sim.shared,
        measure="coverage" if positions is not None else "containment",
    )


class MemoryIndex:
    """The default :class:`ReservedIndex`: candidate table in RAM, shingles in RAM or a file."""

    def __init__(
        self,
        config: DedupConfig = DEFAULT_CONFIG,
        *,
        shingle_file: str | os.PathLike[str] | None = None,
    ) -> None:
        self.config = config
        self._table = KeyTable()
        self._store: MemoryShingleStore | FileShingleStore = (
            MemoryShingleStore() if shingle_file is None else FileShingleStore(Path(shingle_file))
        )
        self._keys: list[str] = []
        self._ids: dict[str, int] = {}
        self._anchors = bytearray()  # anchors kept per work id (<= 255)
        self._alive = bytearray()

    # -- building -----------------------------------------------------------

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, key: object) -> bool:
        return key in self._ids

    def keys(self) -> list[str]:
        return list(self._ids)

    def _new_id(self, key: str, fp: Fingerprint) -> tuple[int, np.ndarray]:
        check_fingerprint(fp, self.config)
        if not isinstance(key, str) or not key:
            raise ValueError("a reserved work needs a non-empty str key")
        old = self._ids.get(key)
        if old is not None:
            self._alive[old] = 0  # re-adding a key replaces the work
        work_id = len(self._keys)
        if work_id >= 2**32 - 1:
            raise IndexFileError("the index holds 2**32 works; shard it")
        anchors = fp.anchor_keys(self.config, self.config.max_anchors)
        self._keys.append(key)
        self._ids[key] = work_id
        self._anchors.append(anchors.size)
        self._alive.append(1)
        self._store.append(fp.shingles, fp.positions, fp.words)
        return work_id, np.concatenate([fp.band_keys(self.config), anchors])

    def add(self, key: str, fp: Fingerprint) -> None:
        """Index a reserved work (replacing any earlier work with the same key)."""
        old = self._ids.get(key) if isinstance(key, str) else None
        if old is not None and isinstance(fp, Fingerprint):
            shingles, _, _ = self._store.get(old)
            if np.array_equal(shingles, fp.shingles):
                return  # the same work seen again (a re-crawl): nothing to replace
        work_id, keys = self._new_id(key, fp)
        self._table.add(keys, work_id)

    def add_many(self, items: Iterable[tuple[str, Fingerprint]]) -> None:
        """Bulk :meth:`add`: one sort for the whole batch (registry loads, benchmarks)."""
        all_keys, all_ids = [], []
        for key, fp in items:
            work_id, keys = self._new_id(key, fp)
            all_keys.append(keys)
            all_ids.append(np.full(keys.size, work_id, dtype=np.uint32))
        if all_keys:
            self._table.add_many(np.concatenate(all_keys), np.concatenate(all_ids))

    def remove(self, key: str) -> bool:
        work_id = self._ids.pop(key, None)
        if work_id is None:
            return False
        self._alive[work_id] = 0
        return True

    # -- querying -----------------------------------------------------------

    def query(self, fp: Fingerprint) -> list[Match]:
        """Verified matches of one page, best first (empty when it copies nothing)."""
        return self.query_many([fp])[0]

    def candidates_many(self, fps: Sequence[Fingerprint]) -> np.ndarray:
        """Unique (page << 32 | work id) codes to verify, for a batch of pages."""
        if len(fps) == 1:
            return self._candidates_one(fps[0])
        for fp in fps:
            check_fingerprint(fp, self.config)
        keys, owners, is_anchor = query_keys(fps, self.config)
        qpos, work = self._table.lookup(keys)
        if work.size == 0:
            return work
        alive_ids = np.frombuffer(self._alive, dtype=np.uint8)[work].astype(bool)
        if not alive_ids.all():
            qpos, work = qpos[alive_ids], work[alive_ids]
        anchors_of = np.frombuffer(self._anchors, dtype=np.uint8)
        return candidate_pairs(owners[qpos], work, is_anchor[qpos], anchors_of, self.config)

    def _candidates_one(self, fp: Fingerprint) -> np.ndarray:
        """:meth:`candidates_many` for one page, the crawl's usual call: the same rule
        with fewer NumPy calls (their fixed cost, not the work, dominates one page)."""
        check_fingerprint(fp, self.config)
        config = self.config
        bands = fp.band_keys(config)
        shingles = fp.shingles
        anchors = shingles[(shingles & np.uint64(config.anchor_rate - 1)) == 0] ^ ANCHOR_SALT
        qpos, work = self._table.lookup(np.concatenate((bands, anchors)))
        if work.size > _PYTHON_HITS:  # many hits: the vectorised rule
            alive = np.frombuffer(self._alive, dtype=np.uint8)[work].astype(bool)
            return candidate_pairs(
                np.zeros(int(alive.sum()), dtype=np.int64),
                work[alive],
                qpos[alive] >= bands.size,
                np.frombuffer(self._anchors, dtype=np.uint8),
                config,
            )
        found: set[int] = set()
        hits: dict[int, int] = {}
        alive_of, band_count = self._alive, bands.size
        for q, w in zip(qpos.tolist(), work.tolist(), strict=True):
            if not alive_of[w]:
                continue
            if q < band_count:
                found.add(w)
            else:
                hits[w] = hits.get(w, 0) + 1
        least, share, anchors_of = (
            config.min_anchor_hits,
            config.anchor_candidate_fraction,
            self._anchors,
        )
        for w, count in hits.items():
            if count >= max(least, math.ceil(share * anchors_of[w])):
                found.add(w)
        return np.array(sorted(found), dtype=np.int64)  # page 0: the code is the work id

    def query_many(self, fps: Sequence[Fingerprint]) -> list[list[Match]]:
        """Verified matches for a batch of pages (faster per page than one by one)."""
        out: list[list[Match]] = [[] for _ in fps]
        for code in self.candidates_many(fps).tolist():
            page, work_id = code >> 32, code & 0xFFFFFFFF
            match = verify(fps[page], self._keys[work_id], self._store.get(work_id), self.config)
            if match is not None:
                out[page].append(match)
        for matches in out:
            matches.sort(key=lambda m: (-m.similarity, m.key))
        return out

    # -- persistence --------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index to directory ``path`` (NumPy arrays and JSON; no pickle)."""
        root = Path(path)
        root.mkdir(parents=True, exist_ok=True)
        keys, ids = self._table.arrays()
        offsets = self._store.write_to(root / "shingles.bin")
        arrays = {
            "table_keys": keys,
            "table_ids": ids,
            "offsets": offsets,
            "anchors": np.frombuffer(self._anchors, dtype=np.uint8),
            "alive": np.frombuffer(self._alive, dtype=np.uint8),
        }
        for name, arr in arrays.items():
            with open(root / f"{name}.npy.tmp", "wb") as fh:
                np.save(fh, arr, allow_pickle=False)
            os.replace(root / f"{name}.npy.tmp", root / f"{name}.npy")
        _write_json(root / "keys.json", self._keys)
        manifest = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "identity": self.config.identity,
            "config": self.config.to_dict(),
            "works": len(self._keys),
        }
        _write_json(root / "manifest.json", manifest)  # last: a complete index has one

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], config: DedupConfig = DEFAULT_CONFIG
    ) -> MemoryIndex:
        """Open a saved index; refuse one built with another config."""
        root = Path(path)
        manifest = _read_manifest(root)
        saved = manifest.get("config")
        if manifest.get("identity") != config.identity:
            try:
                if not isinstance(saved, dict):
                    raise TypeError("no config in the manifest")
                built = DedupConfig.from_dict(saved)
            except Exception as exc:
                raise IndexConfigMismatch(
                    f"index at {root} was built with config {manifest.get('identity')}, "
                    f"config is {config.identity}: run `{REINDEX_COMMAND}`"
                ) from exc
            config.require_same(built, what=f"index at {root}")
        try:
            arrays = {
                name: np.load(root / f"{name}.npy", allow_pickle=False)
                for name in ("table_keys", "table_ids", "offsets", "anchors", "alive")
            }
            keys = json.loads((root / "keys.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexFileError(
                f"dedup index at {root} is damaged ({exc}): run `{REINDEX_COMMAND}`"
            ) from exc
        works = manifest.get("works")
        sizes = {len(keys), arrays["anchors"].size, arrays["alive"].size}
        sizes.add(arrays["offsets"].size - 1)
        if sizes != {works} or arrays["table_keys"].size != arrays["table_ids"].size:
            raise IndexFileError(
                f"dedup index at {root} is inconsistent (works={works}, arrays {sorted(sizes)}): "
                f"run `{REINDEX_COMMAND}`"
            )
        index = cls.__new__(cls)
        index.config = config
        index._table = KeyTable(arrays["table_keys"], arrays["table_ids"])
        try:
            index._store = FileShingleStore(root / "shingles.bin", arrays["offsets"])
        except (OSError, ValueError) as exc:
            raise IndexFileError(f"dedup index at {root}: {exc}: run `{REINDEX_COMMAND}`") from exc
        index._keys = keys
        index._anchors = bytearray(arrays["anchors"].tobytes())
        index._alive = bytearray(arrays["alive"].tobytes())
        index._ids = {k: i for i, k in enumerate(keys) if index._alive[i]}
        return index

    def items(self) -> Iterable[tuple[str, Fingerprint]]:
        """(key, fingerprint) of every live work; fingerprints rebuilt from the stored shingles."""
        for key, work_id in list(self._ids.items()):
            shingles, positions, words = self._store.get(work_id)
            yield (
                key,
                Fingerprint(
                    shingles.copy(),
                    words,
                    self.config.identity,
                    None if positions is None else positions.copy(),
                ),
            )

    def close(self) -> None:
        self._store.close()


def load_index(path: str | os.PathLike[str], config: DedupConfig = DEFAULT_CONFIG) -> MemoryIndex:
    return MemoryIndex.load(path, config)


def _write_json(path: Path, data: object) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def _read_manifest(root: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise IndexFileError(
            f"no dedup index at {root} (manifest.json missing): run `{REINDEX_COMMAND}`"
        ) from exc
    except (OSError, ValueError) as exc:
        raise IndexFileError(f"unreadable dedup index manifest at {root}: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise IndexFileError(f"{root} is not a tdmcrawl dedup index")
    if manifest.get("version") != FORMAT_VERSION:
        raise IndexFileError(
            f"dedup index at {root} has format version {manifest.get('version')}, "
            f"this tdmcrawl reads {FORMAT_VERSION}: run `{REINDEX_COMMAND}`"
        )
    return manifest
