"""Fixtures the browser tests share: one real chromium per module, the demo crawl."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.audit import Browser, demo_crawl


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo crawl's output (made once per session, in the base temp folder)."""
    return demo_crawl(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    pytest.importorskip("websocket", reason="websocket-client is in the dev group")
    b = Browser(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield b
    finally:
        b.close()
