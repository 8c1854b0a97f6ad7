"""The AI-crawler list in force: packaged list, user-level override, `tdmcrawl agents`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tdmcrawl import optout
from tdmcrawl.crawler import settings as tds
from tdmcrawl.crawler.agents import ENV_VAR, load_agent_list, override_path, update_agent_list
from tdmcrawl.crawler.errors import ConfigError, UsageError
from tdmcrawl.crawler.provenance import versions, warcinfo_fields
from tdmcrawl.optout.ai_agents import ai_training_tokens
from tdmcrawl.optout.policy import evaluate
from tests.support.signals import origin

ROBOTS_JSON = {
    "NewTrainerBot": {
        "operator": "[Example Labs](https://labs.example)",
        "function": "AI Data Scrapers",
        "description": "Downloads pages to train language models.",
    },
    "HelpfulAnswerBot": {
        "operator": "Example",
        "function": "AI Assistants",
        "description": "Fetches a page when a user asks about it.",
    },
    "GPTBot": {"operator": "OpenAI", "function": "x", "description": "already listed"},
    "Brightbot 1.0": {"function": "LLM/AI training.", "description": "listed as Brightbot"},
}


@pytest.fixture
def override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "agents" / "list.json"
    monkeypatch.setenv(ENV_VAR, str(path))
    return path


def _robots_json(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "robots.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_without_an_override_the_packaged_list_is_in_force(override: Path) -> None:
    assert not override.exists()
    assert load_agent_list() == ai_training_tokens()


def test_update_merges_into_the_override_and_never_edits_the_packaged_list(
    override: Path, tmp_path: Path
) -> None:
    packaged = Path(optout.__file__).parent / "data" / "ai_training_tokens.json"
    before = packaged.read_bytes()
    result, path = update_agent_list(_robots_json(tmp_path, ROBOTS_JSON))
    assert path == override and override.exists()
    assert packaged.read_bytes() == before
    added = {e.token: e for e in result.added}
    assert set(added) == {"NewTrainerBot", "HelpfulAnswerBot"}  # GPTBot, Brightbot known
    assert added["NewTrainerBot"].reserves and added["NewTrainerBot"].category == "training"
    assert added["NewTrainerBot"].operator == "Example Labs"  # markdown link reduced
    assert not added["HelpfulAnswerBot"].reserves
    current = load_agent_list()
    assert current.version.startswith(ai_training_tokens().version + "+")
    assert current.is_training_token("NewTrainerBot")
    assert current.origin == str(override)
    # The list in force decides: a group for the new crawler now reserves.
    decision = evaluate(
        "https://a.example/x",
        origin(robots="User-agent: NewTrainerBot\nDisallow: /\n"),
        config=tds.policy_config(_Settings({})),
    )
    assert "NewTrainerBot" in decision.reasons[0].evidence


def test_update_twice_adds_nothing_new(override: Path, tmp_path: Path) -> None:
    source = _robots_json(tmp_path, ROBOTS_JSON)
    update_agent_list(source)
    first = override.read_text(encoding="utf-8")
    again, _ = update_agent_list(source)
    assert again.added == ()
    assert json.loads(override.read_text())["agents"] == json.loads(first)["agents"]


def test_a_broken_override_stops_the_run(override: Path) -> None:
    override.parent.mkdir(parents=True)
    override.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot be read"):
        load_agent_list()
    with pytest.raises(ConfigError):
        tds.policy_config(_Settings({}))


@pytest.mark.parametrize("content", ["[1, 2]", "{}", "not json"])
def test_update_refuses_what_is_not_a_robots_json(
    override: Path, tmp_path: Path, content: str
) -> None:
    source = tmp_path / "robots.json"
    source.write_text(content, encoding="utf-8")
    with pytest.raises(UsageError):
        update_agent_list(source)
    assert not override.exists()


def test_the_setting_names_the_override_before_the_environment(
    override: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.json"
    assert override_path(_Settings({ENV_VAR: str(other)})) == other
    assert override_path(_Settings({})) == override


def test_warcinfo_and_audit_versions_carry_the_list_in_force(
    override: Path, tmp_path: Path
) -> None:
    update_agent_list(_robots_json(tmp_path, ROBOTS_JSON))
    settings = _Settings({})
    config = tds.policy_config(settings)
    policy = json.loads(warcinfo_fields(settings)["tdmcrawl-policy"])
    assert policy["ai-agents-list-version"] == config.agent_list.version
    assert "+" in policy["ai-agents-list-version"]
    assert versions(config.agent_list)["ai_training_tokens"] == config.agent_list.version


def test_agents_cli_list_and_update(override: Path, tmp_path: Path) -> None:
    source = _robots_json(tmp_path, ROBOTS_JSON)
    env = {**os.environ, ENV_VAR: str(override)}
    run = [sys.executable, "-m", "tdmcrawl.crawler.cli"]
    updated = subprocess.run(
        [*run, "agents", "update", str(source), "--json"], env=env, capture_output=True, text=True
    )
    assert updated.returncode == 0, updated.stderr
    assert [e["token"] for e in json.loads(updated.stdout)["added"]] == [
        "NewTrainerBot",
        "HelpfulAnswerBot",
    ]
    listed = subprocess.run(
        [*run, "agents", "list", "--all", "--json"], env=env, capture_output=True, text=True
    )
    data = json.loads(listed.stdout)
    assert data["version"] == load_agent_list().version
    assert {"NewTrainerBot", "HelpfulAnswerBot", "GPTBot"} <= {a["token"] for a in data["agents"]}
    human = subprocess.run([*run, "agents", "list"], env=env, capture_output=True, text=True)
    assert f"AI-crawler list {data['version']}" in human.stdout
    assert "HelpfulAnswerBot" not in human.stdout  # only the reserving ones without --all
    helped = subprocess.run([*run, "agents", "update", "--help"], capture_output=True, text=True)
    assert helped.stdout.rstrip().endswith("tdmcrawl agents update ai.robots.txt/robots.json")
    missing = subprocess.run(
        [*run, "agents", "update", str(tmp_path / "nope.json")], env=env, capture_output=True
    )
    assert missing.returncode == 2


class _Settings(dict):  # type: ignore[type-arg]
    """The ``get`` a Scrapy Settings object offers, over a plain dict."""

    def get(self, name: str, default: object = None) -> object:
        return super().get(name, default)
