"""Decisions as values: one frozen object that the CLI, the audit log, the WARC
metadata record and the tests all read.

A :class:`Decision` is *allowed* exactly when it carries no :class:`Reason`;
``allowed`` is derived, never stored, so a decision can't contradict itself.
Warnings (a malformed tdmrep.json, a robots.txt cut at 500 KiB, ...) never
change the outcome; they are kept so an auditor sees them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class ReasonCode(StrEnum):
    """Exclusion reasons (contract: see DESIGN.md, "Exclusion reasons")."""

    ROBOTS = "robots"
    ROBOTS_UNREACHABLE = "robots-unreachable"
    ROBOTS_AI_AGENTS = "robots-ai-agents"
    CONTENT_USAGE = "content-usage"
    TDMREP = "tdmrep"
    CONTENT_SIGNAL = "content-signal"
    NOAI = "noai"
    AI_TXT = "ai-txt"
    REGISTRY_URL = "registry-url"
    REGISTRY_CONTENT = "registry-content"
    RESERVED_COPY = "reserved-copy"
    RSL = "rsl"
    ROBOTS_COMMENT = "robots-comment"


# Only these forbid *fetching*; every other reason reserves training use only.
FETCH_BLOCKING: frozenset[ReasonCode] = frozenset(
    {ReasonCode.ROBOTS, ReasonCode.ROBOTS_UNREACHABLE}
)


@dataclass(frozen=True)
class Reason:
    """One signal that excludes a URL, with the raw evidence that carries it.

    ``evidence`` is the raw text as found: the robots.txt line, the header
    field as received, the meta tag, the tdmrep.json rule, or the match
    details. ``line`` is the 1-based line number in the source file, where
    the source is a file.
    """

    code: ReasonCode
    source: str
    evidence: str
    line: int | None = None
    matched_work: str | None = None
    similarity: float | None = None

    def __post_init__(self) -> None:
        # Accept the plain string too, so Reason("tdmrep", ...) works and JSON round-trips.
        object.__setattr__(self, "code", ReasonCode(self.code))

    @property
    def blocks_fetch(self) -> bool:
        return self.code in FETCH_BLOCKING

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code.value,
            "source": self.source,
            "evidence": self.evidence,
        }
        for key in ("line", "matched_work", "similarity"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reason:
        """The inverse of :meth:`to_dict`; malformed data raises ``ValueError``."""
        if not isinstance(data, dict):
            raise ValueError(f"a reason must be a JSON object, not {type(data).__name__}")
        for key in ("code", "source", "evidence"):
            if not isinstance(data.get(key), str):
                raise ValueError(f"reason field {key!r} missing or not a string: {data!r:.200}")
        line = data.get("line")
        if line is not None and (isinstance(line, bool) or not isinstance(line, int)):
            raise ValueError(f"reason field 'line' must be an integer, not {line!r:.40}")
        similarity = data.get("similarity")
        if similarity is not None and (
            isinstance(similarity, bool) or not isinstance(similarity, int | float)
        ):
            raise ValueError(f"reason field 'similarity' must be a number, not {similarity!r:.40}")
        matched = data.get("matched_work")
        if matched is not None and not isinstance(matched, str):
            raise ValueError(f"reason field 'matched_work' must be a string, not {matched!r:.40}")
        return cls(
            code=ReasonCode(data["code"]),
            source=data["source"],
            evidence=data["evidence"],
            line=line,
            matched_work=matched,
            similarity=similarity,
        )


@dataclass(frozen=True)
class Decision:
    """The verdict on one URL for AI-training use.

    ``reasons`` is ordered: fetch-blocking reasons first, then in the order the
    signals were evaluated, so ``reasons[0]`` is the decisive one to show.
    """

    url: str
    reasons: tuple[Reason, ...] = ()
    warnings: tuple[str, ...] = ()
    # Explicit permissions seen (tdm-reservation: 0, train-ai=y): not decisive
    # under the most-restrictive rule, but an auditor asks for them.
    grants: tuple[Reason, ...] = field(default=())

    def __post_init__(self) -> None:
        ordered = sorted(self.reasons, key=lambda r: not r.blocks_fetch)
        object.__setattr__(self, "reasons", tuple(_unique(ordered)))
        object.__setattr__(self, "warnings", tuple(_unique(self.warnings)))
        object.__setattr__(self, "grants", tuple(_unique(self.grants)))

    @property
    def allowed(self) -> bool:
        return not self.reasons

    @property
    def fetch_allowed(self) -> bool:
        return not any(r.blocks_fetch for r in self.reasons)

    @property
    def codes(self) -> tuple[ReasonCode, ...]:
        return tuple(_unique(r.code for r in self.reasons))

    def merge(self, *others: Decision) -> Decision:
        """Most restrictive combination: every reason and warning of every input."""
        reasons = list(self.reasons)
        warnings = list(self.warnings)
        grants = list(self.grants)
        for other in others:
            reasons += other.reasons
            warnings += other.warnings
            grants += other.grants
        return replace(self, reasons=tuple(reasons), warnings=tuple(warnings), grants=tuple(grants))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "url": self.url,
            "allowed": self.allowed,
            "reasons": [r.to_dict() for r in self.reasons],
            "warnings": list(self.warnings),
        }
        if self.grants:
            out["grants"] = [g.to_dict() for g in self.grants]
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        """The inverse of :meth:`to_dict`; malformed data raises ``ValueError``."""
        if not isinstance(data, dict):
            raise ValueError(f"a decision must be a JSON object, not {type(data).__name__}")
        if not isinstance(data.get("url"), str):
            raise ValueError("decision field 'url' missing or not a string")
        lists = {}
        for key in ("reasons", "warnings", "grants"):
            value = data.get(key, [])
            if not isinstance(value, list):
                kind = type(value).__name__
                raise ValueError(f"decision field {key!r} must be a list, not {kind}")
            lists[key] = value
        if not all(isinstance(w, str) for w in lists["warnings"]):
            raise ValueError("decision field 'warnings' must hold strings")
        decision = cls(
            url=data["url"],
            reasons=tuple(Reason.from_dict(r) for r in lists["reasons"]),
            warnings=tuple(lists["warnings"]),
            grants=tuple(Reason.from_dict(g) for g in lists["grants"]),
        )
        if "allowed" in data and data["allowed"] != decision.allowed:
            raise ValueError(
                f"inconsistent decision JSON: allowed={data['allowed']} "
                f"but {len(decision.reasons)} reason(s)"
            )
        return decision

    @classmethod
    def from_json(cls, text: str) -> Decision:
        return cls.from_dict(json.loads(text))


def _unique(items: Iterable[Any]) -> list[Any]:
    seen: list[Any] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen
