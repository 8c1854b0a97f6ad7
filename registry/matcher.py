"""The in-memory URL-rule matcher: every rule indexed by host.

A URL on a host with no rule costs one ``urlsplit`` and a few dict look-ups
(its host and each parent domain); only URLs on a host that has rules pay for
full normalisation. Prefix rules of one host are grouped by length, so a URL
is checked against each distinct prefix length once, not against each rule.

The most specific rule wins: an exact URL, then the longest prefix, then the
longest (innermost) domain.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

from tdmcrawl.registry.errors import InvalidInput
from tdmcrawl.registry.urlrules import (
    RuleKind,
    UrlRule,
    domain_suffixes,
    fast_host,
    key_host,
    match_key,
    normalize_url,
)

V = TypeVar("V")


class UrlMatcher(Generic[V]):
    """Maps rules to values (registry entries); ``match`` returns the values of the
    most specific matching rule."""

    def __init__(self, items: Iterable[tuple[UrlRule, V]] = ()) -> None:
        self._exact: dict[str, dict[str, list[V]]] = {}
        # host -> prefix length -> prefix key -> values
        self._prefix: dict[str, dict[int, dict[str, list[V]]]] = {}
        self._prefix_lengths: dict[str, list[int]] = {}
        self._domains: dict[str, list[V]] = {}
        self._count = 0
        for rule, value in items:
            self.add(rule, value)

    def __len__(self) -> int:
        return self._count

    def add(self, rule: UrlRule, value: V) -> None:
        if rule.kind is RuleKind.URL:
            self._exact.setdefault(rule.host, {}).setdefault(rule.key, []).append(value)
        elif rule.kind is RuleKind.PREFIX:
            by_length = self._prefix.setdefault(rule.host, {})
            by_length.setdefault(len(rule.key), {}).setdefault(rule.key, []).append(value)
            self._prefix_lengths[rule.host] = sorted(by_length, reverse=True)
        elif rule.kind is RuleKind.DOMAIN:
            self._domains.setdefault(rule.host, []).append(value)
        else:
            raise ValueError(f"not a URL rule: {rule.kind}")
        self._count += 1

    def match(self, url: str) -> list[V]:
        """Values of the most specific rule that matches ``url`` ([] for none, and
        for URLs that cannot be normalised)."""
        found = self._match(url, first=True)
        return found[0] if found else []

    def match_all(self, url: str) -> list[V]:
        """Values of every matching rule, most specific first."""
        return [value for values in self._match(url, first=False) for value in values]

    def _match(self, url: str, *, first: bool) -> list[list[V]]:
        host = fast_host(url)
        if host is not None and host not in self._exact and host not in self._prefix:
            # Only domain rules can match: no need to normalise the whole URL.
            return self._match_domains(host, first=first)
        try:
            key = match_key(normalize_url(url))
        except InvalidInput:
            return []
        host = key_host(key)
        found: list[list[V]] = []
        exact = self._exact.get(host)
        if exact is not None and key in exact:
            found.append(exact[key])
            if first:
                return found
        by_length = self._prefix.get(host)
        if by_length is not None:
            for length in self._prefix_lengths[host]:
                values = by_length[length].get(key[:length])
                if values is not None:
                    found.append(values)
                    if first:
                        return found
        return found + self._match_domains(host, first=first)

    def _match_domains(self, host: str, *, first: bool) -> list[list[V]]:
        found: list[list[V]] = []
        if not self._domains:
            return found
        for suffix in domain_suffixes(host):
            values = self._domains.get(suffix)
            if values is not None:
                found.append(values)
                if first:
                    return found
        return found
