"""What the nodes of a distributed crawl share besides the frontier, in the frontier's Redis.

- **Host slots.** One per host for the whole cluster: the time of the last
  request any node sent there, the host's Crawl-delay (``floor``), and the
  requests in flight (a sorted set of leases). A node asks for a turn right
  before a request goes on the wire (:mod:`crawler.politeness`); one Lua
  call grants it only when the delay since the cluster's last request has
  passed and fewer than the host's concurrency are in flight, so the delay,
  the Crawl-delay and the per-host concurrency hold for all nodes together.
  Redis' own clock (``TIME``) is the only clock: nodes' clocks may differ.
- **Origin files.** robots.txt, tdmrep.json and ai.txt are fetched by one
  node under a lock and stored with the evidence reference of that node's
  capture, for the origin TTL (or the failure retry time); the other nodes
  decide by the stored copy and refer to that evidence
  (:mod:`crawler.gates.origin`).
- **The page budget.** ``--max-pages`` counts the page requests all nodes
  send: :class:`crawler.budget.PageBudget` keeps its one count here.

Leases (a host slot's in-flight request, an origin-file lock) are renewed
by their node every third of ``TDMCRAWL_LEASE_TTL``; a node that dies stops
renewing, and what it held is free again after that many seconds.

Why shared host slots rather than hosts partitioned between nodes: the
frontier stays scrapy-redis' one queue, a joining node takes a share at once
and a leaving one needs no hand-over, one host's pages still spread over all
nodes, and the guarantee is exact whatever the queue does. It costs two
Redis calls a request (docs/crawl.md has the measurement).
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import os
import re
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from scrapy import signals
from twisted.internet import task

from tdmcrawl.crawler import settings as tdm_settings
from tdmcrawl.crawler.errors import ConfigError, FrontierError
from tdmcrawl.optout.fetched import FetchResult

logger = logging.getLogger(__name__)

EXTRA_HINT = "pip install 'tdmcrawl[redis]'"
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9:._-]+")
BUSY_POLL = 0.05  # seconds between asks while a host's concurrency is used up cluster-wide
LOCK_POLL = 0.1  # seconds between looks at an origin another node is fetching
KEY_TTL = 86_400 * 7  # host slot keys outlive any crawl pause, then go away

# Grant a turn at a host: KEYS host hash (last, floor), in-flight leases; ARGV member, delay,
# concurrency, lease seconds, key TTL. Returns "0" (granted), the seconds to wait, or "-1"
# (busy). With a delay, one request at a time, and the delay runs from the later of the last
# grant and the last answer: the host has surely received the previous request by then.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
local floor = tonumber(redis.call('HGET', KEYS[1], 'floor') or '0')
local delay = math.max(tonumber(ARGV[2]), floor)
local limit = tonumber(ARGV[3])
if delay > 0 then limit = 1 end
if redis.call('ZCARD', KEYS[2]) >= limit then return '-1' end
local wait = last + delay - now
if wait > 0 then return string.format('%.6f', wait) end
redis.call('HSET', KEYS[1], 'last', string.format('%.6f', now))
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return '0'
"""
# The answer came (or the request failed): free the turn; the next delay runs from now.
_RELEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREM', KEYS[2], ARGV[1])
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
if now > last then redis.call('HSET', KEYS[1], 'last', string.format('%.6f', now)) end
return 1
"""
# Push the leases of this node's in-flight requests forward (only those still held).
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
for i = 1, #KEYS do redis.call('ZADD', KEYS[i], 'XX', now + tonumber(ARGV[1]), ARGV[i + 1]) end
return #KEYS
"""
# A lock that only its holder may renew or delete.
_RENEW_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# Take one page from the budget unless it is spent.
_TAKE_PAGE = """
local n = redis.call('INCR', KEYS[1])
if n > tonumber(ARGV[1]) then redis.call('DECR', KEYS[1]) return 0 end
return n
"""


# -- Redis, keys and node names (the frontier's too) ---------------------------------


def require_redis() -> None:
    """Fail at startup, in one line, when the optional ``redis`` extra is not installed."""
    try:
        import redis  # noqa: F401
        import scrapy_redis  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"the Redis frontier needs: {EXTRA_HINT} ({exc})") from exc


def connect(url: str) -> Any:
    """A Redis client that answered PING, or ``FrontierError`` in one line."""
    require_redis()
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30)
        client.ping()
    except (redis.RedisError, ValueError, OSError) as exc:
        raise FrontierError(f"cannot reach the Redis frontier at {redacted(url)}: {exc}") from exc
    return client


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def clean_key(key: str) -> str:
    """A key usable in scrapy-redis' ``%``-formatted key templates and in logs."""
    cleaned = _KEY_UNSAFE.sub("_", key.strip()).strip("_")
    if not cleaned:
        raise ConfigError(f"TDMCRAWL_FRONTIER_KEY {key!r} has no usable characters")
    return cleaned


def default_node() -> str:
    """``hostname-pid``: unique among the processes of one machine, and safe in file names."""
    host = re.sub(r"[^A-Za-z0-9.-]+", "_", socket.gethostname()) or "localhost"
    return f"{host}-{os.getpid()}"


def node_id(settings: Any) -> str:
    value = settings.get("TDMCRAWL_NODE")
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(value)) if value else default_node()


def prefix_of(settings: Any, spider_name: str) -> str:
    """The frontier's key namespace (``tdmcrawl:<spider>`` in a plain Scrapy project)."""
    explicit = settings.get("TDMCRAWL_FRONTIER_KEY")
    return clean_key(str(explicit)) if explicit else f"tdmcrawl:{spider_name}"


def lease_ttl(settings: Any) -> float:
    value = tdm_settings.get(settings, "TDMCRAWL_LEASE_TTL")
    try:
        ttl = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"TDMCRAWL_LEASE_TTL={value!r} is not a number of seconds") from None
    if ttl < 1:
        raise ValueError(f"TDMCRAWL_LEASE_TTL={value!r}: use at least 1 second")
    return ttl


class Cluster:
    """This node's view of the shared state; one per crawler (:meth:`of`)."""

    def __init__(self, client: Any, prefix: str, node: str, lease: float) -> None:
        self.client = client
        self.prefix = prefix
        self.node = node
        self.lease = lease
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)
        self._renew = client.register_script(_RENEW)
        self._renew_lock = client.register_script(_RENEW_LOCK)
        self._unlock = client.register_script(_UNLOCK)
        self._take_page = client.register_script(_TAKE_PAGE)
        self._ids = itertools.count(1)
        self.held: dict[str, str] = {}  # lease member -> its host's in-flight key
        self.locks: set[str] = set()  # origin locks this node holds
        self._loop: Any = None

    @classmethod
    def of(cls, crawler: Any) -> Cluster | None:
        """The crawler's cluster with ``TDMCRAWL_FRONTIER_REDIS``, else None."""
        cluster = getattr(crawler, "tdmcrawl_cluster", None)
        if cluster is not None:
            return cluster
        url = crawler.settings.get("TDMCRAWL_FRONTIER_REDIS")
        if not url:
            return None
        spider = getattr(crawler, "spider", None)
        prefix = prefix_of(crawler.settings, getattr(spider, "name", None) or "tdmcrawl")
        cluster = cls(
            connect(str(url)), prefix, node_id(crawler.settings), lease_ttl(crawler.settings)
        )
        cluster.start()
        crawler.signals.connect(cluster.stop, signal=signals.engine_stopped)
        crawler.tdmcrawl_cluster = cluster
        return cluster

    # -- leases ---------------------------------------------------------------

    def start(self) -> None:
        """Renew this node's leases every third of the lease time (needs a running reactor)."""
        self._loop = task.LoopingCall(self.renew)
        self._loop.start(self.lease / 3, now=False).addErrback(
            lambda failure: logger.error("tdmcrawl cluster: lease renewal stopped: %s", failure)
        )

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()

    def renew(self) -> None:
        try:
            held = list(self.held.items())
            if held:
                self._renew(
                    keys=[key for _, key in held],
                    args=[self.lease, *(member for member, _ in held)],
                )
            for lock in list(self.locks):
                self._renew_lock(keys=[lock], args=[self.node, int(self.lease) + 1])
        except Exception:  # Redis away for a moment: the next beat tries again
            logger.warning("tdmcrawl cluster: renewing leases failed", exc_info=True)

    # -- host slots -------------------------------------------------------------

    def _host_keys(self, host: str) -> tuple[str, str]:
        base = f"{self.prefix}:host:{host}"
        return base, base + ":active"

    def new_member(self) -> str:
        return f"{self.node}:{next(self._ids)}"

    def acquire(self, host: str, member: str, delay: float, concurrency: int) -> float:
        """0.0 when ``member`` may send to ``host`` now; else seconds to wait (-1: busy)."""
        slot, active = self._host_keys(host)
        answer = self._acquire(
            keys=[slot, active],
            args=[member, f"{max(delay, 0.0):.6f}", max(concurrency, 1), self.lease, KEY_TTL],
        )
        wait = float(answer)
        if wait == 0:
            self.held[member] = active
        return wait

    def release(self, host: str, member: str) -> None:
        self.held.pop(member, None)
        self._release(keys=list(self._host_keys(host)), args=[member])

    def set_floor(self, host: str, delay: float) -> None:
        """The host's Crawl-delay: no node sends sooner after another's request."""
        slot, _ = self._host_keys(host)
        self.client.hset(slot, "floor", f"{delay:.6f}")
        self.client.expire(slot, KEY_TTL)

    # -- origin files -----------------------------------------------------------

    def _origin_keys(self, origin: str) -> tuple[str, str]:
        base = f"{self.prefix}:origin:{origin}"
        return base, base + ":lock"

    def load_origin(self, origin: str) -> tuple[dict[str, Any], float] | None:
        """(stored origin files, seconds they stay valid), or None when there are none."""
        key, _ = self._origin_keys(origin)
        with self.client.pipeline(transaction=True) as pipe:
            data, ttl_ms = pipe.get(key).pttl(key).execute()
        if data is None or ttl_ms is None or ttl_ms <= 0:
            return None
        return json.loads(data), ttl_ms / 1000

    def lock_origin(self, origin: str) -> bool:
        """Whether this node now fetches the origin's files (no other node is)."""
        _, lock = self._origin_keys(origin)
        if self.client.set(lock, self.node, nx=True, ex=int(self.lease) + 1):
            self.locks.add(lock)
            return True
        return False

    def store_origin(self, origin: str, payload: dict[str, Any], ttl: float) -> None:
        key, _ = self._origin_keys(origin)
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        self.client.set(key, data, px=max(int(ttl * 1000), 1))

    def unlock_origin(self, origin: str) -> None:
        _, lock = self._origin_keys(origin)
        self.locks.discard(lock)
        self._unlock(keys=[lock], args=[self.node])

    # -- the page budget ---------------------------------------------------------

    def take_page(self, limit: int) -> int:
        """One page from the cluster's ``--max-pages`` budget: how many are taken now,
        this one included, or 0 once it is spent."""
        return int(self._take_page(keys=[f"{self.prefix}:pages"], args=[limit]))

    def pages_taken(self) -> int:
        return int(self.client.get(f"{self.prefix}:pages") or 0)


# -- origin files as JSON ----------------------------------------------------------------


def fetch_to_json(result: FetchResult) -> dict[str, Any]:
    return {
        "url": result.url,
        "status": result.status,
        "body": None if result.body is None else base64.b64encode(result.body).decode("ascii"),
        "headers": [list(pair) for pair in result.headers],
        "error": result.error,
        "redirects": result.redirects,
        "final_url": result.final_url,
        "truncated": result.truncated,
    }


def fetch_from_json(data: Mapping[str, Any]) -> FetchResult:
    body = data.get("body")
    return FetchResult(
        url=str(data["url"]),
        status=None if data.get("status") is None else int(data["status"]),
        body=None if body is None else base64.b64decode(body),
        headers=tuple((str(k), str(v)) for k, v in data.get("headers") or ()),
        error=data.get("error"),
        redirects=int(data.get("redirects") or 0),
        final_url=data.get("final_url"),
        truncated=bool(data.get("truncated")),
    )
