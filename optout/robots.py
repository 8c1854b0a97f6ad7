"""robots.txt (RFC 9309): parse once, ask many times, and keep the winning line.

:meth:`RobotsTxt.parse` turns the bytes of a robots.txt (or a robots-style
``ai.txt``) into groups of line-numbered records; :meth:`RobotsTxt.verdict`
answers one URL for one product token with the line that decided it, so every
exclusion can quote its evidence (``Disallow: /private`` on line 12).

Grammar and matching follow RFC 9309 and, where the RFC leaves room, Google's
reference parser (github.com/google/robotstxt ``robots.cc``):

* a group is one or more ``User-agent`` lines followed by rules; only an
  ``Allow``/``Disallow`` line ends the run of user-agent lines, so ``Sitemap``,
  ``Crawl-delay``, ``Content-Usage``, ``Content-Signal`` or any unknown line
  never splits a group (RFC 9309 2.2.4);
* a ``User-agent`` value counts by its leading ``[a-zA-Z_-]+`` (``Foo Bar`` and
  ``Foo/2.1`` both name ``Foo``); ``*`` (alone or followed by space) is global;
  our token is compared whole and case-insensitively, never as a substring;
* every group naming the token is merged; if none does, the ``*`` groups are
  merged; a token that has its own group never reads ``*``;
* longest pattern wins, ``Allow`` wins a tie; ``*`` and a final ``$``;
  ``Allow: .../index.html`` also allows the directory (Google);
* both pattern and URL path are percent-normalised before comparison:
  non-ASCII octets and controls encoded, hex digits upper-cased, encoded
  unreserved characters decoded (RFC 9309 2.2.2), and the printable
  characters a URL may not hold raw (``" < > [ \\ ] ^ ` { | }`` and ``'``)
  encoded, because browsers and Scrapy send them encoded: a rule written
  ``Disallow: /?s={searchInput}/`` must match the request
  ``/?s=%7BsearchInput%7D/`` as Google's parser, Protego and robotspy do;
* typos ``dissallow``, ``user agent``, ``site-map``, ... and a missing colon
  (``disallow /``) are accepted; keys are otherwise matched exactly, so
  ``DisallowAITraining`` stays an unknown record and does not block fetching.

Why our own matcher: ``benchmarks/bench_robots_parsers.py`` runs the
google/robotstxt cases plus AI-specific rows (93 RFC-required of 166) against
each maintained parser. Protego 0.7.0 passes 80/93 (it lets an unknown line
split a group, so an AI bot escapes its rules), robotspy 0.13.0 90/93,
fast-robotstxt 1.1.0 (Google's parser) 92/93 but cannot say which line decided;
this module passes 93/93 and keeps line evidence.

Malformed input never raises: arbitrary bytes give a :class:`RobotsTxt` with
no rules and a warning. Lines are cut at Google's 16 663 octets, with a
warning. A file with a UTF-16 or UTF-32 byte order mark (or evidently UTF-16
without one) is decoded, with a warning, rather than read as empty.

A file is parsed whole or not at all. RFC 9309 2.5 asks a parser to read *at
least* 500 KiB; stopping there, as Google does, drops a ``Disallow`` written
past the limit, so a long file would grant more than it says. Files up to
:data:`MAX_PARSE_BYTES` (2 MiB, four times the RFC's minimum) are parsed
whole; a longer one is not parsed (a pathological 8 MiB file of short lines
costs seconds and a quarter of a gigabyte) and :attr:`RobotsTxt.unread` says
so: :mod:`optout.fetched` reads such a robots.txt as unreachable (complete
disallow), and :mod:`optout.policy` an ai.txt as reserving every path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from tdmcrawl.optout.decision import Reason, ReasonCode
from tdmcrawl.optout.encoding import as_utf8

MAX_PARSE_BYTES = 2 * 1024 * 1024
# Google's kMaxLineLen (8 * 2083) less its terminating NUL.
MAX_LINE_BYTES = 2083 * 8 - 1

_BOM = b"\xef\xbb\xbf"
_LINE_SPLIT = re.compile(rb"\r\n|\r|\n")
_WHITESPACE = " \t\v\f"
_TOKEN = re.compile(r"[a-zA-Z_-]+")
_TOKEN_WITH_DIGITS = re.compile(r"[a-zA-Z0-9_-]+")

_KEY_ALIASES = {
    "user-agent": "user-agent",
    "useragent": "user-agent",
    "user agent": "user-agent",
    "allow": "allow",
    "disallow": "disallow",
    "dissallow": "disallow",
    "dissalow": "disallow",
    "disalow": "disallow",
    "diasllow": "disallow",
    "disallaw": "disallow",
    "sitemap": "sitemap",
    "site-map": "sitemap",
    "crawl-delay": "crawl-delay",
    "crawldelay": "crawl-delay",
    "content-usage": "content-usage",
    "content-signal": "content-signal",
    # RSL 1.0 section 4.4: names the licence document; like Sitemap it may stand
    # before the first group (then it is global), inside a group it is that group's.
    "license": "license",
}
_GROUP_RECORDS = ("user-agent", "allow", "disallow")

# Percent-normalisation (RFC 3986 2.3 unreserved characters are decoded).
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = frozenset(b"0123456789abcdefABCDEF")
# Printable ASCII that RFC 3986 does not allow raw in a path or query (and "'",
# which the WHATWG URL standard encodes in a query): browsers and Scrapy send
# these percent-encoded, so both sides are encoded before matching.
ENCODED_PRINTABLE = frozenset(b"\"'<>[\\]^`{|}")
_NEEDS_NORMALISING = re.compile(r"[^\x21-\x7e]|[%\"'<>\[\\\]^`{|}]")
_SURROGATE = re.compile("[\udc80-\udcff]")
_SCHEME_AUTHORITY = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/?;#]*")


@dataclass(frozen=True)
class RobotsLine:
    """One record of the file: 1-based ``line_no``, the ``raw`` line as written
    (whitespace-trimmed), its ``field`` (lower-case, typos folded:
    ``dissallow`` -> ``disallow``) and its ``value`` (comment removed)."""

    line_no: int
    raw: str
    field: str
    value: str


@dataclass(frozen=True)
class RobotsVerdict:
    """``allowed`` for one URL and token, and the ``rule`` that decided it
    (``None`` when no rule matched, or for the implicitly allowed /robots.txt)."""

    allowed: bool
    rule: RobotsLine | None = None

    def reasons(self, code: ReasonCode, source: str) -> tuple[Reason, ...]:
        """``()`` when allowed, else one ``code`` reason quoting the deciding line."""
        if self.allowed or self.rule is None:
            return ()
        return (Reason(code=code, source=source, evidence=self.rule.raw, line=self.rule.line_no),)


@dataclass
class _Group:
    agents: list[str]
    rules: list[tuple[RobotsLine, str]]  # (line, value with original bytes for matching)
    others: list[tuple[RobotsLine, str]]
    # The User-agent lines as written (for readings that look past the product token).
    agent_lines: list[RobotsLine] = field(default_factory=list)


class _Pattern:
    """A normalised path pattern, matched without regular expressions so that
    a hostile ``/*a*a*a*...`` costs linear scans, never backtracking."""

    __slots__ = ("anchored", "first", "last", "middle", "priority", "star", "text")

    def __init__(self, pattern: str) -> None:
        self.text = normalise_path(pattern)
        self.priority = len(self.text)
        body = self.text
        self.anchored = body.endswith("$")
        if self.anchored:
            body = body[:-1]
        parts = body.split("*")
        self.star = len(parts) > 1
        self.first = parts[0]
        self.last = parts[-1] if self.star else ""
        self.middle = tuple(p for p in parts[1:-1] if p)

    def matches(self, path: str) -> bool:
        if not self.star:
            return path == self.first if self.anchored else path.startswith(self.first)
        if not path.startswith(self.first):
            return False
        pos = len(self.first)
        for part in self.middle:
            found = path.find(part, pos)
            if found < 0:
                return False
            pos = found + len(part)
        if self.anchored:
            return len(path) - len(self.last) >= pos and path.endswith(self.last)
        return not self.last or path.find(self.last, pos) >= 0


class _RuleSet:
    """The merged group selected for one token, compiled for matching.

    Plain prefix rules (no ``*``, no ``$``; most of any real file) sit in a
    dict keyed by pattern, so a URL costs one lookup per distinct rule length
    rather than one comparison per rule; wildcard rules are scanned longest
    first. Both give the same answer as one longest-match scan.
    """

    __slots__ = ("_usage", "lengths", "others", "prefixes", "rules", "specific")

    def __init__(self, groups: list[_Group], specific: bool) -> None:
        self.specific = specific
        compiled: list[tuple[int, bool, int, _Pattern, RobotsLine]] = []
        for group in groups:
            for line, value in group.rules:
                if not value:
                    continue  # an empty Allow/Disallow matches nothing (RFC 9309 2.2.2)
                allow = line.field == "allow"
                pattern = _Pattern(value)
                compiled.append((-pattern.priority, not allow, line.line_no, pattern, line))
                slash = value.rfind("/")
                if allow and slash >= 0 and value[slash:].startswith("/index.htm"):
                    # Google: allowing .../index.html also allows the directory itself.
                    directory = _Pattern(value[: slash + 1] + "$")
                    compiled.append((-directory.priority, False, line.line_no, directory, line))
        # Sorted so that the first match is the longest, Allow first on a tie,
        # then the earliest line (the evidence shown).
        compiled.sort(key=lambda item: item[:3])
        self.prefixes: dict[str, tuple[bool, RobotsLine]] = {}
        rules = []
        for _, disallow, _, pattern, line in compiled:
            if pattern.star or pattern.anchored:
                rules.append((pattern.priority, not disallow, pattern, line))
            else:
                self.prefixes.setdefault(pattern.first, (not disallow, line))
        self.rules = tuple(rules)
        self.lengths = tuple(sorted({len(p) for p in self.prefixes}, reverse=True))
        self.others = tuple(line for group in groups for line, _ in group.others)
        self._usage: tuple[tuple[_Pattern | None, RobotsLine], ...] | None = None

    def verdict(self, path: str) -> RobotsVerdict:
        best_length = -1
        best: tuple[bool, RobotsLine] | None = None
        size = len(path)
        prefixes = self.prefixes
        for length in self.lengths:
            if length <= size:
                hit = prefixes.get(path[:length])
                if hit is not None:
                    best_length, best = length, hit
                    break
        for priority, allow, pattern, line in self.rules:
            if priority < best_length:
                break
            if pattern.matches(path):
                if best is None or priority > best_length or _beats(allow, line, best):
                    best = (allow, line)
                break
        if best is None:
            return RobotsVerdict(True, None)
        return RobotsVerdict(best[0], best[1])

    def usage_rules(self) -> tuple[tuple[_Pattern | None, RobotsLine], ...]:
        if self._usage is None:
            usage = []
            for line in self.others:
                if line.field == "content-usage":
                    path, _ = split_content_usage(line.value)
                    usage.append((_Pattern(path) if path else None, line))
            self._usage = tuple(usage)
        return self._usage


# The RFC 9309 path pattern, for other formats that borrow its matching (RSL ``<content url>``).
PathPattern = _Pattern


def _beats(allow: bool, line: RobotsLine, other: tuple[bool, RobotsLine]) -> bool:
    """On equal length: Allow wins (RFC 9309 2.2.2), then the earlier line."""
    if allow != other[0]:
        return allow
    return line.line_no < other[1].line_no


class RobotsTxt:
    """A parsed robots.txt. Build it with :meth:`parse`; it is read-only
    afterwards (compiled groups are cached per token on first use).

    ``licenses``: RSL ``License`` records outside any group (global);
    ``comments``: every ``#`` comment as ``(line number, text after '#')``.
    """

    licenses: tuple[RobotsLine, ...] = ()
    comments: tuple[tuple[int, str], ...] = ()

    def __init__(
        self,
        groups: list[_Group],
        sitemaps: tuple[str, ...],
        lines: tuple[RobotsLine, ...],
        warnings: tuple[str, ...],
        source: str,
        unread: str | None = None,
    ) -> None:
        self._groups = groups
        self._by_agent: dict[str, list[int]] = {}
        for index, group in enumerate(groups):
            for agent in group.agents:
                self._by_agent.setdefault(agent, []).append(index)
        self._selected: dict[str, _RuleSet] = {}
        self._shared: dict[tuple[int, ...], _RuleSet] = {}
        self.sitemaps = sitemaps
        self.lines = lines
        self.warnings = warnings
        self.source = source
        # Why the file was not read (too long to parse whole), or None: read whole.
        self.unread = unread

    # -- parsing -----------------------------------------------------------

    @classmethod
    def parse(cls, body: bytes | str | None, *, source: str = "robots.txt") -> RobotsTxt:
        """Parse ``body``; never raises. ``source`` names the file in warnings
        (``"robots.txt"``, ``"ai.txt"``)."""
        return _Parser(source).parse(body)

    @classmethod
    def empty(cls, source: str = "robots.txt") -> RobotsTxt:
        """No rules at all: everything allowed (an unavailable robots.txt)."""
        return cls([], (), (), (), source)

    @property
    def directive_count(self) -> int:
        """How many User-agent/Allow/Disallow records were recognised."""
        return sum(1 for line in self.lines if line.field in _GROUP_RECORDS)

    # -- questions ---------------------------------------------------------

    def verdict(self, url: str, token: str) -> RobotsVerdict:
        """May ``token`` fetch ``url``, and which line says so."""
        path = request_path(url)
        if _is_robots_txt(path):
            return RobotsVerdict(True, None)  # RFC 9309 2.2.2: implicitly allowed
        return self._ruleset(token).verdict(path)

    def allowed(self, url: str, token: str) -> bool:
        return self.verdict(url, token).allowed

    def verdicts(self, url: str, tokens: Iterable[str]) -> dict[str, RobotsVerdict]:
        """:meth:`verdict` for many tokens at once; tokens sharing the same
        groups are matched once (the ai.robots.txt style file puts ~160 tokens
        in one group)."""
        path = request_path(url)
        robots_file = _is_robots_txt(path)
        done: dict[int, RobotsVerdict] = {}
        out: dict[str, RobotsVerdict] = {}
        for token in tokens:
            if robots_file:
                out[token] = RobotsVerdict(True, None)
                continue
            ruleset = self._ruleset(token)
            key = id(ruleset)
            if key not in done:
                done[key] = ruleset.verdict(path)
            out[token] = done[key]
        return out

    def has_group(self, token: str) -> bool:
        """Whether a group names ``token`` itself (``*`` does not count)."""
        key = _token_key(token)
        return key is not None and key in self._by_agent

    def crawl_delay(self, token: str) -> float | None:
        """The first valid ``Crawl-delay`` (seconds) of the group selected for ``token``."""
        for line in self._ruleset(token).others:
            if line.field == "crawl-delay":
                try:
                    delay = float(line.value)
                except ValueError:
                    continue
                if delay >= 0 and delay != float("inf"):
                    return delay
        return None

    def content_usage(self, url: str, token: str) -> tuple[RobotsLine, ...]:
        """IETF aipref ``Content-Usage`` rules of the group selected for
        ``token`` that win for ``url`` by longest path match (all on a tie).

        A rule whose value starts with ``/`` is path-scoped (the path ends at
        the first space or tab, aipref-attach); a rule without a path applies
        to every path with match length 0, so any matching path-scoped rule,
        even ``/``, is more specific. Whether the URL may be crawled at all is
        the caller's question (:meth:`verdict`).
        """
        path = request_path(url)
        best = -1
        winners: list[RobotsLine] = []
        for pattern, line in self._ruleset(token).usage_rules():
            if pattern is None:
                length = 0
            elif pattern.matches(path):
                length = pattern.priority
            else:
                continue
            if length > best:
                best, winners = length, [line]
            elif length == best:
                winners.append(line)
        return tuple(winners)

    def content_signals(self, token: str) -> tuple[RobotsLine, ...]:
        """Cloudflare ``Content-Signal`` lines of the group selected for ``token``."""
        return tuple(line for line in self._ruleset(token).others if line.field == "content-signal")

    def group_lines(self, token: str) -> tuple[RobotsLine, ...]:
        """Every record of the group selected for ``token`` other than
        Allow/Disallow (Crawl-delay, Content-Usage, unknown records, ...)."""
        return self._ruleset(token).others

    def licenses_for(self, token: str) -> tuple[RobotsLine, ...]:
        """RSL ``License`` records that apply to ``token`` (RSL 1.0 section 4.4): those
        of the group selected for it if it has any, else the global ones."""
        scoped = tuple(line for line in self.group_lines(token) if line.field == "license")
        return scoped or self.licenses

    def agent_groups(self) -> tuple[tuple[int, tuple[RobotsLine, ...]], ...]:
        """``(group index, its User-agent lines as written)`` for every group."""
        return tuple((i, tuple(g.agent_lines)) for i, g in enumerate(self._groups))

    def group_verdict(self, index: int, url: str) -> RobotsVerdict:
        """The verdict of group ``index`` alone for ``url`` (no merging by token)."""
        path = request_path(url)
        if _is_robots_txt(path):
            return RobotsVerdict(True, None)
        key = (2, index)  # never clashes with the token-selected keys (0|1, ...)
        ruleset = self._shared.get(key)
        if ruleset is None:
            ruleset = _RuleSet([self._groups[index]], True)
            self._shared[key] = ruleset
        return ruleset.verdict(path)

    # -- internals ---------------------------------------------------------

    def _ruleset(self, token: str) -> _RuleSet:
        key = _token_key(token) or ""
        ruleset = self._selected.get(key)
        if ruleset is None:
            indexes = self._by_agent.get(key) if key else None
            specific = bool(indexes)
            if not indexes:
                indexes = self._by_agent.get("*", [])
            shared_key = (int(specific), *indexes)
            ruleset = self._shared.get(shared_key)
            if ruleset is None:
                ruleset = _RuleSet([self._groups[i] for i in indexes], specific)
                self._shared[shared_key] = ruleset
            self._selected[key] = ruleset
        return ruleset

    def __repr__(self) -> str:
        return (
            f"<RobotsTxt {self.source}: {len(self._groups)} group(s), "
            f"{len(self.warnings)} warning(s)>"
        )


class _Parser:
    """Line-by-line parse into groups, collecting warnings."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.warnings: list[str] = []
        self.groups: list[_Group] = []
        self.sitemaps: list[str] = []
        self.lines: list[RobotsLine] = []
        self.licenses: list[RobotsLine] = []
        self.comments: list[tuple[int, str]] = []

    def warn(self, message: str) -> None:
        if message not in self.warnings and len(self.warnings) < 20:
            self.warnings.append(f"{self.source}: {message}")

    def parse(self, body: bytes | str | None) -> RobotsTxt:
        data = self._as_bytes(body)
        if len(data) > MAX_PARSE_BYTES:
            why = f"{len(data)} bytes, over the {MAX_PARSE_BYTES}-byte parse limit"
            self.warn(f"file is {why}: not parsed")
            return RobotsTxt([], (), (), tuple(self.warnings), self.source, unread=why)
        data, decoded_from = as_utf8(data)
        if decoded_from:
            self.warn(f"file is {decoded_from}, not UTF-8 (RFC 9309 2.3); decoded")
        data = _strip_bom(data)
        current: _Group | None = None
        seen_rule = False
        outside: list[int] = []
        bad_utf8 = long_line = unparsed = 0
        for line_no, chunk in enumerate(_LINE_SPLIT.split(data), start=1):
            if len(chunk) > MAX_LINE_BYTES:
                chunk = chunk[:MAX_LINE_BYTES]
                long_line = long_line or line_no
            text = chunk.decode("utf-8", "surrogateescape")
            if _SURROGATE.search(text):
                bad_utf8 = bad_utf8 or line_no
            if "#" in text:
                self.comments.append((line_no, _clean(text[text.find("#") + 1 :].strip())))
            parsed = _key_value(text)
            if parsed is None:
                if text.strip(_WHITESPACE) and not text.lstrip(_WHITESPACE).startswith("#"):
                    unparsed = unparsed or line_no
                continue
            key, value = parsed
            field = _KEY_ALIASES.get(key.lower(), key.lower())
            line = RobotsLine(line_no, _clean(text.strip(_WHITESPACE)), field, _clean(value))
            self.lines.append(line)
            if field == "user-agent":
                if current is None or seen_rule:
                    current = _Group([], [], [])
                    self.groups.append(current)
                    seen_rule = False
                current.agents.extend(_agent_keys(value))
                current.agent_lines.append(line)
            elif field == "sitemap":
                self.sitemaps.append(line.value)
            elif field == "license" and current is None:
                self.licenses.append(line)  # global, like Sitemap (RSL 1.0 section 4.4)
            elif current is None:
                outside.append(line_no)  # RFC 9309 2.2.2: rules before any group are ignored
            elif field in ("allow", "disallow"):
                seen_rule = True
                current.rules.append((line, value))
            else:
                current.others.append((line, value))
        if long_line:
            self.warn(f"line {long_line} longer than {MAX_LINE_BYTES} bytes; truncated")
        if bad_utf8:
            self.warn(f"line {bad_utf8} is not valid UTF-8; read leniently")
        if outside:
            self.warn(
                f"{len(outside)} record(s) before the first User-agent ignored (line {outside[0]})"
            )
        if unparsed:
            self.warn(f"unparseable line(s) ignored (first: line {unparsed})")
        if data.strip() and not any(line.field in _GROUP_RECORDS for line in self.lines):
            self.warn("no User-agent/Allow/Disallow records found; nothing applies")
        robots = RobotsTxt(
            self.groups,
            tuple(self.sitemaps),
            tuple(self.lines),
            tuple(self.warnings),
            self.source,
        )
        robots.licenses = tuple(self.licenses)
        robots.comments = tuple(self.comments)
        return robots

    def _as_bytes(self, body: bytes | str | None) -> bytes:
        if body is None:
            return b""
        if isinstance(body, str):
            return body.encode("utf-8", "replace")
        try:
            return bytes(body)
        except TypeError:
            self.warn(f"cannot read a {type(body).__name__} as a file; nothing applies")
            return b""


def _strip_bom(data: bytes) -> bytes:
    # Google also skips a partial BOM (EF, EF BB) at the very start.
    skip = 0
    while skip < 3 and skip < len(data) and data[skip] == _BOM[skip]:
        skip += 1
    return data[skip:]


def _key_value(text: str) -> tuple[str, str] | None:
    """Split a line into key and value the way Google's parser does: comment
    removed, ``key: value``, or ``key value`` when the colon is missing and
    there are exactly two words."""
    hash_at = text.find("#")
    if hash_at >= 0:
        text = text[:hash_at]
    text = text.strip(_WHITESPACE)
    sep = text.find(":")
    if sep < 0:
        parts = text.split(None, 1) if text else []
        if len(parts) != 2 or len(parts[1].split()) != 1:
            return None
        key, value = parts
    else:
        key, value = text[:sep], text[sep + 1 :]
    key = key.strip(_WHITESPACE)
    if not key:
        return None
    return key, value.strip(_WHITESPACE)


def _agent_keys(value: str) -> tuple[str, ...]:
    """Group keys for a ``User-agent`` value: ``*``, or the lower-case leading
    product token. RFC tokens hold no digits and Google cuts ``AI2Bot`` to
    ``AI``; real AI crawlers do use digits, so such a group is filed under both
    ``ai`` and ``ai2bot`` (each reading is the more restrictive for someone)."""
    if value.startswith("*") and (len(value) == 1 or value[1] in _WHITESPACE):
        return ("*",)
    keys = []
    for pattern in (_TOKEN, _TOKEN_WITH_DIGITS):
        match = pattern.match(value)
        if match and match.group(0).lower() not in keys:
            keys.append(match.group(0).lower())
    return tuple(keys)


def _token_key(token: str) -> str | None:
    # Our own token is compared whole: "FooBot/1.0" or "Foo Bar" name no group.
    if not isinstance(token, str) or not token or token == "*":
        return None
    return token.lower()


def _clean(text: str) -> str:
    """Text safe to store and print: undecodable bytes become U+FFFD."""
    if _SURROGATE.search(text):
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text


def _is_robots_txt(path: str) -> bool:
    return path == "/robots.txt" or path.startswith("/robots.txt?")


def request_path(url: str) -> str:
    """Path, params and query of ``url`` (fragment dropped), percent-normalised.

    Port of Google's ``GetPathParamsQuery``: ``example.com/a`` -> ``/a``,
    ``//a/b/c`` -> ``/b/c``, an empty or path-less URL -> ``/``.
    """
    if not isinstance(url, str):
        url = "" if url is None else str(url)
    simple = _SCHEME_AUTHORITY.match(url)
    if simple:
        # The usual absolute URL; same result as the general case below.
        path = url[simple.end() :]
        hash_at = path.find("#")
        if hash_at >= 0:
            path = path[:hash_at]
        if not path:
            return "/"
        return normalise_path(path if path[0] == "/" else "/" + path)
    return normalise_path(_path_params_query(url))


def _path_params_query(url: str) -> str:
    """Google's ``GetPathParamsQuery``, unnormalised."""
    start = 2 if url.startswith("//") else 0
    early_path = _find_first_of(url, "/?;", start)
    protocol_end = url.find("://", start)
    if protocol_end < 0 or (0 <= early_path < protocol_end):
        protocol_end = start
    else:
        protocol_end += 3
    path_start = _find_first_of(url, "/?;", protocol_end)
    if path_start < 0:
        return "/"
    hash_at = url.find("#", start)
    if 0 <= hash_at < path_start:
        return "/"
    path = url[path_start : hash_at if hash_at >= 0 else len(url)]
    return path if path.startswith("/") else "/" + path


def _find_first_of(text: str, chars: str, start: int) -> int:
    hits = [i for i in (text.find(c, start) for c in chars) if i >= 0]
    return min(hits) if hits else -1


def normalise_path(path: str) -> str:
    """Percent-normalise a path or pattern (RFC 9309 2.2.2, RFC 3986 2.1/2.3):
    octets outside printable US-ASCII are encoded from their UTF-8 bytes, and
    so are the printable characters in :data:`ENCODED_PRINTABLE`; escapes are
    upper-cased, escapes of unreserved characters are decoded. ``*`` and ``$``
    are left alone, so patterns and paths normalise alike."""
    if not _NEEDS_NORMALISING.search(path):
        return path
    raw = path.encode("utf-8", "surrogateescape")
    out: list[str] = []
    i, n = 0, len(raw)
    while i < n:
        byte = raw[i]
        if byte == 0x25 and i + 2 < n and raw[i + 1] in _HEX and raw[i + 2] in _HEX:
            value = int(raw[i + 1 : i + 3], 16)
            out.append(chr(value) if value in _UNRESERVED else f"%{value:02X}")
            i += 3
            continue
        # A stray "%" is encoded too, so normalising twice changes nothing.
        raw_ok = 0x21 <= byte <= 0x7E and byte != 0x25 and byte not in ENCODED_PRINTABLE
        out.append(chr(byte) if raw_ok else f"%{byte:02X}")
        i += 1
    return "".join(out)


def split_content_usage(value: str) -> tuple[str | None, str]:
    """Split a ``Content-Usage`` value into ``(path or None, preference)``
    (aipref-attach: a value starting with ``/`` begins with a path that ends
    at the first space or tab)."""
    value = value.strip(_WHITESPACE)
    if not value.startswith("/"):
        return None, value
    parts = re.split(r"[ \t]+", value, maxsplit=1)
    return parts[0], parts[1] if len(parts) > 1 else ""
