"""The Redis frontier's parts that need no crawl: keys, settings, JSON requests, errors."""

from __future__ import annotations

import builtins
import json

import pytest
import redis
from scrapy import Request
from scrapy.settings import Settings
from scrapy.utils.request import request_from_dict

from tdmcrawl.crawler import cluster, frontier
from tdmcrawl.crawler.addon import TdmcrawlAddon
from tdmcrawl.crawler.demo.loopback import free_port
from tdmcrawl.crawler.errors import ConfigError
from tdmcrawl.crawler.gates.netguard import SEED_META
from tests.support.redis import redis_server
from tests.support.web import tdmcrawl


class _Spider:
    name = "tdmcrawl"

    def parse(self, response):  # pragma: no cover - only looked up by name
        return None


def test_frontier_key_depends_on_the_seed_set_only():
    a = frontier.frontier_key(["https://b.kz/", "https://a.kz/қала"])
    assert a == frontier.frontier_key(["https://a.kz/қала", "https://b.kz/", "https://b.kz/"])
    assert a != frontier.frontier_key(["https://a.kz/"])
    assert a.startswith("tdmcrawl:frontier:") and frontier.clean_key(a) == a


def test_clean_key_makes_keys_safe_for_scrapy_redis_templates():
    assert frontier.clean_key("my crawl %(x)s ") == "my_crawl_x_s"
    with pytest.raises(ConfigError):
        frontier.clean_key("%%%")


def test_json_serializer_round_trips_a_request_and_drops_per_fetch_meta():
    spider = _Spider()
    request = Request(
        "https://example.kz/мақала?бет=2",
        callback=spider.parse,
        method="POST",
        body="дене".encode(),
        headers={"X-Тест": "ә", "Accept": ["a", "b"]},
        priority=7,
        meta={
            SEED_META: True,
            "depth": 3,
            "redirect_urls": ["https://example.kz/"],
            "tdmcrawl_capture": object(),
            "tdmcrawl_prefetch": {"url": "x"},
            "_tdmcrawl_wire": object(),
            "bytes": b"\x00\xff",
            "pair": (1, 2),
            "keyed": {b"k": "v"},
            "odd": object(),
        },
        cb_kwargs={"label": "ү"},
    )
    data = frontier.JsonSerializer.dumps(request.to_dict(spider=spider))
    json.loads(data)  # plain JSON: nothing in it can run as code on a node
    back = request_from_dict(frontier.JsonSerializer.loads(data), spider=spider)
    assert back.url == request.url and back.method == "POST" and back.body == request.body
    assert back.callback == spider.parse and back.priority == 7
    assert back.headers.getlist("Accept") == [b"a", b"b"]
    assert back.cb_kwargs == {"label": "ү"}
    assert back.meta == {
        SEED_META: True,
        "depth": 3,
        "redirect_urls": ["https://example.kz/"],
        "bytes": b"\x00\xff",
        "pair": [1, 2],
        "keyed": {b"k": "v"},
    }


def test_configure_switches_scheduler_dupefilter_and_prefix():
    settings = Settings(
        {
            "TDMCRAWL_FRONTIER_REDIS": "redis://127.0.0.1:1/0",
            "TDMCRAWL_FRONTIER_KEY": "tdmcrawl:frontier:abc",
            "TDMCRAWL_NODE": "node/1",
        },
        priority="cmdline",
    )
    TdmcrawlAddon().update_settings(settings)
    assert settings["SCHEDULER"] == "tdmcrawl.crawler.frontier_scheduler.FrontierScheduler"
    assert settings["DUPEFILTER_CLASS"] == "scrapy_redis.dupefilter.RFPDupeFilter"
    assert settings.getbool("SCHEDULER_PERSIST")
    assert settings["SCHEDULER_QUEUE_KEY"] == "tdmcrawl:frontier:abc:requests"
    assert settings["SCHEDULER_DUPEFILTER_KEY"] == "tdmcrawl:frontier:abc:dupefilter"
    assert settings["TDMCRAWL_WARC_PREFIX"] == "tdmcrawl-node_1"
    assert settings["TDMCRAWL_DEDUP_REDIS"] == "redis://127.0.0.1:1/0"
    assert settings["TDMCRAWL_DEDUP_NAMESPACE"] == "tdmcrawl:frontier:abc:dedup"


def test_configure_leaves_what_the_user_set():
    settings = Settings(
        {
            "TDMCRAWL_FRONTIER_REDIS": "redis://127.0.0.1:1/0",
            "TDMCRAWL_DEDUP_REDIS": "redis://other:6379/1",
            "TDMCRAWL_WARC_PREFIX": "mine",
        },
        priority="cmdline",
    )
    TdmcrawlAddon().update_settings(settings)
    assert settings["TDMCRAWL_DEDUP_REDIS"] == "redis://other:6379/1"
    assert settings["TDMCRAWL_WARC_PREFIX"] == "mine"
    # No key in a plain Scrapy project: one frontier per spider name.
    assert settings["SCHEDULER_QUEUE_KEY"] == "tdmcrawl:%(spider)s:requests"


def test_without_the_setting_scrapy_keeps_its_scheduler():
    settings = Settings()
    TdmcrawlAddon().update_settings(settings)
    assert settings["SCHEDULER"] == "scrapy.core.scheduler.Scheduler"


def test_missing_redis_extra_is_one_config_error(monkeypatch):
    real_import = builtins.__import__

    def no_redis(name, *args, **kwargs):
        if name.split(".")[0] in ("redis", "scrapy_redis"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_redis)
    settings = Settings({"TDMCRAWL_FRONTIER_REDIS": "redis://127.0.0.1:1/0"})
    with pytest.raises(ConfigError, match=r"pip install 'tdmcrawl\[redis\]'"):
        frontier.configure(settings)


def test_join_shares_the_first_nodes_crawl_id():
    with redis_server() as (host, port):
        url = f"redis://{host}:{port}/0"
        assert frontier.join(url, "k", crawl_id="first", resume=False) == "first"
        assert frontier.join(url, "k", crawl_id="second", resume=False) == "first"
        redis.Redis(host=host, port=port).set("k:done", "2026-01-01T00:00:00+00:00")
        with pytest.raises(frontier.FrontierError, match="finished"):
            frontier.join(url, "k", crawl_id="third", resume=False)
        assert frontier.join(url, "k", crawl_id="third", resume=True) == "first"


def test_unreachable_redis_is_one_line_and_exit_1(tmp_path):
    url = f"redis://127.0.0.1:{free_port()}/0"
    out = tmp_path / "out"
    done = tdmcrawl("crawl", "http://127.0.0.1:9/", "--out", str(out), "--redis", url)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the Redis frontier" in lines[0]
    assert not (out / "tdmcrawl-state.json").exists()  # the same command can run again


def test_bad_redis_url_is_one_line_and_exit_1(tmp_path):
    done = tdmcrawl(
        "crawl", "http://127.0.0.1:9/", "--out", str(tmp_path / "o"), "--redis", "http://not-redis/"
    )
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_messages_never_show_the_redis_password(tmp_path):
    assert cluster.redacted("redis://:s3cret@10.0.0.5:6379/0") == "redis://:***@10.0.0.5:6379/0"
    assert cluster.redacted("redis://10.0.0.5/0") == "redis://10.0.0.5/0"
    url = f"redis://user:s3cret@127.0.0.1:{free_port()}/0"
    with pytest.raises(frontier.FrontierError) as caught:
        frontier.connect(url)
    assert "s3cret" not in str(caught.value) and "***" in str(caught.value)
