"""Rebuild the bundled real-text pools (``*.lines.gz``) from free texts on a Debian machine.

Run once by the maintainers; the benchmarks read only the bundled files.
Sources, all free licences or public domain:

- en: LICENSE/COPYING texts shipped in the installed Python packages;
      English man pages (GPL/BSD/free documentation licences).
- ru: Russian man pages (/usr/share/man/ru) and the Russian message catalogues of
      GNU/free software (/usr/share/locale/ru, GPL/LGPL translations).
- kk: the Kazakh message catalogues (/usr/share/locale/kk, GPL/LGPL translations).
- plus the hand-written files in this directory (kk_abai.txt, udhr_*.txt,
  ru_pushkin.txt): public-domain texts written out from memory.

One unit per line: a sentence or a short paragraph of at least 6 words (3 for
Kazakh); exact duplicates (after normalisation) and near-duplicates (more than
30 % of the word 3-grams seen before) are dropped, so works cut from the pools
never share text by construction.
"""

from __future__ import annotations

import gettext
import glob
import gzip
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[1]))

from tdmcrawl.dedup.text import normalize, shingle_hashes  # noqa: E402

LIMITS = {"en": 2_600_000, "ru": 1_800_000, "kk": 600_000}  # characters per pool
_SPLIT = re.compile(r"(?<=[.!?;:])\s+(?=[A-ZА-ЯЁӘҒҚҢӨҰҮҺІ«\"(])")


def _units(text: str, min_words: int = 6) -> list[str]:
    text = re.sub(r"[ \t]+", " ", text)
    out = []
    for para in re.split(r"\n\s*\n", text):
        para = " ".join(para.split())
        for sent in _SPLIT.split(para):
            if len(sent.split()) >= min_words and not re.search(r"[%$@<>{}\\_|=]|\.\.\.", sent):
                out.append(sent.strip())
    return out


def _man_text(path: str) -> str:
    env = {"MANWIDTH": "4000", "LANG": "C.UTF-8", "PATH": "/usr/bin:/bin"}
    try:
        out = subprocess.run(
            ["man", "-l", "-Tutf8", path],
            capture_output=True,
            text=True,
            env=env,
            timeout=20,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return re.sub(r".\x08", "", out)  # bold/underline overstrikes


def _catalogue(lang: str, min_words: int = 6) -> list[str]:
    units = []
    for mo in sorted(glob.glob(f"/usr/share/locale/{lang}/LC_MESSAGES/*.mo")):
        try:
            with open(mo, "rb") as fh:
                cat = gettext.GNUTranslations(fh)._catalog
        except Exception:
            continue
        for value in cat.values():
            if isinstance(value, str):
                units += _units(value.replace("\\n", " "), min_words)
    return units


def main() -> None:
    pools: dict[str, list[str]] = {"en": [], "ru": [], "kk": []}
    for name in ("udhr_en.txt",):
        pools["en"] += _units((HERE / name).read_text(encoding="utf-8"))
    for name in ("udhr_ru.txt", "ru_pushkin.txt"):
        pools["ru"] += _units((HERE / name).read_text(encoding="utf-8"))
    for name in ("udhr_kk.txt", "kk_abai.txt"):
        pools["kk"] += _units((HERE / name).read_text(encoding="utf-8"))
    venv = HERE.parents[1] / ".venv/lib"
    site = sorted(glob.glob(str(venv / "python3*/site-packages/*/LICEN[CS]E*")))
    for path in site:
        pools["en"] += _units(Path(path).read_text(encoding="utf-8", errors="replace"))
    for path in sorted(glob.glob("/usr/share/man/ru/man*/*.gz")):
        pools["ru"] += _units(_man_text(path))
    pools["ru"] += _catalogue("ru")
    pools["kk"] += _catalogue("kk", min_words=3)  # Kazakh free text is scarce: UI strings too
    for path in sorted(glob.glob("/usr/share/man/man[1578]/*.gz")):
        if sum(map(len, pools["en"])) > 3 * LIMITS["en"]:
            break
        pools["en"] += _units(_man_text(path))
    shingles: set[int] = set()  # across languages: Russian man pages quote English text
    for lang, units in pools.items():
        seen, kept, size = set(), [], 0
        for unit in units:
            key = normalize(unit)
            if key in seen or size > LIMITS[lang]:
                continue
            # near-duplicates too (licence variants, man-page boilerplate): a unit whose
            # word 3-grams were mostly seen before would make two works share text
            grams = shingle_hashes(unit, 3).tolist()
            if grams and sum(g in shingles for g in grams) > 0.3 * len(grams):
                continue
            shingles.update(grams)
            seen.add(key)
            kept.append(unit)
            size += len(unit)
        with gzip.open(HERE / f"{lang}.lines.gz", "wt", encoding="utf-8", compresslevel=9) as fh:
            fh.write("\n".join(kept) + "\n")
        print(f"{lang}: {len(kept)} units, {size} characters")


if __name__ == "__main__":
    main()
