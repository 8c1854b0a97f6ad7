"""Normalisation, shingling, signatures and fingerprints."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tdmcrawl import dedup
from tdmcrawl.dedup import (
    DEFAULT_CONFIG,
    DedupConfig,
    Fingerprint,
    FingerprintError,
    fingerprint,
    normalize,
)
from tdmcrawl.dedup.minhash import estimate_jaccard
from tdmcrawl.dedup.text import shingle_hashes, token_hashes
from tests.support.dedup import ABAI, PUSHKIN, UDHR_EN, text

KAZAKH_LETTERS = "әғқңөұүһі"


def test_all_public_names_are_exported():
    # isort-style order (ruff RUF022): CONSTANTS, then Classes, then functions
    def kind(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert dedup.__all__ == sorted(dedup.__all__, key=kind)
    assert len(set(dedup.__all__)) == len(dedup.__all__)
    for name in dedup.__all__:
        assert getattr(dedup, name) is not None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  «Қазақ» тілі — ЁЛКА!  ", "қазақ тілі елка"),
        ("ҚАЗАҚСТАН Әділет ҒЫЛЫМ Өнер Ұлт Үміт Һ І", "қазақстан әділет ғылым өнер ұлт үміт һ і"),
        ("при\u00adмер, zero\u200bwidth\ufeff", "пример zerowidth"),
        ("ударе\u0301ние и ё", "ударение и е"),
        ("Ｆｕｌｌ-width ＡＢＣ №5", "full width abc no5"),
        ("Latin schwa əлем, barred ɵмір", "latin schwa әлем barred өмір"),
        ("tabs\tand\nnew\r\nlines\u00a0nbsp", "tabs and new lines nbsp"),
        ("STRASSE Straße", "strasse strasse"),
        ("", ""),
        ("!!! ... ---", ""),
    ],
)
def test_normalize_examples(raw, expected):
    assert normalize(raw) == expected


def test_kazakh_letters_survive_every_path():
    assert normalize(KAZAKH_LETTERS.upper()) == KAZAKH_LETTERS
    words = " ".join(f"{ch}ала" for ch in KAZAKH_LETTERS)
    assert normalize(words).split() == [f"{ch}ала" for ch in KAZAKH_LETTERS]
    # each Kazakh letter is its own token value: swapping one for its Russian
    # look-alike changes the word hash (қ is not к), unlike real homoglyphs
    assert token_hashes("қала")[0] != token_hashes("кала")[0]
    assert token_hashes("ғылым")[0] != token_hashes("гылым")[0]
    assert token_hashes("үміт")[0] != token_hashes("уміт")[0]
    assert token_hashes("ұлт")[0] != token_hashes("улт")[0]


def test_homoglyphs_and_latin_i_hash_like_the_original():
    kazakh = "Біз тілі бай халықпыз, оның тарихы ұзақ"
    typed_with_latin_i = kazakh.replace("і", "i").replace("І", "I")
    assert normalize(kazakh) != normalize(typed_with_latin_i)
    assert np.array_equal(token_hashes(kazakh), token_hashes(typed_with_latin_i))
    swapped = "Сopy with Cyrillic о and а"  # С, о, а Cyrillic
    assert np.array_equal(token_hashes(swapped), token_hashes("Copy with Cyrillic o and a"))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(list(KAZAKH_LETTERS))))
def test_normalize_is_idempotent_and_hashing_agrees(raw):
    once = normalize(raw)
    assert normalize(once) == once
    assert np.array_equal(token_hashes(raw), token_hashes(once))


def test_surrogates_and_astral_characters_do_not_crash():
    assert normalize("a\udcff b 😀 c 𠀀d") == "a b c 𠀀d"
    assert token_hashes("a\udcff b 😀 c 𠀀d").size == 4


def test_shingles_are_word_ngrams_of_the_normal_form():
    assert shingle_hashes("one two three four five", 5).size == 1
    assert shingle_hashes("one two three four", 5).size == 0
    a = shingle_hashes("One, two; THREE four five six", 5)
    b = shingle_hashes("one two three four five six", 5)
    assert np.array_equal(a, b) and a.size == 2
    assert np.all(np.diff(a.astype(np.float64)) > 0)  # sorted, distinct


def test_short_texts_get_no_fingerprint():
    assert fingerprint("") is None
    assert fingerprint("Menu Home Contact") is None
    assert fingerprint(" ".join(["same"] * 500)) is None  # one distinct shingle
    assert fingerprint(text("en", 0, 60)) is not None


def test_fingerprint_bytes_round_trip_and_reject_garbage():
    fp = fingerprint(ABAI)
    assert fp is not None and fp.config_identity == DEFAULT_CONFIG.identity
    raw = fp.to_bytes()
    assert Fingerprint.from_bytes(raw) == fp
    assert len(raw) < 12 * len(fp) + 64
    head = len(raw) - 12 * len(fp)
    unsorted = raw[:head] + raw[head + 8 : head + 16] + raw[head : head + 8] + raw[head + 16 :]
    for bad in (b"", b"XXXX" + raw[4:], raw[:-3], raw[:10], unsorted, raw[:-4] + b"\xff" * 4):
        with pytest.raises(FingerprintError):
            Fingerprint.from_bytes(bad)
    without_positions = Fingerprint(fp.shingles, fp.words, fp.config_identity)
    assert Fingerprint.from_bytes(without_positions.to_bytes()) == without_positions


def test_signature_estimates_jaccard_within_tolerance():
    base = text("en", 1000, 800)
    words = base.split()
    rng = np.random.default_rng(7)
    errors = []
    for share in (0.02, 0.05, 0.1, 0.2):
        edited = list(words)
        for i in rng.choice(len(words), int(len(words) * share), replace=False):
            edited[i] = "zz" + edited[i]
        a, b = fingerprint(base), fingerprint(" ".join(edited))
        inter = np.intersect1d(a.shingles, b.shingles).size
        exact = inter / (len(a) + len(b) - inter)
        errors.append(abs(estimate_jaccard(a.signature(), b.signature()) - exact))
    # 128 bins: binomial sd <= 0.045; a 0.15 tolerance is > 3 sd
    assert max(errors) < 0.15


def test_identical_texts_have_identical_signatures_and_others_differ():
    a, b = fingerprint(PUSHKIN), fingerprint(UDHR_EN)
    assert np.array_equal(a.signature(), fingerprint(PUSHKIN).signature())
    assert estimate_jaccard(a.signature(), b.signature()) < 0.1


def test_config_identity_is_stable_and_sensitive():
    assert DedupConfig().identity == DEFAULT_CONFIG.identity
    assert DedupConfig(num_perm=256, bands=32).identity != DEFAULT_CONFIG.identity
    assert DedupConfig(ngram=4).identity != DEFAULT_CONFIG.identity
    assert DedupConfig.from_dict(DEFAULT_CONFIG.to_dict()) == DEFAULT_CONFIG


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_perm": 100},
        {"bands": 10},
        {"ngram": 0},
        {"coverage_threshold": 1.5},
        {"anchor_rate": 12},
        {"max_anchors": 300},
    ],
)
def test_bad_config_is_a_clear_error(kwargs):
    with pytest.raises(dedup.ConfigError, match="invalid DedupConfig"):
        DedupConfig(**kwargs)


def test_non_text_input_is_a_type_error():
    with pytest.raises(TypeError):
        fingerprint(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        normalize(None)  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12), min_size=0, max_size=80).map(" ".join))
def test_fingerprint_bytes_round_trip_for_any_text(raw):
    fp = fingerprint(raw)
    if fp is None:
        assert shingle_hashes(raw).size < DEFAULT_CONFIG.min_shingles
        return
    back = Fingerprint.from_bytes(fp.to_bytes())
    assert back == fp
    assert int(back.positions.max()) < back.words


def test_long_texts_hash_like_their_parts():
    # past the cached powers table (2**20 code points) the same words hash the same
    words = text("ru", 0, 400).split()
    long_text = " ".join(words * 600)  # ~3 M code points
    assert len(long_text) > 2**20
    base = token_hashes(" ".join(words))
    hashes = token_hashes(long_text)
    assert hashes.size == 600 * base.size
    assert np.array_equal(hashes[: base.size], base)
    assert np.array_equal(hashes[-base.size :], base)
