"""URL rules: how authors' URLs, prefixes and domains are normalised and compared.

Normalisation is w3lib's ``canonicalize_url`` (IDN hosts to punycode, percent-
encoding made canonical, dot segments resolved, query arguments sorted,
fragment dropped) plus what it leaves alone: the default port is dropped,
credentials are dropped, a trailing dot on the host is dropped, an empty
path becomes ``/`` and a literal ``*`` becomes ``%2A`` (``*`` is the wildcard
of patterns).

Rules are compared on the *match key*: the normalised URL without its scheme
(``example.kz/blog/post``). http and https are the same site for an author's
opt-out: a reservation made on the https address also covers the http one.

Three kinds of URL rule:

- ``url``: one page, ``https://example.kz/page`` (the key must be equal);
- ``prefix``: ``https://example.kz/blog/*``, every URL whose key starts with
  the key of the part before ``*`` (``*`` only at the end);
- ``domain``: ``example.kz``, that host and all its subdomains, any port.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from urllib.parse import unquote, urlsplit, urlunsplit

from publicsuffixlist import PublicSuffixList
from w3lib.url import canonicalize_url

from tdmcrawl.registry.errors import N_, InvalidInput

SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_URL_LENGTH = 4096
_BAD_URL = N_("invalid URL '{url}': {why}")
URL_WHAT = N_("URL")
PATTERN_WHAT = N_("URL pattern")
DOMAIN_WHAT = N_("domain")


class RuleKind(StrEnum):
    URL = "url"
    PREFIX = "prefix"
    DOMAIN = "domain"
    WORK = "work"


URL_KINDS = frozenset({RuleKind.URL, RuleKind.PREFIX, RuleKind.DOMAIN})


@dataclass(frozen=True)
class UrlRule:
    """A parsed URL rule. ``host`` is the index key (no port); ``key`` is what is
    compared (the match key for url/prefix, the host for domain); ``pattern`` is the
    canonical text shown to people and stored."""

    kind: RuleKind
    host: str
    key: str
    pattern: str

    @property
    def evidence(self) -> str:
        return f"{self.kind.value} {self.pattern}"


def normalize_url(url: str) -> str:
    """The canonical form of an http(s) URL; raises InvalidInput with the reason."""
    text = _clean(url, URL_WHAT)
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise InvalidInput.t(_BAD_URL, field="pattern", url=text, why=str(exc)) from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise InvalidInput.t(
            N_("invalid URL '{url}': it must start with http:// or https://"),
            field="pattern",
            url=text,
        )
    if not parts.hostname:
        raise InvalidInput.t(N_("invalid URL '{url}': it has no host"), field="pattern", url=text)
    try:
        canon = urlsplit(canonicalize_url(text, keep_fragments=False))
        port = canon.port
    except (ValueError, UnicodeError) as exc:
        raise InvalidInput.t(_BAD_URL, field="pattern", url=text, why=str(exc)) from None
    host = _check_host(canon.hostname or "", text)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    # '*' is the wildcard of patterns: a literal one in a URL is always %2A.
    path = (canon.path or "/").replace("*", "%2A")
    return urlunsplit((scheme, netloc, path, canon.query.replace("*", "%2A"), ""))


def match_key(normalized: str) -> str:
    """The scheme-less form rules are compared on: ``example.kz/blog/``."""
    return normalized.split("://", 1)[1]


def key_host(key: str) -> str:
    """The host of a match key, without port or IPv6 brackets."""
    netloc = key.split("/", 1)[0]
    if netloc.startswith("["):
        return netloc[1 : netloc.index("]")]
    return netloc.rsplit(":", 1)[0] if ":" in netloc else netloc


def fast_host(url: str) -> str | None:
    """The host of an http(s) URL as the rules index it, cheaply, or None when only
    the full normalisation can tell (non-ASCII or percent-encoded hosts, odd input)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        # Reading .port validates it (ValueError); port 0 is left to the full path.
        if parts.scheme.lower() not in SCHEMES or parts.port == 0:
            return None
    except ValueError:
        return None
    if not host or not host.isascii() or "%" in host:
        return None
    return host.rstrip(".")


def parse_url_pattern(pattern: str) -> UrlRule:
    """``https://example.kz/page`` (one page) or ``https://example.kz/blog/*`` (prefix)."""
    text = _clean(pattern, PATTERN_WHAT)
    star = text.find("*")
    if star == -1:
        normalized = normalize_url(text)
        key = match_key(normalized)
        return UrlRule(RuleKind.URL, key_host(key), key, normalized)
    if star != len(text) - 1:
        raise InvalidInput.t(
            N_(
                "invalid URL pattern '{url}': '*' is only allowed at the end "
                "(for a site with its subdomains use a domain rule)"
            ),
            field="pattern",
            url=text,
        )
    normalized = normalize_url(text[:-1])
    key = match_key(normalized)
    return UrlRule(RuleKind.PREFIX, key_host(key), key, normalized + "*")


def parse_domain(domain: str) -> UrlRule:
    """A host name whose pages and subdomains are all opted out.

    Accepts ``Example.KZ``, ``қазақ.kz``, ``*.example.kz`` and a bare site URL
    such as ``https://example.kz/``; refuses IP addresses and one-label names
    (a whole top-level domain is nobody's site)."""
    text = _clean(domain, DOMAIN_WHAT)
    if "://" in text:
        parts = urlsplit(text)
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise InvalidInput.t(
                N_(
                    "invalid domain '{domain}': give a host name such as example.kz, "
                    "or use a URL prefix rule for part of a site"
                ),
                field="pattern",
                domain=text,
            )
        text = parts.netloc.rsplit("@", 1)[-1]
    if text.startswith("*."):
        text = text[2:]
    if not text or any(c in text for c in "/?#@ \\*:[]"):
        raise InvalidInput.t(
            N_("invalid domain '{domain}': give a host name such as example.kz"),
            field="pattern",
            domain=domain.strip(),
        )
    host = _check_host(_idna(text, domain), domain)
    if _is_ip(host):
        raise InvalidInput.t(
            N_(
                "invalid domain '{domain}': an IP address is not a domain; "
                "use a URL prefix rule such as http://192.0.2.1/*"
            ),
            field="pattern",
            domain=domain.strip(),
        )
    if "." not in host:
        raise InvalidInput.t(
            N_(
                "invalid domain '{domain}': a domain needs at least two labels "
                "(example.kz), a whole top-level domain cannot be opted out"
            ),
            field="pattern",
            domain=domain.strip(),
        )
    return UrlRule(RuleKind.DOMAIN, host, host, host)


# Special-use names (RFC 2606, RFC 6761): not in the public suffix list, but
# documentation and test hosts, never a typo for a real one.
SPECIAL_USE_TLDS = frozenset({"example", "test", "localhost", "invalid"})


@cache
def _public_suffixes() -> PublicSuffixList:
    # The list bundled with the package: no network at run time. accept_unknown=False:
    # a name under a top-level domain the list does not know has no public suffix.
    return PublicSuffixList(accept_unknown=False)


def check_public_suffix(rule: UrlRule) -> None:
    """Refuse a rule on a host whose public suffix does not exist (``aliya.kx``), or
    a rule on a public suffix itself (``co.uk``): evident mistakes of a new entry.

    IP addresses and special-use names (``.example``, ``.test``) pass. Only new
    registrations are checked; rules already stored (import, replicas) are not.
    """
    host = rule.host
    if _is_ip(host) or host.rsplit(".", 1)[-1] in SPECIAL_USE_TLDS:
        return
    psl = _public_suffixes()
    if psl.publicsuffix(host) is None:
        raise InvalidInput.t(
            N_(
                "'{host}' does not end in a known top-level domain (such as .kz, .ru, .com): "
                "check the spelling"
            ),
            field="pattern",
            host=display_form(host),
        )
    if psl.is_public(host):
        raise InvalidInput.t(
            N_(
                "'{host}' is a public suffix, shared by many sites, not one site: "
                "give a site under it, such as example.{host}"
            ),
            field="pattern",
            host=display_form(host),
        )


def twin_rule(rule: UrlRule) -> UrlRule | None:
    """The same rule on the twin host: ``www.site.kz`` <-> ``site.kz``.

    People publish a site under both names and register one of them; the form
    offers the other. A domain rule on ``site.kz`` already covers
    ``www.site.kz``, so only ``www.site.kz`` has a domain twin (``site.kz``).
    None when there is no twin (IP addresses, hosts of one label after ``www.``).
    """
    host = rule.host
    if _is_ip(host):
        return None
    if host.startswith("www."):
        other = host[4:]
        if "." not in other:
            return None
    elif rule.kind is RuleKind.DOMAIN:
        return None
    else:
        other = "www." + host
    if rule.kind is RuleKind.DOMAIN:
        return parse_domain(other)
    scheme, rest = rule.pattern.split("://", 1)
    netloc, slash, path = rest.partition("/")
    port = netloc[len(host) :]  # ":8080" or ""
    twin = f"{scheme}://{other}{port}{slash}{path}"
    return parse_url_pattern(twin)


def domain_suffixes(host: str) -> list[str]:
    """``a.b.example.kz`` -> itself and every parent, longest first."""
    if _is_ip(host):
        return [host]
    out = [host]
    dot = host.find(".")
    while dot != -1:
        out.append(host[dot + 1 :])
        dot = host.find(".", dot + 1)
    return out


def _clean(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput.t(N_("invalid {what}: expected text"), field="pattern", what=what)
    text = value.strip()
    if not text:
        raise InvalidInput.t(N_("invalid {what}: it is empty"), field="pattern", what=what)
    if len(text) > MAX_URL_LENGTH:
        raise InvalidInput.t(
            N_("invalid {what}: longer than {max} characters"),
            field="pattern",
            what=what,
            max=MAX_URL_LENGTH,
        )
    if _CONTROL.search(text):
        raise InvalidInput.t(
            N_("invalid {what}: it contains control characters"), field="pattern", what=what
        )
    return text


def _idna(text: str, original: str) -> str:
    try:
        # Same encoder as the URL path (w3lib), so a domain and a URL on it agree.
        return urlsplit(canonicalize_url(f"http://{text}/")).hostname or ""
    except (ValueError, UnicodeError):
        raise InvalidInput.t(
            N_("invalid domain '{domain}': not a valid host name"),
            field="pattern",
            domain=original.strip(),
        ) from None


def _check_host(host: str, original: str) -> str:
    host = host.lower().rstrip(".")
    if _is_ip(host):
        return host
    labels = host.split(".")
    if (
        not host
        or len(host) > 253
        or not host.isascii()
        or not all(_LABEL.match(label) for label in labels)
    ):
        raise InvalidInput.t(
            N_("invalid host in '{url}': '{host}' is not a host name"),
            field="pattern",
            url=original.strip(),
            host=host,
        )
    return host


def _is_ip(host: str) -> bool:
    # Cheap first: a host name ends in a letter, IPv4 in a digit, IPv6 has a colon.
    if ":" not in host and not host[-1:].isdigit():
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def display_form(pattern: str) -> str:
    """A rule as people read it: Unicode host and path (``https://қазақ.kz/блог/*``).

    Only for showing; rules are stored and compared in the canonical form. A
    label or path that does not decode cleanly is shown as stored.
    """
    if pattern.startswith(("http://", "https://")):
        scheme, sep, rest = pattern.partition("://")
    else:
        scheme, sep, rest = "", "", pattern
    hostport, slash, path = rest.partition("/")
    host, colon, port = hostport.partition(":")
    labels = []
    for label in host.split("."):
        try:
            labels.append(
                label.encode("ascii").decode("idna") if label.startswith("xn--") else label
            )
        except UnicodeError:
            labels.append(label)
    shown_path = _NON_ASCII_ESCAPES.sub(_decode_run, path)
    return f"{scheme}{sep}{'.'.join(labels)}{colon}{port}{slash}{shown_path}"


# Only escapes of non-ASCII bytes are decoded: %2F, %2A or %20 stay as they
# are, so the shown form means the same as the stored one.
_NON_ASCII_ESCAPES = re.compile(r"(?:%[89A-Fa-f][0-9A-Fa-f])+")


def _decode_run(match: re.Match[str]) -> str:
    try:
        text = unquote(match.group(0), errors="strict")
    except UnicodeDecodeError:
        return match.group(0)
    # A decoded space-like or invisible character would hide what the rule is.
    if any(not ch.isprintable() or ch.isspace() for ch in text):
        return match.group(0)
    return text
