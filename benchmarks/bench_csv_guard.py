"""The CSV formula guard on the audit export's cells: the hidden-prefix guard against the
first-character check it replaced, side by side.

The guard (``registry.transfer.csv_cell``) runs on every text cell of
``tdmcrawl audit --export csv``: a million exclusions are about nine million
cells. The cells here are what an audit holds (URLs, reason codes, sources,
robots.txt lines, decision JSON, Kazakh and Russian text), with one in a
hundred starting with a formula or a hidden prefix before one.

    python benchmarks/bench_csv_guard.py [--cells 2000000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

FORMULA_STARTS = frozenset("=+-@\t\r")


def _first_character_needs_quote(text: str) -> bool:
    if not text:
        return False
    if text[0] in FORMULA_STARTS:
        return True
    return text[0] == "'" and _first_character_needs_quote(text[1:])


def first_character_guard(text: str) -> str:
    """The guard before issue 10 (as it was): the first character only."""
    return "'" + text if _first_character_needs_quote(text) else text


def cells(count: int) -> list[str]:
    base = [
        "https://сайт17.kz/бет/123456",
        "robots",
        "robots.txt",
        "Disallow: /мақала/",
        "pre-fetch",
        "2026-10-03T04:05:06.000Z",
        '{"allowed": false, "reasons": [{"code": "noai", "source": "meta"}]}',
        "Қазақ тілі: ә ғ қ ң ө ұ ү һ і",
        "tdmcrawl-evidence-20261003040506000-00001-host.warc.gz",
        "",
    ]
    hostile = [" =HYPERLINK(1)", "\u200b=1+1", "-Әлия", "\n@SUM(1)"]
    out = []
    for i in range(count):
        out.append(hostile[(i // 100) % len(hostile)] if i % 100 == 0 else base[i % len(base)])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from tdmcrawl.registry.transfer import csv_cell

    data = cells(args.cells)
    guards = (
        ("hidden-prefix guard (csv_cell)", csv_cell),
        ("first-character guard (before)", first_character_guard),
    )
    best = {name: float("inf") for name, _ in guards}
    quoted = {}
    for _round in range(args.rounds):  # interleaved, best of N: the machine is shared
        for name, guard in guards:
            start = time.perf_counter()
            quoted[name] = sum(1 for cell in data if guard(cell) is not cell)
            best[name] = min(best[name], time.perf_counter() - start)
    for name, _guard in guards:
        print(
            f"{name:<34} {best[name]:6.2f} s  {args.cells / best[name] / 1e6:5.2f} M cells/s  "
            f"{quoted[name]:,} cells quoted (best of {args.rounds})"
        )


if __name__ == "__main__":
    main()
