"""IETF AI Preferences (aipref): the ``Content-Usage`` vocabulary and its attachments.

Drafts followed: draft-ietf-aipref-vocab-07 (labels ``train-ai`` and ``search``,
no hierarchy) and draft-ietf-aipref-attach-05 (the ``Content-Usage`` HTTP
field and the ``Content-Usage:`` robots.txt rule). Checked against
draft-ietf-aipref-vocab-08 (2026-09-14; attach-05 is still the newest attachment
draft): what the stored copies hold of -08 changes nothing this module reads. The
working group's proposal of inference categories (``infer-user``,
``infer-system``) adds labels that are not training and not supersets of it, so, as
-07 and -08 require for labels a reader does not act on, they are ignored for the
training answer (kept in ``labels``); ``train-ai`` keeps its meaning. Also Cloudflare's
``Content-Signal:`` robots.txt line (``ai-train=no``), which has the same shape
of answer.

Only the AI-training question is answered here: a statement is reduced to one
:class:`Preference` for training, plus the label that decided it, so an auditor
can see *why*. Parsing never raises: a value that is not an RFC 9651
dictionary gives ``UNKNOWN`` and a warning, as vocab-07 requires ("If the
parsing of the Dictionary fails, preferences are unknown").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import http_sf

# vocab-07's training label. The others are labels of vocab-01 ... -04 still
# found in deployed files; in those drafts each was a superset of (or equal
# to) training, so ``n`` on them denied training too.
TRAIN_LABEL = "train-ai"
COMPAT_TRAIN_LABELS: tuple[str, ...] = ("train-genai", "ai", "genai", "tdm", "all", "bots")

# A Content-Usage value longer than this is not a preference but an accident
# or an attack; http-sf would parse it, slowly, for nothing.
MAX_VALUE_LENGTH = 8192


class Preference(StrEnum):
    """A usage preference for one category, as vocab-07 models it."""

    ALLOW = "allow"
    DISALLOW = "disallow"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class UsagePreference:
    """The training preference one ``Content-Usage`` statement expresses.

    ``label`` is the vocabulary label that decided ``train_ai`` (``train-ai``
    or a compat label such as ``bots``); ``labels`` holds every recognised
    label with its ``y``/``n`` token, in the order parsed (after duplicate
    keys were resolved, last wins).
    """

    train_ai: Preference = Preference.UNKNOWN
    label: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def denies_training(self) -> bool:
        return self.train_ai is Preference.DISALLOW

    @property
    def allows_training(self) -> bool:
        return self.train_ai is Preference.ALLOW


UNKNOWN = UsagePreference()


def parse_usage(value: str | bytes, *, compat: bool = True) -> UsagePreference:
    """Parse one ``Content-Usage`` value (an RFC 9651 dictionary) for training.

    ``train-ai=n`` disallows, ``train-ai=y`` allows. With ``compat`` (the
    default), ``n`` on an older label (``train-genai``, ``ai``, ``genai``,
    ``tdm``, ``all``, ``bots``) disallows too, and a disallow always beats an
    allow within one statement. Keys are case-sensitive (uppercase fails the
    whole parse), unknown labels and all parameters are ignored, duplicate
    keys resolve last-wins, and any value other than the Token ``y``/``n``
    leaves its label unknown.
    """
    # RFC 9651 fields are ASCII; anything else makes the parse fail below.
    data = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)
    if len(data) > MAX_VALUE_LENGTH:
        return _unknown(f"Content-Usage value over {MAX_VALUE_LENGTH} bytes ignored")
    try:
        parsed = http_sf.parse(data, tltype="dictionary")
    except (http_sf.StructuredFieldError, ValueError, TypeError, UnicodeError) as exc:
        shown = data[:120].decode("utf-8", "replace")
        return _unknown(f"Content-Usage {shown!r} is not a structured dictionary ({exc})")
    if not isinstance(parsed, dict):
        return UNKNOWN

    labels: list[tuple[str, str]] = []
    for key, member in parsed.items():
        item = member[0] if isinstance(member, tuple) else member
        # Tokens are a str subclass; strings ("n") and booleans are not tokens.
        if isinstance(item, http_sf.Token) and str(item) in ("y", "n"):
            labels.append((key, str(item)))
    return _decide(tuple(labels), compat=compat)


def _unknown(warning: str) -> UsagePreference:
    return UsagePreference(warnings=(warning,))


def _decide(labels: tuple[tuple[str, str], ...], *, compat: bool) -> UsagePreference:
    training = (TRAIN_LABEL, *COMPAT_TRAIN_LABELS) if compat else (TRAIN_LABEL,)
    values = dict(labels)
    for label in training:
        if values.get(label) == "n":
            return UsagePreference(Preference.DISALLOW, label, labels)
    if values.get(TRAIN_LABEL) == "y":
        return UsagePreference(Preference.ALLOW, TRAIN_LABEL, labels)
    return UsagePreference(Preference.UNKNOWN, None, labels)


def combine(preferences: Iterable[UsagePreference]) -> UsagePreference:
    """The most restrictive of several statements (vocab-07, "Combining Preferences").

    Any disallow wins; else any allow; else unknown. Warnings of all inputs are
    kept. The returned statement is the first one that carries the result, so
    its ``label`` still says which label decided.
    """
    prefs = list(preferences)
    warnings = tuple(w for p in prefs for w in p.warnings)
    for wanted in (Preference.DISALLOW, Preference.ALLOW):
        for pref in prefs:
            if pref.train_ai is wanted:
                return UsagePreference(pref.train_ai, pref.label, pref.labels, warnings)
    return UsagePreference(warnings=warnings)


def split_robots_rule(value: str) -> tuple[str | None, str]:
    """Split a robots.txt ``Content-Usage`` rule value into (path, preference).

    attach-05: if the value starts with ``/`` it is a path that ends at the
    first space or tab, and the remainder is the preference; otherwise the
    whole value is the preference. A ``#`` comment is cut off first, in case
    the caller left it on.
    """
    value = value.split("#", 1)[0].strip(" \t\r\n")
    if not value.startswith("/"):
        return None, value
    for index, char in enumerate(value):
        if char in " \t":
            return value[:index], value[index:].strip(" \t")
    return value, ""


@dataclass(frozen=True)
class ContentSignal:
    """Cloudflare's ``Content-Signal`` robots.txt line, reduced to ``ai-train``."""

    ai_train: Preference = Preference.UNKNOWN
    signals: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = ()


def parse_content_signal(value: str) -> ContentSignal:
    """Parse ``search=yes, ai-train=no`` (comma-separated ``key=yes|no``).

    Keys and values are matched case-insensitively (it is a robots.txt line,
    not a structured field); unknown keys (``ai-input``, ``use``) are kept in
    ``signals`` but do not decide training; a repeated key: last wins.
    Anything unparseable is skipped with a warning.
    """
    signals: list[tuple[str, str]] = []
    warnings: list[str] = []
    for part in value.split("#", 1)[0].split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, raw = part.partition("=")
        key, raw = key.strip().lower(), raw.strip().strip('"').lower()
        if not sep or not key:
            warnings.append(f"Content-Signal item {part[:80]!r} has no key=value form")
            continue
        signals.append((key, raw))
    ai_train = dict(signals).get("ai-train")
    pref = {"no": Preference.DISALLOW, "yes": Preference.ALLOW}.get(ai_train or "")
    if ai_train is not None and pref is None:
        warnings.append(f"Content-Signal ai-train={ai_train!r} is neither yes nor no")
    return ContentSignal(pref or Preference.UNKNOWN, tuple(signals), tuple(warnings))
