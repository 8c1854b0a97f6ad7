"""A crawler's local replica of a registry service, kept up to date from its feed.

The replica is a registry file (same schema, read by ``RegistryReader``) that
holds what the feed publishes: URL rules, fingerprints of works, whether a
site entry is verified; never names, emails or texts. ``replica_state``
remembers which service it follows, the registry id behind it, the cursor
reached and when the last sync succeeded.

:meth:`Replica.sync` asks the feed for every change since the cursor and
applies all pages in one transaction: a reader sees the registry as it was
before the sync or after it, never half-way. A registry replaced behind the
same URL (a new registry id) is copied again from the start. A feed that
cannot be read raises :class:`RegistryUnavailable` and leaves the replica as
it was; the caller decides whether its age is acceptable.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tdmcrawl.registry.entries import SCOPES, utc_now
from tdmcrawl.registry.errors import InvalidInput, RegistryError
from tdmcrawl.registry.feed import FEED_VERSION
from tdmcrawl.registry.schema import open_readwrite
from tdmcrawl.registry.urlrules import RuleKind, parse_domain, parse_url_pattern

FEED_PATH = "api/v1/feed"
PAGE_LIMIT = 5000
MAX_RESPONSE_BYTES = 256 * 1024 * 1024
MAX_PAGES = 100_000  # a feed that never ends is a broken feed, not a big registry
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

Fetch = Callable[[str, Mapping[str, str], float], tuple[int, Mapping[str, str], bytes]]


class RegistryUnavailable(RegistryError):
    """The registry service could not be reached, or answered something unusable."""


@dataclass(frozen=True)
class ReplicaState:
    source: str
    registry_id: str
    cursor: int
    synced_at: str  # UTC ISO 8601: when the feed was last read to its end
    entries: int
    etag: str | None = None

    def age_seconds(self, now: datetime | None = None) -> float:
        synced = datetime.fromisoformat(self.synced_at.replace("Z", "+00:00"))
        return ((now or datetime.now(UTC)) - synced).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "registry_id": self.registry_id,
            "cursor": str(self.cursor),
            "synced_at": self.synced_at,
            "entries": self.entries,
        }


@dataclass(frozen=True)
class SyncResult:
    state: ReplicaState
    applied: int  # entries written or removed by this sync
    rejected: int  # feed entries that failed our own checks (skipped, counted)


def feed_base(url: str) -> str:
    """``https://registry.kz`` or ``https://registry.kz/`` -> ``https://registry.kz/``."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"not a registry service URL: {url!r} (expected https://host/)")
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def http_fetch(
    url: str, headers: Mapping[str, str], timeout: float
) -> tuple[int, Mapping[str, str], bytes]:
    """GET ``url``: (status, headers, body); 304 is a status, not an error."""
    request = urllib.request.Request(url, headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(MAX_RESPONSE_BYTES + 1)
            status, got = response.status, dict(response.headers.items())
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return 304, dict(exc.headers.items()), b""
        detail = exc.read(2000).decode("utf-8", "replace")
        raise RegistryUnavailable(f"{url}: HTTP {exc.code} {_error_text(detail)}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RegistryUnavailable(f"{url}: {reason}") from None
    if len(body) > MAX_RESPONSE_BYTES:
        raise RegistryUnavailable(f"{url}: answer larger than {MAX_RESPONSE_BYTES} bytes")
    if {k.lower(): v for k, v in got.items()}.get("content-encoding", "").lower() == "gzip":
        body = gzip.decompress(body)
    return status, got, body


def _error_text(body: str) -> str:
    try:
        return str(json.loads(body)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return body.strip()[:200]


class Replica:
    """A registry file following a registry service (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn: sqlite3.Connection = open_readwrite(self.path).conn
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS replica_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
        )

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Replica:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def state(self) -> ReplicaState | None:
        """What this replica holds, or None when it never completed a sync."""
        raw = dict(self.conn.execute("SELECT key, value FROM replica_state").fetchall())
        if not {"source", "registry_id", "cursor", "synced_at"} <= set(raw):
            return None
        (count,) = self.conn.execute("SELECT count(*) FROM entries").fetchone()
        return ReplicaState(
            source=raw["source"],
            registry_id=raw["registry_id"],
            cursor=int(raw["cursor"]),
            synced_at=raw["synced_at"],
            entries=int(count),
            etag=raw.get("etag"),
        )

    def sync(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        fetch: Fetch = http_fetch,
        user_agent: str = "tdmcrawl registry follower",
    ) -> SyncResult:
        """Bring the replica up to date with the service at ``url``."""
        base = feed_base(url)
        before = self.state()
        restart = before is None or before.source != base
        since = 0 if restart or before is None else before.cursor
        registry_id = None if before is None or restart else before.registry_id
        etag = None if before is None or restart else before.etag
        headers = {
            "User-Agent": user_agent,
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
        }
        pages: list[dict[str, Any]] = []
        page_etag: str | None = None
        for _ in range(MAX_PAGES):
            query = urllib.parse.urlencode({"since": since, "limit": PAGE_LIMIT})
            sent = dict(headers)
            if etag and not pages:
                sent["If-None-Match"] = etag
            status, got, body = fetch(f"{base}{FEED_PATH}?{query}", sent, timeout)
            if status == 304:
                break
            page = _parse_page(body, base)
            if registry_id is not None and page["registry"] != registry_id:
                # Another registry behind the same URL: copy it again from the start.
                registry_id, since, restart, pages = None, 0, True, []
                continue
            registry_id = page["registry"]
            pages.append(page)
            page_etag = {k.lower(): v for k, v in got.items()}.get("etag")
            since = int(page["cursor"])
            if not page["more"]:
                break
        else:
            raise RegistryUnavailable(f"{base}: the feed did not end after {MAX_PAGES} pages")
        if registry_id is None:
            if before is None:
                raise RegistryUnavailable(f"{base}: the feed answered 304 to a first request")
            registry_id = before.registry_id
        # The ETag of a page is for its own `since`: keep it only when that page was
        # asked at the cursor now reached (an empty page, the usual steady state).
        keep_etag = etag if not pages else (page_etag if pages[-1]["entries"] == [] else None)
        applied, rejected = self._apply(pages, restart, base, registry_id, since, keep_etag)
        state = self.state()
        assert state is not None
        return SyncResult(state, applied, rejected)

    def _apply(
        self,
        pages: list[dict[str, Any]],
        restart: bool,
        base: str,
        registry_id: str,
        cursor: int,
        etag: str | None,
    ) -> tuple[int, int]:
        applied = rejected = 0
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            if restart:
                self.conn.execute("DELETE FROM entries")
            for page in pages:
                for item in page["entries"]:
                    if _apply_entry(self.conn, item):
                        applied += 1
                    else:
                        rejected += 1
            values = {
                "source": base,
                "registry_id": registry_id,
                "cursor": str(cursor),
                "synced_at": utc_now(),
            }
            if etag:
                values["etag"] = etag
            else:
                self.conn.execute("DELETE FROM replica_state WHERE key = 'etag'")
            self.conn.executemany(
                "INSERT OR REPLACE INTO replica_state (key, value) VALUES (?, ?)",
                list(values.items()),
            )
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        return applied, rejected


def _parse_page(body: bytes, base: str) -> dict[str, Any]:
    try:
        page = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise RegistryUnavailable(f"{base}: the feed did not answer JSON") from None
    if not isinstance(page, dict) or page.get("version") != FEED_VERSION:
        raise RegistryUnavailable(f"{base}: not a tdmcrawl registry feed of version {FEED_VERSION}")
    registry = page.get("registry")
    cursor = page.get("cursor")
    if (
        not isinstance(registry, str)
        or not _UUID.match(registry)
        or not isinstance(cursor, str)
        or not cursor.isdigit()
        or not isinstance(page.get("entries"), list)
        or not isinstance(page.get("more"), bool)
    ):
        raise RegistryUnavailable(f"{base}: a malformed feed page")
    return page


def _apply_entry(conn: sqlite3.Connection, item: Any) -> bool:
    """Write (or remove) one feed entry; False when it fails our own checks."""
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        return False
    entry_id = item["id"]
    if not _UUID.match(entry_id):
        return False
    if item.get("deleted") is True:
        conn.execute("DELETE FROM entries WHERE id = ?", (entry_id,))
        return True
    try:
        kind = RuleKind(str(item.get("kind")))
        scope = item.get("scope")
        if scope not in SCOPES:
            return False
        updated = str(item.get("updated_at") or utc_now())[:40]
        verified = utc_now() if item.get("verified") is True else None
        fingerprints: list[tuple[int, bytes, str]] = []
        if kind is RuleKind.WORK:
            pattern = item.get("pattern")
            if not isinstance(pattern, str) or not _DIGEST.match(pattern):
                return False
            key, host = pattern, None
            for fp in item.get("fingerprints") or []:
                fingerprints.append(
                    (
                        int(fp["part"]),
                        base64.b64decode(fp["data"], validate=True),
                        str(fp["config"]),
                    )
                )
        else:
            # Our own parser, not the feed's word: a rule must mean here what it meant there.
            raw = item.get("pattern")
            if not isinstance(raw, str):
                return False
            rule = parse_domain(raw) if kind is RuleKind.DOMAIN else parse_url_pattern(raw)
            if rule.kind is not kind:
                return False
            pattern, key, host = rule.pattern, rule.key, rule.host
    except (InvalidInput, ValueError, KeyError, TypeError, binascii.Error):
        return False
    conn.execute(
        "DELETE FROM entries WHERE id = ? OR (kind = ? AND rule_key = ? AND scope = ?)",
        (entry_id, kind.value, key, scope),
    )
    conn.execute(
        "INSERT INTO entries (id, kind, pattern, rule_key, host, scope, author, email, title,"
        " created_at, updated_at, token_hash, verified_at)"
        " VALUES (?, ?, ?, ?, ?, ?, '', NULL, NULL, ?, ?, '', ?)",
        (entry_id, kind.value, pattern, key, host, scope, updated, updated, verified),
    )
    conn.executemany(
        "INSERT INTO work_fingerprints (entry_id, part, fingerprint, config_identity,"
        " computed_at) VALUES (?, ?, ?, ?, ?)",
        [(entry_id, part, data, config, updated) for part, data, config in fingerprints],
    )
    return True
