"""One :class:`~optout.decision.Decision` per URL from every opt-out signal.

:func:`evaluate` is the single entry point the crawl, ``tdmcrawl check`` and
offline filtering share, so they cannot disagree. Called with no response it
is the *pre-fetch* gate; with a :class:`ResponseSignals` it also reads the
response's headers and HTML meta tags.

Combining (optout-signals.md §10): across families the most restrictive
answer wins, so every family that reserves adds its :class:`Reason`; within
TDMRep the spec's own order applies (tdmrep.json -> header -> meta, a later
valid value supersedes, even to relax). Explicit permissions
(``tdm-reservation: 0``, ``train-ai=y``, ``ai-train=yes``) are kept as
``grants``: they never outweigh another family's reservation.

Cost per URL: the origin's files are parsed once, in :class:`OriginSignals`;
per URL there are only pattern matches, header scans, and for HTML bodies a
streamed scan for meta tags (see :mod:`optout.html_meta`).

Fail closed: a signal that exists but cannot be read whole reserves what it
could have reserved, with evidence saying why. A tdmrep.json cut by a size
limit or broken part way reserves the paths its readable rules do not match;
an ai.txt too large to read reserves every path; an HTML page whose meta
scan was cut (``html_meta_max_bytes``, a body cut short) is reserved as
``noai`` and ``tdmrep`` from ``meta``; an unreadable robots.txt is a complete
disallow (:mod:`optout.fetched`).
"""

from __future__ import annotations

import mimetypes
import re
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from tdmcrawl.optout import aipref, documents, lenient, rsl, tdmrep, xrobots
from tdmcrawl.optout.ai_agents import (
    AiTokenList,
    ai_agent_reasons,
    ai_training_tokens,
    ai_txt_reasons,
    parse_ai_txt,
)
from tdmcrawl.optout.comments import file_comment_reasons
from tdmcrawl.optout.decision import Decision, Reason, ReasonCode
from tdmcrawl.optout.fetched import FetchResult, RobotsOutcome, file_body, robots_outcome
from tdmcrawl.optout.html_meta import MetaScan, extract_meta
from tdmcrawl.optout.robots import RobotsTxt
from tdmcrawl.optout.tdmrep import TdmRepFile

_PRODUCT_TOKEN = re.compile(r"[A-Za-z_-]+")
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_SNIFF_BYTES = 512
_HTML_START = re.compile(
    rb"(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]{0,200}>\s*)?(?:<!--.*?-->\s*)*"
    rb"<(?:!doctype\s+html|html|head|meta|title)[\s>/]",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class PolicyConfig:
    """Which signals count, and as whom we read them.

    ``token``: our RFC 9309 product token; robots.txt groups, ``X-Robots-Tag``
    bot scopes and ``<meta name="{token}">`` are matched against it,
    case-insensitively.
    ``ai_agents``: read robots.txt rules that disallow known AI-training
    crawlers (GPTBot, CCBot, Google-Extended, ...) as a training reservation
    (``robots-ai-agents``).
    ``aipref_compat``: in Content-Usage, ``n`` on the older labels
    (``train-genai``, ``ai``, ``genai``, ``tdm``, ``all``, ``bots``) reserves
    training as ``train-ai=n`` does.
    ``ai_txt``: honour Spawning's ``/ai.txt`` (``ai-txt``).
    ``noai``: honour ``noai``/``noimageai`` in X-Robots-Tag and robots meta.
    ``tdmrep``: honour W3C TDMRep (tdmrep.json, headers, meta).
    ``content_usage``: honour IETF aipref Content-Usage (robots.txt and header).
    ``content_signal``: honour Cloudflare ``Content-Signal: ai-train=no``.
    ``html_meta_max_bytes``: at most this many bytes of an HTML body are scanned
    for meta tags (None: all of it, as downloaded). A page whose scan it cuts
    is reserved (``noai``/``tdmrep`` from ``meta``, the cut as evidence): a
    reservation could follow the cut. A limit trades pages for time.
    ``robots_redirects_unavailable``: a robots.txt behind more than five
    redirects (a loop) or a redirect that cannot be followed counts as
    *unavailable* (allow all, RFC 9309 2.3.1.2 permits it) instead of
    unreachable (complete disallow, the default).
    ``rsl``: honour RSL 1.0 licences (robots.txt ``License:``, ``Link`` header,
    HTML ``<link>``): a prohibition of AI training, or a permission only on terms
    not held, reserves (``rsl``); ``rsl_licenses`` names the licences the operator
    holds (licence document, ``<standard>``/``<custom>`` or licence-server URLs).
    robots.txt rules for our own token, and an unreachable robots.txt, are
    not switchable: they forbid fetching (RFC 9309).

    Readings of evident intent (:mod:`optout.lenient`, :mod:`optout.comments`),
    each on by default, each read as a reservation only and with a warning:
    ``tdmrep_object`` (a tdmrep.json that is one object), ``tdmrep_string``
    (``"1"`` for ``1`` in tdmrep.json), ``tdmrep_variants`` (``X-TDM-Reservation``
    and other spellings), ``ai_agent_lookalikes`` (``User-agent`` lines naming an
    AI crawler without its product token), ``rsl_token_variants`` (``train-ai``
    and like spellings in an RSL ``<prohibits>``), ``robots_comments``
    (``reserve``, ``warn`` or ``off``: reservations written in words in
    robots.txt comments). ``agents``: the AI-crawler list in force (None: the
    packaged list).
    """

    token: str = "tdmcrawl"
    ai_agents: bool = True
    aipref_compat: bool = True
    ai_txt: bool = True
    noai: bool = True
    tdmrep: bool = True
    content_usage: bool = True
    content_signal: bool = True
    html_meta_max_bytes: int | None = None
    robots_redirects_unavailable: bool = False
    rsl: bool = True
    rsl_licenses: tuple[str, ...] = ()
    rsl_token_variants: bool = True
    tdmrep_object: bool = True
    tdmrep_string: bool = True
    tdmrep_variants: bool = True
    ai_agent_lookalikes: bool = True
    robots_comments: str = "reserve"
    agents: AiTokenList | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.token, str) or not _PRODUCT_TOKEN.fullmatch(self.token):
            raise ValueError(
                f"policy token {self.token!r} is not an RFC 9309 product token "
                "(letters, '_' and '-' only), e.g. 'tdmcrawl'"
            )
        limit = self.html_meta_max_bytes
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1024
        ):
            raise ValueError(
                f"html_meta_max_bytes={limit!r}: use at least 1024 bytes, or None for no limit"
            )
        if self.robots_comments not in COMMENT_MODES:
            raise ValueError(
                f"robots_comments={self.robots_comments!r}: use one of {', '.join(COMMENT_MODES)}"
            )
        object.__setattr__(self, "rsl_licenses", tuple(self.rsl_licenses))

    @property
    def agent_list(self) -> AiTokenList:
        """The AI-crawler list in force."""
        return self.agents if self.agents is not None else ai_training_tokens()

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain values, for the warcinfo record and the audit log."""
        out = asdict(self)
        out["rsl_licenses"] = list(self.rsl_licenses)
        out["agents"] = self.agent_list.version
        return out


COMMENT_MODES = ("reserve", "warn", "off")
_DEFAULT_CONFIG = PolicyConfig()
# Shared read-only stand-in when robots.txt was not consulted (its per-token
# caches only ever hold the same empty answers).
_NO_ROBOTS = RobotsTxt.empty()


@dataclass(frozen=True)
class OriginSignals:
    """The per-origin files, parsed once: robots.txt outcome, tdmrep.json, ai.txt.

    ``robots`` is None when robots.txt was not consulted at all (offline
    filtering of existing WARC files without origin files): then nothing
    blocks fetching. ``tdmrep`` / ``ai_txt`` are None when the origin has no
    usable file. ``warnings`` are about the files and travel with every
    decision made with them.
    """

    robots: RobotsOutcome | None = None
    tdmrep: tdmrep.TdmRepFile | None = None
    ai_txt: RobotsTxt | None = None
    warnings: tuple[str, ...] = ()
    # Why an ai.txt that exists could not be read (too large): it then reserves
    # every path, since it could have.
    ai_txt_unread: str | None = None
    # The evident-intent reading of a tdmrep.json written as one object (used
    # only when ``PolicyConfig.tdmrep_object`` is on and ``tdmrep`` is None).
    tdmrep_object: TdmRepFile | None = None
    # RSL licence documents fetched for this origin, by URL (RslDocument.url).
    licenses: tuple[rsl.RslDocument, ...] = ()

    @classmethod
    def from_fetches(
        cls,
        robots: FetchResult | None = None,
        tdmrep: FetchResult | None = None,
        ai_txt: FetchResult | None = None,
        rsl: Mapping[str, FetchResult] | None = None,
        *,
        config: PolicyConfig | None = None,
    ) -> OriginSignals:
        """Build from what the caller saw fetching each file (None: not fetched);
        ``rsl`` maps each RSL licence URL to its fetch; ``config`` says how to read a
        robots.txt redirect failure."""
        config = config or _DEFAULT_CONFIG
        warnings: list[str] = []
        outcome = None
        if robots is not None:
            outcome = robots_outcome(
                robots, redirects_unavailable=config.robots_redirects_unavailable
            )
            warnings += outcome.warnings
        ai_file, ai_unread = _ai_txt_file(ai_txt, warnings)
        strict = _tdmrep_file(tdmrep, warnings)
        return cls(
            robots=outcome,
            tdmrep=strict,
            ai_txt=ai_file,
            warnings=tuple(warnings),
            ai_txt_unread=ai_unread,
            tdmrep_object=_tdmrep_object(tdmrep) if strict is None else None,
            licenses=tuple(license_document(r) for r in (rsl or {}).values()),
        )

    def with_licenses(self, fetches: Mapping[str, FetchResult]) -> OriginSignals:
        """These signals with more RSL licence documents (found on pages, fetched later)."""
        known = {doc.url for doc in self.licenses}
        added = tuple(license_document(r) for u, r in fetches.items() if u not in known)
        return replace(self, licenses=self.licenses + added) if added else self

    def license(self, url: str) -> rsl.RslDocument | None:
        return next((doc for doc in self.licenses if doc.url == url), None)

    @classmethod
    def from_bodies(
        cls,
        robots: bytes | None = None,
        tdmrep: bytes | None = None,
        ai_txt: bytes | None = None,
        *,
        config: PolicyConfig | None = None,
    ) -> OriginSignals:
        """Build from file bodies served with 200 (None: the file is absent, 404)."""

        def fetched(path: str, body: bytes | None) -> FetchResult:
            url = "https://origin.invalid" + path
            return FetchResult(url, 404) if body is None else FetchResult(url, 200, body)

        return cls.from_fetches(
            robots=fetched("/robots.txt", robots),
            tdmrep=fetched("/.well-known/tdmrep.json", tdmrep),
            ai_txt=fetched("/ai.txt", ai_txt),
            config=config,
        )


def license_document(result: FetchResult) -> rsl.RslDocument:
    """An RSL licence fetch as a document: same status, redirect and size rules as
    tdmrep.json; a failed fetch is a document with no content and a warning."""
    body = file_body(result)
    if body is None:
        why = result.error or f"HTTP {result.status}"
        return rsl.RslDocument(
            result.url, warnings=(f"RSL licence {result.url} unreachable ({why}): not read",)
        )
    return rsl.RslDocument.parse(body, result.url)


def _tdmrep_object(result: FetchResult | None) -> tdmrep.TdmRepFile | None:
    body = file_body(result)
    if not body:
        return None
    parsed, warnings = lenient.tdmrep_object(body)
    if parsed is None:
        # An object that grants or says nothing readable: keep only the warning.
        return tdmrep.TdmRepFile(warnings=warnings, valid=False) if warnings else None
    return tdmrep.TdmRepFile(parsed.rules, warnings + parsed.warnings, valid=True)


def _tdmrep_file(result: FetchResult | None, warnings: list[str]) -> tdmrep.TdmRepFile | None:
    if result is None:
        return None
    if result.truncated:
        # The file exists but is longer than the size limit: what was not read could
        # reserve anything, so it must not read as "no file" (a small file would not).
        why = f"is {result.error or 'larger than the size limit'}"
        if result.body:
            parsed = tdmrep.TdmRepFile.parse(result.body)
            if parsed.valid:
                parsed = replace(parsed, unread=why)  # the cut is why its end breaks
                warnings += parsed.warnings
                warnings.append(f"tdmrep.json {why}: read as far as it goes")
                return parsed
        unreadable = tdmrep.TdmRepFile.unreadable(why)
        warnings += unreadable.warnings
        return unreadable
    body = file_body(result)
    if body is None:
        # TDMRep: "Failure to provide access ... implies that the origin server
        # does not implement this protocol." A 404 is the normal case; say so
        # only for failures that may hide a file.
        if result.status is None or result.status >= 500 or result.status == 429:
            why = result.error or f"HTTP {result.status}"
            warnings.append(f"tdmrep.json unreachable ({why}): no file-level TDMRep signal")
        return None
    parsed = tdmrep.TdmRepFile.parse(body)
    warnings += parsed.warnings
    return parsed if parsed.valid else None


def _ai_txt_file(
    result: FetchResult | None, warnings: list[str]
) -> tuple[RobotsTxt | None, str | None]:
    """The parsed ai.txt, or why an ai.txt that exists cannot be read whole."""
    if result is None:
        return None, None
    content_type = (result.header("content-type") or "").lower()
    if result.truncated:
        if "html" in content_type or (result.body or b"").lstrip()[:1] == b"<":
            warnings.append("ai.txt is an HTML page, not a robots-style file: ignored")
            return None, None
        why = f"is {result.error or 'larger than the size limit'}"
        warnings.append(f"ai.txt {why}: not read; every path read as reserved")
        return None, why
    body = file_body(result)
    if not body:
        return None, None
    if "html" in content_type or body.lstrip()[:1] == b"<":
        warnings.append("ai.txt is an HTML page, not a robots-style file: ignored")
        return None, None
    parsed = parse_ai_txt(body)
    warnings += parsed.warnings
    if parsed.unread:
        return None, f"is {parsed.unread}"
    if parsed.directive_count == 0:
        # The name is overloaded (Markdown "ai.txt" files, research DSLs).
        warnings.append("ai.txt has no User-agent/Allow/Disallow records: ignored")
        return None, None
    return parsed, None


@dataclass(frozen=True)
class ResponseSignals:
    """What the fetch returned: status, every header line in order (repeats
    kept), the body as received, and the content type if the caller knows it
    (else it is read from the ``Content-Type`` header, then guessed from the URL).
    ``truncated``: the body is only the start of the response."""

    status: int
    headers: Sequence[tuple[str, str]] = ()
    body: bytes = b""
    content_type: str | None = None
    # ``body`` is only the start of the response (a reader's size limit cut it).
    truncated: bool = False


@dataclass
class _Collector:
    reasons: list[Reason] = field(default_factory=list)
    grants: list[Reason] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def evaluate(
    url: str,
    origin: OriginSignals,
    response: ResponseSignals | None = None,
    config: PolicyConfig | None = None,
) -> Decision:
    """The decision for ``url``: pre-fetch without ``response``, post-fetch with it.

    Pre-fetch: robots.txt for our token (or unreachable), robots rules for
    AI-training crawlers, Content-Usage and Content-Signal from robots.txt,
    tdmrep.json, ai.txt. Post-fetch adds the TDMRep, Content-Usage and
    X-Robots-Tag headers and, for HTML, the robots / ``{token}`` /
    tdm-reservation meta tags. Never raises on malformed input.
    """
    config = config or _DEFAULT_CONFIG
    out = _Collector(warnings=list(origin.warnings))
    robots = origin.robots.robots if origin.robots is not None else _NO_ROBOTS
    if origin.robots is not None:
        out.reasons += origin.robots.reasons(url, config.token)
    fetchable = not out.reasons
    if config.ai_agents:
        tokens = config.agent_list.tokens
        out.reasons += ai_agent_reasons(robots, url, tokens)
        if config.ai_agent_lookalikes:
            found, said = lenient.lookalike_reasons(robots, url, tokens)
            out.reasons += found
            out.warnings += said
    # aipref-attach: "no preferences are implied for resources that are disallowed".
    if config.content_usage and fetchable:
        _robots_content_usage(robots, url, config, out)
    if config.content_signal:
        _content_signal(robots, config, out)
    if config.robots_comments != "off":
        _robots_comments(robots, config, out)
    tdm_steps: list[tdmrep.TdmValue] = []
    if config.tdmrep:
        _tdmrep_file_step(url, origin, config, out, tdm_steps)
        if config.tdmrep_variants:
            found, said = lenient.robots_tdm_variants(robots)
            out.reasons += found
            out.warnings += said
    if config.ai_txt and origin.ai_txt is not None:
        out.reasons += ai_txt_reasons(origin.ai_txt, url, config.token)
    if config.ai_txt and origin.ai_txt_unread:
        evidence = f"ai.txt {origin.ai_txt_unread}: not read; read as reserving every path"
        out.reasons.append(Reason(ReasonCode.AI_TXT, "ai.txt", evidence + FAIL_CLOSED))
    licences: list[rsl.LicenseRef] = []
    if config.rsl:
        licences += _robots_licences(robots, config.token, url)
    if response is not None:
        _post_fetch(url, response, config, out, tdm_steps, licences)
    if config.tdmrep:
        _tdmrep_outcome(tdmrep.resolve(tdm_steps), out)
    if licences:
        _rsl_outcome(url, origin, licences, config, out)
    return Decision(url, tuple(out.reasons), tuple(out.warnings), tuple(out.grants))


FAIL_CLOSED = " (fail closed)"


def _unread_file_value(unread: str, rules_read: int) -> tdmrep.TdmValue:
    evidence = (
        f"tdmrep.json {unread}; none of the {rules_read} rule(s) read matches this path, "
        "and a rule not read could reserve it" + FAIL_CLOSED
    )
    return tdmrep.TdmValue("well-known", 1, None, evidence)


def url_origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` as written (for resolving robots.txt URLs)."""
    match = _ORIGIN.match(url)
    return match.group(0) if match else ""


_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")


def _tdmrep_file_step(
    url: str,
    origin: OriginSignals,
    config: PolicyConfig,
    out: _Collector,
    tdm_steps: list[tdmrep.TdmValue],
) -> None:
    file = origin.tdmrep
    if file is None and config.tdmrep_object and origin.tdmrep_object is not None:
        file = origin.tdmrep_object  # a JSON object read as one site-wide rule
        # The strict parser's "holds a dict ... ignored" is replaced by how it was read.
        out.warnings = [w for w in out.warnings if not w.startswith("tdmrep.json holds a dict")]
        out.warnings += file.warnings
    if file is None:
        return
    path = tdmrep.url_path(url)
    rule = file.match_path(path)
    if rule is None and file.unread:
        # No rule read matches; one that was not read might reserve the path.
        tdm_steps.append(_unread_file_value(file.unread, len(file.rules)))
    elif rule is not None and rule.from_string and not config.tdmrep_string:
        out.warnings.append(
            f"tdmrep.json rule {rule.index}: tdm-reservation is a string; not read "
            "(TDMCRAWL_TDMREP_STRING is off): unset"
        )
        tdm_steps.append(tdmrep.TdmValue("well-known"))
    else:
        tdm_steps.append(tdmrep.file_value(rule))
    shadow = file.shadowed(url, rule, path=path) if rule is not None else None
    if rule is not None and shadow is not None:
        out.warnings.append(
            f"tdmrep.json: rule {rule.index} {rule.location!r} wins by array order; "
            f"the longer rule {shadow.index} {shadow.location!r} says "
            f"{shadow.reservation} (first match applies, per TDMRep)"
        )


def _robots_comments(robots: RobotsTxt, config: PolicyConfig, out: _Collector) -> None:
    key = config.robots_comments
    known = _COMMENT_READINGS.setdefault(robots, {})
    if key not in known:
        known[key] = _comment_reading(robots, config)
    reasons, warnings = known[key]
    out.reasons += reasons
    out.warnings += warnings


# Per parsed robots.txt (and mode): the comment reading and the RSL references of a
# file are the same for every URL of the origin.
_COMMENT_READINGS: weakref.WeakKeyDictionary[
    RobotsTxt, dict[str, tuple[tuple[Reason, ...], tuple[str, ...]]]
] = weakref.WeakKeyDictionary()
_ROBOTS_LICENCES: weakref.WeakKeyDictionary[
    RobotsTxt, dict[tuple[str, str], tuple[rsl.LicenseRef, ...]]
] = weakref.WeakKeyDictionary()


def _robots_licences(robots: RobotsTxt, token: str, url: str) -> tuple[rsl.LicenseRef, ...]:
    robots_url = url_origin(url) + "/robots.txt"
    known = _ROBOTS_LICENCES.setdefault(robots, {})
    key = (token, robots_url)
    if key not in known:
        known[key] = rsl.from_robots(robots.licenses_for(token), robots_url)
    return known[key]


def _comment_reading(
    robots: RobotsTxt, config: PolicyConfig
) -> tuple[tuple[Reason, ...], tuple[str, ...]]:
    reasons: list[Reason] = []
    warnings: list[str] = []
    out = _Collector(reasons, [], warnings)
    found = file_comment_reasons(robots)
    for reason in found:
        where = f"{robots.source} line {reason.line}"
        if config.robots_comments == "reserve":
            out.reasons.append(reason)
            out.warnings.append(
                f"{where}: a reservation written in words in a comment, read as one "
                "(evident intent; TDMCRAWL_ROBOTS_COMMENTS=reserve)"
            )
        else:
            out.warnings.append(
                f"{where}: a comment reads as a reservation in words; warning only "
                f"(TDMCRAWL_ROBOTS_COMMENTS=warn): {' '.join(reason.evidence.split())[:160]}"
            )
    return tuple(reasons), tuple(warnings)


def _rsl_outcome(
    url: str,
    origin: OriginSignals,
    licences: list[rsl.LicenseRef],
    config: PolicyConfig,
    out: _Collector,
) -> None:
    for ref in licences:
        document = ref.inline or origin.license(ref.url)
        where = f"{ref.source} line {ref.line}" if ref.line else ref.source
        if document is None:
            out.warnings.append(
                f"RSL licence {ref.url} (named in {where}) was not fetched: its terms are not read"
            )
            continue
        terms = rsl.training_terms(
            document, url, held=config.rsl_licenses, token_variants=config.rsl_token_variants
        )
        out.warnings += terms.warnings
        if terms.terms is rsl.Terms.SILENT:
            continue
        evidence = f"{ref.evidence}\n{terms.why}: {terms.evidence}".strip()
        reason = Reason(ReasonCode.RSL, ref.source, evidence, line=ref.line)
        if terms.terms in (rsl.Terms.PROHIBITED, rsl.Terms.TERMS):
            out.reasons.append(reason)
        else:
            out.grants.append(reason)


def _robots_content_usage(
    robots: RobotsTxt, url: str, config: PolicyConfig, out: _Collector
) -> None:
    lines = robots.content_usage(url, config.token)
    parsed = []
    for line in lines:
        _, value = aipref.split_robots_rule(line.value)
        pref = aipref.parse_usage(value, compat=config.aipref_compat)
        out.warnings += [f"robots.txt line {line.line_no}: {w}" for w in pref.warnings]
        parsed.append((line, pref))
    # Identical paths with conflicting preferences combine most restrictively
    # (aipref-attach), so every disallowing winner is evidence.
    _usage_result([(line.raw, line.line_no, p) for line, p in parsed], "robots.txt", out)


def _usage_result(
    items: list[tuple[str, int | None, aipref.UsagePreference]], source: str, out: _Collector
) -> None:
    combined = aipref.combine(p for _, _, p in items)
    for evidence, line_no, pref in items:
        if pref.train_ai is combined.train_ai is aipref.Preference.DISALLOW:
            out.reasons.append(Reason(ReasonCode.CONTENT_USAGE, source, evidence, line=line_no))
            if pref.label != aipref.TRAIN_LABEL:
                # Evidence stays the raw line; which label fired is said here.
                where = f"{source} line {line_no}" if line_no else source
                out.warnings.append(
                    f"{where}: Content-Usage {pref.label}=n read as a training reservation "
                    "(label of an older aipref draft, compat mode)"
                )
        elif pref.train_ai is combined.train_ai is aipref.Preference.ALLOW:
            out.grants.append(Reason(ReasonCode.CONTENT_USAGE, source, evidence, line=line_no))


def _content_signal(robots: RobotsTxt, config: PolicyConfig, out: _Collector) -> None:
    for line in robots.content_signals(config.token):
        signal = aipref.parse_content_signal(line.value)
        out.warnings += [f"robots.txt line {line.line_no}: {w}" for w in signal.warnings]
        reason = Reason(ReasonCode.CONTENT_SIGNAL, "robots.txt", line.raw, line=line.line_no)
        if signal.ai_train is aipref.Preference.DISALLOW:
            out.reasons.append(reason)
        elif signal.ai_train is aipref.Preference.ALLOW:
            out.grants.append(reason)


def _post_fetch(
    url: str,
    response: ResponseSignals,
    config: PolicyConfig,
    out: _Collector,
    tdm_steps: list[tdmrep.TdmValue],
    licences: list[rsl.LicenseRef],
) -> None:
    headers = _header_pairs(response.headers, out)
    body = response.body if isinstance(response.body, bytes | bytearray) else b""
    body = bytes(body)
    content_type = _content_type(url, response.content_type, headers, body)
    if config.tdmrep:
        tdm_steps.append(tdmrep.from_headers(headers))
        if config.tdmrep_variants:
            found, said = lenient.tdm_variants(headers, "header")
            out.reasons += found
            out.warnings += said
    if config.rsl:
        licences += rsl.from_link_headers(headers, url)
    if config.content_usage:
        items: list[tuple[str, int | None, aipref.UsagePreference]] = []
        for name, value in headers:
            if name.strip().lower() == "content-usage":
                pref = aipref.parse_usage(value, compat=config.aipref_compat)
                out.warnings += [f"header: {w}" for w in pref.warnings]
                items.append((f"{name}: {value}", None, pref))
        # Each field line is read as its own statement and the lines combined
        # most restrictively, rather than joined into one dictionary (RFC 9651
        # 4.2, where a later line's duplicate key would win, and one malformed
        # line would void the others).
        _usage_result(items, "header", out)
    hits: list[xrobots.NoAiHit] = []
    if config.noai:
        hits += xrobots.noai_from_headers(headers, config.token)
    if content_type in _HTML_TYPES and body and config.rsl:
        licences += rsl.from_html(body, url, config.html_meta_max_bytes)
    if content_type in _HTML_TYPES and body and (config.noai or config.tdmrep):
        names = {"robots", config.token.lower(), tdmrep.RESERVATION, tdmrep.POLICY}
        if config.tdmrep and config.tdmrep_variants:
            names |= lenient.TDM_RESERVATION_VARIANTS
        scan = extract_meta(
            body,
            names=names,
            content_type=response.content_type or _raw_content_type(headers),
            max_bytes=config.html_meta_max_bytes,
            complete=not response.truncated,
        )
        out.warnings += scan.warnings
        out.warnings += [
            f"meta tag outside <head> honoured: {t.raw}" for t in scan.tags if not t.in_head
        ]
        if config.tdmrep:
            tdm_tags = [t for t in scan.tags if t.name in (tdmrep.RESERVATION, tdmrep.POLICY)]
            tdm_steps.append(
                tdmrep.from_meta([(t.name, t.content) for t in tdm_tags], [t.raw for t in tdm_tags])
            )
            if config.tdmrep_variants:
                variant_tags = [t for t in scan.tags if t.name in lenient.TDM_RESERVATION_VARIANTS]
                found, said = lenient.tdm_variants(
                    [(t.name, t.content) for t in variant_tags],
                    "meta",
                    [t.raw for t in variant_tags],
                )
                out.reasons += found
                out.warnings += said
        if config.noai:
            metas = ((t.name, t.content, t.raw) for t in scan.tags)
            hits += xrobots.noai_from_meta(metas, config.token)
        if scan.unread:
            _unread_meta(scan, config, out, tdm_steps)
    if config.tdmrep and body and documents.is_pdf(content_type, body):
        tdm_steps.append(documents.pdf_value(body))
    elif config.tdmrep and body and documents.is_epub(content_type, body):
        tdm_steps.append(documents.epub_value(body))
    image = content_type.startswith("image/")
    for hit in hits:
        if hit.directive == "noai" or image:
            out.reasons.append(Reason(ReasonCode.NOAI, hit.source, hit.evidence))
        else:
            # noimageai reserves images; on a page it covers the images the page
            # shows (fetched as image/* resources, each with its own decision),
            # not the page's text.
            out.warnings.append(
                f"noimageai on a {content_type or 'non-image'} resource reserves its images, "
                f"not its text: {hit.evidence}"
            )


def _unread_meta(
    scan: MetaScan, config: PolicyConfig, out: _Collector, tdm_steps: list[tdmrep.TdmValue]
) -> None:
    """Part of the page was not scanned: a meta tag there could reserve it, so it is
    reserved by each meta family that is on (a later valid TDMRep meta value would
    supersede the header's, so the unread part counts as ``tdm-reservation: 1``)."""
    evidence = f"meta tags not read to the end of the page: {scan.unread}" + FAIL_CLOSED
    out.warnings.append(f"HTML {evidence}")
    if config.noai:
        out.reasons.append(Reason(ReasonCode.NOAI, "meta", evidence))
    if config.tdmrep:
        tdm_steps.append(tdmrep.TdmValue("meta", 1, None, evidence))


def _tdmrep_outcome(outcome: tdmrep.TdmOutcome, out: _Collector) -> None:
    out.warnings += outcome.warnings
    if outcome.reservation is None or outcome.source is None:
        return
    evidence = outcome.evidence
    if outcome.policy and outcome.policy not in evidence:
        evidence += f"\ntdm-policy: {outcome.policy}"
    reason = Reason(ReasonCode.TDMREP, outcome.source, evidence)
    (out.reasons if outcome.reservation == 1 else out.grants).append(reason)


def _header_pairs(headers: object, out: _Collector) -> list[tuple[str, str]]:
    # Callers pass what they have: str or bytes pairs, or a mapping (values may
    # be lists, as in Scrapy's Headers); anything else is skipped with a warning.
    items: list[object]
    if isinstance(headers, Mapping):
        items = []
        for name, value in headers.items():
            values = value if isinstance(value, list | tuple) else [value]
            items += [(name, v) for v in values]
    elif isinstance(headers, Iterable) and not isinstance(headers, str | bytes):
        items = list(headers)
    else:
        out.warnings.append("response headers are not a sequence of pairs: ignored")
        return []
    pairs: list[tuple[str, str]] = []
    for item in items:
        if not isinstance(item, tuple | list) or len(item) != 2:
            out.warnings.append("malformed response header entry ignored")
            continue
        pairs.append((_text(item[0]), _text(item[1])))
    return pairs


def _text(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        # Header bytes are ISO-8859-1 by HTTP tradition; UTF-8 where it decodes.
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(value).decode("latin-1")
    return str(value)


def _raw_content_type(headers: list[tuple[str, str]]) -> str | None:
    for name, value in headers:
        if name.strip().lower() == "content-type":
            return value
    return None


def _content_type(
    url: str, declared: str | None, headers: list[tuple[str, str]], body: bytes
) -> str:
    value = declared or _raw_content_type(headers)
    if not value:
        value = mimetypes.guess_type(url.split("?", 1)[0].split("#", 1)[0])[0] or ""
    if not value and _HTML_START.match(body[:_SNIFF_BYTES]):
        # No type at all: sniff, so a page served without Content-Type still
        # has its meta tags read (failing open here would drop reservations).
        value = "text/html"
    return value.split(";", 1)[0].strip().lower()
