"""Every ``TDMCRAWL_*`` setting, with its default and what it does, in one place.

Scrapy reads settings from many layers (defaults, add-ons, project, ``-s``);
tdmcrawl's own settings are declared here and nowhere else, and
``docs/crawl.md`` documents each of them (a test keeps the two in step).
``policy_config`` is the one edge where Scrapy settings become the frozen
``optout.PolicyConfig``: ``optout/`` never sees a Scrapy ``Settings`` object.

Each setting also has a :class:`Rule` (its type and range, in ``RULES``), and
:func:`validate` checks them all in one pass before a crawl, a check, a filter
or the add-on starts, so a typo or an out-of-range value stops the run with one
line naming the setting instead of switching something off.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from w3lib.url import safe_url_string

from tdmcrawl.crawler import __version__
from tdmcrawl.crawler.agents import load_agent_list
from tdmcrawl.crawler.errors import UsageError
from tdmcrawl.dedup import DEFAULT_CONFIG, DedupConfig
from tdmcrawl.optout.origins import ORIGIN_FILE_MAX_BYTES
from tdmcrawl.optout.policy import PolicyConfig

DEFAULT_CONTACT = "https://github.com/tdmcrawl/tdmcrawl#for-site-owners"

# name -> (default, one-line doc). The docs in docs/crawl.md say more.
SETTINGS: dict[str, tuple[Any, str]] = {
    # Output and bookkeeping
    "TDMCRAWL_OUT_DIR": ("tdmcrawl-out", "Directory for warc/, evidence/, audit.sqlite, the log."),
    "TDMCRAWL_OUTPUT": (True, "Write kept pages to WARC (`check` turns it off)."),
    "TDMCRAWL_AUDIT": (True, "Record exclusions, kept pages and evidence in audit.sqlite."),
    "TDMCRAWL_WARC_PREFIX": ("tdmcrawl", "File name prefix of the output WARC files."),
    "TDMCRAWL_WARC_MAX_SIZE": (1_000_000_000, "Rotate WARC files at this size in bytes."),
    "TDMCRAWL_CRAWL_ID": (None, "Crawl id in the audit (set by --resume to continue a crawl)."),
    "TDMCRAWL_RESUME": (False, "Continuing a crawl: URLs kept before are not written again."),
    "TDMCRAWL_MANIFEST": (
        True,
        "Write DIR/manifest.json when the crawl ends (`recheck` writes its own).",
    ),
    "TDMCRAWL_SIGN_KEY": (
        None,
        "Ed25519 private key (`tdmcrawl keygen`) that signs DIR/manifest.json.",
    ),
    "TDMCRAWL_REFETCH_KEPT": (
        False,
        "On resume after a kill: restart from the link log; kept pages not in it are refetched.",
    ),
    # Identity
    "TDMCRAWL_TOKEN": ("tdmcrawl", "Product token matched against robots.txt groups."),
    "TDMCRAWL_CONTACT": (DEFAULT_CONTACT, "Contact URL put in the User-Agent."),
    "TDMCRAWL_USER_AGENT": (None, "Full User-Agent; default `tdmcrawl/<version> (+<contact>)`."),
    # Policy
    "TDMCRAWL_REGISTRY": (
        None,
        "Authors' registry: a database path, or the http(s) URL of a registry service.",
    ),
    "TDMCRAWL_REGISTRY_SYNC": (
        300,
        "Seconds between syncs of a registry service's replica during a crawl (0: only at start).",
    ),
    "TDMCRAWL_REGISTRY_REPLICA": (
        None,
        "Replica file of a registry service (default: DIR/registry-replica.sqlite, or the cache).",
    ),
    "TDMCRAWL_REGISTRY_VERIFIED_ONLY": (
        False,
        "Honour site and prefix entries only once their owner verified them.",
    ),
    "TDMCRAWL_FETCH_RESERVED": (
        True,
        "Fetch pages reserved by non-robots signals (for signatures); never output.",
    ),
    "TDMCRAWL_AI_AGENTS": (True, "Read robots rules for AI-training crawlers as a reservation."),
    "TDMCRAWL_NOAI": (True, "Honour noai/noimageai in X-Robots-Tag and robots meta."),
    "TDMCRAWL_TDMREP": (True, "Honour W3C TDMRep (tdmrep.json, tdm-reservation headers, meta)."),
    "TDMCRAWL_CONTENT_USAGE": (True, "Honour IETF aipref Content-Usage (robots.txt, header)."),
    "TDMCRAWL_CONTENT_SIGNAL": (True, "Honour Cloudflare Content-Signal ai-train=no."),
    "TDMCRAWL_AIPREF_COMPAT": (
        True,
        "Content-Usage: n on older labels (train-genai, ai, tdm...) reserves as train-ai=n.",
    ),
    "TDMCRAWL_HTML_META_MAX_BYTES": (
        None,
        "Scan at most this many bytes of an HTML page for meta tags; a page cut is reserved "
        "(default: the whole page).",
    ),
    "TDMCRAWL_ROBOTS_REDIRECTS_UNAVAILABLE": (
        False,
        "A robots.txt behind more than 5 redirects allows all (RFC 9309 MAY); "
        "default: complete disallow.",
    ),
    "TDMCRAWL_RSL": (True, "Honour RSL 1.0 licences (robots.txt License:, Link header, HTML)."),
    "TDMCRAWL_RSL_LICENSES": (
        [],
        "RSL licence URLs the operator holds (licence, <standard>, <custom> or server URLs).",
    ),
    "TDMCRAWL_AGENTS_FILE": (
        None,
        "User-level override of the AI-crawler list (default: the user data dir).",
    ),
    # Readings of evident intent (optout/lenient.py, optout/comments.py): reservations only
    "TDMCRAWL_TDMREP_OBJECT": (
        True,
        "Read a tdmrep.json written as one JSON object that reserves as a site-wide rule.",
    ),
    "TDMCRAWL_TDMREP_STRING": (True, 'Read tdm-reservation "1" (a string) in tdmrep.json as 1.'),
    "TDMCRAWL_TDMREP_VARIANTS": (
        True,
        "Read X-TDM-Reservation: 1 and other spellings (header, meta, robots.txt) as TDMRep.",
    ),
    "TDMCRAWL_AI_AGENTS_LOOKALIKES": (
        True,
        "Read User-agent lines naming an AI crawler without its product token (robots-ai-agents).",
    ),
    "TDMCRAWL_RSL_TOKEN_VARIANTS": (
        True,
        "Read train-ai and like spellings in an RSL <prohibits> as ai-train.",
    ),
    "TDMCRAWL_ROBOTS_COMMENTS": (
        "reserve",
        "Reservations written in words in robots.txt comments: reserve | warn | off.",
    ),
    # Near-duplicate gate and release step (crawler/neardup.py)
    "TDMCRAWL_DEDUP": (
        True,
        "Exclude near-copies of registered works and of pages found reserved in the crawl.",
    ),
    "TDMCRAWL_DEDUP_REDIS": (
        None,
        "Redis URL of a reserved-works index shared by several crawl processes.",
    ),
    "TDMCRAWL_DEDUP_NAMESPACE": (
        "tdmcrawl:dedup",
        "Key prefix of the shared index in Redis (one per crawl or cluster).",
    ),
    # Distributed crawl (crawler/frontier.py)
    "TDMCRAWL_FRONTIER_REDIS": (
        None,
        "Redis URL of a frontier shared by several crawl processes (scrapy-redis).",
    ),
    "TDMCRAWL_FRONTIER_KEY": (None, "Key namespace of the shared frontier (default: from seeds)."),
    "TDMCRAWL_NODE": (None, "This process's name in a distributed crawl (default: host-pid)."),
    "TDMCRAWL_LEASE_TTL": (
        15,
        "Seconds after which a dead node's host slots and origin-file lock are free again.",
    ),
    # Origin files (robots.txt, tdmrep.json, ai.txt)
    "TDMCRAWL_ORIGIN_TTL": (86_400, "Seconds before an origin's files are fetched again."),
    "TDMCRAWL_ORIGIN_RETRY": (300, "Seconds a failed robots.txt fetch is trusted before a retry."),
    "TDMCRAWL_ORIGIN_MAXSIZE": (ORIGIN_FILE_MAX_BYTES, "Largest origin file downloaded (bytes)."),
    "TDMCRAWL_ORIGIN_TIMEOUT": (30, "Download timeout of origin files (seconds)."),
    "TDMCRAWL_AI_TXT": (True, "Fetch /ai.txt for every origin."),
    # Crawl shape
    "TDMCRAWL_SCOPE": ("host", "Follow links within: host | domain | any."),
    "TDMCRAWL_MAX_PAGES": (
        0,
        "Send at most this many page requests (0: no limit); with --redis, for all nodes together.",
    ),
    "TDMCRAWL_TEXT_TYPES": (
        ["text/html", "application/xhtml+xml", "text/plain"],
        "Content types that become pages of the output.",
    ),
    "TDMCRAWL_NETGUARD": (True, "Refuse links and redirects from public to private addresses."),
    "TDMCRAWL_NETGUARD_PUBLIC_HOSTS": (
        [],
        "Hosts treated as public by the netguard (tests, or an intranet seen as public).",
    ),
    "TDMCRAWL_WORKERS": (
        1,
        "Worker processes preparing kept pages (text, fingerprint, response record); 0: none.",
    ),
    "TDMCRAWL_PROGRESS_INTERVAL": (0, "Seconds between progress lines on stderr (0: off)."),
    "TDMCRAWL_SUMMARY": (False, "Print a summary table to stderr when the crawl ends."),
}

DEFAULTS: dict[str, Any] = {name: default for name, (default, _doc) in SETTINGS.items()}


def user_agent(settings: Any) -> str:
    """The User-Agent: identifies the project and a contact; never mentions Scrapy."""
    explicit = settings.get("TDMCRAWL_USER_AGENT")
    if explicit:
        return str(explicit)
    contact = settings.get("TDMCRAWL_CONTACT") or DEFAULT_CONTACT
    # An IRI (a Kazakh path or host) is sent in its ASCII form: a header holds ASCII.
    return f"tdmcrawl/{__version__} (+{safe_url_string(str(contact))})"


def token(settings: Any) -> str:
    return str(settings.get("TDMCRAWL_TOKEN") or "tdmcrawl")


def get(settings: Any, name: str) -> Any:
    """A tdmcrawl setting, falling back to its declared default (plain projects lack them)."""
    value = settings.get(name)
    return DEFAULTS[name] if value is None else value


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def parse_bool(name: str, value: Any) -> bool:
    """The one boolean parser: a typo must never silently switch a protection off."""
    if isinstance(value, bool | int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise ValueError(f"{name}={value!r}: use True or False")


def getbool(settings: Any, name: str) -> bool:
    """A boolean tdmcrawl setting; anything but a true/false word raises ``ValueError``."""
    return parse_bool(name, get(settings, name))


def getlist(settings: Any, name: str) -> list[str]:
    value = get(settings, name)
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return list(value)


def dedup_config() -> DedupConfig:
    """The near-duplicate index config (``dedup.DEFAULT_CONFIG``; its identity goes to warcinfo)."""
    return DEFAULT_CONFIG


def policy_config(settings: Any) -> PolicyConfig:
    """Settings -> ``optout.PolicyConfig``; a bad value raises ``ValueError`` naming it.

    Reads the AI-crawler list in force (``crawler.agents``: packaged plus the
    user-level override), so a broken override stops the run here."""
    switches = {
        "ai_agents": "TDMCRAWL_AI_AGENTS",
        "ai_txt": "TDMCRAWL_AI_TXT",
        "noai": "TDMCRAWL_NOAI",
        "tdmrep": "TDMCRAWL_TDMREP",
        "content_usage": "TDMCRAWL_CONTENT_USAGE",
        "content_signal": "TDMCRAWL_CONTENT_SIGNAL",
        "aipref_compat": "TDMCRAWL_AIPREF_COMPAT",
        "robots_redirects_unavailable": "TDMCRAWL_ROBOTS_REDIRECTS_UNAVAILABLE",
        "rsl": "TDMCRAWL_RSL",
        "rsl_token_variants": "TDMCRAWL_RSL_TOKEN_VARIANTS",
        "tdmrep_object": "TDMCRAWL_TDMREP_OBJECT",
        "tdmrep_string": "TDMCRAWL_TDMREP_STRING",
        "tdmrep_variants": "TDMCRAWL_TDMREP_VARIANTS",
        "ai_agent_lookalikes": "TDMCRAWL_AI_AGENTS_LOOKALIKES",
    }
    fields: dict[str, Any] = {"token": token(settings)}
    fields.update({field: getbool(settings, name) for field, name in switches.items()})
    comments = str(get(settings, "TDMCRAWL_ROBOTS_COMMENTS")).strip().lower()
    if comments not in ("reserve", "warn", "off"):
        raise ValueError(f"TDMCRAWL_ROBOTS_COMMENTS={comments!r}: use reserve, warn or off")
    fields["robots_comments"] = comments
    fields["rsl_licenses"] = tuple(getlist(settings, "TDMCRAWL_RSL_LICENSES"))
    fields["agents"] = load_agent_list(settings)
    max_bytes = settings.get("TDMCRAWL_HTML_META_MAX_BYTES")
    if max_bytes not in (None, ""):
        try:
            fields["html_meta_max_bytes"] = int(max_bytes)
        except (TypeError, ValueError):
            raise ValueError(
                f"TDMCRAWL_HTML_META_MAX_BYTES={max_bytes!r} is not a whole number of bytes"
            ) from None
    return PolicyConfig(**fields)


# --- validation: every setting's type and range, checked in one place --------------------


@dataclass(frozen=True)
class Rule:
    """What a setting's value may be.

    ``kind``: ``bool``, ``int``, ``float`` (numbers given as text are read),
    ``text`` (non-empty), ``name`` (non-empty, usable in a file name), ``choice``,
    ``list`` (comma-separated text or a list), ``types`` (a non-empty list of
    ``type/subtype``), ``redis`` (a ``redis://``, ``rediss://`` or ``unix://`` URL).
    ``minimum`` bounds numbers; ``above`` makes the bound exclusive.
    """

    kind: str
    minimum: float | None = None
    above: bool = False
    choices: tuple[str, ...] = ()


BOOL = Rule("bool")
SCOPES = ("host", "domain", "any")

RULES: dict[str, Rule] = {
    "TDMCRAWL_OUT_DIR": Rule("text"),
    "TDMCRAWL_OUTPUT": BOOL,
    "TDMCRAWL_AUDIT": BOOL,
    "TDMCRAWL_WARC_PREFIX": Rule("name"),
    "TDMCRAWL_WARC_MAX_SIZE": Rule("int", minimum=1),
    "TDMCRAWL_CRAWL_ID": Rule("text"),
    "TDMCRAWL_RESUME": BOOL,
    "TDMCRAWL_REFETCH_KEPT": BOOL,
    "TDMCRAWL_MANIFEST": BOOL,
    "TDMCRAWL_SIGN_KEY": Rule("text"),
    "TDMCRAWL_TOKEN": Rule("text"),  # and an RFC 9309 product token (PolicyConfig)
    "TDMCRAWL_CONTACT": Rule("text"),  # and a valid User-Agent once composed
    "TDMCRAWL_USER_AGENT": Rule("text"),
    "TDMCRAWL_REGISTRY": Rule("text"),
    "TDMCRAWL_REGISTRY_SYNC": Rule("float", minimum=0),
    "TDMCRAWL_REGISTRY_REPLICA": Rule("text"),
    "TDMCRAWL_REGISTRY_VERIFIED_ONLY": BOOL,
    "TDMCRAWL_FETCH_RESERVED": BOOL,
    "TDMCRAWL_AI_AGENTS": BOOL,
    "TDMCRAWL_NOAI": BOOL,
    "TDMCRAWL_TDMREP": BOOL,
    "TDMCRAWL_CONTENT_USAGE": BOOL,
    "TDMCRAWL_CONTENT_SIGNAL": BOOL,
    "TDMCRAWL_AIPREF_COMPAT": BOOL,
    "TDMCRAWL_HTML_META_MAX_BYTES": Rule("int", minimum=1024),
    "TDMCRAWL_ROBOTS_REDIRECTS_UNAVAILABLE": BOOL,
    "TDMCRAWL_RSL": BOOL,
    "TDMCRAWL_RSL_LICENSES": Rule("list"),
    "TDMCRAWL_AGENTS_FILE": Rule("text"),
    "TDMCRAWL_TDMREP_OBJECT": BOOL,
    "TDMCRAWL_TDMREP_STRING": BOOL,
    "TDMCRAWL_TDMREP_VARIANTS": BOOL,
    "TDMCRAWL_AI_AGENTS_LOOKALIKES": BOOL,
    "TDMCRAWL_RSL_TOKEN_VARIANTS": BOOL,
    "TDMCRAWL_ROBOTS_COMMENTS": Rule("choice", choices=("reserve", "warn", "off")),
    "TDMCRAWL_DEDUP": BOOL,
    "TDMCRAWL_DEDUP_REDIS": Rule("redis"),
    "TDMCRAWL_DEDUP_NAMESPACE": Rule("text"),
    "TDMCRAWL_FRONTIER_REDIS": Rule("redis"),
    "TDMCRAWL_FRONTIER_KEY": Rule("text"),
    "TDMCRAWL_NODE": Rule("text"),  # made safe for file names by frontier.node_id
    "TDMCRAWL_LEASE_TTL": Rule("float", minimum=1),
    "TDMCRAWL_ORIGIN_TTL": Rule("float", minimum=0),
    "TDMCRAWL_ORIGIN_RETRY": Rule("float", minimum=0),
    "TDMCRAWL_ORIGIN_MAXSIZE": Rule("int", minimum=1),
    "TDMCRAWL_ORIGIN_TIMEOUT": Rule("float", minimum=0, above=True),
    "TDMCRAWL_AI_TXT": BOOL,
    "TDMCRAWL_SCOPE": Rule("choice", choices=SCOPES),
    "TDMCRAWL_MAX_PAGES": Rule("int", minimum=0),
    "TDMCRAWL_TEXT_TYPES": Rule("types"),
    "TDMCRAWL_NETGUARD": BOOL,
    "TDMCRAWL_NETGUARD_PUBLIC_HOSTS": Rule("list"),
    "TDMCRAWL_WORKERS": Rule("int", minimum=0),
    "TDMCRAWL_PROGRESS_INTERVAL": Rule("float", minimum=0),
    "TDMCRAWL_SUMMARY": BOOL,
}

# Scrapy's own settings whose bad value would quietly switch politeness or the crawl off
# (a negative delay is no delay; no concurrency is no crawl). Checked with ours.
SCRAPY_RULES: dict[str, Rule] = {
    "DOWNLOAD_DELAY": Rule("float", minimum=0),
    "RANDOMIZE_DOWNLOAD_DELAY": BOOL,
    "AUTOTHROTTLE_ENABLED": BOOL,
    "AUTOTHROTTLE_START_DELAY": Rule("float", minimum=0),
    "AUTOTHROTTLE_MAX_DELAY": Rule("float", minimum=0),
    "AUTOTHROTTLE_TARGET_CONCURRENCY": Rule("float", minimum=0, above=True),
    "CONCURRENT_REQUESTS": Rule("int", minimum=1),
    "CONCURRENT_REQUESTS_PER_DOMAIN": Rule("int", minimum=1),
    "CONCURRENT_ITEMS": Rule("int", minimum=1),
    "DOWNLOAD_TIMEOUT": Rule("float", minimum=0, above=True),
    "DOWNLOAD_MAXSIZE": Rule("int", minimum=0),
    "DOWNLOAD_WARNSIZE": Rule("int", minimum=0),
    "RETRY_ENABLED": BOOL,
    "RETRY_TIMES": Rule("int", minimum=0),
    "REDIRECT_ENABLED": BOOL,
    "REDIRECT_MAX_TIMES": Rule("int", minimum=0),
    "DEPTH_LIMIT": Rule("int", minimum=0),
    "COOKIES_ENABLED": BOOL,
}

STATE_FILE = "tdmcrawl-state.json"
# Files that mark a directory as the output of a crawl (or of a filter run).
CRAWL_MARKERS = ("audit.sqlite", STATE_FILE)

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*")
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
_PRIORITY_DEFAULT = 0  # Scrapy's "default" priority: a value nobody set


def validate(settings: Any) -> None:
    """Check every ``TDMCRAWL_*`` setting, and the Scrapy settings in ``SCRAPY_RULES``.

    ``settings`` is a Scrapy ``Settings`` or a plain dict. Raises ``UsageError``
    (exit 2) naming the first bad setting: an unknown ``TDMCRAWL_*`` name (with a
    did-you-mean), a value of the wrong type or out of range, a User-Agent that
    claims to be Scrapy, an output directory inside another crawl's.
    """
    for name in list(settings):
        if _priority(settings, name) != _PRIORITY_DEFAULT:  # Scrapy's own names are no typos
            unknown_name(str(name))
    for name, rule in (*RULES.items(), *SCRAPY_RULES.items()):
        value = settings.get(name)
        if value is None:
            continue  # not given: the declared default applies
        if name in SCRAPY_RULES and _priority(settings, name) == _PRIORITY_DEFAULT:
            continue  # Scrapy's own default
        problem = value_problem(rule, value)
        if problem:
            raise UsageError(f"{name}={_shown(value)}: {problem}")
    token_value = settings.get("TDMCRAWL_TOKEN")
    if token_value is not None:
        try:
            PolicyConfig(token=str(token_value))
        except ValueError as exc:
            raise UsageError(f"TDMCRAWL_TOKEN: {str(exc).removeprefix('policy ')}") from None
    agent = user_agent(settings)
    problem = user_agent_problem(agent)
    if problem:
        raise UsageError(f"the User-Agent {problem} (TDMCRAWL_USER_AGENT, TDMCRAWL_CONTACT)")
    if _priority(settings, "USER_AGENT") != _PRIORITY_DEFAULT:
        problem = user_agent_problem(str(settings.get("USER_AGENT") or ""))
        if problem:
            raise UsageError(f"USER_AGENT: the User-Agent {problem}")
    try:
        policy_config(settings)
    except ValueError as exc:  # a field no rule above covers
        raise UsageError(str(exc)) from None
    if getbool(settings, "TDMCRAWL_OUTPUT") or getbool(settings, "TDMCRAWL_AUDIT"):
        problem = out_dir_problem(str(get(settings, "TDMCRAWL_OUT_DIR")))
        if problem:
            raise UsageError(f"TDMCRAWL_OUT_DIR: {problem}")


def unknown_name(name: str) -> None:
    """Refuse a setting name that looks like one of ours but is not (a typo)."""
    if name in SETTINGS:
        return
    upper = name.upper()
    close = difflib.get_close_matches(upper, SETTINGS, n=1, cutoff=0.8)
    if not upper.startswith("TDMCRAWL") and not close:
        return  # Scrapy's, or a project's own setting
    hint = f"; did you mean {close[0]}?" if close else "; see docs/crawl.md for the settings"
    raise UsageError(f"unknown setting {name}{hint}")


def value_problem(rule: Rule, value: Any) -> str | None:
    """Why ``value`` breaks ``rule``, or None."""
    kind = rule.kind
    if kind == "bool":
        try:
            parse_bool("", value)
        except ValueError:
            return "use True or False"
        return None
    if kind in ("int", "float"):
        return _number_problem(rule, value)
    if kind == "list":
        return None if isinstance(value, str | list | tuple) else "give a comma-separated list"
    if kind == "types":
        items = _items(value)
        if not items:
            return "give at least one content type, e.g. text/html"
        bad = [item for item in items if not _MEDIA_TYPE.fullmatch(item)]
        return f"{bad[0]!r} is not a content type (type/subtype)" if bad else None
    text = value if isinstance(value, str) else str(value)
    if not text.strip():
        return "must not be empty; leave the setting out for its default"
    if kind == "name" and _NAME_UNSAFE.search(text):
        return "use letters, digits, '.', '_' and '-' only (it becomes part of file names)"
    if kind == "choice" and text not in rule.choices:
        return f"use one of {', '.join(rule.choices)}"
    if kind == "redis" and not text.startswith(_REDIS_SCHEMES):
        return "use a redis://host:port/db URL (or rediss://, unix://)"
    return None


def _number_problem(rule: Rule, value: Any) -> str | None:
    whole = rule.kind == "int"
    noun = "a whole number" if whole else "a number"
    if isinstance(value, bool):
        return f"use {noun}"
    try:
        number = float(value) if not isinstance(value, int) else value
    except (TypeError, ValueError):
        return f"use {noun}"
    if isinstance(number, float) and (math.isnan(number) or (whole and not number.is_integer())):
        return f"use {noun}"
    if rule.minimum is not None:
        if rule.above and number <= rule.minimum:
            return f"must be more than {_plain(rule.minimum)}"
        if number < rule.minimum:
            return f"must be at least {_plain(rule.minimum)}"
    return None


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _items(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple):
        return [str(part).strip() for part in value if str(part).strip()]
    return []


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _priority(settings: Any, name: str) -> int | None:
    getpriority = getattr(settings, "getpriority", None)
    if getpriority is None:  # a plain dict holds only what was given
        return None if name in settings else _PRIORITY_DEFAULT
    return getpriority(name)


def user_agent_problem(value: str) -> str | None:
    """Why ``value`` is not a User-Agent we send, or None.

    Sites block or allow "Scrapy" as a crawler of its own; our requests must be
    judged as tdmcrawl's. Control characters would break the header.
    """
    if not value.strip():
        return "must not be empty"
    if "scrapy" in value.lower():
        return f"{value!r} mentions Scrapy; name this crawler instead"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value) or not value.isascii():
        return f"{value!r}: use printable ASCII only (an HTTP header value)"
    return None


def out_dir_problem(value: str) -> str | None:
    """Why ``value`` cannot be a crawl's output directory, or None.

    An empty name would write into the current directory; a directory inside
    another crawl's output (its warc/, evidence/, or any folder below a
    directory holding its audit.sqlite) would mix two crawls' files.
    """
    if not value.strip():
        return "must not be empty (it would write into the current directory); name a directory"
    path = Path(value).expanduser().resolve()
    for parent in path.parents:
        for marker in CRAWL_MARKERS:
            if (parent / marker).is_file():
                return (
                    f"{value} is inside the output of another crawl ({parent} holds {marker}); "
                    "choose a directory outside it"
                )
    return None
