"""What `pip install tdmcrawl` puts in site-packages: one `tdmcrawl` namespace, nothing generic.

The repository's folders (`crawler/`, `optout/`, `dedup/`, `registry/`) are
installed as `tdmcrawl.crawler` and so on, so a user's Scrapy project may
have its own `crawler` or `registry` package (tests/e2e/test_addon_project.py
runs one). Here: the wheel holds exactly the four folders' modules under
`tdmcrawl/`, and no source file imports the folders by their bare names
(which the repository root on `sys.path` would let pass in the tests).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support import paths

PACKAGES = ("crawler", "optout", "dedup", "registry")
SOURCES = [*PACKAGES, "tests", "benchmarks"]


def _python_files(folder: str) -> list[Path]:
    return sorted((paths.ROOT / folder).rglob("*.py"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            str(paths.ROOT),
            "-w",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (path,) = out.glob("tdmcrawl-*.whl")
    return zipfile.ZipFile(path)


def test_the_wheel_installs_one_top_level_name(wheel: zipfile.ZipFile) -> None:
    tops = {name.split("/", 1)[0] for name in wheel.namelist()}
    assert tops == {"tdmcrawl", next(t for t in tops if t.endswith(".dist-info"))}
    top_level = next(n for n in wheel.namelist() if n.endswith("top_level.txt"))
    assert wheel.read(top_level).decode().split() == ["tdmcrawl"]


def test_the_wheel_holds_every_module_and_data_file(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for package in PACKAGES:
        for path in _python_files(package):
            assert f"tdmcrawl/{path.relative_to(paths.ROOT).as_posix()}" in names, path
    assert "tdmcrawl/optout/data/ai_training_tokens.json" in names
    assert "tdmcrawl/crawler/demo/sites/sites.json" in names
    # The registry service's pages, stylesheet and catalogs (kk, ru, en).
    assert "tdmcrawl/registry/service/templates/form.html" in names
    assert "tdmcrawl/registry/service/static/style.css" in names
    assert "tdmcrawl/registry/locale/kk/LC_MESSAGES/tdmcrawl.po" in names
    for package in ("optout", "dedup", "registry"):
        assert f"tdmcrawl/{package}/py.typed" in names


def test_the_console_script_points_into_the_namespace(wheel: zipfile.ZipFile) -> None:
    entry_points = next(n for n in wheel.namelist() if n.endswith("entry_points.txt"))
    assert "tdmcrawl = tdmcrawl.crawler.cli:main" in wheel.read(entry_points).decode()


def _bare_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [f"{path.name}:{node.lineno}: {n}" for n in names if n.split(".")[0] in PACKAGES]
    return found


def test_no_source_imports_a_folder_by_its_bare_name() -> None:
    bare = [
        hit for folder in SOURCES for path in _python_files(folder) for hit in _bare_imports(path)
    ]
    assert bare == []


def test_the_scan_would_see_a_bare_import(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import crawler.cli\nfrom optout.policy import evaluate\n")
    assert len(_bare_imports(probe)) == 2


def test_every_module_imports() -> None:
    """A name imported from a module that no longer has it fails here, not in a user's crawl
    (mypy covers optout, dedup and registry; this covers every module, crawler's too)."""
    import importlib
    import pkgutil

    import tdmcrawl.crawler
    import tdmcrawl.dedup
    import tdmcrawl.optout
    import tdmcrawl.registry

    failed = []
    for package in (tdmcrawl.crawler, tdmcrawl.optout, tdmcrawl.dedup, tdmcrawl.registry):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if module.name.endswith("__main__"):
                continue  # runs the CLI when imported
            try:
                importlib.import_module(module.name)
            except Exception as exc:
                failed.append(f"{module.name}: {exc!r}")
    assert failed == []
