"""One configuration object for every dedup stage, with a short stable identity.

Every fingerprint, saved index and Redis namespace records the identity of the
config that produced it; a consumer with another config refuses to mix them
(signatures of different shapes or normalisers are not comparable) and names
the command that rebuilds the index.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from functools import cached_property
from typing import Any

from tdmcrawl.dedup.errors import REINDEX_COMMAND, ConfigError, IndexConfigMismatch

# Bump when normalisation or shingle hashing changes what a text hashes to.
NORMALIZER_VERSION = "nfkc-cf-kk2"


@dataclass(frozen=True)
class DedupConfig:
    """Parameters of normalisation, shingling, signatures, LSH and verification.

    ``ngram``: words per shingle. ``num_perm`` = ``bands * rows``: one-permutation
    MinHash bins. ``anchor_rate``: one shingle hash in ``anchor_rate`` is an
    anchor (the consistent sample that finds partial copies); a work keeps at
    most ``max_anchors`` of them in the candidate index. ``min_shingles``: the
    short-text rule, texts with fewer distinct shingles get no fingerprint.
    ``coverage_threshold``: a page is a copy when it reproduces at least this
    share of a work's words, counted on shingles it shares with the work (and
    it shares at least ``min_shared`` shingles). ``coverage_gap``: a run of at
    most this many uncovered words between two covered ones counts as
    reproduced (the words around an edit inside a copied passage).
    """

    ngram: int = 5
    num_perm: int = 128
    bands: int = 16
    rows: int = 8
    seed: int = 1
    anchor_rate: int = 4
    max_anchors: int = 32
    min_anchor_hits: int = 1
    anchor_candidate_fraction: float = 0.08
    min_shingles: int = 20
    min_shared: int = 8
    coverage_threshold: float = 0.35
    coverage_gap: int = 10
    normalizer: str = NORMALIZER_VERSION

    def __post_init__(self) -> None:
        problems = []
        if not 1 <= self.ngram <= 16:
            problems.append(f"ngram={self.ngram} (1..16)")
        if self.num_perm not in (32, 64, 128, 256, 512):
            problems.append(f"num_perm={self.num_perm} (a power of two, 32..512)")
        if self.bands * self.rows != self.num_perm:
            problems.append(f"bands*rows={self.bands * self.rows} != num_perm={self.num_perm}")
        if self.anchor_rate < 1 or self.anchor_rate & (self.anchor_rate - 1):
            problems.append(f"anchor_rate={self.anchor_rate} (a power of two)")
        if not 1 <= self.max_anchors <= 255:
            problems.append(f"max_anchors={self.max_anchors} (1..255)")
        if not 0.0 < self.coverage_threshold <= 1.0:
            problems.append(f"coverage_threshold={self.coverage_threshold} (0..1]")
        if not 0 <= self.coverage_gap <= 64:
            problems.append(f"coverage_gap={self.coverage_gap} (0..64)")
        if not 0.0 <= self.anchor_candidate_fraction <= 1.0:
            problems.append(f"anchor_candidate_fraction={self.anchor_candidate_fraction}")
        if self.min_shingles < 1 or self.min_shared < 1 or self.min_anchor_hits < 1:
            problems.append("min_shingles, min_shared and min_anchor_hits must be >= 1")
        if not 0 <= self.seed < 2**32:
            problems.append(f"seed={self.seed} (0..2**32-1)")
        if problems:
            raise ConfigError("invalid DedupConfig: " + "; ".join(problems))

    @cached_property
    def identity(self) -> str:
        """A short stable string naming everything that changes signatures or verdicts."""
        digest = hashlib.blake2b(
            json.dumps(self.to_dict(), sort_keys=True).encode(), digest_size=5
        ).hexdigest()
        return f"mh{self.num_perm}-{self.bands}x{self.rows}-n{self.ngram}-{digest}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DedupConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown DedupConfig field(s): {', '.join(unknown)}")
        return cls(**data)

    def require_same(self, other: DedupConfig, what: str = "index") -> None:
        """Raise :class:`IndexConfigMismatch` naming the first differing field."""
        if other.identity == self.identity:
            return
        mine, theirs = self.to_dict(), other.to_dict()
        diffs = [k for k in mine if mine[k] != theirs.get(k)]
        name = diffs[0] if diffs else "identity"
        raise IndexConfigMismatch(
            f"{what} built with {name}={theirs.get(name)}, config is {mine.get(name)} "
            f"({other.identity} vs {self.identity}): run `{REINDEX_COMMAND}`"
        )


DEFAULT_CONFIG = DedupConfig()
