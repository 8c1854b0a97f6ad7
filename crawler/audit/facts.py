"""What a corpus is, for the first screen of the audit report: runs, dates, versions,
the operator's contact, the policy in force, the parent of a recheck.

The manifest (``DIR/manifest.json``) says it where there is one; an older
corpus is described from its audit database's ``crawls`` rows alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tdmcrawl.crawler.audit.queries import crawls
from tdmcrawl.crawler.manifest import MANIFEST_NAME, ManifestError, read_manifest
from tdmcrawl.crawler.settings import DEFAULT_CONTACT, parse_bool

# TDMCRAWL_* setting -> the policy switch it sets (the manifest's and warcinfo's names).
SETTING_SWITCHES = {
    "TDMCRAWL_AI_AGENTS": "robots-ai-agents",
    "TDMCRAWL_CONTENT_USAGE": "content-usage",
    "TDMCRAWL_AIPREF_COMPAT": "aipref-compat",
    "TDMCRAWL_CONTENT_SIGNAL": "content-signal",
    "TDMCRAWL_TDMREP": "tdmrep",
    "TDMCRAWL_NOAI": "noai",
    "TDMCRAWL_AI_TXT": "ai-txt",
    "TDMCRAWL_DEDUP": "near-duplicates",
    "TDMCRAWL_FETCH_RESERVED": "fetch-reserved",
}
# optout.PolicyConfig field (a filter's crawls row) -> policy switch.
CONFIG_SWITCHES = {
    "ai_agents": "robots-ai-agents",
    "content_usage": "content-usage",
    "aipref_compat": "aipref-compat",
    "content_signal": "content-signal",
    "tdmrep": "tdmrep",
    "noai": "noai",
    "ai_txt": "ai-txt",
}


def run_kind(settings: dict[str, Any] | None) -> str:
    command = (settings or {}).get("command")
    return command if command in ("filter", "recheck") else "crawl"


def policy_from_settings(settings: dict[str, Any] | None) -> dict[str, Any]:
    """The policy switches a ``crawls`` row's settings record (crawl, filter or recheck)."""
    settings = settings or {}
    policy: dict[str, Any] = {"robots": True}
    config = settings.get("policy")
    if isinstance(config, dict):
        for field, switch in CONFIG_SWITCHES.items():
            if field in config:
                policy[switch] = bool(config[field])
        policy["token"] = config.get("token")
        policy["registry"] = bool(settings.get("registry"))
        policy["near-duplicates"] = bool(settings.get("near_duplicates", True))
        policy["require-robots"] = bool(settings.get("require_robots", False))
        return policy
    for name, switch in SETTING_SWITCHES.items():
        if name in settings and settings[name] is not None:
            try:
                policy[switch] = parse_bool(name, settings[name])
            except ValueError:
                policy[switch] = str(settings[name])
    policy["registry"] = bool(settings.get("TDMCRAWL_REGISTRY") or settings.get("registry"))
    policy["token"] = settings.get("TDMCRAWL_TOKEN") or "tdmcrawl"
    if "pages" in settings:
        policy["pages"] = bool(settings["pages"])
    return policy


def corpus_facts(db: Any, directory: Path | None) -> dict[str, Any]:
    """The first screen's facts (see the module docstring)."""
    header: dict[str, Any] = {}
    manifest_problem = None
    if directory is not None and (directory / MANIFEST_NAME).is_file():
        try:
            header = read_manifest(directory / MANIFEST_NAME).header
        except ManifestError as exc:
            manifest_problem = str(exc)
    runs = crawls(db)
    latest = runs[-1] if runs else {}
    settings = latest.get("settings") if isinstance(latest.get("settings"), dict) else {}
    starts = [r["started_at"] for r in runs if r.get("started_at")]
    ends = [r["finished_at"] for r in runs if r.get("finished_at")]
    contact = settings.get("TDMCRAWL_CONTACT") or settings.get("contact") or DEFAULT_CONTACT
    return {
        "kind": header.get("kind") or run_kind(settings),
        "crawl_id": header.get("crawl_id") or latest.get("crawl_id"),
        "runs": [
            {
                "crawl_id": r["crawl_id"],
                "kind": run_kind(
                    r.get("settings") if isinstance(r.get("settings"), dict) else None
                ),
                "started_at": r.get("started_at"),
                "finished_at": r.get("finished_at"),
            }
            for r in runs
        ],
        "start": min(starts, default=None),
        "end": max(ends, default=None),
        "versions": header.get("versions") or latest.get("versions") or {},
        "policy": header.get("policy") or policy_from_settings(settings),
        "dedup": (header.get("dedup") or {}).get("identity") if header else None,
        "registry": header.get("registry"),
        "parent": header.get("parent"),
        "contact": contact,
        "user_agent": settings.get("USER_AGENT") or settings.get("TDMCRAWL_USER_AGENT"),
        "manifest": bool(header),
        "manifest_problem": manifest_problem,
        "settings": [
            {
                "crawl_id": r["crawl_id"],
                "settings": r.get("settings") or {},
                "versions": r.get("versions") or {},
                "stats": r.get("stats") or {},
            }
            for r in runs
        ],
    }
