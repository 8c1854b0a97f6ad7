"""A real redis-server on a free loopback port, for any test that needs Redis.

    from tests.support.redis import redis_server   # tests/ is on sys.path under pytest

    def test_x(tmp_path):
        with redis_server(tmp_path) as (host, port):
            ...

The server runs without persistence in its own temporary directory and is
stopped (and waited for) when the block ends. A test is skipped, with the
reason, only when no ``redis-server`` executable is installed.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ping(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def redis_server(
    workdir: str | Path | None = None, timeout: float = 10.0
) -> Iterator[tuple[str, int]]:
    """Start ``redis-server`` on 127.0.0.1 and a free port; yield (host, port)."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    host = "127.0.0.1"
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="redis-test-"))
        for _attempt in range(3):  # a port taken between probe and bind: try another
            port = _free_port()
            proc = subprocess.Popen(
                [
                    exe,
                    "--port",
                    str(port),
                    "--bind",
                    host,
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(workdir),
                    "--protected-mode",
                    "yes",
                    "--loglevel",
                    "warning",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            deadline = time.monotonic() + timeout
            while proc.poll() is None and time.monotonic() < deadline and not _ping(host, port):
                time.sleep(0.02)
            if proc.poll() is None and _ping(host, port):
                break
            proc.kill()
            proc.wait()
        else:
            raise RuntimeError(f"redis-server did not start on {host}")
        try:
            yield host, port
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()
