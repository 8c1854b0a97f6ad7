"""robots.txt groups for AI-training crawlers read as a training reservation,
and Spawning's robots-style ``ai.txt``.

RFC 9309 binds a crawler only to the groups naming its own token. But a site
that writes ``User-agent: GPTBot`` / ``Disallow: /`` (or ``Google-Extended``,
a token that never fetches anything) says "do not train on this"; under the
EU DSM Directive Art. 4(3) and Kazakhstan's AI law that is a machine-readable
reservation. :func:`ai_agent_reasons` turns it into ``robots-ai-agents``
reasons, per URL (sites often reserve only some paths):

* only groups that *name* an AI-training token count; ``User-agent: *`` /
  ``Disallow: /`` alone is no AI-specific signal (and already blocks us);
* the token list is data (``data/ai_training_tokens.json``, versioned);
  search and user-triggered fetchers (``OAI-SearchBot``, ``ChatGPT-User``,
  ``PerplexityBot``...) are deliberately not in it;
* an ``Allow`` for an AI token is not a permission for us.

Whether the reason is applied is the policy's switch (``PolicyConfig``); this
module only computes it.
"""

from __future__ import annotations

import hashlib
import json
import re
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache, cached_property, lru_cache
from importlib import resources
from typing import Any

from tdmcrawl.optout.decision import Reason, ReasonCode
from tdmcrawl.optout.robots import RobotsLine, RobotsTxt

_DATA_FILE = "ai_training_tokens.json"
# Evidence names at most this many tokens per line, then "+N more".
_NAMES_SHOWN = 5
_LEADING = re.compile(r"[a-z0-9_-]+")
CATEGORIES = ("training", "training-and-answers", "answers-search")
# robots.json "function"/"description" words that describe training-data collection.
_TRAINING_WORDS = re.compile(
    r"\btrain(?:s|ed|ing)?\b|training data|datasets?\b|data scrapers?\b",
    re.IGNORECASE,
)


def leading_token(name: str) -> str:
    """The RFC 9309 product token a name is matched by, lower-cased: its leading
    ``[a-z0-9_-]+`` (``Kangaroo Bot`` -> ``kangaroo``, ``Brightbot 1.0`` -> ``brightbot``),
    as a robots.txt group naming it is filed."""
    match = _LEADING.match(name.strip().lower())
    return match.group(0) if match else ""


@dataclass(frozen=True)
class AgentEntry:
    """One crawler or control token: who runs it, what for (with the source), and
    whether a robots.txt rule for it is read as a training reservation."""

    token: str
    operator: str
    kind: str  # "control" (fetches nothing) or "crawler"
    category: str  # training | training-and-answers | answers-search
    reserves: bool
    purpose: str = ""
    source: str = ""
    decision: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "token": self.token,
            "operator": self.operator,
            "kind": self.kind,
            "category": self.category,
            "reserves": self.reserves,
            "purpose": self.purpose,
            "source": self.source,
        }
        if self.decision:
            out["decision"] = self.decision
        return out


@dataclass(frozen=True)
class AiTokenList:
    """The list of AI crawlers in force: the packaged one, or a user override."""

    version: str
    entries: tuple[AgentEntry, ...]
    origin: str = "packaged"  # or the path of the override file

    @cached_property
    def tokens(self) -> tuple[str, ...]:
        """Names whose robots.txt rules are read as a training reservation."""
        return tuple(e.token for e in self.entries if e.reserves)

    @property
    def control(self) -> tuple[str, ...]:
        return tuple(e.token for e in self.entries if e.reserves and e.kind == "control")

    @property
    def not_training(self) -> tuple[str, ...]:
        return tuple(e.token for e in self.entries if not e.reserves)

    def is_training_token(self, token: str) -> bool:
        wanted = leading_token(token)
        return bool(wanted) and any(leading_token(t) == wanted for t in self.tokens)

    def entry(self, token: str) -> AgentEntry | None:
        wanted = token.strip().lower()
        return next((e for e in self.entries if e.token.lower() == wanted), None)

    @classmethod
    def from_json(cls, text: str, origin: str = "packaged") -> AiTokenList:
        """Parse the list's JSON; a malformed list raises ``ValueError`` naming the fault."""
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("version"), str | int):
            raise ValueError("an AI-crawler list is a JSON object with a 'version'")
        entries: list[AgentEntry] = []
        if "agents" in data:
            if not isinstance(data["agents"], list):
                raise ValueError("'agents' must be a list of agent entries")
            for item in data["agents"]:
                entries.append(_entry(item))
        else:  # the format of lists before 2026.12 ("tokens" and "not_training")
            for item in data.get("tokens", ()):
                kind = "control" if item.get("kind") == "control" else "crawler"
                entries.append(
                    AgentEntry(
                        str(item["token"]), str(item.get("operator", "")), kind, "training", True
                    )
                )
            for item in data.get("not_training", ()):
                entries.append(
                    AgentEntry(
                        str(item["token"]),
                        "",
                        "crawler",
                        "answers-search",
                        False,
                        str(item.get("why", "")),
                    )
                )
        if not entries and "agents" not in data:
            raise ValueError("the AI-crawler list names no agent")
        return cls(str(data["version"]), tuple(entries), origin)

    def to_json(self, based_on: str = "") -> str:
        data: dict[str, Any] = {"version": self.version}
        if based_on:
            data["based_on"] = based_on
        data["agents"] = [e.to_dict() for e in self.entries]
        return json.dumps(data, ensure_ascii=False, indent=1) + "\n"

    def merge_robots_json(self, robots_json: Mapping[str, Any], label: str) -> MergeResult:
        """Merge an ai.robots.txt ``robots.json`` (name -> {operator, function,
        description, ...}): names the list lacks are added, reserving when their
        function or description speaks of training, datasets or data scraping,
        recorded as not reserving otherwise. Existing entries keep their reading (an update
        never turns a reservation off). The new version is this list's plus a digest
        of the merged file."""
        if not isinstance(robots_json, Mapping) or not robots_json:
            raise ValueError("robots.json must be a non-empty JSON object of agent names")
        known = {leading_token(e.token) for e in self.entries} | {
            e.token.lower() for e in self.entries
        }
        added: list[AgentEntry] = []
        for name, info in robots_json.items():
            if not isinstance(name, str) or not leading_token(name):
                continue
            if name.lower() in known or leading_token(name) in known:
                continue
            info = info if isinstance(info, Mapping) else {}
            described = " ".join(str(info.get(k, "")) for k in ("function", "description"))
            training = bool(_TRAINING_WORDS.search(described))
            added.append(
                AgentEntry(
                    token=name,
                    operator=_plain(str(info.get("operator", "") or "unknown")),
                    kind="crawler",
                    category="training" if training else "answers-search",
                    reserves=training,
                    purpose=_plain(described)[:300],
                    source=f"{label}, entry {name!r}",
                    decision="added by 'tdmcrawl agents update': "
                    + (
                        "described in training terms"
                        if training
                        else "not described in training terms"
                    ),
                )
            )
            known.add(name.lower())
            known.add(leading_token(name))
        digest = hashlib.sha256(
            json.dumps(robots_json, sort_keys=True, default=str).encode("utf-8")
        ).hexdigest()[:10]
        base = self.version.split("+", 1)[0]
        merged = replace(self, version=f"{base}+{digest}", entries=self.entries + tuple(added))
        return MergeResult(merged, tuple(added))


@dataclass(frozen=True)
class MergeResult:
    """The merged list and the entries it added."""

    merged: AiTokenList
    added: tuple[AgentEntry, ...]


def _entry(item: object) -> AgentEntry:
    if not isinstance(item, dict) or not isinstance(item.get("token"), str):
        raise ValueError(f"an agent entry needs a 'token' string: {item!r:.120}")
    category = str(item.get("category", "training"))
    if category not in CATEGORIES:
        raise ValueError(
            f"agent {item['token']!r}: category {category!r} is not one of {CATEGORIES}"
        )
    reserves = item.get("reserves", True)
    if not isinstance(reserves, bool):
        raise ValueError(f"agent {item['token']!r}: 'reserves' must be true or false")
    kind = str(item.get("kind", "crawler"))
    if kind not in ("control", "crawler"):
        raise ValueError(f"agent {item['token']!r}: kind {kind!r} is not control or crawler")
    return AgentEntry(
        token=item["token"],
        operator=str(item.get("operator", "")),
        kind=kind,
        category=category,
        reserves=reserves,
        purpose=str(item.get("purpose", "")),
        source=str(item.get("source", "")),
        decision=str(item.get("decision", "")),
    )


def _plain(text: str) -> str:
    """Markdown links reduced to their text: ``[Sidetrade](https://...)`` -> ``Sidetrade``."""
    return " ".join(re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text).split())


@cache
def ai_training_tokens() -> AiTokenList:
    """The list shipped with the package (read once; never edited in place)."""
    text = resources.files(__package__).joinpath("data", _DATA_FILE).read_text("utf-8")
    return AiTokenList.from_json(text)


@lru_cache(maxsize=64)
def _names_by_key(names: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Names grouped by the leading product token they are matched by."""
    by_key: dict[str, list[str]] = {}
    for name in names:
        key = leading_token(name)
        if key:
            by_key.setdefault(key, []).append(name)
    return {key: tuple(group) for key, group in by_key.items()}


_EXPLICIT: weakref.WeakKeyDictionary[RobotsTxt, dict[tuple[str, ...], tuple[str, ...]]] = (
    weakref.WeakKeyDictionary()
)


def ai_agent_reasons(
    robots: RobotsTxt, url: str, tokens: Iterable[str] | None = None
) -> tuple[Reason, ...]:
    """``robots-ai-agents`` reasons for ``url``: one per distinct winning
    Disallow line among the explicit groups of the AI-training ``tokens``
    (default: the shipped list), naming the tokens it applies to. A name is
    matched by its leading product token, as RFC 9309 files groups."""
    names = ai_training_tokens().tokens if tokens is None else tuple(tokens)
    by_key = _names_by_key(names)
    # Which names have a group depends on the file and the list only: kept per file.
    per_file = _EXPLICIT.setdefault(robots, {})
    explicit = per_file.get(names)
    if explicit is None:
        explicit = per_file[names] = tuple(key for key in by_key if robots.has_group(key))
    if not explicit:
        return ()
    by_line: dict[int, tuple[RobotsLine, list[str]]] = {}
    for key, verdict in robots.verdicts(url, explicit).items():
        if verdict.allowed or verdict.rule is None:
            continue
        rule = verdict.rule
        by_line.setdefault(rule.line_no, (rule, []))[1].extend(by_key[key])
    reasons = []
    for line_no in sorted(by_line):
        rule, shown_names = by_line[line_no]
        shown = ", ".join(shown_names[:_NAMES_SHOWN])
        if len(shown_names) > _NAMES_SHOWN:
            shown += f" +{len(shown_names) - _NAMES_SHOWN} more"
        reasons.append(
            Reason(
                code=ReasonCode.ROBOTS_AI_AGENTS,
                source=robots.source,
                evidence=f"User-agent: {shown}; {rule.raw}",
                line=line_no,
            )
        )
    return tuple(reasons)


def parse_ai_txt(body: bytes | str | None) -> RobotsTxt:
    """Parse an ``/ai.txt`` with the robots.txt grammar. A file with no
    robots-style records (Markdown, other DSLs) yields no rules and a warning."""
    return RobotsTxt.parse(body, source="ai.txt")


def ai_txt_reasons(aitxt: RobotsTxt, url: str, token: str) -> tuple[Reason, ...]:
    """``ai-txt`` reason if Spawning's ai.txt disallows the *resource* ``url``
    for ``token`` (its own group, else ``*``); a more specific Allow wins."""
    if aitxt.directive_count == 0:
        return ()
    return aitxt.verdict(url, token).reasons(ReasonCode.AI_TXT, "ai.txt")
