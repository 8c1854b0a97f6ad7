"""No redirect or link may lead from a public address to a loopback, private or link-local one.

A page on the public web must not steer the crawler into the operator's own
network (SSRF). Seeds the operator gave explicitly may point anywhere, which is
also what lets the tests crawl 127.0.0.1. The rule is applied to every request
that came from somewhere: a redirect (its previous URL) or a link (the page it
was found on, ``PARENT_META`` in the request's meta). The parent is never read
from the ``Referer`` header alone: a page can ask for no Referer
(``Referrer-Policy: no-referrer``), and links followed from an errback get
none, so a header would make its links look like seeds. The spider sets the
parent when it follows links (and when ``--resume`` re-queues them from the
link log); :class:`NetGuardSpiderMiddleware` sets it on every request any
spider yields from a page. Numeric host spellings (``2130706443``,
``0x7f00000b``, ``0177.0.0.11``, ``127.11``, ``[::ffff:127.0.0.11]``) are
normalised before the check; a host that cannot be resolved is refused when a
public page leads to it. Host names are resolved before the request is sent; an
address is "public" when Python's ``ipaddress`` calls it global. After the
download the peer address of the connection is checked again (DNS rebinding).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
import socket
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from tdmcrawl.crawler import settings as tdm_settings

logger = logging.getLogger(__name__)

SEED_META = "tdmcrawl_seed"
PARENT_META = "tdmcrawl_parent"  # the URL of the page a link was found on

# What inet_aton reads as an IPv4 address: one to four decimal, octal or hex parts.
_NUMERIC_V4 = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}$")


class NetGuardBlocked(IgnoreRequest):
    """A request from a public address to a non-public one was refused."""


def is_public(address: str) -> bool:
    """True for a globally routable IP address; False for loopback, private, link-local..."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global


@functools.lru_cache(maxsize=4096)  # pure, and asked once a request: a crawl has few hosts
def normalise_host(host: str) -> str:
    """A host as the network stack will read it: numeric IPv4 spellings as a dotted quad,
    IPv4-mapped IPv6 as its IPv4 address, other IP addresses in their canonical form;
    names lower-cased, without brackets or a trailing dot."""
    host = host.strip().lower().strip("[]").rstrip(".")
    bare = host.split("%", 1)[0]
    try:
        ip = ipaddress.ip_address(bare)
    except ValueError:
        pass
    else:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ip)
    if _NUMERIC_V4.match(host):
        try:
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            return host  # not a number after all (e.g. a part too large): a name
    return host


def crosses_inward(source_addresses: list[str], target_addresses: list[str]) -> bool:
    """Whether going from ``source`` to ``target`` leads from public to non-public.

    A source counts as public if any of its addresses is; a target is refused if
    any of its addresses is not public (DNS may hand out either).
    """
    if not source_addresses or not any(is_public(a) for a in source_addresses):
        return False
    return any(not is_public(a) for a in target_addresses)


class AddressResolver:
    """Resolves host names off the reactor thread, with a small in-memory cache."""

    def __init__(self, public_hosts: list[str] | None = None) -> None:
        self._cache: dict[str, list[str]] = {}
        # Hosts the operator declared public: tests use it to play a public site on loopback.
        self._public_hosts = {normalise_host(h) for h in public_hosts or []}

    def declared_public(self, host: str) -> bool:
        return normalise_host(host) in self._public_hosts

    async def addresses(self, host: str) -> list[str]:
        host = normalise_host(host)
        if host in self._public_hosts:
            return ["8.8.8.8"]  # stands for "some public address"
        if host in self._cache:
            return self._cache[host]
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
            found = [host]
        except ValueError:
            found = await maybe_deferred_to_future(deferToThread(_resolve, host))
        self._cache[host] = found
        return found


def _resolve(host: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []  # unresolvable: the download itself will fail and say why
    return sorted({str(info[4][0]) for info in infos})


def source_url(request: Any) -> str | None:
    """Where a request came from: the previous hop of a redirect, else the linking page
    (the parent in meta; a ``Referer`` only for requests made by other code)."""
    redirects = request.meta.get("redirect_urls")
    if redirects:
        return str(redirects[-1])
    parent = request.meta.get(PARENT_META)
    if parent:
        return str(parent)
    referer = request.headers.get("Referer")
    if referer:
        return referer.decode("latin-1")
    return None


class NetGuardMiddleware:
    """Downloader middleware (before the origin gate) applying the rule above."""

    def __init__(self, resolver: AddressResolver, stats: Any = None) -> None:
        self.resolver = resolver
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Any) -> NetGuardMiddleware:
        if not tdm_settings.getbool(crawler.settings, "TDMCRAWL_NETGUARD"):
            raise NotConfigured("TDMCRAWL_NETGUARD is off")
        public = tdm_settings.getlist(crawler.settings, "TDMCRAWL_NETGUARD_PUBLIC_HOSTS")
        return cls(AddressResolver(public), crawler.stats)

    async def process_request(self, request: Any) -> None:
        if request.meta.get(SEED_META) and not request.meta.get("redirect_urls"):
            return
        await self.check(request.url, source_url(request))

    async def process_response(self, request: Any, response: Any) -> Any:
        """DNS rebinding: the address actually connected to must be public too.

        ``process_request`` resolved the host before the download; a name can
        answer differently the second time. Scrapy records the peer address of
        the connection in ``response.ip_address``: a response reached from a
        public page is dropped when that address is not public (hosts the
        operator declared public excepted).
        """
        if request.meta.get(SEED_META) and not request.meta.get("redirect_urls"):
            return response
        await self.check_peer(request.url, source_url(request), response.ip_address)
        return response

    async def check_peer(self, url: str, source: str | None, peer: Any) -> None:
        """Raise ``NetGuardBlocked``: ``url`` reached from a public page, served from ``peer``."""
        if source is None or peer is None:
            return
        source_host = urlsplit(source).hostname
        target_host = (urlsplit(url).hostname or "").lower()
        if not source_host or self.resolver.declared_public(target_host):
            return
        if is_public(str(peer)):
            return
        if not any(is_public(a) for a in await self.resolver.addresses(source_host)):
            return
        if self.stats is not None:
            self.stats.inc_value("tdmcrawl/netguard/rebinding")
        logger.warning(
            "netguard: dropped %s: connected to non-public %s (from public %s)", url, peer, source
        )
        raise NetGuardBlocked(
            f"netguard: {url} was served from non-public {peer}, reached from {source}"
        )

    async def check(self, url: str, source: str | None) -> None:
        """Raise ``NetGuardBlocked`` if going from ``source`` to ``url`` crosses inward."""
        if source is None:
            return  # no origin known: an explicit start request
        source_host = urlsplit(source).hostname
        target_host = urlsplit(url).hostname
        if not source_host or not target_host:
            return
        source_addrs = await self.resolver.addresses(source_host)
        if not any(is_public(a) for a in source_addrs):
            return
        target_addrs = await self.resolver.addresses(target_host)
        if not target_addrs:
            # Unresolvable here; the downloader's resolver might still answer: fail closed.
            if self.stats is not None:
                self.stats.inc_value("tdmcrawl/netguard/unresolved")
            logger.warning("netguard: refused %s: cannot resolve it (from public %s)", url, source)
            raise NetGuardBlocked(f"netguard: {url} cannot be resolved, reached from {source}")
        if crosses_inward(source_addrs, target_addrs):
            if self.stats is not None:
                self.stats.inc_value("tdmcrawl/netguard/blocked")
            logger.warning("netguard: refused %s (from public %s)", url, source)
            raise NetGuardBlocked(f"netguard: {url} is not public, reached from {source}")


def with_parent(result: Iterable[Any], parent: str) -> Iterator[Any]:
    """Requests in ``result`` get ``parent`` as where they came from, unless they say."""
    for element in result:
        if isinstance(element, Request):
            element.meta.setdefault(PARENT_META, parent)
        yield element


class NetGuardSpiderMiddleware:
    """Spider middleware: every request a spider yields from a page has that page as parent.

    The add-on installs it, so a plain Scrapy project's links are checked too,
    whatever the page's Referrer-Policy.
    """

    def process_spider_output(self, response: Any, result: Iterable[Any]) -> Iterator[Any]:
        yield from with_parent(result, response.url)

    async def process_spider_output_async(
        self, response: Any, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        async for element in result:
            if isinstance(element, Request):
                element.meta.setdefault(PARENT_META, response.url)
            yield element
