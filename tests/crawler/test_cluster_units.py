"""The cluster's shared host slots, origin-file locks and page budget, on a real redis-server.

Two ``Cluster`` objects stand for two nodes. One that never renews its leases
stands for a node that died: what it held is free once its lease runs out.
"""

from __future__ import annotations

import time

import pytest
import redis
from scrapy.settings import Settings

from tdmcrawl.crawler.budget import PageBudget
from tdmcrawl.crawler.cluster import Cluster, fetch_from_json, fetch_to_json, lease_ttl
from tdmcrawl.optout.fetched import FetchResult
from tests.support.redis import redis_server


@pytest.fixture()
def client():
    with redis_server() as (host, port):
        yield redis.Redis(host=host, port=port)


def _node(client, name: str, lease: float = 1.0) -> Cluster:
    # Not started: no renewal loop. renew() is called by hand where a node is alive.
    return Cluster(client, "tdmcrawl:test", name, lease)


def test_a_turn_at_a_host_is_shared_by_all_nodes(client):
    a, b = _node(client, "a"), _node(client, "b")
    ma = a.new_member()
    assert a.acquire("example.kz", ma, 0.0, 2) == 0
    assert b.acquire("example.kz", b.new_member(), 0.0, 2) == 0
    assert b.acquire("example.kz", b.new_member(), 0.0, 2) == -1  # two in flight, cluster-wide
    assert a.acquire("other.kz", a.new_member(), 0.0, 2) == 0  # another host is not held up
    a.release("example.kz", ma)
    assert b.acquire("example.kz", b.new_member(), 0.0, 2) == 0


def test_a_delay_runs_from_the_end_of_the_last_request_of_any_node(client):
    a, b = _node(client, "a"), _node(client, "b")
    member = a.new_member()
    assert a.acquire("example.kz", member, 0.5, 4) == 0
    # With a delay, one at a time, whatever the concurrency.
    assert b.acquire("example.kz", b.new_member(), 0.5, 4) == -1
    a.release("example.kz", member)
    wait = b.acquire("example.kz", b.new_member(), 0.0, 4)  # b asks for no delay itself
    assert wait == 0  # no delay of its own and no Crawl-delay: b may go
    b.set_floor("slow.kz", 0.5)  # a Crawl-delay read by one node holds for all
    first = b.new_member()
    assert b.acquire("slow.kz", first, 0.0, 4) == 0
    b.release("slow.kz", first)
    wait = a.acquire("slow.kz", a.new_member(), 0.0, 4)
    assert 0.4 < wait <= 0.5
    time.sleep(wait)
    assert a.acquire("slow.kz", a.new_member(), 0.0, 4) == 0


def test_a_dead_nodes_turn_is_free_after_its_lease(client):
    dead, alive = _node(client, "dead", lease=1.0), _node(client, "alive", lease=1.0)
    assert dead.acquire("example.kz", dead.new_member(), 0.0, 1) == 0
    assert alive.acquire("example.kz", alive.new_member(), 0.0, 1) == -1
    time.sleep(1.1)
    assert alive.acquire("example.kz", alive.new_member(), 0.0, 1) == 0


def test_a_live_node_keeps_its_turn_by_renewing(client):
    holder, other = _node(client, "holder", lease=1.0), _node(client, "other", lease=1.0)
    assert holder.acquire("example.kz", holder.new_member(), 0.0, 1) == 0
    for _ in range(4):
        time.sleep(0.4)
        holder.renew()
        assert other.acquire("example.kz", other.new_member(), 0.0, 1) == -1


def test_origin_files_are_fetched_by_one_node_and_shared(client):
    a, b = _node(client, "a", lease=1.0), _node(client, "b", lease=1.0)
    origin = "https://example.kz:443"
    assert a.lock_origin(origin)
    assert not b.lock_origin(origin)  # b waits for a's copy
    result = FetchResult(
        "https://example.kz/robots.txt",
        200,
        "User-agent: *\nDisallow: /жеке/\n".encode(),
        (("Content-Type", "text/plain"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")),
        None,
        1,
        "https://www.example.kz/robots.txt",
    )
    a.store_origin(origin, {"node": "a", "files": {"robots": fetch_to_json(result)}}, ttl=0.6)
    a.unlock_origin(origin)
    stored, ttl = b.load_origin(origin)
    assert stored["node"] == "a" and 0.3 < ttl <= 0.6
    assert fetch_from_json(stored["files"]["robots"]) == result
    time.sleep(0.7)
    assert b.load_origin(origin) is None  # the TTL is over: fetched again, by one node
    assert b.lock_origin(origin)


def test_a_dead_nodes_origin_lock_expires(client):
    dead, alive = _node(client, "dead", lease=1.0), _node(client, "alive", lease=1.0)
    assert dead.lock_origin("http://example.kz:80")
    assert not alive.lock_origin("http://example.kz:80")
    dead.renew()  # alive for a moment
    time.sleep(2.2)
    assert alive.lock_origin("http://example.kz:80")
    dead.unlock_origin("http://example.kz:80")  # too late: only the holder may unlock
    assert client.get("tdmcrawl:test:origin:http://example.kz:80:lock") == b"alive"


def test_the_page_budget_is_one_for_all_nodes(client):
    nodes = [_node(client, name) for name in "abc"]
    taken = [node.take_page(5) for _ in range(3) for node in nodes]
    # Each take is numbered in the cluster's one count; the four past it get nothing.
    assert sorted(n for n in taken if n) == [1, 2, 3, 4, 5]
    assert taken.count(0) == 4
    assert nodes[0].pages_taken() == 5


def test_the_crawls_page_budget_counts_in_redis_with_a_cluster(client):
    # crawler/budget.py is the one place that decides; with a cluster its count is Redis'.
    a, b = _node(client, "a"), _node(client, "b")
    budgets = {"a": PageBudget(3, lambda: a), "b": PageBudget(3, lambda: b)}
    taken = [(name, budgets[name].take()) for _ in range(3) for name in "ab"]
    assert [ok for _, ok in taken] == [True, True, True, False, False, False]
    # a took the last page and knows it at once; b learnt it when its take was refused.
    assert budgets["a"].exhausted and budgets["b"].exhausted
    assert (budgets["a"].sent, budgets["b"].sent) == (2, 1)
    assert a.pages_taken() == 3
    alone = PageBudget(2)  # no cluster: the count is this process's
    assert [alone.take() for _ in range(3)] == [True, True, False] and alone.exhausted


def test_the_lease_time_defaults_to_fifteen_seconds():
    assert lease_ttl(Settings()) == 15


@pytest.mark.parametrize("value", ["0.5", "abc", ""])
def test_a_bad_lease_time_is_refused(value):
    with pytest.raises(ValueError, match="TDMCRAWL_LEASE_TTL"):
        lease_ttl(Settings({"TDMCRAWL_LEASE_TTL": value}))


def test_a_truncated_origin_file_stays_truncated_when_shared():
    # A file over the size limit must not read as a whole (shorter) file on the other nodes.
    cut = FetchResult(
        "https://example.kz/robots.txt",
        200,
        b"User-agent: *\nDisallow: /priv",
        (("Content-Type", "text/plain"),),
        error="larger than TDMCRAWL_ORIGIN_MAXSIZE (30 bytes)",
        truncated=True,
    )
    assert fetch_from_json(fetch_to_json(cut)) == cut
