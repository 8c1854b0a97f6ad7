"""The authors' opt-out registry (SQLite via sqlite-utils).

``Registry(path)`` is the read-write side (registrations, operators' commands);
``RegistryReader(path)`` is the crawler's read-only side: ``match_url(url)``
and ``content_works()``. See docs/registry.md.
"""

from tdmcrawl.registry.entries import DEFAULT_SCOPE, SCOPES, TRAINING_SCOPES, Entry, Registration
from tdmcrawl.registry.errors import (
    DuplicateEntry,
    ImportRejected,
    InvalidInput,
    InvalidWorkFile,
    NotARegistry,
    RegistryError,
    RegistryLocked,
    RegistryMissing,
    RegistryReadOnly,
    SchemaTooNew,
    UnknownEntry,
    WrongToken,
)
from tdmcrawl.registry.reader import ContentWork, RegistryMatch, RegistryReader, entry_id_of
from tdmcrawl.registry.store import Registry, ReindexReport
from tdmcrawl.registry.urlrules import (
    RuleKind,
    UrlRule,
    normalize_url,
    parse_domain,
    parse_url_pattern,
)
from tdmcrawl.registry.works import ACCEPTED_SUFFIXES

__all__ = [
    "ACCEPTED_SUFFIXES",
    "DEFAULT_SCOPE",
    "SCOPES",
    "TRAINING_SCOPES",
    "ContentWork",
    "DuplicateEntry",
    "Entry",
    "ImportRejected",
    "InvalidInput",
    "InvalidWorkFile",
    "NotARegistry",
    "Registration",
    "Registry",
    "RegistryError",
    "RegistryLocked",
    "RegistryMatch",
    "RegistryMissing",
    "RegistryReadOnly",
    "RegistryReader",
    "ReindexReport",
    "RuleKind",
    "SchemaTooNew",
    "UnknownEntry",
    "UrlRule",
    "WrongToken",
    "entry_id_of",
    "normalize_url",
    "parse_domain",
    "parse_url_pattern",
]
