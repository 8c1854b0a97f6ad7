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
* in tdmrep.json, the strings ``"1"``/``"0"`` are accepted as the numbers
  (with a warning): publishers write them, and reading them as "unset" would
  silently drop a reservation. Any other value is a protocol error: the rule
  still *matches* (first match wins) but leaves the reservation unset.
* a file that is not UTF-8 JSON holding an array is "no file", with a warning.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# tdmrep.json files of real publishers are a few KiB; a cap keeps a hostile or
# broken origin from costing memory on every crawl of it.
MAX_FILE_BYTES = 512 * 1024
MAX_RULES = 10_000

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

    def matches(self, path: str) -> bool:
        """Whether the rule's pattern matches an already normalised path (see :func:`url_path`)."""
        return _glob_match(self._segments, self._anchored, path)


@dataclass(frozen=True)
class TdmRepFile:
    """A parsed ``/.well-known/tdmrep.json``; an invalid file has no rules."""

    rules: tuple[TdmRule, ...] = ()
    warnings: tuple[str, ...] = ()
    valid: bool = False

    @classmethod
    def parse(cls, body: bytes | str) -> TdmRepFile:
        """Parse the file's body. Never raises: bad input gives no rules and a warning."""
        if isinstance(body, bytes):
            if len(body) > MAX_FILE_BYTES:
                return cls(warnings=(f"tdmrep.json over {MAX_FILE_BYTES} bytes ignored",))
            try:
                text = body.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                return cls(warnings=(f"tdmrep.json is not UTF-8 (byte {exc.start})",))
        else:
            text = body.removeprefix("\ufeff")
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            return cls(warnings=(f"tdmrep.json is not JSON ({str(exc)[:120]})",))
        if not isinstance(data, list):
            kind = type(data).__name__
            return cls(warnings=(f"tdmrep.json holds a {kind}, not an array: ignored",))
        warnings: list[str] = []
        if len(data) > MAX_RULES:
            warnings.append(f"tdmrep.json has {len(data)} rules; only the first {MAX_RULES} used")
        rules = []
        for index, obj in enumerate(data[:MAX_RULES]):
            rule = _parse_rule(index, obj, warnings)
            if rule is not None:
                rules.append(rule)
        return cls(tuple(rules), tuple(warnings), valid=True)

    def match(self, url: str) -> TdmRule | None:
        """The first rule in array order whose location matches ``url`` ("The most
        specific match is the first in sequence"), or None: reservation unset."""
        return self.match_path(url_path(url))

    def match_path(self, path: str) -> TdmRule | None:
        """:meth:`match` for a path already normalised by :func:`url_path`."""
        for rule in self.rules:
            if rule.matches(path):
                return rule
        return None

    def shadowed(self, url: str, winner: TdmRule, *, path: str | None = None) -> TdmRule | None:
        """A later rule with a longer location and another value that also matches.

        First-match is what the spec says, but a publisher who wrote
        ``[{"/": 1}, {"/public/": 0}]`` may have meant longest-match; the caller
        records this as a warning, never as a different outcome.
        """
        path = url_path(url) if path is None else path
        for rule in self.rules:
            if (
                rule.index > winner.index
                and len(rule.location) > len(winner.location)
                and rule.reservation != winner.reservation
                and rule.matches(path)
            ):
                return rule
        return None


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
    return TdmRule(index, location, reservation, policy, raw, segments, anchored)


def _json_reservation(value: object, index: int, warnings: list[str]) -> int | None:
    # bool is an int subclass in Python; JSON true/false is not a TDMRep value.
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        return value
    if isinstance(value, str) and value.strip() in ("0", "1"):
        warnings.append(
            f"tdmrep.json[{index}] tdm-reservation is the string {value!r}; read as a number"
        )
        return int(value.strip())
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


def normalise_path(path: str) -> str:
    """Percent-normalise a path (or pattern) so equal resources compare equal.

    Encoded unreserved ASCII is decoded, other escapes are upper-cased,
    non-ASCII is UTF-8 percent-encoded and a literal ``$`` becomes ``%24``
    (TDMRep via draft-koster-rep: "$" in a URI is matched as "%24").
    """

    def _unescape(m: re.Match[str]) -> str:
        char = chr(int(m.group(1), 16))
        return char if char in _UNRESERVED else "%" + m.group(1).upper()

    out = _PERCENT.sub(_unescape, path) if "%" in path else path
    if "$" in out:
        out = out.replace("$", "%24")
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
