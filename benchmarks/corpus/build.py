"""Generated evaluation corpus: reserved works cut from real text, their copies, and negatives.

Works are consecutive sentences of the bundled real-text pools (English
licence texts and man pages; Russian man pages and message catalogues, Pushkin
and the UDHR; Kazakh message catalogues, Abai and the UDHR). The pools hold no
duplicate sentence, so two works never share text by construction. Negatives
are built from a held-out part of the same pools (same topics, same site
boilerplate, no text of any work).
"""

from __future__ import annotations

import gzip
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).parent
LANGS = ("en", "ru", "kk")
WORK_WORDS = {"en": (50, 230), "ru": (50, 230), "kk": (40, 120)}

SITES = [
    (
        "Home | News | World | Business | Tech | Culture | Sport | Sign in | Subscribe",
        "Related: Most read | Editors' picks | Newsletter. Cookie settings. "
        "© 2025 Daily Example Ltd. All rights reserved. Terms of use. Privacy policy.",
    ),
    (
        "Главная | Новости | Политика | Экономика | Культура | Спорт | Войти | Подписка",
        "Читайте также: Самое популярное | Выбор редакции. Реклама. "
        "© 2025 Пример Медиа. Все права защищены. Политика конфиденциальности.",
    ),
    (
        "Басты бет | Жаңалықтар | Саясат | Экономика | Мәдениет | Спорт | Кіру",
        "Тағы оқыңыз: Ең көп оқылған | Редакция таңдауы. Жарнама. "
        "© 2025 Мысал Медиа. Барлық құқықтар қорғалған. Құпиялылық саясаты.",
    ),
    (
        "Forum index | New posts | Members | Search | Register | Log in",
        "Share this: Facebook | Telegram | VK | WhatsApp. Powered by ExampleBoard. "
        "Advertisement. Report abuse. Contact the administrators.",
    ),
]


@dataclass(frozen=True)
class Work:
    key: str
    lang: str
    text: str


@dataclass(frozen=True)
class Page:
    text: str
    kind: str  # the transformation, or "negative"
    source: str | None  # key of the work it copies (None for negatives)
    lang: str
    is_copy: bool  # what the ground truth says the index must find


@lru_cache(maxsize=4)
def pool(lang: str) -> tuple[str, ...]:
    with gzip.open(HERE / f"{lang}.lines.gz", "rt", encoding="utf-8") as fh:
        return tuple(line.strip() for line in fh if line.strip())


def split_pool(lang: str, work_share: float) -> tuple[tuple[str, ...], tuple[str, ...]]:
    lines = pool(lang)
    cut = int(len(lines) * work_share)
    return lines[:cut], lines[cut:]


def make_works(work_share: float = 0.9, seed: int = 1) -> list[Work]:
    rnd = random.Random(seed)
    works = []
    for lang in LANGS:
        lines, _ = split_pool(lang, work_share)
        lo, hi = WORK_WORDS[lang]
        i, n = 0, 0
        while i < len(lines):
            target, chunk, words = rnd.randint(lo, hi), [], 0
            while i < len(lines) and words < target:
                chunk.append(lines[i])
                words += len(lines[i].split())
                i += 1
            if words >= lo:
                works.append(Work(f"{lang}-{n:05d}", lang, " ".join(chunk)))
                n += 1
    return works


def wrap(body: str, rnd: random.Random) -> str:
    nav, footer = rnd.choice(SITES)
    return f"{nav}\n{body}\n{footer}"


def excerpt(words: list[str], share: float, rnd: random.Random) -> list[str]:
    n = max(1, round(len(words) * share))
    start = rnd.randrange(0, len(words) - n + 1)
    return words[start : start + n]


def edit(words: list[str], share: float, rnd: random.Random, vocab: list[str]) -> list[str]:
    """Substitute, delete or insert words at ``share`` of the positions (light editing)."""
    out = list(words)
    for i in sorted(rnd.sample(range(len(out)), max(1, round(len(out) * share))), reverse=True):
        op = rnd.random()
        if op < 0.6:
            out[i] = rnd.choice(vocab)
        elif op < 0.8:
            del out[i]
        else:
            out.insert(i, rnd.choice(vocab))
    return out


def recase(text: str, rnd: random.Random) -> str:
    out = []
    for word in text.split():
        style = rnd.random()
        word = word.upper() if style < 0.2 else word.lower() if style < 0.5 else word
        out.append(word + rnd.choice([" ", "  ", "\n", "\t", " \u00a0", "\r\n"]))
    return "".join(out)


TRANSFORMS = (
    "retemplate",
    "whitespace-case",
    "excerpt-50-90",
    "edits-1-10",
    "excerpt+edits",
    "worst-50+10",
    "quote-10-30",
)


def make_pages(
    works: list[Work], work_share: float = 0.9, negatives: int = 2000, seed: int = 2
) -> list[Page]:
    rnd = random.Random(seed)
    vocab = {lang: " ".join(split_pool(lang, work_share)[1]).split() for lang in LANGS}
    pages = []
    for work in works:
        words = work.text.split()
        v = vocab[work.lang]
        for kind in TRANSFORMS:
            if kind == "retemplate":
                body = work.text
            elif kind == "whitespace-case":
                body = recase(work.text, rnd)
            elif kind == "excerpt-50-90":
                body = " ".join(excerpt(words, rnd.uniform(0.5, 0.9), rnd))
            elif kind == "edits-1-10":
                body = " ".join(edit(words, rnd.uniform(0.01, 0.10), rnd, v))
            elif kind == "excerpt+edits":
                part = excerpt(words, rnd.uniform(0.5, 0.9), rnd)
                body = " ".join(edit(part, rnd.uniform(0.01, 0.10), rnd, v))
            elif kind == "worst-50+10":  # the corner of the target: half the work, 10 % edited
                body = " ".join(edit(excerpt(words, 0.5, rnd), 0.10, rnd, v))
            else:  # a short quotation inside other text: not a copy of the work
                part = excerpt(words, rnd.uniform(0.1, 0.3), rnd)
                filler = rnd.sample(split_pool(work.lang, work_share)[1], 8)
                body = " ".join(filler[:4]) + " " + " ".join(part) + " " + " ".join(filler[4:])
            is_copy = kind != "quote-10-30"
            pages.append(Page(wrap(body, rnd), kind, work.key, work.lang, is_copy))
    for i in range(negatives):
        lang = LANGS[i % len(LANGS)] if i % 10 else "kk"
        held = split_pool(lang, work_share)[1]
        start = rnd.randrange(0, max(1, len(held) - 30))
        body = " ".join(held[start : start + rnd.randint(5, 30)])
        pages.append(Page(wrap(body, rnd), "negative", None, lang, False))
    return pages
