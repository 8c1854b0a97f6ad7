"""What every corpus says about how it was made: versions, the policy in force, warcinfo.

One place builds these, so the audit's ``crawls`` row, the warcinfo record that
opens every WARC file, and (later) the manifest cannot disagree: each reads
the same ``PolicyConfig`` the gates use and the same version list.
"""

from __future__ import annotations

import json
import platform
import socket
from importlib import metadata
from pathlib import Path
from typing import Any

from tdmcrawl.crawler import __version__
from tdmcrawl.crawler import settings as tds
from tdmcrawl.crawler.registry_follow import FollowedRegistry
from tdmcrawl.crawler.warc.records import FORMAT_FIELDS, NORMALISATION_NOTE
from tdmcrawl.optout.ai_agents import AiTokenList, ai_training_tokens
from tdmcrawl.registry import RegistryReader

# Third-party packages whose version can change a decision or a record's bytes.
VERSIONED_PACKAGES = ("scrapy", "warcio", "lxml", "trafilatura")

FILTER_NOTE = (
    "Records copied byte for byte from the input WARC files by tdmcrawl filter; records "
    "reserved for AI training (and the records tied to them) removed."
)


RECHECK_NOTE = (
    "Records copied byte for byte from the WARC file named in tdmcrawl-recheck-of by "
    "tdmcrawl recheck; pages reserved for AI training by today's opt-outs (and the records "
    "tied to them) removed."
)


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions(agents: AiTokenList | None = None) -> dict[str, str]:
    """Versions recorded with every crawl, so an audit says which code decided;
    ``agents`` is the AI-crawler list in force (default: the packaged one)."""
    out = {"tdmcrawl": __version__, "python": platform.python_version()}
    out.update({name: package_version(name) for name in VERSIONED_PACKAGES})
    out["ai_training_tokens"] = (agents or ai_training_tokens()).version
    return out


def dedup_snapshot(settings: Any) -> dict[str, Any] | None:
    """The near-duplicate index config in force (identity and fields), or None when off."""
    if not tds.getbool(settings, "TDMCRAWL_DEDUP"):
        return None
    config = tds.dedup_config()
    return {"identity": config.identity, **config.to_dict()}


def settings_snapshot(settings: Any) -> dict[str, Any]:
    """The tdmcrawl settings and the politeness settings in force (JSON-able)."""
    names = [
        *tds.SETTINGS,
        "USER_AGENT",
        "DOWNLOAD_DELAY",
        "AUTOTHROTTLE_ENABLED",
        "CONCURRENT_REQUESTS",
        "CONCURRENT_REQUESTS_PER_DOMAIN",
        "DEPTH_LIMIT",
    ]
    out: dict[str, Any] = {}
    for name in names:
        value = tds.get(settings, name) if name in tds.DEFAULTS else settings.get(name)
        if hasattr(value, "copy_to_dict"):
            value = value.copy_to_dict()
        out[name] = (
            value if isinstance(value, (str, int, float, bool, list, type(None))) else str(value)
        )
    out["dedup_config"] = dedup_snapshot(settings)
    return out


def policy_statement(config: Any, *, registry: bool, **more: Any) -> dict[str, Any]:
    """Every switch of an ``optout.PolicyConfig``, in the words warcinfo, the manifest and
    the audit report use (``more``: what a command adds, e.g. ``fetch-reserved``)."""
    return {
        "robots": True,
        "robots-ai-agents": config.ai_agents,
        "ai-agents-list-version": config.agent_list.version,
        "ai-agents-lookalikes": config.ai_agent_lookalikes,
        "rsl": config.rsl,
        "rsl-licenses-held": list(config.rsl_licenses),
        "rsl-token-variants": config.rsl_token_variants,
        "tdmrep-object": config.tdmrep_object,
        "tdmrep-string": config.tdmrep_string,
        "tdmrep-variants": config.tdmrep_variants,
        "robots-comments": config.robots_comments,
        "content-usage": config.content_usage,
        "content-signal": config.content_signal,
        "aipref-compat": config.aipref_compat,
        "tdmrep": config.tdmrep,
        "noai": config.noai,
        "ai-txt": config.ai_txt,
        "registry": registry,
        **more,
        "token": config.token,
    }


def policy_in_force(settings: Any) -> dict[str, Any]:
    """Every policy switch of a crawl, as its warcinfo record and its manifest state them."""
    # Read from the same PolicyConfig the gates use, so no record can misstate a switch.
    return policy_statement(
        tds.policy_config(settings),
        registry=bool(settings.get("TDMCRAWL_REGISTRY")),
        **{
            "fetch-reserved": tds.getbool(settings, "TDMCRAWL_FETCH_RESERVED"),
            "near-duplicates": tds.getbool(settings, "TDMCRAWL_DEDUP"),
        },
    )


def registry_state(registry: FollowedRegistry | RegistryReader | None) -> dict[str, Any] | None:
    """What identifies the registry a run read: its location, position and what it held.

    A followed registry (a file, or a service's replica) states its source, feed
    cursor and sync time; a bare reader is described by its path and counts.
    """
    if registry is None:
        return None
    identity = tds.dedup_config().identity
    reader = registry.reader if isinstance(registry, FollowedRegistry) else registry
    works = sum(1 for _ in reader.content_works(config_identity=identity))
    out: dict[str, Any] = {
        "location": str(reader.path),
        "url_rules": len(reader),
        "work_files": works,
        "dedup_config": identity,
    }
    if isinstance(registry, FollowedRegistry):
        out.update(registry.state().to_dict())
    return out


def warcinfo_fields(settings: Any) -> dict[str, str]:
    """The warcinfo body for a crawl: software, identity, the policy in force, the note."""
    policy = policy_in_force(settings)
    for stated_elsewhere in ("token", "near-duplicates"):  # their own lines below
        policy.pop(stated_elsewhere)
    dedup = dedup_snapshot(settings)
    fields = {
        "software": f"tdmcrawl/{__version__} (Scrapy/{package_version('scrapy')}; "
        f"warcio/{package_version('warcio')})",
        **FORMAT_FIELDS,
        "hostname": socket.gethostname(),
        "http-header-user-agent": tds.user_agent(settings),
        "robots": "obey (RFC 9309) and honour AI-training reservations",
        "tdmcrawl-token": tds.token(settings),
        "tdmcrawl-policy": json.dumps(policy, sort_keys=True),
        "tdmcrawl-near-duplicate": dedup["identity"] if dedup else "off",
        "description": NORMALISATION_NOTE,
    }
    crawl_id = settings.get("TDMCRAWL_CRAWL_ID")
    if crawl_id:
        fields["isPartOf"] = str(crawl_id)
    return {key: value for key, value in fields.items() if value}


def filter_warcinfo_fields(
    policy: dict[str, Any], token: str, inputs: list[Path], crawl_id: str, *, near_duplicates: bool
) -> dict[str, str]:
    """The warcinfo body of ``tdmcrawl filter``'s output files."""
    fields = {
        "software": f"tdmcrawl/{__version__} filter (warcio/{package_version('warcio')})",
        **FORMAT_FIELDS,
        "hostname": socket.gethostname(),
        "tdmcrawl-token": token,
        "tdmcrawl-policy": json.dumps(policy, sort_keys=True),
        "tdmcrawl-filter-input": " ".join(p.name for p in inputs)[:4000],
        "description": FILTER_NOTE,
        "isPartOf": crawl_id,
    }
    if near_duplicates:
        fields["tdmcrawl-near-duplicate"] = tds.dedup_config().identity
    return fields


def recheck_warcinfo_fields(settings: Any, parent: Path) -> dict[str, str]:
    """The warcinfo body of the files ``tdmcrawl recheck`` rewrites."""
    fields = warcinfo_fields(settings)
    fields["software"] = fields["software"].replace("tdmcrawl/", "tdmcrawl recheck/", 1)
    fields["description"] = RECHECK_NOTE
    fields["tdmcrawl-recheck-parent"] = str(parent)
    return fields
