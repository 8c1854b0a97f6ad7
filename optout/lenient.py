"""Readings of evident intent: reservations written in forms the specifications don't define.

The rule: where a site's evident intent is a reservation, read it as one, with a
warning saying how it was read; never read such a form as a permission. Each
reading is a policy switch (``PolicyConfig``), on by default:

* :func:`tdmrep_object` (``tdmrep_object``): a ``tdmrep.json`` written as one JSON
  object (``{"tdm-reservation": 1, ...}``, sometimes ``tdm_reservation``) instead
  of an array. An object that reserves is one site-wide rule (its ``location``, else
  ``/``); an object that grants, or says nothing readable, grants nothing.
* :func:`tdm_variants` (``tdmrep_variants``): ``X-TDM-Reservation: 1`` and the other
  spellings of the TDMRep header and meta name seen in the wild, and the same
  records in robots.txt; a ``1`` reserves, anything else is ignored.
* :func:`lookalike_agents` (``ai_agent_lookalikes``): robots.txt ``User-agent``
  lines that name an AI-training crawler without being its product token: a full
  UA string (``Mozilla/5.0 (compatible; ImagesiftBot; ...)``), a regex-escaped
  name (``magpie\\-crawler``), look-alike hyphens (U+2011). For the
  ``robots-ai-agents`` reading only: our own token keeps strict RFC 9309 matching.

(The string ``"1"`` in a tdmrep.json rule is :mod:`optout.tdmrep`'s, switch
``tdmrep_string``; words in robots.txt comments are :mod:`optout.comments`'.)
"""

from __future__ import annotations

import json
import re
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

from tdmcrawl.optout import tdmrep
from tdmcrawl.optout.decision import Reason, ReasonCode
from tdmcrawl.optout.robots import RobotsLine, RobotsTxt

# --- tdmrep.json as an object ---------------------------------------------------------

_RESERVATION_KEYS = ("tdm-reservation", "tdm_reservation", "tdmReservation", "tdm-Reservation")
_POLICY_KEYS = ("tdm-policy", "tdm_policy", "tdmPolicy")


def tdmrep_object(body: bytes | str | None) -> tuple[tdmrep.TdmRepFile | None, tuple[str, ...]]:
    """The reading of a tdmrep.json that is one JSON object, or ``(None, warnings)``.

    * ``{"tdm-reservation": 1, ...}`` (also ``tdm_reservation``, ``"1"``): one rule for
      its ``location`` if it is a string, else ``/``;
    * an object wrapping the rules (``{"policies": [{"location": ...}, ...]}``): its
      rules that reserve, in order (the others are not read: never a grant).

    An object that grants, or says nothing readable, gives no rule and a warning.
    Bodies that are not a JSON object give ``(None, ())``: the strict parser reports.
    """
    if body is None:
        return None, ()
    try:
        text = body.decode("utf-8-sig") if isinstance(body, bytes) else body.removeprefix("\ufeff")
        data = json.loads(text)
    except (ValueError, RecursionError, UnicodeDecodeError):
        return None, ()
    if not isinstance(data, dict):
        return None, ()
    wrapped = [v for v in data.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
    if len(wrapped) == 1 and not any(k in data for k in _RESERVATION_KEYS):
        return _wrapped_rules(wrapped[0])
    key = next((k for k in _RESERVATION_KEYS if k in data), None)
    value = data.get(key) if key else None
    if not _reserves(value):
        shown = f"{key}={value!r}" if key else "no tdm-reservation"
        return None, (
            f"tdmrep.json is a JSON object, not an array ({shown}): it grants nothing "
            "(only a reservation is read from this form)",
        )
    location = data.get("location")
    if not isinstance(location, str) or not location.strip():
        location = "/"
    rule: dict[str, object] = {"location": location, tdmrep.RESERVATION: 1}
    policy = next((data[k] for k in _POLICY_KEYS if isinstance(data.get(k), str)), None)
    if policy is not None:
        rule[tdmrep.POLICY] = policy
    parsed = tdmrep.TdmRepFile.parse(json.dumps([rule], ensure_ascii=False))
    if not parsed.rules:
        return None, parsed.warnings
    first = parsed.rules[0]
    shown_rule = tdmrep.TdmRule(
        first.index,
        first.location,
        1,
        first.policy,
        json.dumps(data, ensure_ascii=False)[:400],
        first._segments,
        first._anchored,
    )
    warning = (
        f"tdmrep.json is a JSON object, not an array: read as one rule for {location!r} "
        f"reserving TDM ({key}={value!r}; evident intent)"
    )
    return tdmrep.TdmRepFile((shown_rule,), parsed.warnings, valid=True), (warning,)


def _reserves(value: object) -> bool:
    if isinstance(value, bool):
        return False
    return (isinstance(value, int) and value == 1) or (
        isinstance(value, str) and value.strip() == "1"
    )


def _wrapped_rules(items: list[object]) -> tuple[tdmrep.TdmRepFile | None, tuple[str, ...]]:
    reserving = [
        item
        for item in items
        if isinstance(item, dict)
        and _reserves(next((item[k] for k in _RESERVATION_KEYS if k in item), None))
    ]
    if not reserving:
        return None, (
            "tdmrep.json is a JSON object wrapping rules, none of which reserves: "
            "it grants nothing",
        )
    rules = [
        {
            "location": item.get("location"),
            tdmrep.RESERVATION: 1,
            **({tdmrep.POLICY: p} if isinstance(p := item.get(tdmrep.POLICY), str) else {}),
        }
        for item in reserving
    ]
    parsed = tdmrep.TdmRepFile.parse(json.dumps(rules, ensure_ascii=False))
    if not parsed.rules:
        return None, parsed.warnings
    warning = (
        f"tdmrep.json is a JSON object wrapping {len(items)} rule(s): read as the "
        f"{len(parsed.rules)} that reserve (evident intent; the others are not read)"
    )
    return tdmrep.TdmRepFile(parsed.rules, parsed.warnings, valid=True), (warning,)


# --- header, meta and robots.txt spellings of tdm-reservation --------------------------

# Lower-cased names that mean tdm-reservation but are not its spelling.
TDM_RESERVATION_VARIANTS = frozenset(
    {
        "x-tdm-reservation",
        "x_tdm_reservation",
        "tdm_reservation",
        "tdmreservation",
        "x-tdmreservation",
        "tdm:reservation",
        "tdm.reservation",
        "x-tdm-rep",
        "tdmrep",
    }
)


def tdm_variants(
    pairs: Iterable[tuple[str, str]], source: str, evidence: Iterable[str] | None = None
) -> tuple[tuple[Reason, ...], tuple[str, ...]]:
    """Reservations from variant spellings among ``(name, value)`` pairs (header
    fields, meta tags, robots.txt records): a value of ``1`` reserves, with a warning."""
    shown = list(evidence) if evidence is not None else None
    reasons: list[Reason] = []
    warnings: list[str] = []
    for index, (name, value) in enumerate(pairs):
        key = name.strip().lower()
        if key not in TDM_RESERVATION_VARIANTS:
            continue
        raw = shown[index] if shown is not None else f"{name}: {value}"
        values = {part.strip().strip("\"'") for part in value.split(",")}
        if "1" in values:
            reasons.append(Reason(ReasonCode.TDMREP, source, raw))
            warnings.append(
                f"{source}: {name!r} is not TDMRep's tdm-reservation; its value 1 is read "
                "as a reservation (evident intent)"
            )
        else:
            warnings.append(f"{source}: {name!r} ({value[:40]!r}) is not TDMRep's name: ignored")
    return tuple(reasons), tuple(warnings)


def robots_tdm_variants(robots: RobotsTxt) -> tuple[tuple[Reason, ...], tuple[str, ...]]:
    """``tdm-reservation: 1`` (TDMRep defines no robots.txt record) and its other
    spellings written as robots.txt records, anywhere in the file (kept per file)."""
    found = _ROBOTS_TDM.get(robots)
    if found is None:
        found = _robots_tdm_variants(robots)
        _ROBOTS_TDM[robots] = found
    return found


def _robots_tdm_variants(robots: RobotsTxt) -> tuple[tuple[Reason, ...], tuple[str, ...]]:
    reasons: list[Reason] = []
    warnings: list[str] = []
    for line in robots.lines:
        if line.field not in TDM_RESERVATION_VARIANTS and line.field != tdmrep.RESERVATION:
            continue
        where = f"{robots.source} line {line.line_no}: {line.field!r} is not a robots.txt record"
        if "1" in {part.strip().strip("\"'") for part in line.value.split(",")}:
            reasons.append(Reason(ReasonCode.TDMREP, robots.source, line.raw, line=line.line_no))
            warnings.append(
                f"{where}; its value 1 is read as a TDMRep reservation (evident intent)"
            )
        else:
            warnings.append(f"{where}: ignored")
    return tuple(reasons), tuple(warnings)


# --- User-agent lines naming an AI crawler without its product token ------------------

# Hyphen look-alikes: U+2010..U+2015, minus sign, small and full-width hyphen-minus.
_HYPHENS = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"), "-")
_WORD = re.compile(r"[a-z0-9_-]+")


@dataclass(frozen=True)
class LookalikeAgent:
    """A ``User-agent`` line read as naming training crawler ``token``."""

    token: str
    line: RobotsLine
    group: int
    how: str


# A robots.txt is parsed once per origin and asked once per URL: the scan is kept.
_LOOKALIKES: weakref.WeakKeyDictionary[
    RobotsTxt, dict[tuple[str, ...], tuple[LookalikeAgent, ...]]
] = weakref.WeakKeyDictionary()
_ROBOTS_TDM: weakref.WeakKeyDictionary[RobotsTxt, tuple[tuple[Reason, ...], tuple[str, ...]]] = (
    weakref.WeakKeyDictionary()
)


def lookalike_agents(robots: RobotsTxt, tokens: Iterable[str]) -> tuple[LookalikeAgent, ...]:
    """``User-agent`` lines that name one of ``tokens`` without being that product
    token. Lines whose own product token is a training token are left to the strict
    reading (they already name a group). Kept per parsed file and token list."""
    key = tuple(tokens)
    known = _LOOKALIKES.setdefault(robots, {})
    if key not in known:
        known[key] = _lookalike_agents(robots, key)
    return known[key]


def _lookalike_agents(robots: RobotsTxt, tokens: tuple[str, ...]) -> tuple[LookalikeAgent, ...]:
    wanted = {_leading(t): t for t in tokens}
    found: list[LookalikeAgent] = []
    for index, lines in robots.agent_groups():
        for line in lines:
            value = line.value
            strict = _leading(value)
            if strict in wanted or value.strip() == "*":
                continue
            cleaned = value.translate(_HYPHENS)
            how = []
            if cleaned != value:
                how.append("look-alike hyphens")
            if "\\" in cleaned:
                cleaned = cleaned.replace("\\", "")
                how.append("regex escapes")
            cleaned = cleaned.lower()
            whole = _leading(cleaned)
            if whole in wanted:
                found.append(
                    LookalikeAgent(wanted[whole], line, index, ", ".join(how) or "spelling")
                )
                continue
            for word in _WORD.findall(cleaned):
                if word in wanted and word != strict:
                    found.append(
                        LookalikeAgent(wanted[word], line, index, "a full user-agent string")
                    )
                    break
    return tuple(found)


def lookalike_reasons(
    robots: RobotsTxt, url: str, tokens: Iterable[str]
) -> tuple[tuple[Reason, ...], tuple[str, ...]]:
    """``robots-ai-agents`` reasons from look-alike ``User-agent`` lines whose own group
    disallows ``url``, each with a warning saying how the line was read."""
    reasons: list[Reason] = []
    warnings: list[str] = []
    for hit in lookalike_agents(robots, tokens):
        verdict = robots.group_verdict(hit.group, url)
        if verdict.allowed or verdict.rule is None:
            continue
        reasons.append(
            Reason(
                ReasonCode.ROBOTS_AI_AGENTS,
                robots.source,
                f"{hit.line.raw} (read as {hit.token}); {verdict.rule.raw}",
                line=verdict.rule.line_no,
            )
        )
        warnings.append(
            f"{robots.source} line {hit.line.line_no}: User-agent {hit.line.value[:80]!r} is "
            f"not a product token; read as {hit.token} ({hit.how}; evident intent)"
        )
    return tuple(reasons), tuple(warnings)


def _leading(value: str) -> str:
    """The leading RFC 9309 product token of a name, lower-cased (``Kangaroo Bot`` ->
    ``kangaroo``); digits kept, as real crawler names use them (``AI2Bot``)."""
    match = _WORD.match(value.strip().lower())
    return match.group(0) if match else ""
