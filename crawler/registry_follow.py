"""The registry a crawl decides with: a file, or a registry service it follows.

``--registry optout.sqlite`` is read as it is. ``--registry https://registry.kz/``
is followed: a local replica (``registry.replica.Replica``, an SQLite registry
file) in the output directory, or for ``check`` in the user's cache, is synced
from the service's feed when the command starts and, during a crawl, every
``TDMCRAWL_REGISTRY_SYNC`` seconds. The crawl reads the replica with the same
``RegistryReader`` as a file.

If the service cannot be reached at the start, the last replica is used with a
warning that gives its age; with no replica, the command refuses to start (it
never proceeds as if the registry were empty). A sync failing during a crawl
keeps the replica as it was, with a warning.

Every registry state a crawl applies is recorded in the audit
(``registry_states``: source, registry id, cursor, sync time, stale or not)
before any decision uses it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tdmcrawl.crawler.errors import RegistryUnreachable
from tdmcrawl.registry import RegistryReader
from tdmcrawl.registry.entries import utc_now
from tdmcrawl.registry.errors import RegistryError
from tdmcrawl.registry.replica import RegistryUnavailable, Replica, ReplicaState, feed_base

logger = logging.getLogger(__name__)

REPLICA_NAME = "registry-replica.sqlite"
Warn = Callable[[str], None]


def is_remote(source: str | Path | None) -> bool:
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


def cache_replica(url: str) -> Path:
    """Where ``check`` keeps the replica of ``url``: the user's cache directory."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(feed_base(url).encode()).hexdigest()[:16]
    return base / "tdmcrawl" / "registry" / f"{digest}.sqlite"


@dataclass(frozen=True)
class RegistryState:
    """The registry state decisions are made with (what the audit records)."""

    source: str
    registry_id: str | None
    cursor: str | None
    synced_at: str | None
    stale: bool
    entries: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "registry_id": self.registry_id,
            "cursor": self.cursor,
            "synced_at": self.synced_at,
            "stale": self.stale,
            "entries": self.entries,
        }


def age_text(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.1f} days"


class FollowedRegistry:
    """The registry of one command: its reader, and how to bring it up to date."""

    def __init__(
        self,
        source: str | Path,
        *,
        replica: Path | None = None,
        verified_only: bool = False,
        timeout: float = 30.0,
        warn: Warn | None = None,
    ) -> None:
        self.source = str(source)
        self.remote = is_remote(source)
        self.verified_only = verified_only
        self.timeout = timeout
        self.warn = warn or logger.warning
        self.stale = False
        self.warning: str | None = None
        if self.remote:
            self.replica = replica or cache_replica(self.source)
            self._start_remote()
            path = self.replica
        else:
            self.replica = None
            path = Path(self.source)
        self.reader = RegistryReader(path, verified_only=verified_only)
        self._opened_at = utc_now()

    def _start_remote(self) -> None:
        assert self.replica is not None
        try:
            replica = Replica(self.replica)
        except RegistryError as exc:
            raise RegistryUnreachable(f"registry replica {self.replica}: {exc}") from None
        with replica:
            try:
                replica.sync(self.source, timeout=self.timeout)
                return
            except RegistryUnavailable as exc:
                problem = str(exc)
                known = replica.state()
        if known is None or known.source != feed_base(self.source):
            raise RegistryUnreachable(
                f"cannot reach the registry service {self.source} ({problem}) and there is no "
                f"earlier copy of it in {self.replica}: refusing to run as if the registry "
                "were empty"
            )
        self.stale = True
        self.warning = (
            f"registry service {self.source} unreachable ({problem}): using its copy from "
            f"{known.synced_at} ({age_text(known.age_seconds())} old) in {self.replica}"
        )
        self.warn(self.warning)

    def replica_state(self) -> ReplicaState | None:
        if self.replica is None:
            return None
        with Replica(self.replica) as replica:
            return replica.state()

    def state(self) -> RegistryState:
        known = self.replica_state()
        if known is not None:
            return RegistryState(
                source=known.source,
                registry_id=known.registry_id,
                cursor=str(known.cursor),
                synced_at=known.synced_at,
                stale=self.stale,
                entries=known.entries,
            )
        return RegistryState(
            source=str(Path(self.source).resolve()),
            registry_id=None,
            cursor=str(self.reader.cursor),
            synced_at=self._opened_at,
            stale=False,
            entries=len(self.reader) + self.reader.works,
        )

    def sync(self) -> bool:
        """Bring the replica up to date (any thread); True when something changed.

        Raises ``RegistryUnavailable`` when the service cannot be read; the replica
        is then as it was."""
        if self.replica is None:
            return False
        with Replica(self.replica) as replica:
            result = replica.sync(self.source, timeout=self.timeout)
        self.stale = False
        return result.applied > 0

    def close(self) -> None:
        self.reader.close()


class SyncLoop:
    """Syncs a followed registry every ``interval`` seconds during a crawl, in a thread;
    ``on_change`` runs in the reactor thread after a sync that changed something."""

    def __init__(
        self, follow: FollowedRegistry, interval: float, on_change: Callable[[], None]
    ) -> None:
        self.follow = follow
        self.interval = interval
        self.on_change = on_change
        self._loop: Any = None

    def start(self) -> None:
        from twisted.internet import task

        self._loop = task.LoopingCall(self._tick)
        self._loop.start(self.interval, now=False)

    def _tick(self) -> Any:
        from twisted.internet import threads

        # Returning the Deferred: the next tick waits for this sync to end.
        deferred = threads.deferToThread(self.follow.sync)
        deferred.addCallbacks(self._synced, self._failed)
        return deferred

    def _synced(self, changed: bool) -> None:
        if changed:
            self.on_change()

    def _failed(self, failure: Any) -> None:
        if failure.check(RegistryUnavailable):
            known = self.follow.replica_state()
            age = age_text(known.age_seconds()) if known else "unknown"
            self.follow.stale = True
            self.follow.warn(
                f"registry sync failed ({failure.value}): deciding with the copy from "
                f"{known.synced_at if known else '?'} ({age} old)"
            )
        else:
            logger.error("tdmcrawl: registry sync failed: %s", failure.getTraceback())

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
