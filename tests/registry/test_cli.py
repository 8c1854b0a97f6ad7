"""`tdmcrawl registry ...` through Click's runner and, once, the installed console script."""

from __future__ import annotations

import json
import subprocess

import pytest
from click.testing import CliRunner

from tdmcrawl.crawler.cli import main
from tdmcrawl.registry import Registry, RegistryReader
from tests.support.registry import TDMCRAWL, write_work


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "optout.sqlite")


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, ["registry", *args], input=input, catch_exceptions=False)


def assert_one_line_error(result, text: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert text in lines[0]
    assert "Traceback" not in result.output


def add_json(db: str, *args: str) -> dict:
    result = run("add", "--registry", db, "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_add_prints_id_and_token_and_json_has_both(db):
    result = run(
        "add", "--registry", db, "--author", "Иван Петров", "--url", "https://example.kz/blog/*"
    )
    assert result.exit_code == 0, result.output
    assert "id:" in result.stdout and "token:" in result.stdout
    assert "shown only once" in result.stdout
    data = add_json(db, "--author", "Әлия", "--domain", "қазақ.kz", "--email", "a@b.kz")
    assert {"id", "token"} <= set(data)
    assert (data["kind"], data["pattern"], data["author"]) == ("domain", "xn--80aau21bd.kz", "Әлия")


def test_add_work_with_several_files_after_one_flag(db, tmp_path):
    a, b = write_work(tmp_path, "a.txt", 1), write_work(tmp_path, "b.md", 2)
    data = add_json(db, "--author", "Абай", "--title", "Өлеңдер", "--file", str(a), str(b))
    assert data["files"] == ["a.txt", "b.md"] and data["fingerprinted"] == 2
    c = write_work(tmp_path, "c.txt", 3)
    data = add_json(db, "--author", "Абай", "--file", str(c), "--file", str(a))
    assert data["files"] == ["c.txt", "a.txt"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "https:///blog/*"], "no host"),
        (["--url", "not a url"], "http:// or https://"),
        (["--domain", "kz"], "two labels"),
        (["--domain", "example.kz", "--email", "nope"], "invalid email"),
        (["--file", "/nonexistent/w.txt"], "cannot read"),
    ],
)
def test_bad_input_is_one_line_exit_1_and_changes_nothing(db, args, message):
    assert run("list", "--registry", db).exit_code == 1  # no registry yet
    add_json(db, "--author", "A", "--domain", "first.kz")
    result = run("add", "--registry", db, "--author", "B", *args)
    assert_one_line_error(result, message)
    with Registry(db) as reg:
        assert len(reg) == 1


def test_bad_files_are_one_line_errors(db, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    binary = tmp_path / "img.txt"
    binary.write_bytes(bytes(range(256)) * 4)
    assert_one_line_error(
        run("add", "--registry", db, "--author", "A", "--file", str(empty)), "empty"
    )
    assert_one_line_error(
        run("add", "--registry", db, "--author", "A", "--file", str(binary)), "binary"
    )


def test_usage_errors_exit_2(db):
    assert run("add", "--registry", db, "--author", "A").exit_code == 2
    result = run(
        "add", "--registry", db, "--author", "A", "--url", "https://a.kz/", "--domain", "a.kz"
    )
    assert result.exit_code == 2
    assert run("remove", "--registry", db, "x").exit_code == 2  # --token missing


def test_duplicate_reports_the_existing_id(db):
    first = add_json(db, "--author", "A", "--domain", "example.kz")
    result = run("add", "--registry", db, "--author", "B", "--domain", "EXAMPLE.kz")
    assert_one_line_error(result, first["id"])


def test_list_show_remove_edit(db):
    a = add_json(db, "--author", "Әлия", "--url", "https://example.kz/a")
    b = add_json(db, "--author", "Иван", "--domain", "ivan.kz", "--scope", "search")
    listed = run("list", "--registry", db, "--json")
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["id"] for r in rows] == [a["id"], b["id"]]
    assert all("token" not in r for r in rows)
    plain = run("list", "--registry", db).stdout.splitlines()
    assert plain[1].split("\t") == [b["id"], "domain", "search", "ivan.kz", "Иван"]
    assert [
        json.loads(x)["id"]
        for x in run("list", "--registry", db, "--kind", "domain", "--json").stdout.splitlines()
    ] == [b["id"]]
    shown = run("show", "--registry", db, a["id"], "--json")
    assert json.loads(shown.stdout)["pattern"] == "https://example.kz/a"
    assert "author: Әлия" in run("show", "--registry", db, a["id"]).stdout

    assert_one_line_error(
        run("remove", "--registry", db, a["id"], "--token", b["token"]), "wrong token"
    )
    assert_one_line_error(
        run("show", "--registry", db, "00000000-0000-4000-8000-000000000000"), "no registry entry"
    )
    edited = run(
        "edit", "--registry", db, b["id"], "--token", b["token"], "--title", "Сайт", "--json"
    )
    assert json.loads(edited.stdout)["title"] == "Сайт"
    removed = run("remove", "--registry", db, a["id"], "--token", a["token"], "--json")
    assert json.loads(removed.stdout) == {"removed": a["id"]}
    assert_one_line_error(run("show", "--registry", db, a["id"]), "no registry entry")


def test_not_a_registry_is_one_line_error(tmp_path):
    bogus = tmp_path / "photo.sqlite"
    bogus.write_bytes(b"\x89PNG\r\n" + b"\x00" * 200)
    for args in (["list"], ["add", "--author", "A", "--domain", "a.kz"], ["export"]):
        assert_one_line_error(run(*args, "--registry", str(bogus)), "not a tdmcrawl registry")
    assert bogus.read_bytes() == b"\x89PNG\r\n" + b"\x00" * 200


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_import_round_trip_is_idempotent_and_tokens_keep_working(db, tmp_path, fmt):
    url = add_json(
        db, "--author", 'Иван, "Ваня"', "--url", "https://example.kz/?q=1", "--title", "Жол\nекі"
    )
    work = add_json(db, "--author", "Абай", "--file", str(write_work(tmp_path, "w.txt", 5)))
    out = tmp_path / f"export.{fmt}"
    result = run("export", "--registry", db, "--format", fmt, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert url["token"] not in out.read_text(encoding="utf-8")

    other = str(tmp_path / "other.sqlite")
    first = run("import", "--registry", other, str(out), "--json")
    assert json.loads(first.stdout)["added"] == 2
    again = run("import", "--registry", other, str(out), "--json")
    assert (json.loads(again.stdout)["added"], json.loads(again.stdout)["skipped"]) == (0, 2)
    with Registry(db) as a, Registry(other) as b:
        assert [e.to_dict() for e in a.entries()] == [e.to_dict() for e in b.entries()]
    with RegistryReader(other) as reader:
        assert reader.match_url("https://example.kz/?q=1").id == url["id"]
        assert [w.work_id for w in reader.content_works()] == [work["id"]]
    removed = run("remove", "--registry", other, work["id"], "--token", work["token"])
    assert removed.exit_code == 0, removed.output


def test_export_to_stdout_and_import_from_stdin(db, tmp_path):
    add_json(db, "--author", "Сәуле", "--domain", "saule.kz")
    exported = run("export", "--registry", db)
    assert exported.exit_code == 0, exported.output
    (line,) = exported.stdout.splitlines()
    assert json.loads(line)["author"] == "Сәуле" and "token" not in json.loads(line)
    other = str(tmp_path / "other.sqlite")
    result = run("import", "--registry", other, "-", "--json", input=exported.stdout)
    assert json.loads(result.stdout)["added"] == 1


def test_import_is_all_or_nothing_with_line_numbers(db, tmp_path):
    add_json(db, "--author", "A", "--domain", "existing.kz")
    rows = [
        {"kind": "domain", "pattern": "good.kz", "author": "Good"},
        {"kind": "domain", "pattern": "kz", "author": "Bad"},
        {"kind": "url", "pattern": "https://a.kz/", "author": ""},
        "not json",
        {"kind": "prefix", "pattern": "https://b.kz/x", "author": "B"},
        {"kind": "domain", "pattern": "good.kz", "author": "Twice"},
        {"kind": "url", "pattern": "https://c.kz/", "author": "C", "token_hash": "plain"},
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    result = run("import", "--registry", db, str(path))
    assert_one_line_error(result, "nothing imported")
    assert "line 4: not JSON" in result.stderr
    path.write_text("\n".join(json.dumps(r) for r in rows if not isinstance(r, str)) + "\n")
    result = run("import", "--registry", db, str(path))
    assert_one_line_error(result, "5 bad row(s)")
    for line in ("line 2:", "line 3:", "line 4:", "line 5:", "line 6:"):
        assert line in result.stderr
    assert "line 1:" not in result.stderr
    with Registry(db) as reg:
        assert [e.pattern for e in reg.entries()] == ["existing.kz"]


def test_import_without_hash_gives_new_tokens_once(db, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("kind,pattern,author,email\ndomain,новый.kz,Ержан,e@x.kz\n", encoding="utf-8")
    first = json.loads(run("import", "--registry", db, str(path), "--json").stdout)
    assert first["added"] == 1 and len(first["new_tokens"]) == 1
    token = first["new_tokens"][0]
    again = json.loads(run("import", "--registry", db, str(path), "--json").stdout)
    assert (again["added"], again["skipped"], again["new_tokens"]) == (0, 1, [])
    assert run("remove", "--registry", db, token["id"], "--token", token["token"]).exit_code == 0


def test_reindex_command(db, tmp_path):
    add_json(db, "--author", "A", "--file", str(write_work(tmp_path, "w.txt", 7)))
    result = run("reindex", "--registry", db, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["fingerprinted"] == 1


def test_installed_console_script_runs_registry_commands(db):
    proc = subprocess.run(
        [
            str(TDMCRAWL),
            "registry",
            "add",
            "--registry",
            db,
            "--author",
            "Ғалым",
            "--domain",
            "galym.kz",
            "--json",
        ],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["author"] == "Ғалым"
    proc = subprocess.run(
        [str(TDMCRAWL), "registry", "--help"], capture_output=True, text=True, timeout=120
    )
    for command in ("add", "list", "show", "remove", "edit", "export", "import", "reindex"):
        assert command in proc.stdout
