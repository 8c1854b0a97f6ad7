"""The report's data and words: hosts with ports, copies grouped by work, whole-number tick
steps, the glossary against the reason codes, the policy of each kind of run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tdmcrawl.crawler.audit.db import AuditLog, open_database
from tdmcrawl.crawler.audit.facts import policy_from_settings
from tdmcrawl.crawler.audit.glossary import POLICY_SWITCHES, REASON_BY_CODE
from tdmcrawl.crawler.audit.report import _integer_step, copy_groups, host_counts
from tdmcrawl.optout.decision import Decision, Reason, ReasonCode
from tdmcrawl.registry.i18n import translations


@pytest.fixture
def db(tmp_path: Path):
    log = AuditLog.open(tmp_path)
    log.start_crawl(settings={}, versions={}, seeds=[])
    for url in (
        "http://127.0.0.1:8080/a",
        "http://127.0.0.1:8080/b?x=1",
        "https://әдебиет.kz/c",
        "https://user@[::1]:8443/d#top",
    ):
        log.record_exclusion(Decision(url, (Reason("noai", "header", "noai"),)), stage="post-fetch")
    for i in range(17):
        reason = Reason("reserved-copy", "crawl", "copy", None, "https://a.kz/original", 0.9)
        log.record_exclusion(Decision(f"https://b.kz/{i}", (reason,)), stage="near-duplicate")
    registry = Reason("registry-content", "registry", "copy", None, "01ENTRY", 0.8)
    log.record_exclusion(Decision("https://c.kz/x", (registry,)), stage="recheck")
    log.record_registry_entry("01ENTRY", author="Абай", title="Қара сөздер", kind="work")
    log.close()
    database = open_database(tmp_path)
    yield database
    database.close()


def test_hosts_keep_their_port_and_lose_userinfo(db) -> None:
    assert dict(host_counts(db)) == {
        "127.0.0.1:8080": 2,
        "әдебиет.kz": 1,
        "[::1]:8443": 1,
        "b.kz": 17,
        "c.kz": 1,
    }


def test_copies_of_one_work_are_one_group_with_the_entrys_author(db) -> None:
    groups = {(g["work"], g["reason"]): g for g in copy_groups(db)}
    copies = groups[("https://a.kz/original", "reserved-copy")]
    assert copies["count"] == 17 and len(copies["urls"]) == 17
    entry = groups[("01ENTRY", "registry-content")]
    assert (entry["author"], entry["title"], entry["count"]) == ("Абай", "Қара сөздер", 1)


@pytest.mark.parametrize(
    ("top", "step"),
    [(0, 1), (1, 1), (2, 1), (8, 1), (9, 2), (17, 5), (40, 5), (41, 10), (999, 200)],
)
def test_tick_steps_are_whole_numbers(top: int, step: int) -> None:
    assert _integer_step(top) == step


def test_the_glossary_explains_every_reason_code_and_the_design_additions() -> None:
    assert {code.value for code in ReasonCode} | {"rsl", "robots-comment"} <= set(REASON_BY_CODE)
    for entry in REASON_BY_CODE.values():
        assert entry.url.startswith("https://") and entry.standard
        for lang in ("kk", "ru"):
            assert translations(lang).gettext(entry.meaning) != entry.meaning, (lang, entry.code)


def test_policy_switches_read_from_a_crawl_and_a_filter() -> None:
    crawl = policy_from_settings(
        {"TDMCRAWL_AI_AGENTS": "False", "TDMCRAWL_NOAI": True, "TDMCRAWL_REGISTRY": "r.sqlite"}
    )
    assert crawl["robots-ai-agents"] is False and crawl["noai"] is True and crawl["registry"]
    filtered = policy_from_settings(
        {
            "command": "filter",
            "policy": {"ai_agents": True, "tdmrep": False, "token": "mybot"},
            "near_duplicates": False,
        }
    )
    assert filtered["tdmrep"] is False and filtered["near-duplicates"] is False
    assert filtered["token"] == "mybot"
    assert {key for key, _ in POLICY_SWITCHES} >= {k for k in crawl if k != "token"}
