"""Opt-out signals: pure parsers and the policy that combines them (no network, no Scrapy).

The tested surface is what ``crawler/`` and ``scripts/`` import from here:
:func:`evaluate` with :class:`PolicyConfig`, :class:`OriginSignals` and
:class:`ResponseSignals`, the :class:`Decision` it returns, and the parsers
behind it for callers that need one signal alone.
"""

from tdmcrawl.optout.ai_agents import ai_agent_reasons, ai_training_tokens, ai_txt_reasons
from tdmcrawl.optout.aipref import (
    ContentSignal,
    Preference,
    UsagePreference,
    parse_content_signal,
    parse_usage,
)
from tdmcrawl.optout.decision import FETCH_BLOCKING, Decision, Reason, ReasonCode
from tdmcrawl.optout.fetched import FetchResult, RobotsOutcome, RobotsStatus, robots_outcome
from tdmcrawl.optout.html_meta import MetaTag, extract_meta
from tdmcrawl.optout.policy import OriginSignals, PolicyConfig, ResponseSignals, evaluate
from tdmcrawl.optout.robots import RobotsLine, RobotsTxt, RobotsVerdict
from tdmcrawl.optout.tdmrep import TdmRepFile, TdmRule
from tdmcrawl.optout.xrobots import noai_from_headers, noai_from_meta

__all__ = [
    "FETCH_BLOCKING",
    "ContentSignal",
    "Decision",
    "FetchResult",
    "MetaTag",
    "OriginSignals",
    "PolicyConfig",
    "Preference",
    "Reason",
    "ReasonCode",
    "ResponseSignals",
    "RobotsLine",
    "RobotsOutcome",
    "RobotsStatus",
    "RobotsTxt",
    "RobotsVerdict",
    "TdmRepFile",
    "TdmRule",
    "UsagePreference",
    "ai_agent_reasons",
    "ai_training_tokens",
    "ai_txt_reasons",
    "evaluate",
    "extract_meta",
    "noai_from_headers",
    "noai_from_meta",
    "parse_content_signal",
    "parse_usage",
    "robots_outcome",
]
