"""A small web of several origins served on loopback, with a log of every request.

Used by ``tdmcrawl demo`` (the bundled example web in ``crawler/demo/sites/``)
and by the tests (``tests/web_support.py``), so both crawl the same kind of
server. Each ``Site`` gets its own port on 127.0.0.1, i.e. its own origin.
Bodies may contain ``{{origin:NAME}}``, replaced by that site's origin URL once
the ports are known. Only loopback addresses are ever bound.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

Header = tuple[str, str]


@dataclass
class Reply:
    status: int = 200
    headers: list[Header] = field(default_factory=list)
    body: bytes = b""
    reason: str | None = None


@dataclass(frozen=True)
class LoggedRequest:
    site: str
    method: str
    path: str  # path and query as requested
    headers: tuple[Header, ...]
    at: float = 0.0  # time.monotonic() when it arrived


Route = Reply | Callable[["LoopbackWeb", LoggedRequest], Reply]


class Site:
    """One origin: exact paths (query ignored) -> a Reply or a function making one.

    ``host`` (a loopback address) gives the site a host of its own; by default
    all sites share the web's, each on its own port (crawlers throttle per host).
    """

    def __init__(
        self, name: str, routes: dict[str, Route] | None = None, *, host: str | None = None
    ) -> None:
        self.name = name
        self.routes: dict[str, Route] = dict(routes or {})
        self.host = host

    def add(self, path: str, route: Route) -> Site:
        self.routes[path] = route
        return self


def html(body: str, *, title: str = "", lang: str = "en", head: str = "") -> bytes:
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{title}</title>{head}</head>\n<body>{body}</body></html>\n"
    ).encode()


def html_reply(body: str, *, headers: list[Header] | None = None, **kwargs: Any) -> Reply:
    return Reply(
        200, [("Content-Type", "text/html; charset=utf-8"), *(headers or [])], html(body, **kwargs)
    )


def text_reply(text: str | bytes, *, status: int = 200, content_type: str = "text/plain") -> Reply:
    body = text.encode() if isinstance(text, str) else text
    return Reply(status, [("Content-Type", content_type)], body)


def free_port() -> int:
    """A loopback port nobody listens on (for "unreachable host" cases)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LoopbackWeb:
    """Serves ``sites`` on 127.0.0.1, one port each, in daemon threads."""

    def __init__(self, sites: list[Site], host: str = "127.0.0.1") -> None:
        self.sites = {site.name: site for site in sites}
        self.host = host
        self.requests: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._servers: dict[str, ThreadingHTTPServer] = {}
        self._threads: list[threading.Thread] = []

    # -- lifecycle --------------------------------------------------------------

    def start(self) -> LoopbackWeb:
        for name, site in self.sites.items():
            server = ThreadingHTTPServer((site.host or self.host, 0), _handler_for(self, site))
            server.daemon_threads = True
            self._servers[name] = server
        self._render_templates()
        for server in self._servers.values():
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        self._servers.clear()

    def __enter__(self) -> LoopbackWeb:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses and the request log -----------------------------------------

    def origin(self, name: str) -> str:
        host, port = self._servers[name].server_address[:2]
        return f"http://{host}:{port}"

    def url(self, name: str, path: str = "/") -> str:
        return self.origin(name) + path

    def log(self, request: LoggedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def requested_paths(self, name: str) -> list[str]:
        with self._lock:
            return [r.path for r in self.requests if r.site == name]

    def was_requested(self, url: str) -> bool:
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        for name, server in self._servers.items():
            if server.server_address[1] == parts.port:
                return target in self.requested_paths(name)
        return False

    def _render_templates(self) -> None:
        marks = {
            f"{{{{origin:{name}}}}}".encode(): self.origin(name).encode() for name in self._servers
        }
        for site in self.sites.values():
            for path, route in site.routes.items():
                if isinstance(route, Reply) and b"{{origin:" in route.body:
                    body = route.body
                    for mark, origin in marks.items():
                        body = body.replace(mark, origin)
                    site.routes[path] = Reply(route.status, route.headers, body, route.reason)


def _handler_for(web: LoopbackWeb, site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "tdmcrawl-loopback"

        def do_GET(self) -> None:
            self._serve(send_body=True)

        def do_HEAD(self) -> None:
            self._serve(send_body=False)

        def _serve(self, *, send_body: bool) -> None:
            logged = LoggedRequest(
                site.name,
                self.command,
                self.path,
                tuple((k, v) for k, v in self.headers.items()),
                time.monotonic(),
            )
            web.log(logged)
            route = site.routes.get(urlsplit(self.path).path)
            if route is None:
                reply = text_reply("not found\n", status=404)
            elif isinstance(route, Reply):
                reply = route
            else:
                reply = route(web, logged)
            self.send_response(reply.status, reply.reason)
            names = {name.lower() for name, _ in reply.headers}
            for name, value in reply.headers:
                self.send_header(name, value)
            if "content-length" not in names:
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if send_body:
                # The client may give up (e.g. a body over its size limit).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(reply.body)

        def log_message(self, format: str, *args: Any) -> None:
            return  # the request log above is the record; stderr stays quiet

    return Handler
