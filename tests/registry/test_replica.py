"""A crawler's replica of a registry service, synced from the real service's feed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tdmcrawl.registry import Registry, RegistryReader
from tdmcrawl.registry.replica import RegistryUnavailable, Replica, http_fetch
from tests.support.registry import work_text
from tests.support.registry_service import RegistryServer, post_json, request, upload_work


def _counting_fetch(statuses: list[int]):
    def fetch(url, headers, timeout):
        status, got, body = http_fetch(url, headers, timeout)
        statuses.append(status)
        return status, got, body

    return fetch


def test_replica_follows_additions_removals_and_idles_on_304(tmp_path: Path):
    with RegistryServer(tmp_path / "optout.sqlite") as service:
        status, page = post_json(
            service.base + "/api/v1/entries",
            {"kind": "prefix", "pattern": "aliya.kz/blog/", "author": "Әлия", "email": "a@b.kz"},
        )
        assert status == 201
        _, work = upload_work(service.base, "Мұхтар", [("w.txt", work_text(9, 200).encode())])
        replica_path = tmp_path / "replica.sqlite"
        statuses: list[int] = []
        with Replica(replica_path) as replica:
            first = replica.sync(service.base, fetch=_counting_fetch(statuses))
            assert first.applied == 2 and first.rejected == 0 and statuses == [200]
            assert first.state.cursor == 3 and first.state.entries == 2
            # Idle: one request for the page after the cursor (empty), then 304s.
            replica.sync(service.base, fetch=_counting_fetch(statuses))
            replica.sync(service.base, fetch=_counting_fetch(statuses))
            assert statuses == [200, 200, 304]
        with RegistryReader(replica_path) as reader:
            match = reader.match_url("https://aliya.kz/blog/post")
            assert match is not None and match.id == page["id"] and match.author == ""
            (content,) = list(reader.content_works())
            assert content.entry_id == work["id"]
        with sqlite3.connect(replica_path) as db:  # names, emails, texts never copied
            assert db.execute("SELECT DISTINCT author, email FROM entries").fetchall() == [
                ("", None)
            ]
            assert db.execute("SELECT count(*) FROM work_texts").fetchone() == (0,)
        request(
            "DELETE",
            f"{service.base}/api/v1/entries/{page['id']}",
            headers={"Authorization": f"Bearer {page['token']}"},
        )
        with Replica(replica_path) as replica:
            result = replica.sync(service.base)
            assert result.applied == 1 and result.state.entries == 1
        with RegistryReader(replica_path) as reader:
            assert reader.match_url("https://aliya.kz/blog/post") is None


def test_a_replaced_registry_behind_the_same_address_is_copied_again(tmp_path: Path):
    replica_path = tmp_path / "replica.sqlite"
    with RegistryServer(tmp_path / "one.sqlite") as service:
        post_json(
            service.base + "/api/v1/entries", {"kind": "domain", "pattern": "old.kz", "author": "A"}
        )
        port = service.port
        with Replica(replica_path) as replica:
            first = replica.sync(service.base).state
    # Another registry file served at the same address.
    with RegistryServer(tmp_path / "two.sqlite", port=port) as replaced:
        post_json(
            replaced.base + "/api/v1/entries",
            {"kind": "domain", "pattern": "new.kz", "author": "B"},
        )
        with Replica(replica_path) as replica:
            second = replica.sync(replaced.base).state
    assert second.registry_id != first.registry_id
    with RegistryReader(replica_path) as reader:
        assert reader.match_url("https://new.kz/") is not None
        assert reader.match_url("https://old.kz/") is None


def test_an_unreachable_or_broken_service_leaves_the_replica_as_it_was(tmp_path: Path):
    replica_path = tmp_path / "replica.sqlite"
    with RegistryServer(tmp_path / "optout.sqlite") as service:
        post_json(
            service.base + "/api/v1/entries",
            {"kind": "domain", "pattern": "kept.kz", "author": "A"},
        )
        with Replica(replica_path) as replica:
            before = replica.sync(service.base).state
        base = service.base
    with Replica(replica_path) as replica, pytest.raises(RegistryUnavailable):
        replica.sync(base, timeout=5)

    def garbage(url, headers, timeout):
        return 200, {}, b'{"version": 1, "registry": "not-a-uuid", "entries": 5}'

    with Replica(replica_path) as replica:
        with pytest.raises(RegistryUnavailable, match="malformed"):
            replica.sync(base, fetch=garbage)
        assert replica.state() == before
    with RegistryReader(replica_path) as reader:
        assert reader.match_url("https://kept.kz/") is not None


def test_verified_only_honours_confirmed_site_entries_and_every_page_entry(tmp_path: Path):
    db = tmp_path / "r.sqlite"
    with Registry(db) as reg:
        confirmed = reg.add_domain("A", "confirmed.kz").entry.id
        reg.add_domain("B", "unconfirmed.kz")
        reg.add_url("C", "https://unconfirmed.kz/page")
        reg.mark_verified(confirmed)
    with RegistryReader(db, verified_only=True) as reader:
        assert reader.match_url("https://confirmed.kz/x") is not None
        assert reader.match_url("https://unconfirmed.kz/x") is None
        assert reader.match_url("https://unconfirmed.kz/page") is not None
    with RegistryReader(db) as reader:  # the default honours all
        assert reader.match_url("https://unconfirmed.kz/x") is not None
