"""Origins and the files every origin may publish: one table for the crawl, filter and audit.

An origin is scheme + host + port (RFC 6454). Its opt-out files live at fixed
paths; each is named by a *kind* (how its capture is filed as evidence) and
by the ``Reason.source`` that a signal read from it carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
# The largest origin file read (TDMCRAWL_ORIGIN_MAXSIZE's default, and the
# filter's read limit): a bigger file counts as larger than the limit, which
# never grants more than the file would (see optout.fetched and optout.policy).
ORIGIN_FILE_MAX_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Origin:
    scheme: str  # lower case: http or https
    host: str  # lower case; IPv6 without brackets
    port: int  # always given, the default port included

    @classmethod
    def of(cls, url: str) -> Origin | None:
        """The origin of an http(s) URL, or None for another scheme or no host."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:
            return None
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.hostname:
            return None
        return cls(scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme])

    @property
    def key(self) -> str:
        """``scheme://host:port`` with the port always spelt out: one string per origin."""
        return f"{self.scheme}://{self._netloc}:{self.port}"

    @property
    def serialized(self) -> str:
        """The RFC 6454 form, the default port left out: ``https://example.kz``."""
        default = DEFAULT_PORTS[self.scheme] == self.port
        return f"{self.scheme}://{self._netloc}" + ("" if default else f":{self.port}")

    def url(self, path: str) -> str:
        return self.serialized + path

    @property
    def _netloc(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host


def origin_key(url: str) -> str | None:
    """``scheme://host:port`` of ``url``, or None for a URL without an http(s) origin."""
    origin = Origin.of(url)
    return origin.key if origin else None


def serialized_origin(url: str) -> str:
    """The RFC 6454 origin of ``url``, or ``""`` when it has none."""
    origin = Origin.of(url)
    return origin.serialized if origin else ""


@dataclass(frozen=True)
class OriginFile:
    kind: str  # the evidence kind in the audit: robots.txt, tdmrep.json, ai.txt, rsl
    path: str  # where it lives on the origin ("" for a discovered document)
    source: str  # Reason.source of the signals read from it
    signal: str  # its keyword in OriginSignals.from_fetches
    # A document at no fixed path, named by another (an RSL licence: robots.txt
    # ``License:``, a ``Link`` header, an HTML ``<link>``); fetched once per origin
    # and URL, after robots.txt. Its ``from_fetches`` value maps URL -> fetch.
    discovered: bool = False


ROBOTS_TXT = OriginFile("robots.txt", "/robots.txt", "robots.txt", "robots")
TDMREP_JSON = OriginFile("tdmrep.json", "/.well-known/tdmrep.json", "well-known", "tdmrep")
AI_TXT = OriginFile("ai.txt", "/ai.txt", "ai.txt", "ai_txt")
# Reasons read from a licence carry the source where it was named (robots.txt,
# header, html), so its source here is the document's own kind.
RSL_LICENSE = OriginFile("rsl", "", "rsl", "rsl", discovered=True)
ORIGIN_FILES = (ROBOTS_TXT, TDMREP_JSON, AI_TXT, RSL_LICENSE)
# The files at fixed paths, fetched for every origin.
FIXED_ORIGIN_FILES = tuple(f for f in ORIGIN_FILES if not f.discovered)

_BY_PATH = {f.path: f for f in FIXED_ORIGIN_FILES}
_BY_SOURCE = {f.source: f for f in ORIGIN_FILES}


def origin_file_at(url: str) -> OriginFile | None:
    """The origin file ``url`` addresses (no query string), or None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return _BY_PATH.get(parts.path) if not parts.query else None


def evidence_kind(source: str) -> str | None:
    """The evidence kind whose capture holds a signal of ``Reason.source`` ``source``."""
    found = _BY_SOURCE.get(source)
    return found.kind if found else None
