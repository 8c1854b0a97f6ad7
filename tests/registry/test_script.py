"""scripts/register-optout, run as an author would: answering its questions on
stdin, and with flags only."""

from __future__ import annotations

import json
import os
import re

from tdmcrawl.registry import Registry, RegistryReader
from tests.support.registry import SCRIPT, run_script, write_work

ID_RE = re.compile(r"Your id:\s+([0-9a-f-]{36})")
TOKEN_RE = re.compile(r"Your token:\s+(\S+)")


def test_script_is_an_executable_python3_script():
    assert SCRIPT.read_text(encoding="utf-8").startswith("#!/usr/bin/env python3\n")
    assert os.access(SCRIPT, os.X_OK)


def test_interactive_site_registration_with_a_retry_on_bad_input(tmp_path):
    db = tmp_path / "optout.sqlite"
    answers = (
        "\n".join(
            [
                "Әлия Қасымова",  # name
                "not-an-email",  # refused, asked again
                "aliya@example.kz",
                "3",  # a whole site
                "https://aliya.kz/blog",  # refused: a site, not a page
                "Aliya.KZ",
                "y",  # confirm
            ]
        )
        + "\n"
    )
    proc = run_script(["--registry", str(db)], stdin=answers)
    assert proc.returncode == 0, proc.stderr
    assert "invalid email" in proc.stderr and "prefix rule" in proc.stderr
    assert "Opt out: the site aliya.kz and all its subdomains" in proc.stdout
    assert "shown only once" in proc.stdout
    entry_id = ID_RE.search(proc.stdout).group(1)
    token = TOKEN_RE.search(proc.stdout).group(1)
    with Registry(db) as reg:
        entry = reg.get(entry_id)
        assert (entry.author, entry.email, entry.pattern) == (
            "Әлия Қасымова",
            "aliya@example.kz",
            "aliya.kz",
        )
        assert reg.remove(entry_id, token).id == entry_id


def test_interactive_prefix_without_scheme_and_no_email(tmp_path):
    db = tmp_path / "optout.sqlite"
    # "n": not the www twin the script offers; then Enter confirms.
    proc = run_script(["--registry", str(db)], stdin="Иван Петров\n\n2\nexample.ru/статьи/\nn\n\n")
    assert "www.example.ru" in proc.stdout
    assert proc.returncode == 0, proc.stderr
    with RegistryReader(db) as reader:
        match = reader.match_url("http://example.ru/статьи/первая")
        assert match is not None and match.author == "Иван Петров"
        assert reader.match_url("https://example.ru/other") is None


def test_interactive_work_from_files(tmp_path):
    db = tmp_path / "optout.sqlite"
    ch1 = write_work(tmp_path, "тарау-1.txt", 11)
    ch2 = write_work(tmp_path, "тарау-2.html", 12)
    answers = (
        "\n".join(
            [
                "Мұхтар",
                "",
                "4",
                str(tmp_path / "missing.txt"),  # refused, asked again
                str(ch1),
                str(ch2),
                "",  # empty line ends the list
                "Абай жолы",
                "y",
            ]
        )
        + "\n"
    )
    proc = run_script(["--registry", str(db)], stdin=answers)
    assert proc.returncode == 0, proc.stderr
    assert "cannot read" in proc.stderr
    with Registry(db) as reg:
        (entry,) = reg.entries()
        assert (entry.title, entry.files, entry.fingerprinted) == (
            "Абай жолы",
            ("тарау-1.txt", "тарау-2.html"),
            2,
        )


def test_a_file_that_is_not_a_registry_is_refused_before_any_question(tmp_path):
    db = tmp_path / "notes.sqlite"
    db.write_text("my notes, not a database " * 10, encoding="utf-8")
    proc = run_script(["--registry", str(db)], stdin="Әлия\n\n3\naliya.kz\ny\n")
    assert proc.returncode == 1
    assert "not a tdmcrawl registry" in proc.stderr and "Your name" not in proc.stdout
    assert db.read_text(encoding="utf-8") == "my notes, not a database " * 10


def test_declining_registers_nothing(tmp_path):
    db = tmp_path / "optout.sqlite"
    proc = run_script(["--registry", str(db)], stdin="A\n\n1\nhttps://a.kz/page\nn\nn\n")
    assert proc.returncode == 0, proc.stderr
    assert "Nothing registered" in proc.stdout
    assert not db.exists()


def test_flags_only_never_prompt(tmp_path):
    db = tmp_path / "optout.sqlite"
    proc = run_script(
        [
            "--registry",
            str(db),
            "--name",
            "Ержан",
            "--email",
            "e@x.kz",
            "--url",
            "https://x.kz/page",
            "--json",
        ],
        stdin="",
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {"id", "token"} <= set(data) and data["pattern"] == "https://x.kz/page"
    # The registry path can come from the environment too.
    proc = run_script(
        ["--name", "Ержан", "--site", "x.kz"], stdin="", env={"TDMCRAWL_REGISTRY": str(db)}
    )
    assert proc.returncode == 0, proc.stderr
    assert ID_RE.search(proc.stdout) and TOKEN_RE.search(proc.stdout)


def test_flag_errors_are_one_line_exit_1(tmp_path):
    db = tmp_path / "optout.sqlite"
    run_script(["--registry", str(db), "--name", "A", "--site", "dup.kz"])
    for args, message in (
        (["--site", "dup.kz"], "already registered as entry"),
        (["--site", "kz"], "two labels"),
        (["--url", "https:///x"], "no host"),
        (["--file", str(tmp_path / "none.txt")], "cannot read"),
    ):
        proc = run_script(["--registry", str(db), "--name", "B", *args], stdin="")
        assert proc.returncode == 1, proc.stdout
        assert proc.stderr.strip().startswith("Error: ") and message in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    with Registry(db) as reg:
        assert len(reg) == 1
    proc = run_script(
        ["--registry", str(db), "--name", "B", "--site", "a.kz", "--url", "https://a.kz/"]
    )
    assert proc.returncode == 2
