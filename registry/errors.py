"""Errors of the registry, each with one clear line that says what to do.

RegistryError                 any expected failure; the CLI prints it and exits 1
 +-- InvalidInput             a bad URL, domain, scope, name, email or file
 |    +-- InvalidWorkFile     empty, binary, unreadable or unsupported work file
 +-- NotARegistry             the file is not a tdmcrawl registry (or not SQLite)
 +-- RegistryMissing          no registry file at the path given
 +-- RegistryLocked           another process kept the registry locked too long
 +-- SchemaTooNew             written by a newer tdmcrawl
 +-- DuplicateEntry           the same rule or work is already registered
 +-- UnknownEntry             no entry with that id
 +-- WrongToken               the removal token does not fit the entry
 +-- ImportRejected           an import file has bad rows (nothing was written)
"""

from __future__ import annotations

from collections.abc import Sequence


class RegistryError(Exception):
    """An expected failure: a message for the user, never a traceback."""


class InvalidInput(RegistryError):
    pass


class InvalidWorkFile(InvalidInput):
    pass


class NotARegistry(RegistryError):
    pass


class RegistryMissing(RegistryError):
    pass


class RegistryLocked(RegistryError):
    pass


class SchemaTooNew(RegistryError):
    pass


class DuplicateEntry(RegistryError):
    def __init__(self, existing_id: str, what: str) -> None:
        super().__init__(f"{what} is already registered as entry {existing_id}")
        self.existing_id = existing_id


class UnknownEntry(RegistryError):
    def __init__(self, entry_id: str) -> None:
        super().__init__(f"no registry entry with id {entry_id!r}")
        self.entry_id = entry_id


class WrongToken(RegistryError):
    def __init__(self, entry_id: str) -> None:
        super().__init__(
            f"wrong token for entry {entry_id}: only the token shown at registration can "
            "change or remove it"
        )
        self.entry_id = entry_id


class ImportRejected(RegistryError):
    """Carries every bad row, so one run shows all that needs fixing."""

    def __init__(self, source: str, problems: Sequence[tuple[int, str]]) -> None:
        self.problems = tuple(problems)
        shown = "; ".join(f"line {line}: {msg}" for line, msg in self.problems[:20])
        more = f"; and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        super().__init__(
            f"{source}: {len(self.problems)} bad row(s), nothing imported: {shown}{more}"
        )
