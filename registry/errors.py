"""Errors of the registry, each with one clear line that says what to do.

RegistryError                 any expected failure; the CLI prints it and exits 1
 +-- InvalidInput             a bad URL, domain, scope, name, email or file
 |    +-- InvalidWorkFile     empty, binary, unreadable or unsupported work file
 +-- NotARegistry             the file is not a tdmcrawl registry (or not SQLite)
 +-- RegistryMissing          no registry file at the path given
 +-- RegistryLocked           another process kept the registry locked too long
 +-- RegistryReadOnly         the registry (or its directory) cannot be written
 +-- SchemaTooNew             written by a newer tdmcrawl
 +-- DuplicateEntry           the same rule or work is already registered
 +-- UnknownEntry             no entry with that id
 +-- WrongToken               the removal token does not fit the entry
 +-- ImportRejected           an import file has bad rows (nothing was written)

Errors an author can meet (bad input, duplicates, wrong tokens) carry their
message as a gettext ``msgid`` with ``params``: ``str(exc)`` is the English
text, :meth:`RegistryError.localized` the same in Kazakh or Russian (the
registry service and the authors' script speak the author's language).
``field`` names the input at fault (``author``, ``email``, ``pattern``,
``files``...), so a form can ask for that one again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

E = TypeVar("E", bound="RegistryError")


class Msg(str):
    """A message id: a str that :meth:`RegistryError.localized` translates when
    it is a parameter of another message (``{what}`` = "author name")."""

    __slots__ = ()


def N_(message: str) -> Msg:  # gettext's name for "mark for extraction"
    """Marks ``message`` for Babel's extraction; translated later, where it is shown."""
    return Msg(message)


class RegistryError(Exception):
    """An expected failure: a message for the user, never a traceback."""

    def __init__(
        self,
        message: str = "",
        *,
        msgid: str | None = None,
        params: Mapping[str, Any] | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.msgid = msgid
        self.params: dict[str, Any] = dict(params or {})
        self.field = field

    @classmethod
    def t(cls: type[E], msgid: str, *, field: str | None = None, **params: Any) -> E:
        """The error whose English text is ``msgid.format(**params)``."""
        return cls(_format(msgid, params, None), msgid=msgid, params=params, field=field)

    def localized(self, gettext: Callable[[str], str]) -> str:
        """The message in the language of ``gettext`` (English when it has no msgid)."""
        if self.msgid is None:
            return str(self)
        return _format(gettext(self.msgid), self.params, gettext)


def _format(template: str, params: Mapping[str, Any], gettext: Callable[[str], str] | None) -> str:
    shown = {
        key: (gettext(value) if gettext is not None and isinstance(value, Msg) else value)
        for key, value in params.items()
    }
    try:
        return template.format(**shown)
    except (KeyError, IndexError, ValueError):  # a broken translation: never hide the error
        return template


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


class RegistryReadOnly(RegistryError):
    pass


class SchemaTooNew(RegistryError):
    pass


class DuplicateEntry(RegistryError):
    def __init__(self, existing_id: str, what: str, scope: str | None = None) -> None:
        if scope is None:
            msgid = N_("{what} is already registered as entry {id}")
            params: dict[str, Any] = {"what": what, "id": existing_id}
        else:
            msgid = N_("{what} (scope {scope}) is already registered as entry {id}")
            params = {"what": what, "scope": scope, "id": existing_id}
        super().__init__(_format(msgid, params, None), msgid=msgid, params=params)
        self.existing_id = existing_id


class UnknownEntry(RegistryError):
    def __init__(self, entry_id: str) -> None:
        msgid = N_("no registry entry with id {id}")
        params = {"id": entry_id}
        super().__init__(_format(msgid, params, None), msgid=msgid, params=params, field="id")
        self.entry_id = entry_id


class WrongToken(RegistryError):
    def __init__(self, entry_id: str) -> None:
        msgid = N_(
            "wrong token for entry {id}: only the token shown at registration can "
            "change or remove it"
        )
        params = {"id": entry_id}
        super().__init__(_format(msgid, params, None), msgid=msgid, params=params, field="token")
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
