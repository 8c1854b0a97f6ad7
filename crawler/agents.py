"""The AI-crawler list in force: the packaged list plus a user-level override.

The packaged list (``optout/data/ai_training_tokens.json``) is never edited in
place. ``tdmcrawl agents update FILE`` merges an ai.robots.txt ``robots.json``
into an override file holding only the entries it *adds*, so a newer packaged
list (a tdmcrawl upgrade) still takes effect under it. The override lives at

1. the ``TDMCRAWL_AGENTS_FILE`` setting, else
2. the ``TDMCRAWL_AGENTS_FILE`` environment variable, else
3. ``<user data dir>/tdmcrawl/ai_training_tokens.json`` (platformdirs:
   ``~/.local/share/tdmcrawl`` on Linux).

An override that cannot be read stops the command with one line (fail closed: a
list silently dropped would read fewer reservations).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import platformdirs

from tdmcrawl.crawler.errors import ConfigError, UsageError
from tdmcrawl.optout.ai_agents import AiTokenList, MergeResult, ai_training_tokens

ENV_VAR = "TDMCRAWL_AGENTS_FILE"
FILE_NAME = "ai_training_tokens.json"


def override_path(settings: Any = None) -> Path:
    """Where the user-level override of the list is (it may not exist)."""
    configured = settings.get(ENV_VAR) if settings is not None else None
    value = configured or os.environ.get(ENV_VAR)
    if value:
        return Path(str(value)).expanduser()
    return platformdirs.user_data_path("tdmcrawl") / FILE_NAME


def load_agent_list(settings: Any = None) -> AiTokenList:
    """The list in force: packaged, plus the override's entries when the file exists."""
    packaged = ai_training_tokens()
    path = override_path(settings)
    if not path.exists():
        return packaged
    try:
        override = AiTokenList.from_json(path.read_text(encoding="utf-8"), origin=str(path))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"the AI-crawler list override {path} cannot be read ({exc}); "
            f"fix it, or delete it to use the packaged list"
        ) from exc
    return combine(packaged, override)


def combine(packaged: AiTokenList, override: AiTokenList) -> AiTokenList:
    """Packaged entries first; the override adds entries and may turn a reading on,
    never off (a reservation is never dropped by an override)."""
    entries = list(packaged.entries)
    index = {e.token.lower(): i for i, e in enumerate(entries)}
    for entry in override.entries:
        at = index.get(entry.token.lower())
        if at is None:
            index[entry.token.lower()] = len(entries)
            entries.append(entry)
        elif entry.reserves and not entries[at].reserves:
            entries[at] = entry
    suffix = override.version.split("+", 1)[1] if "+" in override.version else override.version
    return AiTokenList(f"{packaged.version}+{suffix}", tuple(entries), override.origin)


def update_agent_list(source: Path, settings: Any = None) -> tuple[MergeResult, Path]:
    """Merge ``source`` (robots.json format) into the override; returns what was added
    and where the override was written (atomically: a temporary file renamed)."""
    try:
        data = json.loads(Path(source).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {source}: {exc}") from exc
    except ValueError as exc:
        raise UsageError(f"{source} is not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise UsageError(f"{source} is not a robots.json file (a JSON object of agent names)")
    current = load_agent_list(settings)
    try:
        result = current.merge_robots_json(data, f"{Path(source).name} (agents update)")
    except ValueError as exc:
        raise UsageError(f"{source}: {exc}") from exc
    packaged = {e.token.lower() for e in ai_training_tokens().entries}
    extra = tuple(e for e in result.merged.entries if e.token.lower() not in packaged)
    path = override_path(settings)
    override = AiTokenList(result.merged.version, extra, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(
        override.to_json(
            "user-level additions to the packaged list, merged by 'tdmcrawl agents update'"
        ),
        encoding="utf-8",
    )
    os.replace(temporary, path)
    return result, path
