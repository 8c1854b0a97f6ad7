"""Every ``TDMCRAWL_*`` setting, with its default and what it does, in one place.

Scrapy reads settings from many layers (defaults, add-ons, project, ``-s``);
tdmcrawl's own settings are declared here and nowhere else, and
``docs/crawl.md`` documents each of them (a test keeps the two in step).
``policy_config`` is the one edge where Scrapy settings become the frozen
``optout.PolicyConfig``: ``optout/`` never sees a Scrapy ``Settings`` object.
"""

from __future__ import annotations

from typing import Any

from tdmcrawl.crawler import __version__
from tdmcrawl.dedup import DEFAULT_CONFIG, DedupConfig
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
    "TDMCRAWL_REFETCH_KEPT": (
        False,
        "On resume after a kill: restart from the link log; kept pages not in it are refetched.",
    ),
    # Identity
    "TDMCRAWL_TOKEN": ("tdmcrawl", "Product token matched against robots.txt groups."),
    "TDMCRAWL_CONTACT": (DEFAULT_CONTACT, "Contact URL put in the User-Agent."),
    "TDMCRAWL_USER_AGENT": (None, "Full User-Agent; default `tdmcrawl/<version> (+<contact>)`."),
    # Policy
    "TDMCRAWL_REGISTRY": (None, "Path of an authors' registry database for URL rules."),
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
        "Bytes of an HTML body scanned for meta tags (default: optout's, at least 1024).",
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
    "TDMCRAWL_ORIGIN_MAXSIZE": (8 * 1024 * 1024, "Largest origin file downloaded (bytes)."),
    "TDMCRAWL_ORIGIN_TIMEOUT": (30, "Download timeout of origin files (seconds)."),
    "TDMCRAWL_AI_TXT": (True, "Fetch /ai.txt for every origin."),
    # Crawl shape
    "TDMCRAWL_SCOPE": ("host", "Follow links within: host | domain | any."),
    "TDMCRAWL_MAX_PAGES": (
        0,
        "Stop after this many pages (0: no limit); with --redis, for all nodes together.",
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
    return f"tdmcrawl/{__version__} (+{contact})"


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
    """Settings -> ``optout.PolicyConfig``; a bad value raises ``ValueError`` naming it."""
    switches = {
        "ai_agents": "TDMCRAWL_AI_AGENTS",
        "ai_txt": "TDMCRAWL_AI_TXT",
        "noai": "TDMCRAWL_NOAI",
        "tdmrep": "TDMCRAWL_TDMREP",
        "content_usage": "TDMCRAWL_CONTENT_USAGE",
        "content_signal": "TDMCRAWL_CONTENT_SIGNAL",
        "aipref_compat": "TDMCRAWL_AIPREF_COMPAT",
    }
    fields: dict[str, Any] = {"token": token(settings)}
    fields.update({field: getbool(settings, name) for field, name in switches.items()})
    max_bytes = settings.get("TDMCRAWL_HTML_META_MAX_BYTES")
    if max_bytes not in (None, ""):
        try:
            fields["html_meta_max_bytes"] = int(max_bytes)
        except (TypeError, ValueError):
            raise ValueError(
                f"TDMCRAWL_HTML_META_MAX_BYTES={max_bytes!r} is not a whole number of bytes"
            ) from None
    return PolicyConfig(**fields)
