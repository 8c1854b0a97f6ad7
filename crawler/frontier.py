"""A crawl frontier in Redis shared by several crawler processes (scrapy-redis).

With ``TDMCRAWL_FRONTIER_REDIS`` (``tdmcrawl crawl --redis URL``) every node
takes requests from one Redis sorted set and checks every link against one
Redis dupefilter, so each URL is fetched by exactly one node; each node writes
its own WARC files, evidence and audit database under its own ``--out`` DIR.
What scrapy-redis leaves open, and this module closes:

- Ending. A node whose own work is done keeps waiting while another node is
  busy (that node may still push links), and closes once the shared queue is
  empty and no node is busy. "Busy" is a key per node with a TTL, set in the
  same Lua call that pops a request, so no node can see an empty queue and an
  idle cluster while a popped request is in flight. A killed node stops
  counting as busy after ``BUSY_TTL`` seconds.
- A killed node's requests are not lost: each popped request stays in the
  node's in-flight hash until the engine is done with it, and goes back to
  the queue when a node of that name starts again (``--resume``).
- Seeds go through the shared dupefilter (Scrapy's seeds bypass it), so a
  second node, or a resumed one, does not fetch them again.
- Requests are stored as JSON, not pickle: nothing a writer of the Redis keys
  stores runs as code on the nodes. Per-response meta (the raw capture, the
  decisions) is dropped, as the gates compute it again on the node that
  fetches.
- Origin files (robots.txt, tdmrep.json, ai.txt) never enter the frontier:
  the origin gate downloads them directly, once for the whole cluster
  (``crawler/cluster.py``), and the nodes share that copy and its evidence.
- ``--max-pages`` counts the page requests of all nodes (:mod:`crawler.budget`).

The nodes of one crawl share the frontier key, the crawl id (so ``tdmcrawl
audit merge`` combines their audits into one crawl) and, unless told
otherwise, the reserved-works index (``TDMCRAWL_DEDUP_REDIS``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from tdmcrawl.crawler import settings as tdm_settings
from tdmcrawl.crawler.capture import CAPTURE_META
from tdmcrawl.crawler.cluster import (
    clean_key,
    connect,
    default_node,
    lease_ttl,
    node_id,
    require_redis,
)
from tdmcrawl.crawler.errors import FrontierError
from tdmcrawl.crawler.gates.origin import PREFETCH_META
from tdmcrawl.crawler.gates.response import DECISION_META

logger = logging.getLogger(__name__)

# In a module of its own: it subclasses scrapy-redis, which a crawl without --redis never
# imports (the optional `redis` extra, about 0.1 s).
SCHEDULER = "tdmcrawl.crawler.frontier_scheduler.FrontierScheduler"
DUPEFILTER = "scrapy_redis.dupefilter.RFPDupeFilter"
BUSY_TTL = 30  # seconds a node counts as busy without a heartbeat (a killed node)
HEARTBEAT = 0.5  # seconds between a node's checks of the shared queue while it waits
# Meta that belongs to one fetch on one node: big (the raw capture) or recomputed by the gates.
TRANSIENT_META = frozenset({CAPTURE_META, PREFETCH_META, DECISION_META})


def frontier_key(seeds: Iterable[str]) -> str:
    """The default key namespace: the same seeds give the same frontier on every node."""
    digest = hashlib.sha1("\n".join(sorted(set(seeds))).encode("utf-8")).hexdigest()
    return f"tdmcrawl:frontier:{digest[:16]}"


def configure(settings: Any) -> None:
    """Switch a crawl's scheduler and dupefilter to the Redis frontier (called by the add-on)."""
    url = settings.get("TDMCRAWL_FRONTIER_REDIS")
    if not url:
        return
    require_redis()
    lease_ttl(settings)  # a bad value stops the start, not the first request
    explicit = settings.get("TDMCRAWL_FRONTIER_KEY")
    # Without a key (a plain Scrapy project), one frontier per spider name.
    key = clean_key(str(explicit)) if explicit else "tdmcrawl:%(spider)s"
    node = node_id(settings)
    for name, value in {
        "SCHEDULER": SCHEDULER,
        "DUPEFILTER_CLASS": DUPEFILTER,
        "SCHEDULER_PERSIST": True,  # the queue outlives a node: --resume, and the other nodes
        "SCHEDULER_FLUSH_ON_START": False,
        "SCHEDULER_IDLE_BEFORE_CLOSE": 0,  # a blocking pop would stall the reactor
        "SCHEDULER_QUEUE_KEY": f"{key}:requests",
        "SCHEDULER_DUPEFILTER_KEY": f"{key}:dupefilter",
        "REDIS_URL": str(url),
        "TDMCRAWL_NODE": node,
        # Two nodes' files must never share a name once gathered in one place.
        "TDMCRAWL_WARC_PREFIX": f"{tdm_settings.DEFAULTS['TDMCRAWL_WARC_PREFIX']}-{node}",
        "TDMCRAWL_DEDUP_REDIS": str(url),
        "TDMCRAWL_DEDUP_NAMESPACE": f"{key}:dedup",
    }.items():
        # Below the project and -s: every one of these can still be set by the user.
        settings.set(name, value, priority="addon")


def join(url: str, key: str, *, crawl_id: str, resume: bool) -> str:
    """Check the frontier before a node starts; return the crawl id all its nodes share.

    A finished frontier is not started again by accident (its dupefilter would
    skip every URL): a new crawl of the same seeds needs another key.
    """
    client = connect(url)
    done = client.get(f"{key}:done")
    if done is not None and not resume:
        raise FrontierError(
            f"the crawl in frontier {key} finished at {done.decode('utf-8', 'replace')}; "
            "start a new one with -s TDMCRAWL_FRONTIER_KEY=<new name>"
        )
    client.set(f"{key}:crawl_id", crawl_id, nx=True)
    shared = client.get(f"{key}:crawl_id")
    return shared.decode("utf-8") if shared else crawl_id


def cli_options(
    url: str | None,
    seeds: list[str],
    state: dict[str, Any],
    overrides: dict[str, str],
    *,
    resume: bool,
) -> dict[str, Any]:
    """``tdmcrawl crawl --redis``: the settings of this node; updates ``state`` in place.

    The frontier URL, key and node name are kept in the out-dir state, so
    ``--resume`` continues as the same node of the same frontier without
    repeating ``--redis``. Raises ``FrontierError`` (one line) when Redis is
    unreachable or the frontier already finished.
    """
    saved = state.get("frontier") or {}
    url = (
        url or overrides.get("TDMCRAWL_FRONTIER_REDIS") or (saved.get("redis") if resume else None)
    )
    if not url:
        if resume and saved.get("key"):
            raise FrontierError(
                "this node's frontier URL holds a password, which is not "
                "saved: resume with --redis URL"
            )
        return {}
    key = clean_key(
        overrides.get("TDMCRAWL_FRONTIER_KEY") or saved.get("key") or frontier_key(seeds)
    )
    node = overrides.get("TDMCRAWL_NODE") or saved.get("node") or default_node()
    crawl_id = join(url, key, crawl_id=state["crawl_id"], resume=resume)
    state["crawl_id"] = crawl_id
    # A password is not written to disk: such a node is resumed with --redis again.
    state["frontier"] = {"redis": None if urlsplit(url).password else url, "key": key, "node": node}
    return {
        "TDMCRAWL_FRONTIER_REDIS": url,
        "TDMCRAWL_FRONTIER_KEY": key,
        "TDMCRAWL_NODE": node,
        "TDMCRAWL_CRAWL_ID": crawl_id,
    }


# -- requests as JSON ----------------------------------------------------------------

_TAG = "__tdm__"


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray)):
        return {_TAG: "b", "v": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and _TAG not in value:
            return {k: _encode(v) for k, v in value.items()}
        return {_TAG: "d", "v": [[_encode(k), _encode(v)] for k, v in value.items()]}
    raise TypeError(f"not storable in the frontier: {type(value).__name__}")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        tag = value.get(_TAG)
        if tag == "b":
            return base64.b64decode(value["v"])
        if tag == "d":
            return {_hashable(_decode(k)): _decode(v) for k, v in value["v"]}
        return {k: _decode(v) for k, v in value.items()}
    return value


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


class JsonSerializer:
    """``loads``/``dumps`` for scrapy-redis queues: JSON, never pickle."""

    @staticmethod
    def dumps(obj: dict[str, Any]) -> bytes:
        obj = dict(obj)
        meta = {}
        for name, value in (obj.get("meta") or {}).items():
            if name in TRANSIENT_META or name.startswith("_tdmcrawl_"):
                continue
            try:
                meta[name] = _encode(value)
            except TypeError:
                logger.warning(
                    "tdmcrawl frontier: meta %r of %s dropped (not JSON)", name, obj.get("url")
                )
        obj["meta"] = meta
        out = {k: v if k == "meta" else _encode(v) for k, v in obj.items()}
        return json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @staticmethod
    def loads(data: bytes) -> dict[str, Any]:
        return _decode(json.loads(data))
