"""Real texts and page builders shared by the dedup tests (no mocks, no random words)."""

from __future__ import annotations

import gzip
import random
from functools import lru_cache

from tests.support import paths

CORPUS = paths.CORPUS


@lru_cache(maxsize=4)
def lines(lang: str) -> tuple[str, ...]:
    with gzip.open(CORPUS / f"{lang}.lines.gz", "rt", encoding="utf-8") as fh:
        return tuple(line.strip() for line in fh if line.strip())


def text(lang: str, start: int, words: int) -> str:
    """Consecutive real sentences of one language from line ``start``, about ``words`` long."""
    out, count = [], 0
    pool = lines(lang)
    i = start
    while count < words:
        out.append(pool[i % len(pool)])
        count += len(pool[i % len(pool)].split())
        i += 1
    return " ".join(out)


ABAI = (CORPUS / "kk_abai.txt").read_text(encoding="utf-8")
PUSHKIN = (CORPUS / "ru_pushkin.txt").read_text(encoding="utf-8")
UDHR_EN = (CORPUS / "udhr_en.txt").read_text(encoding="utf-8")

BOILERPLATE = (
    "Home | News | Sport | Culture | About us | Contact | Log in. "
    "Subscribe to our newsletter for the latest updates. Advertisement. "
)
FOOTER = " Related stories. Most read this week. © 2025 Example Media. All rights reserved."


def wrap(body: str, seed: int = 0) -> str:
    """A page-like text: navigation, the body, related links and a footer."""
    rnd = random.Random(seed)
    extra = " ".join(rnd.sample(lines("en")[:400], 3))
    return BOILERPLATE + body + " " + extra + FOOTER


def excerpt(body: str, share: float, seed: int = 0) -> str:
    words = body.split()
    n = max(1, int(len(words) * share))
    start = random.Random(seed).randrange(0, len(words) - n + 1)
    return " ".join(words[start : start + n])


def edit_words(body: str, share: float, seed: int = 0) -> str:
    """Replace a share of the words by other real words of the pool."""
    rnd = random.Random(seed)
    words = body.split()
    vocab = " ".join(lines("en")[500:700]).split()
    for i in rnd.sample(range(len(words)), int(len(words) * share)):
        words[i] = rnd.choice(vocab)
    return " ".join(words)
