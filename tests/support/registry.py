"""Helpers for the registry tests: work texts long enough to fingerprint, and
running scripts/register-optout as authors do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import strategies as st

from tests.support import paths

ROOT = paths.ROOT
SCRIPT = ROOT / "scripts" / "register-optout"
TDMCRAWL = Path(sys.executable).with_name("tdmcrawl")

KAZAKH_WORDS = [
    "әке",
    "ана",
    "бала",
    "қала",
    "дала",
    "өзен",
    "тау",
    "орман",
    "жол",
    "үй",
    "мектеп",
    "кітап",
    "сөз",
    "тіл",
    "халық",
    "ел",
    "жер",
    "күн",
    "ай",
    "жұлдыз",
    "су",
    "от",
    "жел",
    "қар",
    "жаңбыр",
    "гүл",
    "ағаш",
    "құс",
    "балық",
    "шөп",
    "нан",
    "сүт",
    "ет",
    "ұлттық",
]


def work_text(seed: int, words: int = 120) -> str:
    """A Kazakh text, distinct per seed, long enough to get a fingerprint."""
    out = []
    state = seed * 7919 + 13
    for i in range(words):
        state = (state * 1103515245 + 12345) % 2**31
        out.append(f"{KAZAKH_WORDS[state % len(KAZAKH_WORDS)]}{(state >> 8) % 97}")
        if i % 12 == 11:
            out[-1] += "."
    return " ".join(out)


def write_work(tmp_path: Path, name: str, seed: int, words: int = 120) -> Path:
    path = tmp_path / name
    text = work_text(seed, words)
    if path.suffix in (".html", ".htm"):
        text = (
            "<html><head><title>т</title></head><body><nav>Menu</nav>"
            f"<article><p>{text}</p></article></body></html>"
        )
    path.write_text(text, encoding="utf-8")
    return path


def run_script(
    args: list[str], stdin: str = "", cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run scripts/register-optout with the venv's Python first on PATH."""
    # English questions unless a test asks for another language (the script reads the locale).
    skip = {"TDMCRAWL_REGISTRY", "TDMCRAWL_REGISTRY_URL", "LANGUAGE", "LC_ALL", "LC_MESSAGES"}
    full_env = {k: v for k, v in os.environ.items() if k not in skip}
    full_env.update({"PYTHONIOENCODING": "utf-8", "LANG": "C.UTF-8", **(env or {})})
    full_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{full_env.get('PATH', '')}"
    return subprocess.run(
        [str(SCRIPT), *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=full_env,
        timeout=120,
    )


# Hypothesis strategy: http(s) URLs with Kazakh and Russian hosts and paths, ports, queries.
HOSTS = st.sampled_from(
    ["example.kz", "Example.KZ", "қазақ.kz", "sub.example.kz", "xn--e1afmkfd.xn--p1ai"]
)
SEGMENT = st.lists(
    st.sampled_from(list("abcAB-_.~%2F *") + list("әғқңөұүһі") + list("жизнь") + ["%20", "%d3%99"]),
    max_size=6,
).map("".join)
QUERY = st.one_of(st.just(""), st.builds(lambda k, v: f"?{k}={v}", SEGMENT, SEGMENT))
URLS = st.builds(
    lambda scheme, host, port, segs, q: f"{scheme}://{host}{port}/{'/'.join(segs)}{q}",
    st.sampled_from(["http", "https", "HTTPS"]),
    HOSTS,
    st.sampled_from(["", ":443", ":80", ":8080"]),
    st.lists(SEGMENT, max_size=4),
    QUERY,
)
