"""What a caller saw when it fetched an origin file, and what RFC 9309 makes of it.

The crawler fetches ``/robots.txt`` (and ``/ai.txt``, ``/.well-known/tdmrep.json``)
and records a :class:`FetchResult`; :func:`robots_outcome` applies the status
rules of RFC 9309 2.3.1 without doing any I/O itself:

========================================  ===============  =========================
what happened                             outcome          effect
========================================  ===============  =========================
more than 5 redirects (any final status)  ``UNREACHABLE``  complete disallow (*)
a 3xx the caller could not follow         ``UNREACHABLE``  complete disallow (*)
2xx, read whole                           ``PARSED``       the rules of the body
2xx, larger than the caller's size limit  ``UNREACHABLE``  complete disallow
  or than the parse limit (2 MiB)
4xx except 429                            ``UNAVAILABLE``  no restrictions (2.3.1.3)
429, 5xx                                  ``UNREACHABLE``  complete disallow (2.3.1.4)
timeout, network error, no status         ``UNREACHABLE``  complete disallow (2.3.1.4)
any other status (1xx, >= 600)            ``UNREACHABLE``  complete disallow
========================================  ===============  =========================

429 is a 4xx code, but a rate-limit answer says nothing about the site's
wishes, so it is read like a 5xx (Google's documented behaviour). An unknown
status fails closed.

(*) RFC 9309 2.3.1.2 *permits* reading more than five redirects as
"unavailable" (allow everything). A redirect loop or an endless chain is as
much a failure to serve the file as a 5xx, and it is the one failure a site
controls that would open it up completely, so by default it reads as
unreachable; ``redirects_unavailable=True`` (``PolicyConfig``,
``TDMCRAWL_ROBOTS_REDIRECTS_UNAVAILABLE``) gives the RFC's lenient reading,
with a warning.

A file is never read in part (see :mod:`optout.robots`): rules past a cut
could disallow anything, so a cut file is no file we can honour whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tdmcrawl.optout.decision import Reason, ReasonCode
from tdmcrawl.optout.robots import RobotsTxt

MAX_REDIRECTS = 5


@dataclass(frozen=True)
class FetchResult:
    """One fetch of an origin file as the caller saw it.

    ``status`` is ``None`` when no HTTP answer arrived (then ``error`` says
    why: ``"timeout"``, ``"connection refused"``, ...); ``redirects`` counts the
    redirects followed; ``final_url`` is where the body came from;
    ``truncated`` says the file was longer than the caller's size limit.
    """

    url: str
    status: int | None
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()
    error: str | None = None
    redirects: int = 0
    final_url: str | None = None
    # The file is longer than the caller's size limit: ``body`` is None (the
    # download was cancelled) or only its first bytes.
    truncated: bool = False

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or ``None``."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None


class RobotsStatus(StrEnum):
    PARSED = "parsed"
    UNAVAILABLE = "unavailable"  # allow all
    UNREACHABLE = "unreachable"  # disallow all


@dataclass(frozen=True)
class RobotsOutcome:
    """The robots.txt of one origin as it applies to crawling.

    ``robots`` is always a :class:`RobotsTxt` (empty unless ``PARSED``) so a
    caller can ask it uniformly; ``detail`` is the evidence for the outcome
    (``"HTTP 503"``, ``"timeout"``, ``"6 redirects"``).
    """

    status: RobotsStatus
    robots: RobotsTxt
    detail: str
    warnings: tuple[str, ...] = ()

    @property
    def unreachable(self) -> bool:
        return self.status is RobotsStatus.UNREACHABLE

    def reasons(self, url: str, token: str) -> tuple[Reason, ...]:
        """The fetch-blocking reasons for ``url`` under ``token``: ``robots``
        with the winning line, or ``robots-unreachable``; ``()`` if allowed."""
        if self.unreachable:
            return (
                Reason(
                    code=ReasonCode.ROBOTS_UNREACHABLE,
                    source="robots.txt",
                    evidence=f"robots.txt unreachable: {self.detail}",
                ),
            )
        return self.robots.verdict(url, token).reasons(ReasonCode.ROBOTS, "robots.txt")


def robots_outcome(result: FetchResult, *, redirects_unavailable: bool = False) -> RobotsOutcome:
    """Apply RFC 9309 2.3.1 status rules to one robots.txt fetch.

    ``redirects_unavailable``: read more than five redirects, or a redirect
    that cannot be followed, as *unavailable* (allow all; RFC 9309 2.3.1.2
    permits it) instead of unreachable (complete disallow, the default).
    """
    empty = RobotsTxt.empty("robots.txt")
    status = result.status
    if result.truncated:
        why = result.error or "larger than the download size limit"
        detail = f"{why}; a file cut short cannot be honoured whole"
        return RobotsOutcome(RobotsStatus.UNREACHABLE, empty, detail)
    if result.error is not None or status is None:
        why = result.error or "no HTTP response"
        return RobotsOutcome(RobotsStatus.UNREACHABLE, empty, why)
    if not isinstance(status, int):
        return RobotsOutcome(RobotsStatus.UNREACHABLE, empty, f"invalid status {status!r}")
    redirects = result.redirects if isinstance(result.redirects, int) else 0
    too_many = redirects > MAX_REDIRECTS or (300 <= status < 400 and redirects >= MAX_REDIRECTS)
    if too_many:
        detail = f"more than {MAX_REDIRECTS} redirects (HTTP {status} after {redirects})"
        return _redirect_failure(detail, redirects_unavailable, empty)
    if 200 <= status < 300:
        robots = RobotsTxt.parse(result.body or b"", source="robots.txt")
        warnings = list(robots.warnings)
        if robots.unread:
            detail = f"robots.txt is {robots.unread}; it cannot be honoured whole"
            return RobotsOutcome(RobotsStatus.UNREACHABLE, empty, detail, tuple(warnings))
        content_type = (result.header("content-type") or "").lower()
        if "html" in content_type:
            warnings.append(f"robots.txt: served as {content_type!r}, expected text/plain")
        if redirects > 0:
            warnings.append(
                f"robots.txt: reached after {redirects} redirect(s) at "
                f"{result.final_url or '?'}; rules apply to {result.url}"
            )
        return RobotsOutcome(RobotsStatus.PARSED, robots, f"HTTP {status}", tuple(warnings))
    if 300 <= status < 400:
        return _redirect_failure(
            f"HTTP {status} redirect not followed", redirects_unavailable, empty
        )
    if status == 429 or 500 <= status < 600:
        return RobotsOutcome(RobotsStatus.UNREACHABLE, empty, f"HTTP {status}")
    if 400 <= status < 500:
        return RobotsOutcome(RobotsStatus.UNAVAILABLE, empty, f"HTTP {status}")
    return RobotsOutcome(RobotsStatus.UNREACHABLE, empty, f"unexpected HTTP status {status}")


def _redirect_failure(detail: str, unavailable: bool, empty: RobotsTxt) -> RobotsOutcome:
    if unavailable:
        warning = (
            f"robots.txt: {detail}; treated as unavailable, allow all "
            "(RFC 9309 2.3.1.2, TDMCRAWL_ROBOTS_REDIRECTS_UNAVAILABLE)"
        )
        return RobotsOutcome(RobotsStatus.UNAVAILABLE, empty, detail, (warning,))
    warning = (
        f"robots.txt: {detail}; treated as unreachable, complete disallow "
        "(TDMCRAWL_ROBOTS_REDIRECTS_UNAVAILABLE=True reads it as unavailable)"
    )
    return RobotsOutcome(RobotsStatus.UNREACHABLE, empty, detail, (warning,))


def file_body(result: FetchResult | None) -> bytes | None:
    """The body of an optional origin file (ai.txt, tdmrep.json) if it was
    served successfully (2xx within the redirect limit), else ``None``: for
    these files a failure to serve them means "no file". A file that *was*
    served but is longer than the size limit (``truncated``) is the caller's
    to handle: it exists, and must not read as absent."""
    if result is None or result.error is not None or result.status is None:
        return None
    if not isinstance(result.status, int) or not 200 <= result.status < 300:
        return None
    if result.redirects > MAX_REDIRECTS:
        return None
    return result.body or b""
