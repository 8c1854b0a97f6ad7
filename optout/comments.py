"""Reservations written in words in robots.txt comments (reason ``robots-comment``).

Sites write their reservation as prose: "# The use of this site's content for
text and data mining is expressly reserved (Art. 4(3) Directive (EU) 2019/790)",
"# Nutzungsvorbehalt nach § 44b UrhG", "# Запрещено использовать материалы для
обучения нейросетей". No specification defines these, but the evident intent is a
reservation, so (policy switch ``robots_comments``) a comment block that states
one is read as one, with the comment lines as evidence.

A *block* is a run of comment lines on consecutive lines. A block reserves when
it says that the site's content may not be used for AI training or text and data
mining, or cites the reservation provisions (DSM Directive Art. 4(3), § 44b UrhG,
CPI L. 122-5-3) with words of reservation. Blocks that only mention AI
("AI crawlers welcome", "# Block AI bots" above the rules that do the
blocking), and the Cloudflare managed-robots.txt licence text, which explains
what a ``Content-Signal`` line means rather than reserving anything itself,
are not reservations.

The classifier is measured on a labelled set of real comment blocks from public
robots.txt files (kept beside the repository, in shared/data/) and on our own
labelled sentences (``tests/data/robots_comments/own.jsonl``): see
``tests/optout/test_comments.py`` and docs/crawl.md for its precision and recall.
"""

from __future__ import annotations

import re
import unicodedata
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from tdmcrawl.optout.decision import Reason, ReasonCode

MAX_BLOCK_LINES = 40
EVIDENCE_CHARS = 800


@dataclass(frozen=True)
class CommentBlock:
    """Consecutive comment lines: the first line's number and the texts after ``#``."""

    line_no: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def blocks(comments: Iterable[tuple[int, str]]) -> tuple[CommentBlock, ...]:
    """Group ``(line number, text)`` comments into blocks of consecutive lines."""
    out: list[CommentBlock] = []
    start = last = -2
    current: list[str] = []
    for line_no, text in comments:
        if line_no != last + 1 or len(current) >= MAX_BLOCK_LINES:
            if current:
                out.append(CommentBlock(start, tuple(current)))
            start, current = line_no, []
        current.append(text)
        last = line_no
    if current:
        out.append(CommentBlock(start, tuple(current)))
    return tuple(out)


# --- the classifier ------------------------------------------------------------------

# What is reserved: AI training, machine learning, text and data mining.
_USE = (
    r"(?:\ba\.?i\b\.?|\bk\.?i\b\.?|\bai-|artificial intelligence|machine[- ]learning|"
    r"\bml\b|\bllms?\b|"
    r"large language models?|generative|gen-?ai|neural|foundation models?|"
    r"text (?:and|&) data[- ]mining|\btdm\b|data[- ]mining|\btrain(?:ing|ed|s)?\b|"
    r"text- und data-mining|text und data mining|künstliche[rn]? intelligenz|"
    r"fouille de textes|intelligence artificielle|"
    r"обучени\w*|нейросет\w*|нейронн\w*|искусственн\w* интеллект\w*|\bии\b|"
    r"машинн\w* обучени\w*|анализ\w* текст\w* и данн\w*|"
    r"жасанды интеллект\w*|\bжи\b|оқыт\w*|үйрет\w*|машиналық оқыт\w*|нейрожел\w*)"
)
# Words that reserve or forbid.
_RESERVE = (
    r"(?:reserv\w*|prohibit\w*|forbid\w*|disallow\w*|"
    r"not (?:be )?(?:permitted|allowed|allow|authori[sz]ed)|"
    r"(?:may|must|shall|can) not|mayn't|cannot|do not (?:consent|permit|allow|authori[sz]e)|"
    r"does not (?:consent|permit|allow|authori[sz]e)|"
    r"without (?:prior |express |explicit )*(?:written )?(?:permission|consent|authori[sz]ation)|"
    r"opt(?:s|ed)?[- ]?out|object\w* to|no (?:consent|permission)|"
    r"untersagt|verboten|nicht gestattet|nicht erlaubt|vorbehalt\w*|widersprech\w*|widerspruch|"
    r"interdit\w*|s'oppose|oppos\w*|réserv\w*|"
    r"запрещ\w*|не (?:разреша\w*|допуска\w*|даю\w*|дает\w*|даёт\w*)|без (?:письменного )?"
    r"(?:разрешени\w*|согласи\w*)|оставля\w* за собой|возража\w*|"
    r"тыйым\w*|рұқсат\w* жоқ|рұқсатсыз|болмайды|қарсы\w*)"
)
# Legal citations of the TDM reservation.
_CITATION = (
    r"(?:art(?:icle|\.|ikel)?\s*4\s*(?:\(\s*3\s*\)|para\w*\.?\s*3|abs\.?\s*3)?"
    r"[^\n]{0,80}(?:2019/790|dsm|cdsm|directive|richtlinie)|2019/790|"
    r"§\s*44\s*b|44\s*b\s*urhg|l\.?\s*122-5-3|"
    r"стать\w* 4[^\n]{0,40}директив\w*|1274\.?\s*гк|"
    r"article 4\(3\)|art\. 4\(3\))"
)
_USE_RE = re.compile(_USE, re.IGNORECASE)
_RESERVE_RE = re.compile(_RESERVE, re.IGNORECASE)
_CITATION_RE = re.compile(_CITATION, re.IGNORECASE)
# A reservation statement: a reserving word and a use close together (the block's
# lines joined; abbreviations such as "incl." and "e.g." do not end it), in either
# order, or the short forms "no AI training", "No AI allowed", "not for AI training".
_STATEMENT_RE = re.compile(
    rf"{_RESERVE}[^!?;]{{0,160}}?{_USE}|{_USE}[^!?;]{{0,160}}?{_RESERVE}|"
    r"\bno (?:ai|a\.i\.|llms?|ml|gen-?ai|generative ai)[- ](?:training|scraping|datasets?|use)\b|"
    r"\bno (?:ai|a\.i\.|llms?)\b(?: \w+)? (?:allowed|permitted|wanted)\b|"
    r"\bnot (?:for|to be used for) (?:ai|llm|machine learning|ml)[- ]?training\b",
    re.IGNORECASE,
)
# "for the purposes of training", "to train": a stated purpose, even in a heading.
_PURPOSE_RE = re.compile(
    r"\bfor (?:the )?(?:purposes? of |use in )?(?:ai |llm |model |machine[- ]learning )?"
    r"(?:training|text and data mining|tdm|data mining)\b|\bto train\b",
    re.IGNORECASE,
)
# Permissions of AI use that are not reservations ("AI crawlers welcome", "may be
# used for training AI models", "Allow all content for AI training").
_PERMIT = (
    r"(?:welcome|(?<!not )(?:allowed|permitted)|(?<!not )(?:may|can) be used|"
    r"we (?:welcome|allow|permit|invite)|allow all|allowing|feel free|"
    r"разрешаем|разрешено|приветству\w*|рұқсат етіледі)"
)
_WELCOME_RE = re.compile(
    rf"{_USE}[^.!?;\n]{{0,40}}?\b{_PERMIT}|\b{_PERMIT}\b[^.!?;\n]{{0,60}}?{_USE}",
    re.IGNORECASE,
)
# The Cloudflare managed robots.txt licence explains Content-Signal lines.
_CONTENT_SIGNALS_RE = re.compile(r"content[- ]signal", re.IGNORECASE)
# "# Block AI crawlers" and other rule headings: a verb of blocking, not of use.
_HEADING_RE = re.compile(
    r"^\s*(?:block(?:ing|ed)?|disallow(?:ed|ing)?|deny|allow(?:ed|ing)?|"
    r"ai (?:crawlers?|bots?|scrapers?|agents?)|llm (?:crawlers?|bots?))\b[^.]{0,80}$",
    re.IGNORECASE,
)


_RECORD_RE = re.compile(
    r"^\s*#*\s*(?:user-?agent|(?:dis)?allow|sitemap|crawl-delay|host|content-usage|"
    r"content-signal)\s*:",
    re.IGNORECASE,
)


def _all_headings(lines: list[str]) -> bool:
    """Every line is a rule heading ("Block AI crawlers") or a short label under one
    (an operator's name, a URL), and at least one is a heading."""
    headings = 0
    for line in lines:
        if _HEADING_RE.match(line):
            headings += 1
        elif len(line.split()) > 4 or _RESERVE_RE.search(line):
            return False
    return headings > 0


@dataclass(frozen=True)
class CommentVerdict:
    """Whether a block reserves, and which words decided (for tests and warnings)."""

    reserves: bool
    why: str = ""


def classify(text: str) -> CommentVerdict:
    """Whether one comment block states a reservation of AI training or TDM."""
    # Commented-out records ("# Disallow: /services-training/") are rules, not words.
    normal = "\n".join(line for line in _normalise(text).split("\n") if not _RECORD_RE.match(line))
    if not normal or not (_USE_RE.search(normal) or _CITATION_RE.search(normal)):
        return CommentVerdict(False, "no AI, ML or TDM use named, no TDM provision cited")
    if _CONTENT_SIGNALS_RE.search(normal):
        return CommentVerdict(False, "explains Content-Signal lines")
    lines = [line for line in normal.split("\n") if line.strip()]
    if lines and _all_headings(lines) and not _PURPOSE_RE.search(normal):
        return CommentVerdict(False, "a heading of robots rules")
    joined = " ".join(lines)
    statement = _STATEMENT_RE.search(joined)
    citation = _CITATION_RE.search(joined)
    welcome = _WELCOME_RE.search(joined)
    if statement and not (welcome and welcome.start() < statement.start()):
        return CommentVerdict(True, statement.group(0))
    if citation and _RESERVE_RE.search(joined) and not welcome:
        return CommentVerdict(True, citation.group(0))
    return CommentVerdict(False, "no words of reservation")


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\u00a0", " ").replace("’", "'")
    return "\n".join(" ".join(line.split()) for line in text.split("\n")).strip()


class _HasComments(Protocol):
    comments: tuple[tuple[int, str], ...]
    source: str


_PER_FILE: weakref.WeakKeyDictionary[_HasComments, tuple[Reason, ...]] = weakref.WeakKeyDictionary()


def file_comment_reasons(robots: _HasComments) -> tuple[Reason, ...]:
    """:func:`comment_reasons` of a parsed robots.txt, classified once per file (the
    policy asks for every URL of the origin)."""
    found = _PER_FILE.get(robots)
    if found is None:
        found = comment_reasons(robots.comments, robots.source)
        _PER_FILE[robots] = found
    return found


def comment_reasons(
    comments: Iterable[tuple[int, str]], source: str = "robots.txt"
) -> tuple[Reason, ...]:
    """``robots-comment`` reasons: one per comment block that states a reservation,
    its lines as evidence and its first line number."""
    reasons = []
    for block in blocks(comments):
        if classify(block.text).reserves:
            evidence = "\n".join(f"# {line}" for line in block.lines)
            if len(evidence) > EVIDENCE_CHARS:
                evidence = evidence[: EVIDENCE_CHARS - 1] + "…"
            reasons.append(Reason(ReasonCode.ROBOTS_COMMENT, source, evidence, line=block.line_no))
    return tuple(reasons)
