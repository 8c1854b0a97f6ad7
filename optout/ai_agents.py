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

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from tdmcrawl.optout.decision import Reason, ReasonCode
from tdmcrawl.optout.robots import RobotsLine, RobotsTxt

_DATA_FILE = "ai_training_tokens.json"
# Evidence names at most this many tokens per line, then "+N more".
_NAMES_SHOWN = 5


@dataclass(frozen=True)
class AiTokenList:
    """The maintained list of AI-training product tokens."""

    version: str
    tokens: tuple[str, ...]
    control: tuple[str, ...]
    not_training: tuple[str, ...]

    def is_training_token(self, token: str) -> bool:
        wanted = token.lower()
        return any(t.lower() == wanted for t in self.tokens)

    @classmethod
    def from_json(cls, text: str) -> AiTokenList:
        data = json.loads(text)
        entries = data["tokens"]
        return cls(
            version=str(data["version"]),
            tokens=tuple(e["token"] for e in entries),
            control=tuple(e["token"] for e in entries if e.get("kind") == "control"),
            not_training=tuple(e["token"] for e in data.get("not_training", ())),
        )


@cache
def ai_training_tokens() -> AiTokenList:
    """The list shipped with the package (read once)."""
    text = resources.files(__package__).joinpath("data", _DATA_FILE).read_text("utf-8")
    return AiTokenList.from_json(text)


def ai_agent_reasons(
    robots: RobotsTxt, url: str, tokens: Iterable[str] | None = None
) -> tuple[Reason, ...]:
    """``robots-ai-agents`` reasons for ``url``: one per distinct winning
    Disallow line among the explicit groups of the AI-training ``tokens``
    (default: the shipped list), naming the tokens it applies to."""
    candidates = ai_training_tokens().tokens if tokens is None else tuple(tokens)
    explicit = [t for t in candidates if robots.has_group(t)]
    if not explicit:
        return ()
    by_line: dict[int, tuple[RobotsLine, list[str]]] = {}
    for token, verdict in robots.verdicts(url, explicit).items():
        if verdict.allowed or verdict.rule is None:
            continue
        rule = verdict.rule
        by_line.setdefault(rule.line_no, (rule, []))[1].append(token)
    reasons = []
    for line_no in sorted(by_line):
        rule, names = by_line[line_no]
        shown = ", ".join(names[:_NAMES_SHOWN])
        if len(names) > _NAMES_SHOWN:
            shown += f" +{len(names) - _NAMES_SHOWN} more"
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
