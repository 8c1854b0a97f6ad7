"""The registry entries behind registry exclusions, recorded with their author and title.

An exclusion row names the registry entry it matched by id only; the registry
may change later (an entry removed, a title edited), and `tdmcrawl audit
--author` must answer from the audit alone. So whoever audits a registry
exclusion (the crawl's session, ``tdmcrawl filter``, ``tdmcrawl recheck``)
hands the decision to :class:`EntryRecorder`, which looks each entry up once
and records it in the audit's ``registry_entries`` table.
"""

from __future__ import annotations

import logging
from typing import Any

from tdmcrawl.optout.decision import Decision

logger = logging.getLogger(__name__)

REGISTRY_CODES = frozenset({"registry-url", "registry-content"})


def registry_entry_ids(decision: Decision) -> list[str]:
    """The registry entry ids a decision's reasons name, in order, once each."""
    out: list[str] = []
    for reason in decision.reasons:
        matched = reason.matched_work
        if reason.code.value in REGISTRY_CODES and matched and matched not in out:
            out.append(matched)
    return out


class EntryRecorder:
    """Records each registry entry an exclusion matched, once per run."""

    def __init__(self, audit: Any, registry: Any) -> None:
        self.audit = audit
        self.registry = registry
        self._seen: set[str] = set()

    def note(self, decision: Decision) -> None:
        """Record the entries behind ``decision``'s registry reasons (never raises)."""
        for entry_id in registry_entry_ids(decision):
            if entry_id in self._seen:
                continue
            self._seen.add(entry_id)
            describe = getattr(self.registry, "describe", None)
            try:
                entry = describe(entry_id) if describe is not None else None
            except Exception:  # an audit detail: the exclusion itself is already recorded
                logger.exception("tdmcrawl: cannot look up registry entry %s", entry_id)
                entry = None
            if entry is None:
                continue
            self.audit.record_registry_entry(
                entry_id, author=entry.author, title=entry.title, kind=entry.kind
            )
