"""The change feed crawlers follow: URL rules and fingerprints since a cursor.

Every write to a registry moves the written entry to a new, higher ``seq`` in
``feed_log`` (triggers, see ``schema``); a removal leaves a tombstone. A page
of the feed is every entry whose last change is after ``since``, oldest
change first, as one JSON object::

    {"version": 1, "registry": "<uuid>", "since": "0",
     "entries": [
       {"seq": 7, "id": "...", "kind": "prefix", "pattern": "https://a.kz/blog/*",
        "scope": "train-ai", "verified": false, "updated_at": "..."},
       {"seq": 8, "id": "...", "kind": "work", "pattern": "sha256:...", "scope": "train-ai",
        "verified": false, "updated_at": "...",
        "fingerprints": [{"part": 1, "config": "mh128-...", "data": "<base64>"}]},
       {"seq": 9, "id": "...", "deleted": true}],
     "cursor": "9", "more": false}

A follower applies the entries in order and asks again with ``since=<cursor>``
while ``more`` is true. The feed holds signatures only: never an author's
name, email or title, never the text of a work. The page is written as it is
read (:func:`feed_chunks`), inside one read transaction, so it is one
consistent snapshot however long it takes to send.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tdmcrawl.registry.errors import N_, InvalidInput

FEED_VERSION = 1
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
# A page stops growing past this many bytes (at least one entry is always sent):
# works of whole books have fingerprints of a megabyte or more.
MAX_PAGE_BYTES = 8 * 1024 * 1024
CHUNK = 256 * 1024


@dataclass(frozen=True)
class FeedState:
    registry_id: str
    last_seq: int

    def etag(self, since: int, limit: int) -> str:
        """Changes exactly when the page for (since, limit) can: a new seq was written."""
        raw = f"{FEED_VERSION}:{self.registry_id}:{since}:{limit}:{self.last_seq}"
        return '"' + hashlib.sha256(raw.encode()).hexdigest()[:32] + '"'


def parse_cursor(value: str | None) -> int:
    if value is None or value == "":
        return 0
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise InvalidInput.t(
            N_("'{cursor}' is not a feed cursor: give the cursor of the last page, or 0"),
            field="since",
            cursor=value[:40],
        )
    return int(value)


def parse_limit(value: int | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidInput.t(N_("limit must be between 1 and {max}"), field="limit", max=MAX_LIMIT)
    return value


def feed_state(conn: sqlite3.Connection) -> FeedState:
    (registry_id,) = conn.execute("SELECT value FROM meta WHERE key = 'registry_id'").fetchone()
    (last,) = conn.execute("SELECT coalesce(max(seq), 0) FROM feed_log").fetchone()
    return FeedState(str(registry_id), int(last))


def feed_chunks(conn: sqlite3.Connection, since: int, limit: int) -> Iterator[str]:
    """The JSON text of one feed page, in pieces of about :data:`CHUNK` characters, from
    one read transaction of ``conn`` (a connection of its own: the transaction stays
    open while the pieces are sent)."""
    conn.execute("BEGIN")
    try:
        state = feed_state(conn)
        pending = [
            f'{{"version": {FEED_VERSION}, "registry": {json.dumps(state.registry_id)}, '
            f'"since": "{since}", "entries": ['
        ]
        pending_size = 0
        # One query for the page: the log joined with the entries (a removed entry has
        # no row any more, and its log row says deleted).
        rows = conn.execute(
            "SELECT l.seq, l.entry_id, l.deleted, e.kind, e.pattern, e.scope, e.updated_at,"
            " e.verified_at FROM feed_log l LEFT JOIN entries e ON e.id = l.entry_id"
            " WHERE l.seq > ? ORDER BY l.seq LIMIT ?",
            (since, limit + 1),
        )
        cursor, sent, size, more = since, 0, 0, False
        for seq, entry_id, deleted, kind, pattern, scope, updated_at, verified_at in rows:
            if sent >= limit or (sent and size >= MAX_PAGE_BYTES):
                more = True
                break
            if deleted or kind is None:
                item = _tombstone(seq, entry_id)
            else:
                item = {
                    "seq": seq,
                    "id": entry_id,
                    "kind": kind,
                    "pattern": pattern,
                    "scope": scope,
                    "verified": verified_at is not None,
                    "updated_at": updated_at,
                }
                if kind == "work":
                    item["fingerprints"] = _fingerprints(conn, entry_id)
            text = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
            pending.append(("," if sent else "") + text)
            pending_size += len(text)
            cursor, sent, size = seq, sent + 1, size + len(text)
            if pending_size >= CHUNK:  # few, large pieces: each one is a thread hop to send
                yield "".join(pending)
                pending, pending_size = [], 0
        pending.append(f'], "cursor": "{cursor}", "more": {"true" if more else "false"}}}')
        yield "".join(pending)
    finally:
        conn.execute("COMMIT")


def _tombstone(seq: int, entry_id: str) -> dict[str, Any]:
    return {"seq": seq, "id": entry_id, "deleted": True}


def _fingerprints(conn: sqlite3.Connection, entry_id: str) -> list[dict[str, Any]]:
    return [
        {"part": part, "config": identity, "data": base64.b64encode(bytes(fp)).decode("ascii")}
        for part, fp, identity in conn.execute(
            "SELECT part, fingerprint, config_identity FROM work_fingerprints"
            " WHERE entry_id = ? AND fingerprint IS NOT NULL ORDER BY part",
            (entry_id,),
        )
    ]
