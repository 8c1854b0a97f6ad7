"""The authors' opt-out registry (SQLite via sqlite-utils).

``Registry(path)`` is the read-write side (registrations, operators' commands);
``RegistryReader(path)`` is the crawler's read-only side: ``match_url(url)``
and ``content_works()``. See docs/registry.md.

The names below load their module on first use (PEP 562): ``tdmcrawl.registry.errors``
alone, which every command imports to report errors, does not pay for sqlite-utils
(and the pandas it loads when installed) in processes that never open a registry.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tdmcrawl.registry.entries import (
        DEFAULT_SCOPE,
        SCOPES,
        TRAINING_SCOPES,
        Entry,
        Registration,
    )
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

_MODULES = {  # name -> the module of tdmcrawl.registry that holds it
    "DEFAULT_SCOPE": "entries",
    "Entry": "entries",
    "Registration": "entries",
    "SCOPES": "entries",
    "TRAINING_SCOPES": "entries",
    "DuplicateEntry": "errors",
    "ImportRejected": "errors",
    "InvalidInput": "errors",
    "InvalidWorkFile": "errors",
    "NotARegistry": "errors",
    "RegistryError": "errors",
    "RegistryLocked": "errors",
    "RegistryMissing": "errors",
    "RegistryReadOnly": "errors",
    "SchemaTooNew": "errors",
    "UnknownEntry": "errors",
    "WrongToken": "errors",
    "ContentWork": "reader",
    "RegistryMatch": "reader",
    "RegistryReader": "reader",
    "entry_id_of": "reader",
    "Registry": "store",
    "ReindexReport": "store",
    "RuleKind": "urlrules",
    "UrlRule": "urlrules",
    "normalize_url": "urlrules",
    "parse_domain": "urlrules",
    "parse_url_pattern": "urlrules",
    "ACCEPTED_SUFFIXES": "works",
}

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


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
