"""``tdmcrawl check URL...``: the decision on each URL and its evidence.

The check is a small crawl through the same add-on, gates and download code
as ``tdmcrawl crawl``, with output and audit off: robots.txt, tdmrep.json and
ai.txt are fetched once per origin, the URL itself only if robots.txt lets
us, the post-fetch gate reads its headers and meta, and the near-duplicate
step compares its text with the registered works (and the pages this check
found reserved). So the check reaches the decision the crawl would.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import scrapy
from twisted.python.failure import Failure

from tdmcrawl.crawler.cli.options import (
    ExampleLastCommand,
    check_urls,
    echo_json,
    json_option,
    product_token_option,
    registry_option,
    setting_overrides,
    settings_option,
    user_agent_option,
    validated,
)
from tdmcrawl.crawler.errors import TdmcrawlError
from tdmcrawl.crawler.gates.netguard import SEED_META
from tdmcrawl.crawler.gates.origin import PREFETCH_META, Excluded
from tdmcrawl.crawler.gates.response import DECISION_META, extract_text
from tdmcrawl.crawler.run import build_settings, run_command
from tdmcrawl.crawler.session import CrawlSession
from tdmcrawl.dedup.extract import QUERY_ENGINE
from tdmcrawl.optout.decision import Decision, Reason

INDEX_META = "tdmcrawl_check_index"
STAGE_PRE_FETCH = "pre-fetch"
STAGE_POST_FETCH = "post-fetch"
STAGE_NEAR_DUPLICATE = "near-duplicate"
EVIDENCE_WIDTH = 160
# Human output fits one screen per URL: the decisive reason first, then at
# most this many lines of each kind, and a pointer to --json for the rest.
MAX_LINES_PER_KIND = 6

# A check touches a few URLs while someone waits: a fixed small delay instead of
# AutoThrottle's slow start. Crawl-delay from robots.txt is still honoured.
CHECK_SETTINGS: dict[str, Any] = {
    "TDMCRAWL_OUTPUT": False,
    "TDMCRAWL_AUDIT": False,
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY": 0.25,
    "RETRY_TIMES": 1,
    # Failures reach the user as one "Error:" line or as warnings in the decisions.
    "LOG_LEVEL": "CRITICAL",
}


@dataclass(frozen=True)
class CheckResult:
    """The decision on one URL, whether the page was fetched, its HTTP status, and the
    stage of each reason (``pre-fetch``, ``post-fetch``, ``near-duplicate``)."""

    decision: Decision
    fetched: bool = False
    status: int | None = None
    stages: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        decision: Decision,
        meta: dict[str, Any],
        *,
        status: int | None,
        near_duplicate: tuple[Reason, ...] = (),
    ) -> CheckResult:
        known = meta.get(PREFETCH_META)
        before = set(Decision.from_dict(known).reasons) if known else set()
        fetched = status is not None
        stages = tuple(
            STAGE_NEAR_DUPLICATE
            if reason in near_duplicate
            else STAGE_PRE_FETCH
            if reason in before or not fetched
            else STAGE_POST_FETCH
            for reason in decision.reasons
        )
        return cls(decision, fetched, status, stages)


class CheckSpider(scrapy.Spider):
    """Requests each URL once and records the decision the gates made on it."""

    name = "tdmcrawl-check"

    def __init__(self, urls: list[str], results: dict[int, CheckResult], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.urls = urls
        self.results = results

    async def start(self) -> Any:
        for index, url in enumerate(self.urls):
            yield scrapy.Request(
                url,
                callback=self.parse,
                errback=self.failed,
                dont_filter=True,
                meta={INDEX_META: index, SEED_META: True},
            )

    def parse(self, response: Any) -> None:
        index = response.meta[INDEX_META]
        decided = response.meta.get(DECISION_META)
        copies: tuple[Reason, ...] = ()
        if decided is not None:
            decision = Decision.from_dict(decided)
            gate = CrawlSession.of(self.crawler).neardup
            if decision.allowed and gate is not None:
                # The crawl's near-duplicate step, on the same text the crawl would keep.
                copies = tuple(gate.matches_text(extract_text(response, QUERY_ENGINE) or ""))
                decision = decision.merge(Decision(url=decision.url, reasons=copies))
        else:
            decision = _prefetch(
                response.meta,
                response.url,
                f"page answered HTTP {response.status}: page-level signals not read",
            )
        self.results[index] = CheckResult.of(
            _with_redirect_note(decision, response.meta),
            response.meta,
            status=response.status,
            near_duplicate=copies,
        )

    def failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        index = request.meta[INDEX_META]
        response = getattr(failure.value, "response", None)
        if failure.check(Excluded):
            decision = failure.value.decision
        else:
            why = (
                f"page answered HTTP {response.status}: page-level signals not read"
                if response is not None
                else f"page not fetched: {failure.getErrorMessage()}"
            )
            decision = _prefetch(request.meta, request.url, why)
        self.results[index] = CheckResult.of(
            _with_redirect_note(decision, request.meta),
            request.meta,
            status=response.status if response is not None else None,
        )


def _prefetch(meta: dict[str, Any], url: str, warning: str) -> Decision:
    known = meta.get(PREFETCH_META)
    decision = Decision.from_dict(known) if known else Decision(url=url)
    return Decision(decision.url, decision.reasons, (*decision.warnings, warning), decision.grants)


def _with_redirect_note(decision: Decision, meta: dict[str, Any]) -> Decision:
    if not meta.get("redirect_urls"):
        return decision
    note = f"redirected: decided on {decision.url}"
    return Decision(decision.url, decision.reasons, (*decision.warnings, note), decision.grants)


def result_dict(url: str, result: CheckResult) -> dict[str, Any]:
    """The contract's JSON object: ``url`` (as given), ``allowed``, ``reasons``,
    ``warnings``, then ``fetched`` (was the page itself requested and answered) and
    ``status`` (its HTTP status, or null). A reason holds ``code``, ``source``,
    ``evidence`` and ``stage`` (``pre-fetch``, ``post-fetch``, ``near-duplicate``),
    plus ``line``, ``matched_work`` and ``similarity`` where they are known; grants
    (explicit permissions) are shown in the human output only.
    """
    decision = result.decision
    return {
        "url": url,
        "allowed": decision.allowed,
        "reasons": [
            {**reason.to_dict(), "stage": stage}
            for reason, stage in zip(decision.reasons, result.stages, strict=True)
        ],
        "warnings": list(decision.warnings),
        "fetched": result.fetched,
        "status": result.status,
    }


def render(url: str, decision: Decision) -> str:
    """Human output: the verdict and its decisive evidence, a few lines per URL."""
    if decision.allowed:
        head = f"ALLOWED   {url}"
    else:
        fetch = "never fetched" if not decision.fetch_allowed else "fetched, not used"
        head = f"EXCLUDED  {url}  ({decision.reasons[0].code.value}; {fetch})"
    lines = [head]
    lines += _capped(
        [f"  {r.code.value:<18} {_where(r):<14} {_short(r.evidence)}" for r in decision.reasons],
        "reasons",
    )
    lines += _capped(
        [f"  grant: {g.code.value} {_where(g)} {_short(g.evidence)}" for g in decision.grants],
        "grants",
    )
    lines += _capped([f"  warning: {_short(w)}" for w in decision.warnings], "warnings")
    return "\n".join(lines)


def _where(reason: Any) -> str:
    return reason.source + (f":{reason.line}" if reason.line else "")


def _capped(lines: list[str], kind: str) -> list[str]:
    if len(lines) <= MAX_LINES_PER_KIND:
        return lines
    more = len(lines) - MAX_LINES_PER_KIND + 1
    return [*lines[: MAX_LINES_PER_KIND - 1], f"  ... {more} more {kind} (see --json)"]


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= EVIDENCE_WIDTH else text[: EVIDENCE_WIDTH - 1] + "…"


@click.command(cls=ExampleLastCommand)
@click.argument("urls", nargs=-1, required=True)
@product_token_option
@user_agent_option
@registry_option(
    "Authors' registry: a database, or a registry service's https:// address (followed "
    "through a replica in the user's cache). Its URL rules apply too."
)
@settings_option
@json_option
def check(
    urls: tuple[str, ...],
    token: str | None,
    user_agent: str | None,
    registry: Path | str | None,
    overrides: tuple[str, ...],
    as_json: bool,
) -> None:
    """Print the opt-out decision on each URL, with its evidence.

    Fetches the origin's robots.txt, tdmrep.json and ai.txt (and the RSL
    licences they or the page name), then the page itself if robots.txt allows
    it, exactly as `tdmcrawl crawl` would.

    Exit 0 when it ran (allowed or not), 1 on failure, 2 on usage errors.

    Example:

    \b
        tdmcrawl check https://example.org/article --json
    """
    check_urls(urls, "URLS")
    extra = setting_overrides(overrides)
    options = {
        **CHECK_SETTINGS,
        "TDMCRAWL_TOKEN": token,
        "TDMCRAWL_USER_AGENT": user_agent,
        "TDMCRAWL_REGISTRY": str(registry) if registry else None,
    }
    settings = validated(build_settings(options, extra))
    results: dict[int, CheckResult] = {}
    crawler = run_command("check", settings, CheckSpider, urls=list(urls), results=results)
    session = getattr(crawler, "tdmcrawl_session", None)
    if session is not None and session.error:
        raise TdmcrawlError(f"check failed: {session.error}")
    gate_error = getattr(getattr(session, "neardup", None), "error", None)
    if gate_error:
        raise TdmcrawlError(f"check failed: near-duplicate step unavailable: {gate_error}")
    follow = getattr(session, "registry_follow", None)
    if follow is not None and follow.warning:
        click.echo(f"Warning: {follow.warning}", err=True)
    missing = [urls[i] for i in range(len(urls)) if i not in results]
    for index, url in enumerate(urls):
        if index not in results:
            continue
        if as_json:
            echo_json(result_dict(url, results[index]))
        else:
            click.echo(render(url, results[index].decision))
    if missing:
        raise TdmcrawlError(f"no decision reached for: {', '.join(missing)}")
