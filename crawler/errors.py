"""The crawler's exceptions, one tree, and the one mapping from an error to an exit status.

    TdmcrawlError             an expected failure: one line on stderr, exit 1
     +-- UsageError           a bad option or setting value: exit 2
     +-- ConfigError          a setting names something this installation lacks
     +-- StartError           the crawl could not start
     +-- WarcOutputError      a WARC file could not be written, read or rewritten
     +-- AuditError           the audit database cannot be used
     |    +-- NotAnAuditDatabase, SchemaError, AuditWriteError
     +-- FilterError          an input of ``tdmcrawl filter`` is not usable
     +-- FrontierError        the shared frontier (Redis) cannot be used
     +-- ExportError          a corpus cannot be exported (its files and audit disagree)
     +-- RegistryUnreachable  a registry service unreachable, and no earlier copy of it

The libraries beside the crawler have their own roots, ``RegistryError`` and
``DedupError``; :func:`exit_status` maps those too, so every command reports
an expected failure the same way, whichever package raised it.
"""

from __future__ import annotations

import sqlite3

from tdmcrawl.dedup.errors import DedupError
from tdmcrawl.registry.errors import RegistryError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
# A crawl stopped by a signal exits 128 + its number, as a shell reports it: 130 after
# Ctrl-C (SIGINT), 143 after SIGTERM, whether it stopped cleanly or was forced.
EXIT_SIGNAL_BASE = 128


def signal_status(signum: int) -> int:
    """The exit status of a crawl interrupted by signal ``signum``."""
    return EXIT_SIGNAL_BASE + signum


class TdmcrawlError(Exception):
    """An expected failure: a one-line message for the user, never a traceback."""

    exit_status = EXIT_FAILURE


class UsageError(TdmcrawlError, ValueError):
    """A bad option or setting value (exit 2), found before anything was written."""

    exit_status = EXIT_USAGE


class ConfigError(TdmcrawlError, ValueError):
    """A setting names something this installation lacks (an optional extra)."""


class StartError(TdmcrawlError):
    """The crawl could not start (e.g. Scrapy refused a ``-s`` value)."""


class WarcOutputError(TdmcrawlError):
    """A WARC file could not be written, read or rewritten."""


class AuditError(TdmcrawlError):
    """The audit database cannot be used; the message is one line for the CLI."""


class NotAnAuditDatabase(AuditError):
    pass


class SchemaError(AuditError):
    pass


class AuditWriteError(AuditError):
    pass


class FilterError(TdmcrawlError):
    """A fatal problem of ``tdmcrawl filter``: an input that is not a WARC file, an
    unusable registry."""


class FrontierError(TdmcrawlError):
    """The shared frontier cannot be used: Redis unreachable, crawl already finished."""


class ExportError(TdmcrawlError):
    """``tdmcrawl export`` cannot read the corpus: a WARC file missing, a kept row that
    points at another record."""


class RegistryUnreachable(TdmcrawlError):
    """``--registry https://...`` cannot be reached and there is no replica of it: the
    command refuses to run as if the registry were empty."""


# What the CLI reports as one line: the project's own trees, a database that SQLite
# refuses (a damaged or foreign file) and a file the system refuses (missing, no
# permission, disk full): each is the user's to fix, and a traceback would not help.
EXPECTED: tuple[type[BaseException], ...] = (
    TdmcrawlError,
    RegistryError,
    DedupError,
    sqlite3.DatabaseError,
    OSError,
)


def exit_status(exc: BaseException) -> int | None:
    """The exit status for an expected error, or None for a bug (which keeps its traceback)."""
    if isinstance(exc, TdmcrawlError):
        return exc.exit_status
    if isinstance(exc, EXPECTED):
        return EXIT_FAILURE
    return None


def one_line(exc: BaseException) -> str:
    """The error's message on one line (SQLite's and OSError's texts included)."""
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, TdmcrawlError):
        text = f"database error: {text}"
    return " ".join(text.split())
