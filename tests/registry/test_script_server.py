"""scripts/register-optout as an author runs it: a single file on a Python with nothing
but the standard library (``python3 -S -I``), talking to a real registry service."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tdmcrawl.registry import Registry
from tdmcrawl.registry.scriptstrings import embedded_block, script_messages, strings_block
from tests.support.registry import SCRIPT, work_text
from tests.support.registry_service import RegistryServer, russian_text
from tests.support.work_files import docx_bytes

KAZAKH_LETTERS = re.compile("[әғқңөұүһі]")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    db = tmp_path_factory.mktemp("script-service") / "optout.sqlite"
    with RegistryServer(db) as running:
        yield running


def bare(args: list[str], stdin: str = "", env: dict[str, str] | None = None, cwd=None):
    """The script on a Python without site-packages (-S) in isolated mode (-I)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("TDMCRAWL_")}
    full.update({"PYTHONIOENCODING": "utf-8", "LANG": "C.UTF-8", **(env or {})})
    return subprocess.run(
        [sys.executable, "-S", "-I", str(SCRIPT), *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=full,
        cwd=cwd,
        timeout=120,
    )


def test_flags_only_registration_prints_one_json_object(server):
    proc = bare(["--server", server.base, "--name", "Ержан", "--site", "erzhan.kz", "--json"])
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {"id", "token"} <= set(data) and data["pattern"] == "erzhan.kz"
    with Registry(server.db, read_only=True) as reg:
        assert reg.get(data["id"]).author == "Ержан"
    # The server can come from the environment too.
    proc = bare(
        ["--name", "Ержан", "--url", "erzhan.kz/kitap", "--yes"],
        env={"TDMCRAWL_REGISTRY_URL": server.base},
    )
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"[0-9a-f-]{36}", proc.stdout)


def test_interactive_work_upload_in_kazakh(server, tmp_path):
    docx = tmp_path / "тарау-1.docx"
    docx.write_bytes(docx_bytes([work_text(501, 220)]))
    cp1251 = tmp_path / "тарау-2.txt"
    cp1251.write_bytes(russian_text(502, 220).encode("cp1251"))
    link = tmp_path / "сілтеме.txt"
    link.symlink_to(cp1251)
    answers = [
        "Мұхтар Әуезов",
        "",  # no email
        "4",  # a work
        str(tmp_path / "жоқ.txt"),  # refused: no such file, asked again
        str(link),  # refused: a symbolic link
        str(docx),
        str(cp1251),
        "",  # the list ends
        "Абай жолы",
        "и",  # confirm (Kazakh "иә")
    ]
    proc = bare(["--server", server.base, "--lang", "kk"], stdin="\n".join(answers) + "\n")
    assert proc.returncode == 0, proc.stderr
    assert KAZAKH_LETTERS.search(proc.stdout)
    assert "Your name" not in proc.stdout  # the questions are in Kazakh
    entry_id = re.search(r"([0-9a-f]{8}-[0-9a-f-]{27})", proc.stdout).group(1)
    assert len(proc.stderr.strip().splitlines()) == 2  # the two refused files, one line each
    with Registry(server.db, read_only=True) as reg:
        entry = reg.get(entry_id)
        assert entry.files == ("тарау-1.docx", "тарау-2.txt") and entry.fingerprinted == 2
        assert entry.title == "Абай жолы"


def test_a_refusal_by_the_server_is_explained_and_asked_again_in_russian(server):
    answers = ["Иван", "ivan@example.ru", "3", "ivan.kx", "ivan.ru", "y"]
    proc = bare(["--server", server.base], "\n".join(answers) + "\n", {"LANG": "ru_RU.UTF-8"})
    assert proc.returncode == 0, proc.stderr
    (refusal,) = proc.stderr.strip().splitlines()
    assert "ivan.kx" in refusal and re.search("[а-я]{4}", refusal)
    assert re.search("[а-я]{4}", proc.stdout)


def test_www_twin_is_offered_and_registered_with_one_token(server):
    answers = ["Сәуле", "", "3", "www.saule-blog.kz", "и", "и"]
    proc = bare(["--server", server.base, "--lang", "kk"], "\n".join(answers) + "\n")
    assert proc.returncode == 0, proc.stderr
    assert "saule-blog.kz" in proc.stdout
    token = proc.stdout.strip().splitlines()[-2].split()[-1]
    with Registry(server.db, read_only=True) as reg:
        mine = reg.entries_by_token(token)
    assert sorted(e.pattern for e in mine) == ["saule-blog.kz", "www.saule-blog.kz"]


def test_remove_with_the_token(server):
    made = json.loads(
        bare(["--server", server.base, "--name", "A", "--site", "gone.kz", "--json"]).stdout
    )
    wrong = bare(["--server", server.base, "--remove", made["id"], "--token", "x" * 32])
    assert wrong.returncode == 1
    (line,) = wrong.stderr.strip().splitlines()
    assert line.startswith("Error:") and "token" in line
    proc = bare(
        ["--server", server.base, "--remove", made["id"], "--token", made["token"], "--json"]
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["removed"] == made["id"]
    with Registry(server.db, read_only=True) as reg:
        assert all(e.id != made["id"] for e in reg.entries())


def test_an_unreachable_server_is_one_line(tmp_path):
    proc = bare(["--server", "http://127.0.0.1:9", "--name", "A", "--site", "a.kz", "--yes"])
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("Error:") and "127.0.0.1:9" in line and "Traceback" not in line


def test_the_script_is_one_standard_library_file_for_python_3_9():
    source = SCRIPT.read_text(encoding="utf-8")
    tree = ast.parse(source, feature_version=(3, 9))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.col_offset == 0:
            imported.add((node.module or "").split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


def test_the_embedded_strings_equal_the_catalogs():
    # Regenerate with: python -m tdmcrawl.registry.scriptstrings scripts/register-optout
    source = SCRIPT.read_text(encoding="utf-8")
    messages = script_messages(SCRIPT)
    assert "Your name" in messages and "Your token: {token}" in messages
    assert embedded_block(source) == strings_block(messages)
    namespace: dict = {}
    exec(compile(embedded_block(source), "strings", "exec"), {"Dict": dict}, namespace)
    for lang in ("kk", "ru"):
        assert set(namespace["STRINGS"][lang]) == set(messages), lang


def test_the_local_mode_for_operators_still_writes_a_file(tmp_path: Path):
    db = tmp_path / "optout.sqlite"
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--registry",
            str(db),
            "--name",
            "A",
            "--site",
            "a.kz",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("TDMCRAWL_")},
    )
    assert proc.returncode == 0, proc.stderr
    with Registry(db) as reg:
        assert reg.get(json.loads(proc.stdout)["id"]).pattern == "a.kz"
