"""The Redis frontier's scheduler: scrapy-redis' with the ending, seeds and JSON rules of
:mod:`tdmcrawl.crawler.frontier` (see there). Scrapy imports it by name
(``frontier.SCHEDULER``), only in a crawl with ``TDMCRAWL_FRONTIER_REDIS``."""

from __future__ import annotations

import logging
import time
from typing import Any

from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from twisted.internet import task

from tdmcrawl.crawler.clock import iso_utc
from tdmcrawl.crawler.cluster import node_id, require_redis
from tdmcrawl.crawler.frontier import BUSY_TTL, HEARTBEAT, JsonSerializer
from tdmcrawl.crawler.gates.netguard import SEED_META

try:
    from scrapy_redis.scheduler import Scheduler as _RedisScheduler
except ImportError:  # the optional extra; from_crawler() says how to install it
    _RedisScheduler = object

logger = logging.getLogger(__name__)

# Pop the best request and mark this node busy in one step (see the module docstring).
# It also files the request under this node's in-flight hash (request -> score) until the
# engine is done with it, so a killed node's requests go back to the queue when it resumes.
_POP_SCRIPT = """
local r = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #r == 0 then return false end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, 0)
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
redis.call('HSET', KEYS[3], r[1], r[2])
return r[1]
"""
# Put a node's in-flight requests of an earlier (killed) run back into the queue.
_REQUEUE_SCRIPT = """
local items = redis.call('HGETALL', KEYS[2])
for i = 1, #items, 2 do redis.call('ZADD', KEYS[1], items[i + 1], items[i]) end
redis.call('DEL', KEYS[2])
return #items / 2
"""


class FrontierScheduler(_RedisScheduler):  # type: ignore[misc,valid-type]
    """scrapy-redis' scheduler with the ending, seeds and JSON rules of this module."""

    @classmethod
    def from_crawler(cls, crawler: Any) -> Any:
        require_redis()
        instance = cls.from_settings(crawler.settings)
        if instance.serializer is None:  # scrapy-redis would pickle
            instance.serializer = JsonSerializer
        instance.stats = crawler.stats
        instance.crawler = crawler
        instance.node = node_id(crawler.settings)
        crawler.signals.connect(instance.spider_idle, signal=signals.spider_idle)
        return instance

    def open(self, spider: Any) -> Any:
        result = super().open(spider)
        prefix = self.queue.key.rsplit(":", 1)[0]
        self.prefix = prefix
        self.busy_key = f"{prefix}:busy:{self.node}"
        self.inflight_key = f"{prefix}:inflight:{self.node}"
        self._pop = self.server.register_script(_POP_SCRIPT)
        self._inflight: dict[int, tuple[Any, bytes]] = {}  # id(request) -> (request, data)
        requeued = self.server.register_script(_REQUEUE_SCRIPT)(
            keys=[self.queue.key, self.inflight_key]
        )
        if requeued:
            logger.info(
                "tdmcrawl frontier: %d request(s) of this node's last run queued again", requeued
            )
            if self.stats:
                self.stats.set_value("tdmcrawl/frontier/requeued", int(requeued))
        self._busy_until = 0.0  # until then, this node's busy key is known to be set
        self._loop = task.LoopingCall(self._heartbeat)
        self._loop.start(HEARTBEAT, now=False)
        return result

    def close(self, reason: str) -> Any:
        loop = getattr(self, "_loop", None)
        if loop is not None and loop.running:
            loop.stop()
        try:
            self._forget_finished()  # after a clean stop the engine holds none of them
            self.server.delete(self.busy_key)
        except Exception:  # Redis gone at the end: the key expires by itself
            logger.warning("tdmcrawl frontier: could not clear %s", self.busy_key)
        return super().close(reason)

    def enqueue_request(self, request: Any) -> bool:
        # Busy before the link is in the dupefilter and not yet in the queue: seen from another
        # node, that moment looks like an empty frontier.
        self._mark_busy()
        # Seeds skip Scrapy's dupefilter; here they must not, or every node refetches them.
        seed = bool(request.meta.get(SEED_META)) and not request.meta.get("redirect_urls")
        if (seed or not request.dont_filter) and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        try:
            self.queue.push(request)
        except (TypeError, ValueError) as exc:  # meta not storable, or a callback off the spider
            logger.error("tdmcrawl frontier: %s not queued: %s", request.url, exc)
            if self.stats:
                self.stats.inc_value("tdmcrawl/frontier/not_serialisable")
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Any:
        if self._inflight:
            self._forget_finished()
        data = self._pop(
            keys=[self.queue.key, self.busy_key, self.inflight_key], args=[self.node, BUSY_TTL]
        )
        if not data:
            return None
        self._busy_until = time.monotonic() + BUSY_TTL / 2
        if self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        try:
            request = self.queue._decode_request(data)
        except Exception:  # damaged or foreign data in the queue: skip it, keep crawling
            logger.exception("tdmcrawl frontier: a queued request could not be read")
            self.server.hdel(self.inflight_key, data)
            return None
        self._inflight[id(request)] = (request, data)
        return request

    def _forget_finished(self) -> None:
        """Drop from the in-flight hash the requests the engine has finished with."""
        slot = getattr(self._engine(), "_slot", None)
        # The engine's set of requests not yet downloaded and scraped (their links queued);
        # Scrapy has no public view of it. Without it, every request is forgotten at the
        # next beat: no recovery after a kill, as with plain scrapy-redis.
        inprogress = getattr(slot, "inprogress", None)
        if inprogress is None:
            inprogress = set()
        done = [
            key for key, (request, _data) in self._inflight.items() if request not in inprogress
        ]
        if done:
            self.server.hdel(self.inflight_key, *(self._inflight.pop(k)[1] for k in done))

    # -- ending ---------------------------------------------------------------

    def _engine(self) -> Any:
        return getattr(self.crawler, "engine", None)

    def _mark_busy(self) -> None:
        now = time.monotonic()
        if now >= self._busy_until:
            self.server.set(self.busy_key, self.node, ex=BUSY_TTL)
            self._busy_until = now + BUSY_TTL / 2

    def _heartbeat(self) -> None:
        engine = self._engine()
        if engine is None or getattr(engine, "spider", None) is None:
            return
        try:
            self._forget_finished()
            if not engine.spider_is_idle():
                self._mark_busy()
        except Exception:  # Redis down mid-crawl: the next beat tries again
            logger.warning("tdmcrawl frontier: heartbeat failed", exc_info=True)
            return
        # Other nodes fill the queue: look at it now rather than at the engine's 5 s heartbeat.
        # (The engine's next-request call; Scrapy has no public way to ask for it.)
        nextcall = getattr(getattr(engine, "_slot", None), "nextcall", None)
        if nextcall is not None:
            nextcall.schedule()

    def spider_idle(self, spider: Any = None) -> None:
        self.server.delete(self.busy_key)
        self._busy_until = 0.0
        if len(self.queue) > 0 or self.busy_nodes():
            raise DontCloseSpider
        self.server.set(f"{self.prefix}:done", iso_utc(timespec="seconds"), nx=True)

    def busy_nodes(self) -> list[str]:
        pattern = f"{self.prefix}:busy:*"
        return [
            k.decode("utf-8", "replace") if isinstance(k, bytes) else str(k)
            for k in self.server.scan_iter(match=pattern, count=100)
        ]
