"""Several processes on one registry file: concurrent registrations, and a crawler
reading while an author writes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tdmcrawl.registry import Registry, RegistryReader

REGISTER = r"""
import json, sys, time
from pathlib import Path
from tdmcrawl.registry import Registry, DuplicateEntry
db, go, name, *domains = sys.argv[1:]
while not Path(go).exists():
    time.sleep(0.005)
out = []
for domain in domains:
    try:
        with Registry(db) as reg:
            out.append(reg.add_domain(name, domain).entry.id)
    except DuplicateEntry as exc:
        out.append("duplicate:" + exc.existing_id)
print(json.dumps(out))
"""

SLOW_WRITER = r"""
import sys, time
from pathlib import Path
from tdmcrawl.registry import Registry, tokens
from tdmcrawl.registry.entries import new_id, utc_now
from tdmcrawl.registry.store import NewEntry
from tdmcrawl.registry.urlrules import parse_domain
db, written, release, count = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
token_hash = tokens.hash_token(tokens.new_token())
with Registry(db) as reg:
    reg.conn.execute("BEGIN IMMEDIATE")
    for i in range(count):
        rule = parse_domain(f"site{i}.kz")
        now = utc_now()
        reg._insert_unchecked(NewEntry(
            id=new_id(), kind=rule.kind, pattern=rule.pattern, rule_key=rule.key,
            host=rule.host, scope="train-ai", author="Writer", email=None, title=None,
            created_at=now, updated_at=now, token_hash=token_hash))
    written.write_text("ok")
    deadline = time.monotonic() + 30  # never hang the suite if the reader is broken
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    reg.conn.execute("COMMIT")
"""


def _spawn(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )


def _finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out


def test_two_processes_registering_at_once_both_succeed(tmp_path):
    db = str(tmp_path / "fresh.sqlite")  # created by whichever process comes first
    go = tmp_path / "go"
    first = _spawn(REGISTER, db, str(go), "Әлия", *(f"a{i}.kz" for i in range(5)), "both.kz")
    second = _spawn(REGISTER, db, str(go), "Иван", *(f"b{i}.kz" for i in range(5)), "both.kz")
    time.sleep(0.3)  # let both interpreters start and wait on the same signal
    go.write_text("go")
    ids_a, ids_b = json.loads(_finish(first)), json.loads(_finish(second))
    assert all(not x.startswith("duplicate:") for x in ids_a[:5] + ids_b[:5])
    # The same rule registered by both at once: one entry, and the other learns its id.
    outcomes = sorted([ids_a[5], ids_b[5]], key=lambda x: x.startswith("duplicate:"))
    assert outcomes[1] == "duplicate:" + outcomes[0]
    with Registry(db) as reg:
        assert len(reg) == 11
        assert {e.id for e in reg.entries()} == set(ids_a[:5] + ids_b[:5] + outcomes[:1])


def test_reader_is_not_blocked_and_sees_a_consistent_snapshot(tmp_path):
    db = tmp_path / "r.sqlite"
    with Registry(db) as reg:
        reg.add_domain("Before", "before.kz")
    written, release = tmp_path / "written", tmp_path / "release"
    writer = _spawn(SLOW_WRITER, str(db), str(written), str(release), "200")
    try:
        deadline = time.monotonic() + 60
        while not written.exists():
            assert writer.poll() is None, writer.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.01)
        # The writer holds its transaction open: the reader still opens and reads.
        reader = RegistryReader(db)
        assert len(reader) == 1
        assert reader.match_url("https://before.kz/") is not None
        assert reader.match_url("https://site7.kz/") is None
        assert writer.poll() is None  # so the writer really was mid-transaction
    finally:
        release.write_text("go")
    _finish(writer)
    assert reader.match_url("https://site7.kz/") is None  # its snapshot does not move
    assert reader.refresh() is True
    assert len(reader) == 201
    assert reader.match_url("https://www.site199.kz/").author == "Writer"
    reader.close()


def test_reader_needs_no_write_access_and_takes_any_path(tmp_path):
    folder = tmp_path / "тіркеу папка #1?"
    folder.mkdir()
    db = folder / "реестр.sqlite"
    with Registry(db) as reg:
        reg.add_domain("A", "a.kz")
    before = Path(db).read_bytes()
    with RegistryReader(db) as reader:
        assert reader.match_url("https://a.kz/x") is not None
    assert Path(db).read_bytes() == before
