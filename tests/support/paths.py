"""Where things are, for tests in any folder."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository
TESTS = ROOT / "tests"
DATA = TESTS / "data"
DOCS = ROOT / "docs"
CORPUS = ROOT / "benchmarks" / "corpus"
ARTIFACTS = ROOT / "test-artifacts"  # screenshots and the like, git-ignored
DESIGN = ROOT.parent / "shared" / "DESIGN.md"  # the steering repository's, when beside us
