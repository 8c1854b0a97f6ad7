"""The audit records which registry state each decision used, exactly, through the
writer's batches (m003_registry_states)."""

from __future__ import annotations

from tdmcrawl.crawler.audit.db import AuditLog, open_database
from tdmcrawl.crawler.audit.queries import explain
from tdmcrawl.optout.decision import Decision, Reason, ReasonCode


def _excluded(url: str) -> Decision:
    reason = Reason(code=ReasonCode.REGISTRY_URL, source="registry", evidence=f"url {url}")
    return Decision(url=url, reasons=(reason,))


def test_each_decision_is_tied_to_the_registry_state_it_was_made_with(tmp_path):
    log = AuditLog.open(tmp_path, batch_size=1000, flush_interval=60)
    log.start_crawl(settings={}, versions={}, seeds=[])
    state = {"source": "https://registry.kz/", "registry_id": "r", "stale": False, "entries": 1}
    log.record_registry_state(cursor="10", synced_at="2026-12-01T00:00:00Z", **state)
    log.record_exclusion(_excluded("https://a.kz/1"), stage="pre-fetch")
    log.record_exclusion(_excluded("https://a.kz/2"), stage="pre-fetch")
    log.record_kept(
        "https://a.kz/kept",
        warc_file="w.warc.gz",
        offset=0,
        record_id="<urn:1>",
        decision=Decision(url="https://a.kz/kept"),
    )
    # Rows still in the writer's batch when the state changes are the old state's.
    log.record_registry_state(cursor="12", synced_at="2026-12-01T00:05:00Z", **state)
    log.record_exclusion(_excluded("https://a.kz/3"), stage="pre-fetch")
    log.close()
    db = open_database(tmp_path)
    cursors = {
        url: explain(db, url)["excluded"][0]["registry_state"]["cursor"]
        for url in ("https://a.kz/1", "https://a.kz/2", "https://a.kz/3")
    }
    assert cursors == {"https://a.kz/1": "10", "https://a.kz/2": "10", "https://a.kz/3": "12"}
    kept = explain(db, "https://a.kz/kept")["kept"][0]["registry_state"]
    assert kept["cursor"] == "10" and kept["source"] == "https://registry.kz/"
    db.close()


def test_a_crawl_without_a_registry_has_no_state(tmp_path):
    log = AuditLog.open(tmp_path)
    log.start_crawl(settings={}, versions={}, seeds=[])
    log.record_exclusion(_excluded("https://a.kz/1"), stage="pre-fetch")
    log.close()
    db = open_database(tmp_path)
    assert explain(db, "https://a.kz/1")["excluded"][0]["registry_state"] is None
    db.close()
