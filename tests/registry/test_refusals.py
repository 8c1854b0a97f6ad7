"""A refused command changes nothing: not even a new, empty registry file."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tdmcrawl.crawler.cli import main
from tests.support.registry import run_script, write_work


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, ["registry", *args], input=input, catch_exceptions=False)


def assert_one_error_line(stderr: str, text: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and text in lines[0], stderr
    assert "Traceback" not in stderr


def _leftovers(tmp_path, name: str) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(name))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--author", "A", "--url", "nope"], "must start with http"),
        (["--author", "", "--domain", "a.kz"], "author name is empty"),
        (["--author", "A", "--email", "x", "--domain", "a.kz"], "invalid email"),
        (["--author", "A", "--scope", "train-ai", "--domain", "kz"], "two labels"),
    ],
)
def test_refused_add_creates_no_registry(tmp_path, args, message):
    result = run("add", "--registry", str(tmp_path / "new.sqlite"), *args)
    assert result.exit_code == 1
    assert_one_error_line(result.stderr, message)
    assert _leftovers(tmp_path, "new.sqlite") == []


def test_refused_work_creates_no_registry(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("Қысқа мәтін.", encoding="utf-8")
    result = run(
        "add", "--registry", str(tmp_path / "new.sqlite"), "--author", "Абай", "--file", str(short)
    )
    assert result.exit_code == 1
    assert_one_error_line(result.stderr, "too short")
    assert _leftovers(tmp_path, "new.sqlite") == []


def test_refused_import_creates_no_registry_and_a_good_one_does(tmp_path):
    bad = tmp_path / "rows.jsonl"
    bad.write_text(
        '{"kind": "domain", "pattern": "a.kz", "author": "A"}\n'
        '{"kind": "domain", "pattern": "b", "author": "B"}\n',
        encoding="utf-8",
    )
    result = run("import", "--registry", str(tmp_path / "new.sqlite"), str(bad))
    assert result.exit_code == 1
    assert_one_error_line(result.stderr, "line 2")
    assert _leftovers(tmp_path, "new.sqlite") == []
    good = tmp_path / "good.jsonl"
    good.write_text(
        '{"kind": "domain", "pattern": "қазақ.kz", "author": "Әлия"}\n', encoding="utf-8"
    )
    result = run("import", "--registry", str(tmp_path / "new.sqlite"), str(good))
    assert result.exit_code == 0, result.output
    assert "new.sqlite" in _leftovers(tmp_path, "new.sqlite")
    listed = run("list", "--registry", str(tmp_path / "new.sqlite"))
    assert "xn--80aau21bd.kz\tӘлия" in listed.stdout


def test_export_to_an_unwritable_place_is_one_line(tmp_path):
    db = str(tmp_path / "r.sqlite")
    assert run("add", "--registry", db, "--author", "A", "--domain", "a.kz").exit_code == 0
    result = run("export", "--registry", db, "-o", str(tmp_path / "no" / "such" / "x.csv"))
    assert result.exit_code == 1
    assert_one_error_line(result.stderr, "cannot write")


def test_script_refuses_a_short_work_before_creating_the_registry(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("Қысқа.", encoding="utf-8")
    proc = run_script(
        [
            "--registry",
            str(tmp_path / "new.sqlite"),
            "--name",
            "Абай",
            "--file",
            str(short),
            "--yes",
        ]
    )
    assert proc.returncode == 1
    assert_one_error_line(proc.stderr, "too short")
    assert _leftovers(tmp_path, "new.sqlite") == []


def test_script_interactive_work_too_short_is_refused_before_confirming(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("Қысқа.", encoding="utf-8")
    good = write_work(tmp_path, "long.txt", 5)
    answers = f"Абай\n\n4\n{short}\n\n\n"
    proc = run_script(["--registry", str(tmp_path / "new.sqlite")], stdin=answers)
    assert proc.returncode == 1
    assert "Register this opt-out?" not in proc.stdout
    assert "too short" in proc.stderr
    assert _leftovers(tmp_path, "new.sqlite") == []
    answers = f"Абай\n\n4\n{good}\n\nӨлеңдер\ny\n"
    proc = run_script(["--registry", str(tmp_path / "new.sqlite")], stdin=answers)
    assert proc.returncode == 0, proc.stderr
    assert "Your token:" in proc.stdout
