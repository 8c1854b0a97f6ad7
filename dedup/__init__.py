"""Text normalisation, MinHash signatures and the LSH index of reserved works (pure).

Typical use::

    from tdmcrawl.dedup import DEFAULT_CONFIG, MemoryIndex, extract_main_text, fingerprint

    index = MemoryIndex(DEFAULT_CONFIG)
    fp = fingerprint(reserved_text)          # None when too short to match anything
    if fp is not None:
        index.add("registry:42", fp)
    page = fingerprint(extract_main_text(html, url))
    matches = index.query(page) if page is not None else []   # verified matches
"""

from typing import Any

from tdmcrawl.dedup.config import DEFAULT_CONFIG, NORMALIZER_VERSION, DedupConfig
from tdmcrawl.dedup.documents import document_kind, document_text
from tdmcrawl.dedup.errors import (
    ConfigError,
    DedupError,
    FingerprintError,
    IndexConfigMismatch,
    IndexFileError,
)
from tdmcrawl.dedup.extract import extract_main_text, extract_query_text
from tdmcrawl.dedup.fingerprint import Fingerprint, Similarity, fingerprint, similarity
from tdmcrawl.dedup.index import Match, MemoryIndex, ReservedIndex, load_index
from tdmcrawl.dedup.text import normalize

__all__ = [
    "DEFAULT_CONFIG",
    "NORMALIZER_VERSION",
    "ConfigError",
    "DedupConfig",
    "DedupError",
    "Fingerprint",
    "FingerprintError",
    "IndexConfigMismatch",
    "IndexFileError",
    "Match",
    "MemoryIndex",
    "RedisIndex",
    "ReservedIndex",
    "Similarity",
    "document_kind",
    "document_text",
    "extract_main_text",
    "extract_query_text",
    "fingerprint",
    "load_index",
    "normalize",
    "similarity",
]


def __getattr__(name: str) -> Any:
    # RedisIndex needs the optional `redis` package: import it only when asked for.
    if name == "RedisIndex":
        from tdmcrawl.dedup.redis_index import RedisIndex

        return RedisIndex
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
