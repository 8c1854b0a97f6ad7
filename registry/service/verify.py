"""Ownership of a site entry, shown by a file the author publishes on the site.

The author puts the entry's code in ``/.well-known/tdmcrawl-verify.txt`` on
the site (a domain entry: on ``https://`` or ``http://`` of that host; a prefix
entry: on its own scheme, host and port), then asks the service to check. The
service fetches that one file: at most :data:`MAX_BYTES`, a few redirects on the
same host only, and never from a private, loopback or link-local address unless
its operator allows it (``--verify-private``), so the check cannot be turned
against the service's own network.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from tdmcrawl.registry.entries import Entry
from tdmcrawl.registry.errors import N_, Msg
from tdmcrawl.registry.urlrules import RuleKind

WELL_KNOWN = "/.well-known/tdmcrawl-verify.txt"
MAX_BYTES = 64 * 1024
MAX_REDIRECTS = 3


@dataclass(frozen=True)
class CheckResult:
    verified: bool
    url: str
    problem: Msg | None = None  # why not, as a message id
    detail: str = ""


def verification_urls(entry: Entry) -> list[str]:
    """Where the author may publish the code, in the order they are tried."""
    if entry.kind is RuleKind.DOMAIN:
        return [f"https://{entry.pattern}{WELL_KNOWN}", f"http://{entry.pattern}{WELL_KNOWN}"]
    if entry.kind is RuleKind.PREFIX:
        parts = urllib.parse.urlsplit(entry.pattern)
        return [urllib.parse.urlunsplit((parts.scheme, parts.netloc, WELL_KNOWN, "", ""))]
    return []


def check_ownership(
    entry: Entry, code: str, *, allow_private: bool = False, timeout: float = 10.0
) -> CheckResult:
    """Fetch the well-known file from each URL in turn; verified when one holds ``code``."""
    last = CheckResult(False, "", N_("this entry cannot be verified"))
    for url in verification_urls(entry):
        last = _check_url(url, code, allow_private=allow_private, timeout=timeout)
        if last.verified:
            return last
    return last


class _SameHostRedirects(urllib.request.HTTPRedirectHandler):
    def __init__(self, host: str) -> None:
        self.host = host
        self.count = 0

    def redirect_request(
        self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> Any:
        self.count += 1
        target = urllib.parse.urlsplit(newurl)
        if self.count > MAX_REDIRECTS or (target.hostname or "").lower() != self.host:
            return None  # not followed: the 3xx answer is the result
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _check_url(url: str, code: str, *, allow_private: bool, timeout: float) -> CheckResult:
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    if not allow_private and not _public(host, parts.port or 443):
        return CheckResult(
            False, url, N_("the site's address is private: it cannot be checked from here")
        )
    opener = urllib.request.build_opener(_SameHostRedirects(host))
    request = urllib.request.Request(url, headers={"User-Agent": "tdmcrawl registry verifier"})
    try:
        with opener.open(request, timeout=timeout) as response:
            if response.status != 200:
                return CheckResult(False, url, N_("the file was not found on the site"))
            body = response.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        return CheckResult(False, url, N_("the file was not found on the site"), f"HTTP {exc.code}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return CheckResult(False, url, N_("the site could not be reached"), str(reason)[:200])
    if len(body) > MAX_BYTES:
        return CheckResult(False, url, N_("the file on the site is too large"))
    words = body.decode("utf-8", "replace").split()
    if code in words:
        return CheckResult(True, url)
    return CheckResult(False, url, N_("the file on the site does not hold this entry's code"))


def _public(host: str, port: int) -> bool:
    """Whether every address ``host`` resolves to is a public one."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    for info in infos:
        try:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        except ValueError:
            return False
        if not address.is_global:
            return False
    return bool(infos)
