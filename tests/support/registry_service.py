"""The real registry service on a free loopback port, and small HTTP clients for it.

``RegistryServer(db, ...)`` runs ``tdmcrawl registry serve`` in a subprocess (a
process of its own, as in production) and waits until it answers. Rate limits
are off unless a test asks for them.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from tests.support.audit import free_port
from tests.support.registry import TDMCRAWL, work_text


class RegistryServer:
    def __init__(self, db: Path, *args: str, limits: bool = False, port: int | None = None) -> None:
        self.db = db
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        argv = [
            str(TDMCRAWL),
            "registry",
            "serve",
            "--registry",
            str(db),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            *args,
        ]
        if not limits and "--writes-per-minute" not in args:
            argv += ["--writes-per-minute", "0", "--reads-per-minute", "0"]
        self.log = db.with_name(f"{db.name}.{self.port}.log")
        self._log = self.log.open("wb")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT)

    def __enter__(self) -> RegistryServer:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(self.log.read_text("utf-8", "replace"))
            try:
                if get(self.base + "/api/v1/info")[0] == 200:
                    return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise AssertionError("the registry service did not start within 60 s")

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()

    def output(self) -> str:
        return self.log.read_text("utf-8", "replace")


def request(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers with lower-case names, body); HTTP errors are answers too.
    In English unless ``headers`` ask for another language (the service's default is
    Kazakh)."""
    headers = {"Accept-Language": "en", **(headers or {})}
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    return request("GET", url, headers=headers)


def post_json(
    url: str, data: Any, headers: dict[str, str] | None = None, method: str = "POST"
) -> tuple[int, Any]:
    status, _, body = request(
        method,
        url,
        json.dumps(data).encode(),
        {"Content-Type": "application/json", **(headers or {})},
    )
    return status, json.loads(body) if body else None


def multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """(body, content type) of a multipart/form-data request; files as (field, name, data)."""
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f"--{boundary}\r\n".encode())
        out.write(f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(value.encode() + b"\r\n")
    for field, filename, data in files:
        out.write(f"--{boundary}\r\n".encode())
        out.write(
            f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
        )
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def upload_work(
    base: str,
    author: str,
    files: list[tuple[str, bytes]],
    headers: dict[str, str] | None = None,
    **fields: str,
) -> tuple[int, Any]:
    body, ctype = multipart(
        {"author": author, **fields}, [("files", name, data) for name, data in files]
    )
    status, _, raw = request(
        "POST", base + "/api/v1/works", body, {"Content-Type": ctype, **(headers or {})}
    )
    return status, json.loads(raw)


def work_bytes(seed: int, words: int = 160, encoding: str = "utf-8") -> bytes:
    return work_text(seed, words).encode(encoding)


RUSSIAN_WORDS = ["слово", "книга", "автор", "город", "река", "лес", "дорога", "песня", "море"]


def russian_text(seed: int, words: int = 160) -> str:
    """A Russian text (Windows-1251 can hold it, unlike Kazakh), distinct per seed."""
    out, state = [], seed * 7919 + 17
    for i in range(words):
        state = (state * 1103515245 + 12345) % 2**31
        out.append(f"{RUSSIAN_WORDS[state % len(RUSSIAN_WORDS)]}{(state >> 8) % 97}")
        if i % 10 == 9:
            out[-1] += "."
    return " ".join(out)


def environ_without_registry() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TDMCRAWL_REGISTRY")}
