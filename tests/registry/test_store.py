"""The registry library on real SQLite files: entries, tokens, works, migrations."""

from __future__ import annotations

import importlib
import io
import sqlite3
import subprocess
import sys
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tdmcrawl import dedup
from tdmcrawl.optout.decision import Decision, ReasonCode
from tdmcrawl.registry import (
    DuplicateEntry,
    InvalidInput,
    InvalidWorkFile,
    NotARegistry,
    Registry,
    RegistryMissing,
    RegistryReader,
    SchemaTooNew,
    UnknownEntry,
    WrongToken,
)
from tdmcrawl.registry.schema import MIGRATION_SET
from tdmcrawl.registry.transfer import import_text, write_export
from tests.support.registry import work_text, write_work


@pytest.fixture
def reg(tmp_path):
    with Registry(tmp_path / "r.sqlite") as registry:
        yield registry


def test_add_url_rule_stores_who_and_when_and_only_a_token_hash(reg, tmp_path):
    done = reg.add_url(
        "Әлия Қасымова", "https://Example.KZ/blog/*", email="aliya@example.kz", title="Блог"
    )
    entry = done.entry
    assert uuid.UUID(entry.id).version == 4
    assert (entry.kind.value, entry.pattern, entry.scope) == (
        "prefix",
        "https://example.kz/blog/*",
        "train-ai",
    )
    assert (entry.author, entry.email, entry.title) == ("Әлия Қасымова", "aliya@example.kz", "Блог")
    assert entry.created_at == entry.updated_at and entry.created_at.endswith("Z")
    assert len(done.token) >= 32
    raw = (tmp_path / "r.sqlite").read_bytes() + (tmp_path / "r.sqlite-wal").read_bytes()
    assert done.token.encode() not in raw
    assert reg.token_hash(entry.id).startswith("sha256$")  # see registry/tokens.py
    assert reg.get(entry.id) == entry


def test_duplicate_registration_reports_the_existing_id(reg):
    first = reg.add_domain("Иван Петров", "example.kz")
    with pytest.raises(DuplicateEntry) as err:
        reg.add_domain("Someone Else", "*.EXAMPLE.kz.")
    assert err.value.existing_id == first.entry.id
    assert first.entry.id in str(err.value)
    with pytest.raises(DuplicateEntry):
        reg.add_url("x", "https://example.kz:443/a?b=1&a=2")
        reg.add_url("x", "https://example.kz/a?a=2&b=1#top")
    # The same rule for another use is a different opt-out.
    assert reg.add_domain("Иван Петров", "example.kz", scope="search").entry.scope == "search"
    assert len(reg) == 3


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.add_url("", "https://example.kz/"), "author name is empty"),
        (lambda r: r.add_url("A", "https://example.kz/", email="not-an-email"), "invalid email"),
        (lambda r: r.add_url("A", "https://example.kz/", scope="train-all"), "unknown scope"),
        (lambda r: r.add_url("A", "example.kz"), "http:// or https://"),
        (lambda r: r.add_domain("A", "kz"), "two labels"),
        (lambda r: r.add_url("A\x07", "https://example.kz/"), "control characters"),
    ],
)
def test_bad_input_changes_nothing(reg, call, message):
    with pytest.raises(InvalidInput, match=message):
        call(reg)
    assert len(reg) == 0


def test_remove_needs_the_right_token(reg):
    mine = reg.add_domain("Әлия", "aliya.kz")
    other = reg.add_domain("Иван", "ivan.kz")
    with pytest.raises(WrongToken):
        reg.remove(mine.entry.id, other.token)
    with pytest.raises(WrongToken):
        reg.remove(mine.entry.id, "")
    with pytest.raises(UnknownEntry):
        reg.remove(str(uuid.uuid4()), mine.token)
    with pytest.raises(InvalidInput, match="not an entry id"):
        reg.get("1; DROP TABLE entries")
    assert len(reg) == 2
    assert reg.remove(mine.entry.id, f"  {mine.token}\n").id == mine.entry.id
    with pytest.raises(UnknownEntry):
        reg.get(mine.entry.id)
    assert [e.id for e in reg.entries()] == [other.entry.id]


def test_update_needs_the_token_and_keeps_the_rule(reg):
    done = reg.add_url("Ivan", "https://example.kz/page")
    with pytest.raises(WrongToken):
        reg.update(done.entry.id, "wrong", author="Mallory")
    changed = reg.update(done.entry.id, done.token, author="Иван Петров", email="", title="Бет")
    assert (changed.author, changed.email, changed.title) == ("Иван Петров", None, "Бет")
    assert changed.pattern == done.entry.pattern and changed.updated_at > changed.created_at
    with pytest.raises(InvalidInput, match="nothing to change"):
        reg.update(done.entry.id, done.token)
    twin = reg.add_url("Ivan", "https://example.kz/page", scope="search")
    with pytest.raises(DuplicateEntry):
        reg.update(twin.entry.id, twin.token, scope="train-ai")


def test_work_from_files_is_fingerprinted_and_its_text_kept_apart(reg, tmp_path):
    files = [
        write_work(tmp_path, "ch1.txt", 1),
        write_work(tmp_path, "ch2.html", 2),
        write_work(tmp_path, "notes.md", 3),
    ]
    done = reg.add_work("Абай", files, title="Қара сөздер")
    assert done.entry.files == ("ch1.txt", "ch2.html", "notes.md")
    assert done.entry.fingerprinted == 3
    texts = reg.work_texts(done.entry.id)
    assert texts[0].text == work_text(1)  # as extracted: normalising is dedup's job
    assert "Menu" not in texts[1].text and work_text(2)[:40] in texts[1].text  # no boilerplate
    with pytest.raises(DuplicateEntry):
        reg.add_work("Абай", list(reversed(files)))

    with RegistryReader(reg.path) as reader:
        works = list(reader.content_works())
    assert [w.work_id for w in works] == [f"{done.entry.id}#{n}" for n in (1, 2, 3)]
    assert {w.entry_id for w in works} == {done.entry.id}
    assert {w.config_identity for w in works} == {dedup.DEFAULT_CONFIG.identity}
    # The stored fingerprint finds a copy of the work through dedup's own index.
    index = dedup.MemoryIndex(dedup.DEFAULT_CONFIG)
    for work in works:
        index.add(work.work_id, dedup.Fingerprint.from_bytes(work.fingerprint))
    copy = dedup.fingerprint(dedup.normalize("Алғысөз. " + work_text(2)))
    assert [m.key for m in index.query(copy)] == [f"{done.entry.id}#2"]


def test_same_text_in_other_case_and_spacing_is_the_same_work(reg, tmp_path):
    first = reg.add_work("A", [write_work(tmp_path, "w.txt", 21)])
    shouted = tmp_path / "W.md"
    shouted.write_text("  " + work_text(21).upper().replace(" ", "\n\n") + "!!!", encoding="utf-8")
    with pytest.raises(DuplicateEntry) as err:
        reg.add_work("B", [shouted])
    assert err.value.existing_id == first.entry.id


def test_one_file_work_is_keyed_by_its_id(reg, tmp_path):
    done = reg.add_work("A", [write_work(tmp_path, "w.txt", 9)])
    with RegistryReader(reg.path) as reader:
        assert [w.work_id for w in reader.content_works()] == [done.entry.id]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.md", b"  \n\t ", "empty"),
        ("bin.txt", b"abc\x00\x01\x02" * 50, "binary"),
        ("short16.txt", "Қазақ".encode("utf-16"), "too short"),  # read (UTF-16), then too short
        ("short1251.txt", "Привет мир".encode("cp1251"), "too short"),
        ("book.pdf", b"%PDF-1.4", "cannot read it as a PDF document"),
        ("book.rtf", b"{\\rtf1 text}", "unsupported file type '.rtf'"),
        ("short.txt", "Бір сөйлем ғана.".encode(), "too short"),
        ("empty.html", b"<html><body><script>x()</script></body></html>", "no text"),
    ],
)
def test_bad_work_files_are_refused(reg, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidWorkFile, match=message):
        reg.add_work("A", [path])
    assert len(reg) == 0


def test_unreadable_and_missing_paths(reg, tmp_path):
    with pytest.raises(InvalidWorkFile, match="cannot read"):
        reg.add_work("A", [tmp_path / "missing.txt"])
    (tmp_path / "dir.txt").mkdir()
    with pytest.raises(InvalidWorkFile, match="directory"):
        reg.add_work("A", [tmp_path / "dir.txt"])


def test_reindex_recomputes_for_a_new_config(reg, tmp_path):
    done = reg.add_work("A", [write_work(tmp_path, "w.txt", 4, words=400)])
    assert reg.stale_parts() == 0
    other = dedup.DedupConfig(ngram=3, num_perm=64, bands=8, rows=8)
    with Registry(reg.path, dedup_config=other) as second:
        assert second.stale_parts() == 1
        report = second.reindex()
        assert (report.parts, report.fingerprinted, report.too_short) == (1, 1, 0)
        assert report.config_identity == other.identity
    with RegistryReader(reg.path) as reader:
        (work,) = reader.content_works()
        assert work.config_identity == other.identity
        assert list(reader.content_works(dedup.DEFAULT_CONFIG.identity)) == []
        assert reader.stale_works(dedup.DEFAULT_CONFIG.identity) == 1
        fp = dedup.Fingerprint.from_bytes(work.fingerprint)
        assert fp.config_identity == other.identity
    assert reg.get(done.entry.id).fingerprinted == 1


def test_reader_matches_and_turns_a_match_into_a_reason(reg):
    prefix = reg.add_url("Әлия", "https://example.kz/blog/*")
    reg.add_domain("Only search", "search-only.kz", scope="search")
    with RegistryReader(reg.path) as reader:
        match = reader.match_url("http://EXAMPLE.kz/blog/post?id=1")
        assert match is not None and match.id == prefix.entry.id and match.author == "Әлия"
        reason = match.to_reason()
        assert reason.code is ReasonCode.REGISTRY_URL
        assert (reason.source, reason.matched_work) == ("registry", prefix.entry.id)
        assert reason.evidence == "prefix https://example.kz/blog/*"
        assert not Decision("https://example.kz/blog/post", (reason,)).allowed
        assert reader.match_url("https://example.kz/about") is None
        # An opt-out from search alone does not exclude a page from a training crawl.
        assert reader.match_url("https://search-only.kz/") is None
    with RegistryReader(reg.path, scopes={"search"}) as search_reader:
        assert search_reader.match_url("https://search-only.kz/") is not None


def test_reader_refresh_sees_new_rules_only_when_asked(reg):
    reader = RegistryReader(reg.path)
    assert reader.match_url("https://new.kz/") is None
    reg.add_domain("A", "new.kz")
    assert reader.match_url("https://new.kz/") is None  # the snapshot it loaded
    assert reader.refresh() is True
    assert reader.match_url("https://new.kz/") is not None
    assert reader.refresh() is False
    reader.close()


def test_migrations_are_recorded_and_applied_once(tmp_path):
    path = tmp_path / "r.sqlite"
    Registry(path).close()
    Registry(path).close()
    conn = sqlite3.connect(path)
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = ?", (MIGRATION_SET,)
        )
    ]
    assert names == ["0001_entries", "0002_works", "0003_service"]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_files_that_are_not_registries_are_refused(tmp_path):
    text = tmp_path / "notes.sqlite"
    text.write_text("this is not a database at all, just some words" * 20)
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE photos (id INTEGER)")
    conn.commit()
    conn.close()
    for path in (text, other):
        before = path.read_bytes()
        with pytest.raises(NotARegistry):
            Registry(path)
        with pytest.raises(NotARegistry):
            RegistryReader(path)
        assert path.read_bytes() == before
    with pytest.raises(RegistryMissing):
        Registry(tmp_path / "absent.sqlite", create=False)
    with pytest.raises(RegistryMissing):
        RegistryReader(tmp_path / "absent.sqlite")
    assert not (tmp_path / "absent.sqlite").exists()


def test_a_registry_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "r.sqlite"
    Registry(path).close()
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES (?, ?, ?)",
        (MIGRATION_SET, "0099_future", "2030-01-01"),
    )
    conn.commit()
    conn.close()
    with pytest.raises(SchemaTooNew, match="newer tdmcrawl"):
        Registry(path)
    with pytest.raises(SchemaTooNew):
        RegistryReader(path)


NAMES = st.text(
    alphabet=st.characters(
        codec="utf-8",
        categories=("L", "M", "N", "P", "S", "Zs"),
        include_characters='әғқңөұүһіӘҒҚҢӨҰҮҺІ",;\n',
    ),
    max_size=40,
)


@settings(max_examples=25, deadline=None)
@given(author=NAMES, title=NAMES, fmt=st.sampled_from(["jsonl", "csv"]))
def test_export_import_round_trips_any_unicode(tmp_path_factory, author, title, fmt):
    from tdmcrawl.registry.entries import clean_author
    from tdmcrawl.registry.errors import InvalidInput as Invalid

    try:
        clean_author(author)
    except Invalid:
        return  # not a usable name: add refuses it, nothing to round-trip
    folder = tmp_path_factory.mktemp("rt")
    with Registry(folder / "a.sqlite") as source:
        source.add_domain(author, "example.kz", title=title)
        out = io.StringIO()
        write_export(source, out, fmt)
        with Registry(folder / "b.sqlite") as target:
            report = import_text(target, out.getvalue(), fmt, "export")
            assert len(report.added) == 1 and report.tokens == {}
            copied = [e.to_dict() for e in target.entries()]
            assert copied == [e.to_dict() for e in source.entries()]
            (entry,) = target.entries()
            assert target.token_hash(entry.id) == source.token_hash(entry.id)


def test_public_names_are_exported():
    from tdmcrawl import registry

    # Each name loads its module on first use (the package's __getattr__) and is that
    # module's object; nothing else is public.
    assert sorted(registry.__all__) == sorted(registry._MODULES)
    for name in registry.__all__:
        module = importlib.import_module(f"tdmcrawl.registry.{registry._MODULES[name]}")
        assert getattr(registry, name) is getattr(module, name)
    with pytest.raises(AttributeError):
        registry.NoSuchName  # noqa: B018


def test_registry_errors_alone_do_not_load_sqlite_utils():
    # Every command imports the errors (crawler/errors.py); a page worker opens no registry
    # and must not pay for sqlite-utils (and pandas, which it loads when installed).
    script = (
        "import sys\n"
        "from tdmcrawl.registry.errors import RegistryError\n"
        "print(sorted({'sqlite_utils', 'tdmcrawl.registry.store'} & set(sys.modules)))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
