"""Every registry command documents itself: --help ends with an example, and
docs/registry.md shows each command in use."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tdmcrawl.crawler.cli import main
from tdmcrawl.crawler.cli.registry import registry
from tests.support.registry import ROOT, SCRIPT, run_script

COMMANDS = sorted(registry.commands)


def _last_blocks(text: str) -> tuple[str, str]:
    blocks = [b for b in text.strip().split("\n\n") if b.strip()]
    return blocks[-2].strip(), blocks[-1].strip()


def test_the_registry_has_the_contract_commands():
    assert {"add", "list", "show", "remove", "export", "import"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_help_of_every_registry_command_ends_with_its_example(name):
    result = CliRunner().invoke(main, ["registry", name, "--help"])
    assert result.exit_code == 0, result.output
    heading, example = _last_blocks(result.stdout)
    assert heading == "Example:"
    assert example.startswith(f"tdmcrawl registry {name} "), example
    assert result.stdout.index("Options:") < result.stdout.index("Example:")


def test_script_help_ends_with_an_example():
    proc = run_script(["--help"])
    assert proc.returncode == 0, proc.stderr
    heading, example = _last_blocks(proc.stdout)
    assert heading == "Example:" and example.startswith("register-optout")
    assert "--yes" in example


def test_script_runs_on_a_python_with_only_the_standard_library(tmp_path):
    # -S -I: no site-packages, no user site, no PYTHON* variables: what an author has.
    bare = [sys.executable, "-S", "-I", str(SCRIPT)]
    proc = subprocess.run(
        [*bare, "--help"], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "--server" in proc.stdout and "--remove" in proc.stdout
    # Only the operators' local mode needs tdmcrawl, and it says so in one line.
    proc = subprocess.run(
        [*bare, "--registry", "r.sqlite", "--name", "A", "--site", "a.kz", "--yes"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:")
    assert "tdmcrawl installed" in lines[0] and "--server" in lines[0]
    assert not (tmp_path / "r.sqlite").exists()


def test_docs_show_every_command_in_use():
    docs = (ROOT / "docs" / "registry.md").read_text(encoding="utf-8")
    code = "\n".join(re.findall(r"```[a-z]*\n(.*?)```", docs, flags=re.DOTALL))
    for name in COMMANDS:
        examples = re.findall(
            rf"^tdmcrawl registry {name} (?!--registry DB)\S.*$", code, flags=re.MULTILINE
        )
        assert examples, f"docs/registry.md has no example of `tdmcrawl registry {name}`"
    assert "scripts/register-optout --registry" in code
    assert "byte-order mark" in docs and "formula injection" in docs
