"""optout's public surface: every name in __all__ imports, and __all__ is honest."""

import importlib

from tdmcrawl import optout


def _isort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions.
    if name.isupper():
        return 0, name
    return (1 if name[0].isupper() else 2), name


def test_policy_every_name_in_all_imports():
    for name in optout.__all__:
        assert getattr(importlib.import_module("optout"), name) is not None
    namespace: dict[str, object] = {}
    exec("from optout import *", namespace)
    assert set(optout.__all__) <= set(namespace)


def test_policy_all_is_sorted_and_complete():
    assert optout.__all__ == sorted(optout.__all__, key=_isort_key)
    assert len(set(optout.__all__)) == len(optout.__all__)
    public = {
        name
        for name, value in vars(optout).items()
        if not name.startswith("_") and not isinstance(value, type(optout))
    }
    assert public == set(optout.__all__)


def test_policy_entry_points_are_the_documented_ones():
    for name in (
        "Decision",
        "Reason",
        "ReasonCode",
        "PolicyConfig",
        "OriginSignals",
        "ResponseSignals",
        "evaluate",
        "RobotsTxt",
        "FetchResult",
    ):
        assert name in optout.__all__
