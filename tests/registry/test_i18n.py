"""The catalogs people read the project through: Kazakh, Russian and English, complete."""

from __future__ import annotations

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from tdmcrawl.registry.i18n import LANGUAGES, catalog_path, negotiate, translations
from tests.support import paths

TRANSLATED = ("kk", "ru")  # English is the source language


def _catalog(lang: str):
    with catalog_path(lang).open("rb") as handle:
        return read_po(handle, locale=lang)


def _extracted() -> set[str]:
    method_map, options_map = parse_mapping_cfg((paths.ROOT / "babel.cfg").open())
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(paths.ROOT), method_map, options_map
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_catalog_parses_and_has_no_fuzzy_entries() -> None:
    for lang in LANGUAGES:
        catalog = _catalog(lang)
        assert [m.id for m in catalog if m.id and m.fuzzy] == [], lang


def test_every_message_has_its_kazakh_and_russian_translation() -> None:
    for lang in TRANSLATED:
        missing = [m.id for m in _catalog(lang) if m.id and not _translated(m.string)]
        assert missing == [], f"{lang}: untranslated {missing[:10]}"


def test_every_message_in_the_code_is_in_every_catalog() -> None:
    in_code = _extracted()
    for lang in LANGUAGES:
        ids = {m.id[0] if isinstance(m.id, tuple) else m.id for m in _catalog(lang) if m.id}
        assert sorted(in_code - ids) == [], f"{lang}: run pybabel update (docs/internals.md)"


def test_the_catalogs_hold_the_same_messages() -> None:
    ids = [{m.id for m in _catalog(lang) if m.id} for lang in LANGUAGES]
    assert ids[0] == ids[1] == ids[2]


def test_translations_are_used_and_english_is_the_source() -> None:
    assert translations("kk").gettext("Russian") == "Орысша"
    assert translations("ru").gettext("Kazakh") == "Казахский"
    assert translations("en").gettext("Kazakh") == "Kazakh"


def test_accept_language_picks_the_best_supported_language() -> None:
    assert negotiate("ru-RU,ru;q=0.9,en;q=0.8") == "ru"
    assert negotiate("de-DE, en;q=0.5, kk;q=0.7") == "kk"
    assert negotiate("de, fr") == "kk"  # none supported: Kazakh, the project's default
    assert negotiate("en;q=0, ru;q=0.1") == "ru"


def _translated(string: object) -> bool:
    if isinstance(string, tuple | list):
        return all(bool(s) for s in string)
    return bool(string)
