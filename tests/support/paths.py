"""Where things are, for tests in any folder."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository
TESTS = ROOT / "tests"
DATA = TESTS / "data"
DOCS = ROOT / "docs"
CORPUS = ROOT / "benchmarks" / "corpus"
ARTIFACTS = ROOT / "test-artifacts"  # screenshots and the like, git-ignored
SHARED = ROOT.parent / "shared"  # the steering repository's shared/, when beside us
DESIGN = SHARED / "DESIGN.md"
# Real robots.txt comment blocks quoted from public repositories: data of that kind is
# kept in shared/, never in this repository.
REAL_COMMENTS = SHARED / "data" / "robots_comments" / "labelled.jsonl"
