"""Normalisation and word-shingle hashing for Kazakh, Russian and English text.

Normal form (``normalize``): NFKC, case folding, NFKC again (case folding can
un-normalise a few characters); format characters (soft hyphen, zero-width
joiners, BOM) and non-spacing marks (Russian stress accents) removed without
splitting the word; every run of punctuation, symbols and white space becomes
one space. Ё folds to е (written either way in Russian), and the Latin schwa ə
and barred o ɵ of older Kazakh typing fold to the Cyrillic letters ә and ө.
Kazakh letters ә ғ қ ң ө ұ ү һ і have no decomposition, so NFKC keeps them and
every path treats them as the ordinary letters they are.

Shingle hashing works on the same code points in NumPy (no Python loop per
word), and additionally folds Latin/Cyrillic look-alikes (a/а, і/i, һ/h, ...)
into one skeleton, so a copy typed with a Latin i in Kazakh words, or with
swapped homoglyphs to dodge filters, hashes like the original. A word's hash
is a polynomial hash of its code points (mod 2**64); a shingle's hash mixes
the hashes of its ``n`` words and is finalised with MurmurHash3's fmix64, so
the low and high bits are uniform (anchors and MinHash bins rely on that).
"""

from __future__ import annotations

import sys
import unicodedata
from typing import Literal, overload

import numpy as np

SEP, WORD, DROP = 0, 1, 2

# Normal-form folds applied by normalize() and hashing alike.
_NORM_FOLDS = {"ё": "е", "ə": "ә", "ɵ": "ө"}
# Hash-only skeleton: Cyrillic look-alikes of Latin letters (after case folding). Kazakh
# letters with no Latin twin (ә ғ қ ң ө ұ ү) stay distinct from their Russian neighbours.
_SKELETON = {
    "а": "a",
    "е": "e",
    "о": "o",
    "р": "p",
    "с": "c",
    "у": "y",
    "х": "x",
    "і": "i",
    "һ": "h",
    "ј": "j",
    "ѕ": "s",
    "ԁ": "d",
    "ԛ": "q",
    "ԝ": "w",
    "к": "k",
}

_M64 = (1 << 64) - 1
_P = np.uint64(0x9E3779B97F4A7C15 | 1)  # odd, so it has an inverse mod 2**64
_P_INV = np.uint64(pow(int(_P), -1, 1 << 64))
_Q = np.uint64(0xC2B2AE3D27D4EB4F)
_FM1 = np.uint64(0xFF51AFD7ED558CCD)
_FM2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)


def fmix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser, vectorised (uint64 arithmetic wraps)."""
    x = x ^ (x >> _S33)
    x = x * _FM1
    x = x ^ (x >> _S33)
    x = x * _FM2
    return x ^ (x >> _S33)


def _category_class(ch: str) -> int:
    cat = unicodedata.category(ch)
    if cat[0] in "LN" or cat == "Mc":
        return WORD
    if cat in ("Cf", "Mn", "Me"):
        return DROP
    return SEP


def _build_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cps = range(0x10000)
    cls = np.fromiter((_category_class(chr(c)) for c in cps), dtype=np.uint8, count=0x10000)
    norm = np.arange(0x10000, dtype=np.uint32)
    for src, dst in _NORM_FOLDS.items():
        norm[ord(src)] = ord(dst)
    fold = np.arange(0x10000, dtype=np.uint32)
    for src, dst in _SKELETON.items():
        fold[ord(src)] = ord(dst)
    skel = fold[norm]  # compose: ё -> е -> e
    value = fmix64(skel.astype(np.uint64) + np.uint64(0x2545F4914F6CDD1D))
    return cls, norm, value


_CLASS, _NORM, _VALUE = _build_tables()
_pow_cache: dict[str, np.ndarray] = {}


_CACHED_POWERS = 1 << 20  # longer texts get their own arrays instead of a cache held forever


def _power_arrays(size: int) -> tuple[np.ndarray, np.ndarray]:
    ones = np.ones(size, dtype=np.uint64)
    ones[1:] = _P
    pw = np.cumprod(ones, dtype=np.uint64)
    ones[1:] = _P_INV
    return pw, np.cumprod(ones, dtype=np.uint64)


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """P**i and P**-i for i < n (mod 2**64)."""
    if n > _CACHED_POWERS:
        return _power_arrays(n)
    pw = _pow_cache.get("p")
    if pw is None or len(pw) < n:
        size = min(_CACHED_POWERS, max(n, 8192, 0 if pw is None else 2 * len(pw)))
        _pow_cache["p"], _pow_cache["inv"] = _power_arrays(size)
    return _pow_cache["p"][:n], _pow_cache["inv"][:n]


def _case_fold(text: str) -> str:
    if text.isascii():  # NFKC is the identity on ASCII, and casefold is lower
        return text.lower()
    # the quick check is 3x cheaper than normalising, and most web text passes it
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    folded = text.casefold()
    if not unicodedata.is_normalized("NFKC", folded):
        folded = unicodedata.normalize("NFKC", folded)
    return folded


def _astral_lookup(cps: np.ndarray, cls: np.ndarray | None, values: np.ndarray | None) -> None:
    """Class or hash value of code points above U+FFFF, in place: rare, so per character."""
    where = np.flatnonzero(cps > 0xFFFF)
    if where.size == 0:
        return
    if cls is not None:
        for i in where.tolist():
            cp = int(cps[i])
            cls[i] = _category_class(chr(cp)) if cp <= sys.maxunicode else SEP
    if values is not None:
        values[where] = fmix64(cps[where].astype(np.uint64) + np.uint64(0x2545F4914F6CDD1D))


def _code_points(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Case-folded code points with format characters removed, and their classes."""
    folded = _case_fold(text)
    cps = np.frombuffer(folded.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    cls = _CLASS[cps & 0xFFFF]
    if folded.isascii():
        return cps, cls
    if cps.max(initial=0) > 0xFFFF:
        cls = cls.copy()
        _astral_lookup(cps, cls, None)
    drop = cls == DROP
    if drop.any():
        keep = ~drop
        cps, cls = cps[keep], cls[keep]
    return cps, cls


def normalize(text: str) -> str:
    """The normal form used for matching: see the module docstring.

    >>> normalize("  «Қазақ» тілі — ЁЛКА!  ")
    'қазақ тілі елка'
    """
    if not isinstance(text, str):
        raise TypeError(f"normalize() takes str, not {type(text).__name__}")
    cps, cls = _code_points(text)
    if cps.size == 0:
        return ""
    low = np.where(cps <= 0xFFFF, _NORM[cps & 0xFFFF], cps)
    out = np.where(cls == WORD, low, np.uint32(32)).astype("<u4")
    return " ".join(out.tobytes().decode("utf-32-le", "surrogatepass").split())


def _token_bounds(cls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    word = np.zeros(cls.size + 2, dtype=np.int8)
    word[1:-1] = cls == WORD
    edges = np.diff(word)
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def token_hashes(text: str) -> np.ndarray:
    """One uint64 hash per word of ``normalize(text)``, in order (homoglyph skeleton)."""
    cps, cls = _code_points(text)
    if cps.size == 0:
        return np.empty(0, dtype=np.uint64)
    values = _VALUE[cps & 0xFFFF]
    if int(cps.max()) > 0xFFFF:
        _astral_lookup(cps, None, values)
    starts, ends = _token_bounds(cls)
    if starts.size == 0:
        return np.empty(0, dtype=np.uint64)
    pw, inv = _powers(cps.size)
    prefix = np.zeros(cps.size + 1, dtype=np.uint64)
    np.cumsum(values * pw, out=prefix[1:])
    return (prefix[ends] - prefix[starts]) * inv[starts]


@overload
def shingle_hashes_from_tokens(
    tokens: np.ndarray, ngram: int, seed: int = 1, *, positions: Literal[False] = False
) -> np.ndarray: ...


@overload
def shingle_hashes_from_tokens(
    tokens: np.ndarray, ngram: int, seed: int = 1, *, positions: Literal[True]
) -> tuple[np.ndarray, np.ndarray]: ...


def shingle_hashes_from_tokens(
    tokens: np.ndarray, ngram: int, seed: int = 1, *, positions: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Sorted distinct uint64 hashes of the word ``ngram``-grams of a token-hash sequence.

    With ``positions=True`` also the word index where each hash first occurs
    (uint32, aligned with the hashes): what verification needs to tell how much
    of a work a page covers.
    """
    count = tokens.size - ngram + 1
    if count <= 0:
        empty = np.empty(0, dtype=np.uint64)
        return (empty, np.empty(0, dtype=np.uint32)) if positions else empty
    acc = tokens[:count] + np.uint64(seed)
    for k in range(1, ngram):
        acc *= _Q
        acc += tokens[k : k + count]
    hashes = fmix64(acc)
    order = np.argsort(hashes, kind="stable") if positions else None
    if order is not None:
        hashes = hashes[order]
    else:
        hashes.sort()
    if hashes.size > 1:
        # np.unique hashes in NumPy 2.x; on sorted data a neighbour compare is 3x cheaper
        keep = np.empty(hashes.size, dtype=bool)
        keep[0] = True
        np.not_equal(hashes[1:], hashes[:-1], out=keep[1:])
        hashes = hashes[keep]
        if order is not None:
            order = order[keep]  # stable sort: the first occurrence of each hash
    if order is not None:
        return hashes, order.astype(np.uint32)
    return hashes


def shingle_hashes(text: str, ngram: int = 5, seed: int = 1) -> np.ndarray:
    """Sorted distinct uint64 hashes of the word ``ngram``-grams of ``normalize(text)``."""
    return shingle_hashes_from_tokens(token_hashes(text), ngram, seed)
