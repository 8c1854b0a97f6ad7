"""Errors of the dedup package, each with one line that says what to do.

DedupError                    any expected failure; the CLI prints it and exits 1
 +-- ConfigError              invalid DedupConfig values, or an optional extra missing
 +-- FingerprintError         fingerprint bytes that are truncated, corrupt or foreign
 +-- IndexConfigMismatch      an index or fingerprint built with another DedupConfig
 +-- IndexFileError           a saved index directory that is missing or damaged
"""

from __future__ import annotations

REINDEX_COMMAND = "tdmcrawl registry reindex"


class DedupError(Exception):
    """An expected failure: a message for the user, never a traceback."""


class ConfigError(DedupError, ValueError):
    pass


class FingerprintError(DedupError, ValueError):
    pass


class IndexConfigMismatch(DedupError):
    pass


class IndexFileError(DedupError):
    pass
