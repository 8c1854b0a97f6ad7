"""The crawler's one clock: the time now in UTC, and the text form the audit stores.

Components take a clock argument defaulting to :func:`utc_now`, so tests
can fix the time and compare exact bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_utc(moment: datetime | None = None, timespec: str = "milliseconds") -> str:
    """``2026-12-03T13:14:50.123Z``: ISO 8601 in UTC with a ``Z``, sortable as text."""
    moment = moment or utc_now()
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")
