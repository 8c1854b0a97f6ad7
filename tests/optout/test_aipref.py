"""IETF aipref conformance: draft-ietf-aipref-vocab-07 and draft-ietf-aipref-attach-05.

Each table row cites the draft sentence it checks; rows marked "compat" are our
documented reading of the older labels (vocab-01 ... -04) still deployed.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tdmcrawl.optout.aipref import (
    Preference,
    UsagePreference,
    combine,
    parse_content_signal,
    parse_usage,
    split_robots_rule,
)

ALLOW, DISALLOW, UNKNOWN = Preference.ALLOW, Preference.DISALLOW, Preference.UNKNOWN


@pytest.mark.parametrize(
    ("value", "expected", "label"),
    [
        # vocab-07 §"Exemplary Serialization Format": "train-ai=y, search=n"
        ("train-ai=y, search=n", ALLOW, "train-ai"),
        ("train-ai=n", DISALLOW, "train-ai"),
        ("search=n", UNKNOWN, None),
        # "Duplicate keys ... the last value is used" (RFC 9651 dictionaries)
        ("train-ai=n, train-ai=y", ALLOW, "train-ai"),
        ("train-ai=y, train-ai=n", DISALLOW, "train-ai"),
        # vocab-07: 'train-ai=y, train-ai, search=n, search="n"' -> all unknown
        ('train-ai=y, train-ai, search=n, search="n"', UNKNOWN, None),
        # "train-ai;allow=n, train-ai=y" -> allow, parameters ignored
        ("train-ai;allow=n, train-ai=y", ALLOW, "train-ai"),
        ("train-ai=n;why=because", DISALLOW, "train-ai"),
        # any value other than the Token y / n -> unknown, not an error
        ("train-ai=no", UNKNOWN, None),
        ('train-ai="n"', UNKNOWN, None),
        ("train-ai=?0", UNKNOWN, None),
        ("train-ai=(n)", UNKNOWN, None),
        ("train-ai=0", UNKNOWN, None),
        # "Unknown labels ... MUST be ignored"
        ("future-use=n, train-ai=y", ALLOW, "train-ai"),
        ("", UNKNOWN, None),
        # compat: n on an older superset label denies training; y on it does not allow
        ("train-genai=n", DISALLOW, "train-genai"),
        ("ai=n", DISALLOW, "ai"),
        ("genai=n", DISALLOW, "genai"),
        ("tdm=n", DISALLOW, "tdm"),
        ("all=n", DISALLOW, "all"),
        ("bots=n", DISALLOW, "bots"),
        ("bots=y", UNKNOWN, None),
        ("ai=y", UNKNOWN, None),
        # compat: one disallow inside a statement beats an allow (most restrictive)
        ("train-ai=y, bots=n", DISALLOW, "bots"),
    ],
)
def test_aipref_vocab_header_values(value, expected, label):
    pref = parse_usage(value)
    assert pref.train_ai is expected
    assert pref.label == label


@pytest.mark.parametrize(
    "value",
    [
        # "If the parsing of the Dictionary fails, preferences are unknown.
        #  This includes where keys include uppercase characters."
        "Train-AI=n",
        "TRAIN-AI=n",
        "train-ai=n,,",
        "train-ai=n;",
        "=n",
        "train ai=n",
        "train-ai=n, ,search=y",
        "train-ai=\u04d9",  # Kazakh ә is not a token character
    ],
)
def test_aipref_vocab_parse_failure_is_unknown_with_warning(value):
    pref = parse_usage(value)
    assert pref.train_ai is UNKNOWN
    assert pref.warnings and "structured dictionary" in pref.warnings[0]


def test_aipref_labels_are_recorded_in_order():
    pref = parse_usage("search=y, train-ai=n, other=n")
    assert pref.labels == (("search", "y"), ("train-ai", "n"), ("other", "n"))


def test_aipref_compat_off_reads_only_train_ai():
    assert parse_usage("bots=n", compat=False).train_ai is UNKNOWN
    assert parse_usage("train-genai=n, train-ai=y", compat=False).train_ai is ALLOW
    assert parse_usage("train-ai=n", compat=False).train_ai is DISALLOW


def test_aipref_bytes_input_and_oversized_value():
    assert parse_usage(b"train-ai=n").denies_training
    huge = parse_usage("search=y, " * 2000 + "train-ai=n")
    assert huge.train_ai is UNKNOWN and huge.warnings


# vocab-07 "Combining Preferences": any disallow -> disallowed; else any allow -> allowed.
@pytest.mark.parametrize(
    ("values", "expected", "label"),
    [
        (["train-ai=y", "train-ai=n"], DISALLOW, "train-ai"),
        (["train-ai=n", "train-ai=y"], DISALLOW, "train-ai"),
        (["search=n", "train-ai=y"], ALLOW, "train-ai"),
        (["search=n", "Bad=1"], UNKNOWN, None),
        ([], UNKNOWN, None),
        (["train-ai=y", "all=n"], DISALLOW, "all"),
    ],
)
def test_aipref_vocab_combining_is_most_restrictive(values, expected, label):
    combined = combine(parse_usage(v) for v in values)
    assert combined.train_ai is expected
    assert combined.label == label


def test_aipref_combine_keeps_warnings():
    combined = combine([parse_usage("Bad=1"), parse_usage("train-ai=n")])
    assert combined.denies_training
    assert len(combined.warnings) == 1


# attach-05 §"robots.txt": "if it starts with / it is a path that ends at the
# first SP/HTAB, the remainder is the preference; otherwise the whole value is
# the preference".
@pytest.mark.parametrize(
    ("value", "path", "pref"),
    [
        ("train-ai=n", None, "train-ai=n"),
        ("/ai-ok/ train-ai=y", "/ai-ok/", "train-ai=y"),
        ("/ai-ok/\ttrain-ai=y, search=n", "/ai-ok/", "train-ai=y, search=n"),
        ("/only-a-path", "/only-a-path", ""),
        ("  train-ai=n  # comment", None, "train-ai=n"),
        ("/қазақ/ train-ai=n", "/қазақ/", "train-ai=n"),
    ],
)
def test_aipref_attach_robots_rule_value(value, path, pref):
    assert split_robots_rule(value) == (path, pref)


# Cloudflare Content Signals policy: "Content-Signal: search=yes, ai-train=no"
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("search=yes, ai-train=no", DISALLOW),
        ("search=yes,ai-train=no", DISALLOW),
        ("ai-train=yes, ai-input=no", ALLOW),
        ("AI-Train=No", DISALLOW),
        ("search=yes, ai-input=yes", UNKNOWN),
        ("ai-train=maybe", UNKNOWN),
        ("ai-train=no, use=reference", DISALLOW),
        ("garbage", UNKNOWN),
        ("", UNKNOWN),
    ],
)
def test_aipref_content_signal_values(value, expected):
    assert parse_content_signal(value).ai_train is expected


def test_aipref_content_signal_warns_on_odd_items():
    assert parse_content_signal("ai-train=maybe").warnings
    assert parse_content_signal("garbage, ai-train=no").warnings


@given(st.one_of(st.text(), st.binary()))
def test_aipref_parsers_never_raise(value):
    pref = parse_usage(value)
    assert isinstance(pref, UsagePreference)
    text = value if isinstance(value, str) else value.decode("latin-1")
    assert parse_content_signal(text).ai_train in (ALLOW, DISALLOW, UNKNOWN)
    path, rest = split_robots_rule(text)
    assert path is None or path.startswith("/")
    assert isinstance(rest, str)


# vocab-08 (2026-09-14) and the inference categories proposed since -07: labels that are
# not training are ignored for the training answer, and train-ai keeps its meaning.
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("infer-user=n, infer-system=n", UNKNOWN),
        ("infer-system=n", UNKNOWN),
        ("train-ai=y, infer-system=n", ALLOW),
        ("train-ai=n, infer-user=y", DISALLOW),
        ("search=y, infer-user=n, train-ai=n", DISALLOW),
    ],
)
def test_aipref_vocab_08_inference_labels_do_not_decide_training(value, expected):
    pref = parse_usage(value)
    assert pref.train_ai is expected
    assert pref.warnings == ()
    assert ("infer-user" in value) is any(label == "infer-user" for label, _ in pref.labels)
