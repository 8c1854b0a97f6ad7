"""The authors' script carries its messages inside itself, generated from the catalogs.

``scripts/register-optout`` runs on a plain Python with nothing installed, so it
cannot read the ``.po`` catalogs: its Kazakh and Russian messages are written
into the block between ``# BEGIN STRINGS`` and ``# END STRINGS``. After the
catalogs change, regenerate it::

    .venv/bin/python -m tdmcrawl.registry.scriptstrings scripts/register-optout

``tests/registry/test_script.py`` fails while the block differs from what this
module generates, so the script and the catalogs never drift apart.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from tdmcrawl.registry.i18n import DOMAIN, catalog_path

BEGIN = "# BEGIN STRINGS"
END = "# END STRINGS"
TRANSLATED = ("kk", "ru")  # English is the source text itself


def script_messages(script: Path) -> list[str]:
    """The message ids the script marks with ``_()`` or ``N_()``, in order, once each."""
    seen: dict[str, None] = {}
    for _line, message, _comments, _context in extract_from_file("python", str(script)):
        text = message[0] if isinstance(message, tuple) else message
        if text:
            seen.setdefault(text, None)
    return list(seen)


def strings_block(messages: list[str]) -> str:
    """The Python source of the ``STRINGS`` mapping for ``messages``."""
    lines = ["STRINGS: Dict[str, Dict[str, str]] = {"]
    for lang in TRANSLATED:
        with catalog_path(lang).open("rb") as handle:
            catalog = read_po(handle, locale=lang, domain=DOMAIN)
        lines.append(f"    {json.dumps(lang)}: {{")
        for msgid in messages:
            found = catalog.get(msgid)
            if found is not None and isinstance(found.string, str) and found.string:
                lines.append(
                    f"        {json.dumps(msgid, ensure_ascii=False)}:"
                    f" {json.dumps(found.string, ensure_ascii=False)},"
                )
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines)


def embedded_block(text: str) -> str:
    """The block as it is in the script (between the marker lines)."""
    start = text.index(BEGIN)
    body_start = text.index("\n", start) + 1
    end = text.index(END, body_start)
    return text[body_start:end].rstrip("\n")


def update(script: Path) -> bool:
    """Rewrite the script's block from the catalogs; True when it changed."""
    text = script.read_text(encoding="utf-8")
    old = embedded_block(text)
    new = strings_block(script_messages(script))
    if old == new:
        return False
    start = text.index(BEGIN)
    body_start = text.index("\n", start) + 1
    end = text.index(END, body_start)
    script.write_text(text[:body_start] + new + "\n" + text[end:], encoding="utf-8")
    return True


if __name__ == "__main__":
    for name in sys.argv[1:] or ["scripts/register-optout"]:
        changed = update(Path(name))
        print(f"{name}: {'updated' if changed else 'already up to date'}")
