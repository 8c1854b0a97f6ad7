"""W3C TDM Reservation Protocol (TDMRep, CG Final Report 2024-05-10).

Three techniques, processed in the spec's order (§ "Processing priority"):
``/.well-known/tdmrep.json`` (:class:`TdmRepFile`), then the ``tdm-reservation``
/ ``tdm-policy`` response headers (:func:`from_headers`), then
``<meta name="tdm-reservation">`` in HTML (:func:`from_meta`). A later source
that carries a valid value supersedes the earlier one, even to relax it (file
``1``, meta ``0`` -> not reserved); a source with no value, or only invalid
values, never resets the current one (:func:`resolve`).

Choices where the spec is silent, each conservative:

* repeated or comma-folded header values (``tdm-reservation: 1, 1``) are one
  value; if they conflict (``1`` and ``0``), the reservation (``1``) wins and a
  warning says so. The same holds for several meta tags in one page.
* in tdmrep.json, the string ``"1"`` is read as a reservation (with a warning;
  ``TdmRule.from_string`` marks it, and the policy switch ``tdmrep_string``
  decides whether it counts): publishers write it, and reading it as "unset"
  would silently drop an evident reservation. The string ``"0"`` is *not* read
  as a grant (a malformed signal is never a permission). Any other value is a
  protocol error: the rule still *matches* (first match wins) but leaves the
  reservation unset.
* a file that is not JSON holding an array (an HTML error page served with
  200) is "no file", with a warning; a JSON object is read by
  ``optout.lenient`` where it evidently reserves. A byte order mark is
  honoured (a UTF-16 file is decoded, with a warning).
* a file that *is* an array but cannot be read to its end (cut by a size
  limit, broken JSON or bytes that are not UTF-8 part way, more than
  :data:`MAX_RULES` rules) never grants more than the whole file would: the
  rules read before the break apply as usual (they come first in array
  order, so a later rule cannot override them), and a path that none of
  them matches is read as reserved, because an unread rule might reserve it
  (:attr:`TdmRepFile.unread` says why; the policy quotes it as evidence).
  The file size itself is bounded by whoever downloads it
  (``TDMCRAWL_ORIGIN_MAXSIZE``); a file over that limit is wholly unread.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tdmcrawl.optout.encoding import bom_encoding
from tdmcrawl.optout.robots import ENCODED_PRINTABLE

# tdmrep.json files of real publishers are a few KiB. Rules past this many are
# not kept (each costs about 1 KB in memory, for every origin in the cache);
# they are read as reserving what the kept rules do not match (see above).
MAX_RULES = 50_000

RESERVATION = "tdm-reservation"
POLICY = "tdm-policy"


@dataclass(frozen=True)
class TdmRule:
    """One object of a tdmrep.json array, with its position (0-based) and raw JSON."""

    index: int
    location: str
    reservation: int | None
    policy: str | None
    raw: str
    _segments: tuple[str, ...] = field(repr=False, compare=False, default=())
    _anchored: bool = field(repr=False, compare=False, default=False)
    # The reservation was the string "1", not the number (a lenient reading).
    from_string: bool = False

    def matches(self, path: str) -> bool:
        """Whether the rule's pattern matches an already normalised path (see :func:`url_path`)."""
        return _glob_match(self._segments, self._anchored, path)


@dataclass(frozen=True)
class TdmRepFile:
    """A parsed ``/.well-known/tdmrep.json``; an invalid file has no rules.

    ``unread`` is None when the whole file was read, else why its end was not
    (a path that no read rule matches is then reserved: see the module docstring).
    """

    rules: tuple[TdmRule, ...] = ()
    warnings: tuple[str, ...] = ()
    valid: bool = False
    unread: str | None = None
    _index: _RuleIndex = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", _RuleIndex(self.rules))

    @classmethod
    def unreadable(cls, why: str) -> TdmRepFile:
        """A file known to exist that could not be read at all (e.g. over the size limit)."""
        return cls((), (f"tdmrep.json {why}: not read; every path read as reserved",), True, why)

    @classmethod
    def parse(cls, body: bytes | str) -> TdmRepFile:
        """Parse the file's body. Never raises: bad input gives no rules and a warning."""
        warnings: list[str] = []
        if isinstance(body, bytes | bytearray):
            text, unread = _decode(bytes(body), warnings)
        else:
            text, unread = body.removeprefix("\ufeff"), None
        start = len(text) - len(text.lstrip(_JSON_SPACE))
        if not text.startswith("[", start):
            return cls(warnings=(*warnings, _not_an_array(text)))
        items, broken = _array_items(text, start + 1, warnings)
        unread = unread or broken  # bytes that do not decode end the text: say so first
        if len(items) > MAX_RULES:
            unread = unread or f"has more than {MAX_RULES} rules"
            items = items[:MAX_RULES]
        rules = []
        for index, obj in enumerate(items):
            rule = _parse_rule(index, obj, warnings)
            if rule is not None:
                rules.append(rule)
        if unread:
            warnings.append(
                f"tdmrep.json {unread}: {len(items)} rule(s) read; a path none of them "
                "matches is read as reserved"
            )
        return cls(tuple(rules), tuple(warnings), valid=True, unread=unread)

    def match(self, url: str) -> TdmRule | None:
        """The first rule in array order whose location matches ``url`` ("The most
        specific match is the first in sequence"), or None: reservation unset."""
        return self.match_path(url_path(url))

    def match_path(self, path: str) -> TdmRule | None:
        """:meth:`match` for a path already normalised by :func:`url_path`."""
        return self._index.first(path)

    def shadowed(self, url: str, winner: TdmRule, *, path: str | None = None) -> TdmRule | None:
        """A later rule with a longer location and another value that also matches.

        First-match is what the spec says, but a publisher who wrote
        ``[{"/": 1}, {"/public/": 0}]`` may have meant longest-match; the caller
        records this as a warning, never as a different outcome.
        """
        path = url_path(url) if path is None else path
        return self._index.first(
            path,
            lambda rule: (
                rule.index > winner.index
                and len(rule.location) > len(winner.location)
                and rule.reservation != winner.reservation
            ),
        )


class _RuleIndex:
    """First match in array order without trying every rule: a rule matches only a
    path that starts with its pattern's literal prefix (the text before the first
    ``*``), so rules are filed by that prefix, and a path looks up one bucket per
    distinct prefix length. A file of 50,000 rules costs a few dict lookups per URL.
    """

    __slots__ = ("buckets", "lengths")

    def __init__(self, rules: Iterable[TdmRule]) -> None:
        self.buckets: dict[str, list[TdmRule]] = {}
        for rule in rules:  # in array order, so each bucket is too
            prefix = rule._segments[0] if rule._segments else ""
            self.buckets.setdefault(prefix, []).append(rule)
        self.lengths = tuple(sorted({len(p) for p in self.buckets}, reverse=True))

    def first(self, path: str, wanted: Callable[[TdmRule], bool] | None = None) -> TdmRule | None:
        """The matching rule with the lowest index (among ``wanted`` ones)."""
        best: TdmRule | None = None
        size = len(path)
        for length in self.lengths:
            if length > size:
                continue
            for rule in self.buckets.get(path[:length], ()):
                if best is not None and rule.index >= best.index:
                    break
                if (wanted is None or wanted(rule)) and rule.matches(path):
                    best = rule
                    break
        return best


_JSON_SPACE = " \t\r\n"
_DECODER = json.JSONDecoder()


def _decode(body: bytes, warnings: list[str]) -> tuple[str, str | None]:
    """The file's text; and why its end is unreadable, when bytes part way are not UTF-8
    (the text then stops before them)."""
    found = bom_encoding(body)
    if found is not None and found[0] != "utf-8":
        name, skip = found
        warnings.append(f"tdmrep.json is {name.upper()} (byte order mark), not UTF-8; decoded")
        return body[skip:].decode(name, "replace"), None
    data = body[3:] if body.startswith(codecs.BOM_UTF8) else body
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return data[: exc.start].decode("utf-8"), f"is not UTF-8 at byte {exc.start}"


def _not_an_array(text: str) -> str:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return f"tdmrep.json is not JSON ({str(exc)[:120]})"
    return f"tdmrep.json holds a {type(data).__name__}, not an array: ignored"


def _array_items(text: str, pos: int, warnings: list[str]) -> tuple[list[object], str | None]:
    """The values of the JSON array whose ``[`` is just before ``pos``, one at a time,
    up to the first that does not parse; and why the array was not read to its end."""
    items: list[object] = []
    end = len(text)
    after_comma = False
    while True:
        pos = _skip_space(text, pos)
        if pos < end and text[pos] == "]":
            if after_comma:
                warnings.append("tdmrep.json has a comma before its ']': read as if it had not")
            if text[pos + 1 :].strip(_JSON_SPACE):
                warnings.append("tdmrep.json has text after its array: ignored")
            return items, None
        if len(items) > MAX_RULES:
            return items, None  # enough: the caller says the rest is unread
        try:
            value, pos = _DECODER.raw_decode(text, pos)
        except (ValueError, RecursionError) as exc:
            return items, f"{_where(text, pos)} after {len(items)} rule(s) ({str(exc)[:80]})"
        items.append(value)
        pos = _skip_space(text, pos)
        after_comma = pos < end and text[pos] == ","
        if after_comma:
            pos += 1
        elif pos >= end or text[pos] != "]":
            return items, f"{_where(text, pos)} after {len(items)} rule(s) (no ',' or ']')"


def _skip_space(text: str, pos: int) -> int:
    end = len(text)
    while pos < end and text[pos] in _JSON_SPACE:
        pos += 1
    return pos


def _where(text: str, pos: int) -> str:
    return "ends" if pos >= len(text) else f"breaks at character {pos}"


def _parse_rule(index: int, obj: object, warnings: list[str]) -> TdmRule | None:
    if not isinstance(obj, dict):
        warnings.append(f"tdmrep.json[{index}] is not an object: skipped")
        return None
    raw = json.dumps(obj, ensure_ascii=False, sort_keys=False)
    location = obj.get("location")
    if not isinstance(location, str) or not location:
        warnings.append(f"tdmrep.json[{index}] has no location: skipped")
        return None
    pattern = location
    if "://" in location:
        # Some publishers write absolute URLs; the spec wants a path pattern.
        pattern = url_path(location) + ("$" if location.endswith("$") else "")
        warnings.append(f"tdmrep.json[{index}] location {location!r} is a URL; its path is used")
    elif not location.startswith(("/", "*")):
        pattern = "/" + location
        warnings.append(f"tdmrep.json[{index}] location {location!r} lacks a leading '/'")
    reservation = _json_reservation(obj.get(RESERVATION, None), index, warnings)
    policy = obj.get(POLICY)
    if policy is not None and not isinstance(policy, str):
        warnings.append(f"tdmrep.json[{index}] tdm-policy is not a string: ignored")
        policy = None
    segments, anchored = compile_pattern(pattern)
    from_string = isinstance(obj.get(RESERVATION), str) and reservation == 1
    return TdmRule(index, location, reservation, policy, raw, segments, anchored, from_string)


def _json_reservation(value: object, index: int, warnings: list[str]) -> int | None:
    # bool is an int subclass in Python; JSON true/false is not a TDMRep value.
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        return value
    if isinstance(value, str) and value.strip() == "1":
        warnings.append(
            f"tdmrep.json[{index}] tdm-reservation is the string {value!r}, not the number 1; "
            "read as a reservation (evident intent)"
        )
        return 1
    if isinstance(value, str) and value.strip() == "0":
        warnings.append(
            f"tdmrep.json[{index}] tdm-reservation is the string {value!r}, not the number 0; "
            "a malformed value is never read as a permission: unset"
        )
        return None
    if value is None:
        warnings.append(f"tdmrep.json[{index}] has no tdm-reservation: unset")
    else:
        warnings.append(
            f"tdmrep.json[{index}] tdm-reservation {value!r} is a protocol error: unset"
        )
    return None


# --- robots-style patterns ("*" = any run of characters, trailing "$" = end) ---

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
# As in robots.txt matching: characters a URL may not hold raw are sent encoded.
_UNSAFE = re.compile("[" + re.escape("".join(sorted(map(chr, ENCODED_PRINTABLE)))) + "]")


def normalise_path(path: str) -> str:
    """Percent-normalise a path (or pattern) so equal resources compare equal.

    Encoded unreserved ASCII is decoded, other escapes are upper-cased,
    non-ASCII is UTF-8 percent-encoded and a literal ``$`` becomes ``%24``
    (TDMRep via draft-koster-rep: "$" in a URI is matched as "%24"); the
    printable characters a URL may not hold raw (``{ } | \\ ^`` ..., see
    :data:`optout.robots.ENCODED_PRINTABLE`) are encoded, as requests send them.
    """

    def _unescape(m: re.Match[str]) -> str:
        char = chr(int(m.group(1), 16))
        return char if char in _UNRESERVED else "%" + m.group(1).upper()

    out = _PERCENT.sub(_unescape, path) if "%" in path else path
    if "$" in out:
        out = out.replace("$", "%24")
    out = _UNSAFE.sub(_escape_run, out)
    if out.isascii():
        return out
    return _NON_ASCII.sub(_escape_run, out)


def _escape_run(match: re.Match[str]) -> str:
    return "".join(f"%{b:02X}" for b in match.group(0).encode("utf-8", "surrogatepass"))


def compile_pattern(pattern: str) -> tuple[tuple[str, ...], bool]:
    """Split a pattern into literal segments between ``*`` and an end anchor flag."""
    anchored = pattern.endswith("$")
    if anchored:
        pattern = pattern[:-1]
    return tuple(normalise_path(part) for part in pattern.split("*")), anchored


def _glob_match(segments: tuple[str, ...], anchored: bool, path: str) -> bool:
    # Leftmost placement of each literal segment is optimal for "*"-only globs,
    # so this is O(len(path) * len(pattern)) with no regex backtracking.
    if not segments or not path.startswith(segments[0]):
        return False
    pos = len(segments[0])
    if len(segments) == 1:
        return not anchored or pos == len(path)
    for segment in segments[1:-1]:
        found = path.find(segment, pos)
        if found < 0:
            return False
        pos = found + len(segment)
    last = segments[-1]
    if anchored:
        return path.endswith(last) and len(path) - len(last) >= pos
    return path.find(last, pos) >= 0


def url_path(url: str) -> str:
    """The normalised path and query of a URL, as robots-style patterns see it."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "/"
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return normalise_path(path)


# --- header and meta values ---


@dataclass(frozen=True)
class TdmValue:
    """What one source (header or meta) says: a reservation and/or a policy.

    ``reservation`` is None when the source carries no valid value (absent, or
    only protocol errors); ``evidence`` is the raw field lines or tags.
    """

    source: str
    reservation: int | None = None
    policy: str | None = None
    evidence: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def present(self) -> bool:
        return self.reservation is not None or self.policy is not None


def from_headers(headers: Iterable[tuple[str, str]]) -> TdmValue:
    """The ``tdm-reservation`` / ``tdm-policy`` response headers (names case-insensitive)."""
    reservations: list[str] = []
    policies: list[str] = []
    evidence: list[str] = []
    for name, value in headers:
        lowered = name.strip().lower()
        if lowered == RESERVATION:
            reservations.append(value)
            evidence.append(f"{name}: {value}")
        elif lowered == POLICY:
            policies.append(value)
            evidence.append(f"{name}: {value}")
    return _value("header", reservations, policies, evidence)


def from_meta(pairs: Iterable[tuple[str, str]], evidence: Sequence[str] = ()) -> TdmValue:
    """``<meta name="tdm-reservation|tdm-policy" content=...>`` (names case-insensitive).

    ``pairs`` are (name, content) of the page's meta tags; ``evidence`` the raw
    tags to quote, if the caller has them.
    """
    reservations: list[str] = []
    policies: list[str] = []
    shown: list[str] = []
    for name, content in pairs:
        lowered = name.strip().lower()
        if lowered == RESERVATION:
            reservations.append(content)
        elif lowered == POLICY:
            policies.append(content)
        else:
            continue
        shown.append(f'<meta name="{name}" content="{content}">')
    return _value("meta", reservations, policies, list(evidence) or shown)


def _value(
    source: str, reservations: list[str], policies: list[str], evidence: list[str]
) -> TdmValue:
    warnings: list[str] = []
    values: set[int] = set()
    for raw in reservations:
        for part in raw.split(","):
            part = part.strip()
            if part in ("0", "1"):
                values.add(int(part))
            else:
                warnings.append(
                    f"{source} tdm-reservation {part[:60]!r} is a protocol error: unset"
                )
    reservation: int | None = None
    if values:
        reservation = max(values)
        if len(values) > 1:
            warnings.append(
                f"{source} tdm-reservation has both 0 and 1: the reservation (1) applies"
            )
    policy = next((p.strip() for p in policies if p.strip()), None)
    if len({p.strip() for p in policies if p.strip()}) > 1:
        warnings.append(f"{source} has several tdm-policy values; the first is kept")
    return TdmValue(source, reservation, policy, "\n".join(evidence), tuple(warnings))


@dataclass(frozen=True)
class TdmOutcome:
    """The TDMRep answer for one resource after the processing order.

    ``reservation`` is 1, 0 or None (unset); ``source`` and ``evidence`` belong
    to the step that set it; ``line`` is never set (JSON rules are quoted).
    """

    reservation: int | None = None
    policy: str | None = None
    source: str | None = None
    evidence: str = ""
    warnings: tuple[str, ...] = ()


def file_value(rule: TdmRule | None) -> TdmValue:
    """The tdmrep.json step as a :class:`TdmValue` (source ``well-known``)."""
    if rule is None:
        return TdmValue("well-known")
    return TdmValue("well-known", rule.reservation, rule.policy, rule.raw)


def resolve(steps: Iterable[TdmValue]) -> TdmOutcome:
    """Apply the processing order: each step with a valid value supersedes the
    current one; an absent or invalid value never resets it ("the absence of
    tdm-reservation and tdm-policy MUST not reset current values")."""
    outcome = TdmOutcome()
    warnings: list[str] = []
    for step in steps:
        warnings += step.warnings
        if step.reservation is not None:
            if outcome.reservation is not None and outcome.reservation != step.reservation:
                warnings.append(
                    f"TDMRep {step.source} tdm-reservation {step.reservation} supersedes "
                    f"{outcome.source} value {outcome.reservation}"
                )
            outcome = TdmOutcome(step.reservation, step.policy, step.source, step.evidence)
        elif step.policy is not None and outcome.reservation is not None:
            # A policy alone keeps the reservation and updates where to ask.
            outcome = TdmOutcome(
                outcome.reservation,
                step.policy,
                outcome.source,
                outcome.evidence + "\n" + step.evidence,
            )
    return TdmOutcome(
        outcome.reservation, outcome.policy, outcome.source, outcome.evidence, tuple(warnings)
    )
