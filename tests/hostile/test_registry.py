"""Attacks on the registry's commands: a bulk import that hashed for an hour in silence,
a registry on a read-only volume called "not a registry", and a work file that was a
symbolic link to somebody else's file."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tdmcrawl.crawler.cli import main
from tdmcrawl.registry import Registry, RegistryReader
from tests.support.registry import write_work


def _run(*args: str) -> object:
    return CliRunner().invoke(main, ["registry", *args])


def test_bulk_import_without_token_hashes_runs_no_slow_hash_per_row_and_shows_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: a scrypt hash (about 50 ms) per row that lacks a token hash, and no word
    # while it ran: 100,000 rows took over an hour in silence.
    def no_scrypt(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("a memory-hard hash per imported row")

    monkeypatch.setattr(hashlib, "scrypt", no_scrypt)
    rows = 2500
    source = tmp_path / "bulk.jsonl"
    source.write_text(
        "".join(
            json.dumps({"kind": "url", "pattern": f"https://site{i}.kz/page", "author": f"A{i}"})
            + "\n"
            for i in range(rows)
        ),
        encoding="utf-8",
    )
    db = tmp_path / "r.sqlite"
    result = _run("import", "--registry", str(db), str(source), "--json")
    assert result.exit_code == 0, (result.output, result.exception)
    report = json.loads(result.stdout)
    assert report["added"] == rows and len(report["new_tokens"]) == rows
    progress = result.stderr.splitlines()
    assert "import: checked 1000 of 2500 rows" in progress
    assert "import: checked 2500 of 2500 rows" in progress
    assert "import: wrote 2500 new entries" in progress
    # The new tokens work: each one removes its own entry, and only its own.
    first, second = report["new_tokens"][:2]
    with Registry(db) as reg:
        assert len(reg) == rows
        with pytest.raises(Exception, match="wrong token"):
            reg.remove(first["id"], second["token"])
        assert reg.remove(first["id"], first["token"]).id == first["id"]


def test_tokens_hashed_by_an_older_version_still_work(tmp_path: Path) -> None:
    from tdmcrawl.registry import tokens

    old = tokens.scrypt_hash_token("an-old-token-of-enough-length-000")
    line = {"kind": "domain", "pattern": "old.kz", "author": "A", "token_hash": old}
    source = tmp_path / "old.jsonl"
    source.write_text(json.dumps(line) + "\n", encoding="utf-8")
    db = tmp_path / "r.sqlite"
    result = _run("import", "--registry", str(db), str(source), "--json")
    assert result.exit_code == 0, result.output
    (entry_id,) = json.loads(result.stdout)["added_ids"]
    with Registry(db) as reg:
        assert reg.remove(entry_id, "an-old-token-of-enough-length-000").id == entry_id


@contextlib.contextmanager
def _read_only(directory: Path) -> Iterator[None]:
    """Make ``directory`` read-only for this process: permission bits for a user,
    a read-only bind mount for root (whom permission bits do not stop)."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(0o755)
        return
    mounted = subprocess.run(
        ["mount", "--bind", str(directory), str(directory)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot make a read-only mount here: {mounted.stderr!r}")
    try:
        subprocess.run(
            ["mount", "-o", "remount,ro,bind", str(directory)], capture_output=True, check=True
        )
        yield
    finally:
        subprocess.run(["umount", str(directory)], capture_output=True, check=False)


def test_registry_in_a_read_only_directory_says_what_is_wrong_and_can_still_be_read(
    tmp_path: Path,
) -> None:
    # Before: every command, and the crawler, said "not a tdmcrawl registry: unable to
    # open database file" for a good registry on a read-only volume.
    volume = tmp_path / "volume"
    volume.mkdir()
    db = volume / "optout.sqlite"
    with Registry(db) as reg:
        entry_id = reg.add_domain("Әлия", "aliya.kz").entry.id
    assert not (volume / "optout.sqlite-wal").exists()  # the last close folded the WAL in
    with _read_only(volume):
        added = _run("add", "--registry", str(db), "--author", "B", "--domain", "b.kz")
        assert added.exit_code == 1
        (line,) = added.stderr.strip().splitlines()
        assert "not a tdmcrawl registry" not in line
        assert "read-only" in line and "optout.sqlite-wal" in line and "writable" in line
        listed = _run("list", "--registry", str(db))
        assert listed.exit_code == 0, listed.output
        assert entry_id in listed.stdout
        shown = _run("show", "--registry", str(db), entry_id)
        assert shown.exit_code == 0 and "aliya.kz" in shown.stdout
        with RegistryReader(db) as reader:  # the crawler's side: immutable, read-only
            match = reader.match_url("https://blog.aliya.kz/post")
            assert match is not None and match.id == entry_id
    assert sorted(p.name for p in volume.iterdir()) == ["optout.sqlite"]


def test_read_only_directory_with_pending_changes_in_the_wal_is_refused_clearly(
    tmp_path: Path,
) -> None:
    writer_dir = tmp_path / "writer"
    writer_dir.mkdir()
    volume = tmp_path / "volume"
    volume.mkdir()
    with Registry(writer_dir / "optout.sqlite") as writer:
        writer.add_domain("Әлия", "aliya.kz")
        writer.conn.execute("PRAGMA wal_autocheckpoint = 0")
        writer.add_domain("Ерлан", "erlan.kz")
        # A copy taken while changes were still in the write-ahead log (no -shm file).
        for name in ("optout.sqlite", "optout.sqlite-wal"):
            (volume / name).write_bytes((writer_dir / name).read_bytes())
    assert (volume / "optout.sqlite-wal").stat().st_size > 0
    with _read_only(volume):
        listed = _run("list", "--registry", str(volume / "optout.sqlite"))
        assert listed.exit_code == 1
        (line,) = listed.stderr.strip().splitlines()
        assert "write-ahead log" in line and "read-only" in line
        assert "not a tdmcrawl registry" not in line


def test_add_file_refuses_a_symbolic_link(tmp_path: Path) -> None:
    # Before: `registry add --file link.txt` registered whatever the link pointed at
    # (another user's file, a secret), and stored its text.
    secret = tmp_path / "elsewhere" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text(write_work(tmp_path, "w.txt", 5).read_text("utf-8"), encoding="utf-8")
    link = tmp_path / "work.txt"
    link.symlink_to(secret)
    db = tmp_path / "r.sqlite"
    result = _run("add", "--registry", str(db), "--author", "A", "--file", str(link))
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert "symbolic link" in line and str(secret) in line
    assert not db.exists()
    # The file itself is accepted.
    result = _run("add", "--registry", str(db), "--author", "A", "--file", str(secret))
    assert result.exit_code == 0, result.output
