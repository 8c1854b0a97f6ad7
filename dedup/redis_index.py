"""The reserved-works index in Redis, shared by several crawler processes.

Layout under one namespace ``ns`` (a prefix; several indexes can share a server):

    ns:config        the DedupConfig JSON; a client with another config refuses to open
    ns:fp            hash: work key -> Fingerprint bytes (the verification data)
    ns:t:<8 bytes>   set per band or anchor key: one member per work, the byte
                     "anchors kept" followed by the UTF-8 work key

A query is two round trips whatever the batch size: one server-side script
that returns the members of every key of every page (one command, not one
SMEMBERS each: the client's per-command cost dominated), and one HMGET of the
candidates' fingerprints.
datasketch's own Redis storage issues one SMEMBERS per band sequentially
(datasketch issue #168: 20-28 ms per query), pickles keys, and has no place
for the anchors that find partial copies, so this module keeps the same idea
(bucket sets in Redis) with its own keys.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from tdmcrawl.dedup.config import DEFAULT_CONFIG, DedupConfig
from tdmcrawl.dedup.errors import REINDEX_COMMAND, ConfigError, IndexConfigMismatch
from tdmcrawl.dedup.fingerprint import Fingerprint
from tdmcrawl.dedup.index import (
    Match,
    MemoryIndex,
    candidate_pairs,
    check_fingerprint,
    query_keys,
    verify,
)

# Lua: the members of many sets in one command (KEYS are the bucket names)
_MEMBERS_SCRIPT = """
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('SMEMBERS', key) end
return out
"""


def _redis_module() -> Any:
    try:
        import redis
    except ModuleNotFoundError as exc:
        raise ConfigError("the Redis index needs: pip install 'tdmcrawl[redis]'") from exc
    return redis


class RedisIndex:
    """A :class:`ReservedIndex` whose buckets and fingerprints live in Redis."""

    def __init__(
        self,
        config: DedupConfig = DEFAULT_CONFIG,
        *,
        client: Any = None,
        url: str | None = None,
        host: str = "127.0.0.1",
        port: int = 6379,
        namespace: str = "tdmcrawl:dedup",
    ) -> None:
        self.config = config
        if client is None:
            redis = _redis_module()
            client = redis.Redis.from_url(url) if url else redis.Redis(host=host, port=port)
        self.client = client
        self.namespace = namespace
        self._ns = namespace.encode()
        self._fp_key = self._ns + b":fp"
        stored = client.get(self._ns + b":config")
        if stored is None:
            client.setnx(self._ns + b":config", config.to_json())
            stored = client.get(self._ns + b":config")
        try:
            built = DedupConfig.from_dict(json.loads(stored))
        except Exception as exc:
            raise IndexConfigMismatch(
                f"Redis index {namespace!r} holds an unreadable config: run `{REINDEX_COMMAND}`"
            ) from exc
        config.require_same(built, what=f"Redis index {namespace!r}")
        self._members = client.register_script(_MEMBERS_SCRIPT)

    def _bucket(self, key: int) -> bytes:
        return self._ns + b":t:" + key.to_bytes(8, "big")

    def _index_keys(self, fp: Fingerprint) -> tuple[np.ndarray, int]:
        anchors = fp.anchor_keys(self.config, self.config.max_anchors)
        return np.concatenate([fp.band_keys(self.config), anchors]), int(anchors.size)

    def __len__(self) -> int:
        return int(self.client.hlen(self._fp_key))

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and bool(self.client.hexists(self._fp_key, key.encode()))

    def add(self, key: str, fp: Fingerprint) -> None:
        self.add_many([(key, fp)])

    def add_many(self, items: Iterable[tuple[str, Fingerprint]]) -> None:
        items = list(items)
        for key, fp in items:
            check_fingerprint(fp, self.config)
            if not isinstance(key, str) or not key:
                raise ValueError("a reserved work needs a non-empty str key")
        for key, _ in items:
            self.remove(key)  # re-adding a key replaces the work
        pipe = self.client.pipeline(transaction=True)
        for key, fp in items:
            keys, anchors = self._index_keys(fp)
            member = bytes([anchors]) + key.encode()
            for k in keys.tolist():
                pipe.sadd(self._bucket(k), member)
            pipe.hset(self._fp_key, key.encode(), fp.to_bytes())
        pipe.execute()

    def remove(self, key: str) -> bool:
        raw = self.client.hget(self._fp_key, key.encode())
        if raw is None:
            return False
        fp = Fingerprint.from_bytes(raw)
        keys, anchors = self._index_keys(fp)
        member = bytes([anchors]) + key.encode()
        pipe = self.client.pipeline(transaction=True)
        for k in keys.tolist():
            pipe.srem(self._bucket(k), member)
        pipe.hdel(self._fp_key, key.encode())
        pipe.execute()
        return True

    def query(self, fp: Fingerprint) -> list[Match]:
        return self.query_many([fp])[0]

    def query_many(self, fps: Sequence[Fingerprint]) -> list[list[Match]]:
        out: list[list[Match]] = [[] for _ in fps]
        for fp in fps:
            check_fingerprint(fp, self.config)
        keys, owners, is_anchor = query_keys(fps, self.config)
        if keys.size == 0:
            return out
        buckets = [self._bucket(k) for k in keys.tolist()]
        qpos: list[int] = []
        works: list[int] = []
        members: dict[bytes, int] = {}
        for i, found in enumerate(self._members(keys=buckets)):
            for member in found:
                qpos.append(i)
                works.append(members.setdefault(member, len(members)))
        if not qpos:
            return out
        member_list = list(members)
        anchors_of = np.array([m[0] for m in member_list], dtype=np.uint8)
        qarr = np.array(qpos, dtype=np.int64)
        codes = candidate_pairs(
            owners[qarr], np.array(works, dtype=np.int64), is_anchor[qarr], anchors_of, self.config
        ).tolist()
        if not codes:
            return out
        names = sorted({member_list[c & 0xFFFFFFFF][1:] for c in codes})
        raw = dict(zip(names, self.client.hmget(self._fp_key, names), strict=True))
        for code in codes:
            page, name = code >> 32, member_list[code & 0xFFFFFFFF][1:]
            if raw.get(name) is None:  # removed between the two round trips
                continue
            work = Fingerprint.from_bytes(raw[name])
            record = (work.shingles, work.positions, work.words)
            match = verify(fps[page], name.decode(), record, self.config)
            if match is not None:
                out[page].append(match)
        for matches in out:
            matches.sort(key=lambda m: (-m.similarity, m.key))
        return out

    def items(self) -> Iterable[tuple[str, Fingerprint]]:
        for name, raw in self.client.hscan_iter(self._fp_key, count=1000):
            yield name.decode(), Fingerprint.from_bytes(raw)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Export a snapshot that :meth:`MemoryIndex.load` (or :meth:`load`) reads."""
        snapshot = MemoryIndex(self.config)
        snapshot.add_many(self.items())
        snapshot.save(path)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], config: DedupConfig = DEFAULT_CONFIG, **connect: Any
    ) -> RedisIndex:
        """Import a saved index into Redis (``connect``: client/url/host/port/namespace)."""
        saved = MemoryIndex.load(path, config)
        index = cls(config, **connect)
        try:
            index.add_many(saved.items())
        finally:
            saved.close()
        return index

    def clear(self) -> None:
        """Delete every key of this namespace (tests, reindexing)."""
        batch = []
        for name in self.client.scan_iter(match=self._ns + b":*", count=1000):
            batch.append(name)
            if len(batch) >= 1000:
                self.client.delete(*batch)
                batch = []
        if batch:
            self.client.delete(*batch)
