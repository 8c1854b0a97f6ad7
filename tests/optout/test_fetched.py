"""RFC 9309 2.3.1 fetch-status rules (optout.fetched), on results built by hand
and on results fetched from a real HTTP server on loopback."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urljoin, urlsplit

import pytest

from tdmcrawl.optout.decision import ReasonCode
from tdmcrawl.optout.fetched import (
    MAX_REDIRECTS,
    FetchResult,
    RobotsStatus,
    file_body,
    robots_outcome,
)
from tdmcrawl.optout.robots import MAX_PARSE_BYTES

ROBOTS = b"User-agent: *\nDisallow: /private\n"
URL = "http://127.0.0.1/robots.txt"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, RobotsStatus.PARSED),
        (204, RobotsStatus.PARSED),
        (301, RobotsStatus.UNREACHABLE),  # our choice: a redirect the caller could not follow
        (400, RobotsStatus.UNAVAILABLE),  # RFC 9309 2.3.1.3
        (401, RobotsStatus.UNAVAILABLE),
        (403, RobotsStatus.UNAVAILABLE),
        (404, RobotsStatus.UNAVAILABLE),
        (410, RobotsStatus.UNAVAILABLE),
        (429, RobotsStatus.UNREACHABLE),  # our choice: rate limit is not "no file"
        (500, RobotsStatus.UNREACHABLE),  # RFC 9309 2.3.1.4
        (503, RobotsStatus.UNREACHABLE),
        (599, RobotsStatus.UNREACHABLE),
        (100, RobotsStatus.UNREACHABLE),  # our choice: unknown statuses fail closed
        (999, RobotsStatus.UNREACHABLE),
    ],
)
def test_rfc9309_status_rules(status: int, expected: RobotsStatus) -> None:
    outcome = robots_outcome(FetchResult(URL, status, ROBOTS))
    assert outcome.status is expected
    reasons = outcome.reasons("http://127.0.0.1/private/a", "tdmcrawl")
    public = outcome.reasons("http://127.0.0.1/public", "tdmcrawl")
    if expected is RobotsStatus.UNREACHABLE:
        assert [r.code for r in reasons] == [ReasonCode.ROBOTS_UNREACHABLE]
        assert [r.code for r in public] == [ReasonCode.ROBOTS_UNREACHABLE]
        assert str(status) in reasons[0].evidence
    elif expected is RobotsStatus.PARSED:
        assert [(r.code, r.evidence, r.line) for r in reasons] == [
            (ReasonCode.ROBOTS, "Disallow: /private", 2)
        ]
        assert public == ()
    else:
        assert reasons == () and public == ()


@pytest.mark.parametrize("error", ["timeout", "connection refused", "TLS handshake failed"])
def test_rfc9309_network_errors_are_complete_disallow(error: str) -> None:
    outcome = robots_outcome(FetchResult(URL, None, None, error=error))
    assert outcome.status is RobotsStatus.UNREACHABLE
    (reason,) = outcome.reasons("http://127.0.0.1/", "tdmcrawl")
    assert reason.blocks_fetch and error in reason.evidence


def test_policy_no_status_and_no_error_is_unreachable() -> None:
    assert robots_outcome(FetchResult(URL, None)).status is RobotsStatus.UNREACHABLE


REDIRECT_CASES = [
    (200, MAX_REDIRECTS, RobotsStatus.PARSED),  # five hops are followed (2.3.1.2)
    (200, MAX_REDIRECTS + 1, RobotsStatus.UNREACHABLE),
    (302, MAX_REDIRECTS, RobotsStatus.UNREACHABLE),  # a sixth redirect pending
    (503, MAX_REDIRECTS + 3, RobotsStatus.UNREACHABLE),
]


# Our choice: RFC 9309 2.3.1.2 only *permits* "unavailable" (allow all); a loop is
# as much a failure to serve the file as a 5xx, so by default it is a complete disallow.
@pytest.mark.parametrize(("status", "redirects", "expected"), REDIRECT_CASES)
def test_policy_more_than_five_redirects_is_unreachable_by_default(
    status: int, redirects: int, expected: RobotsStatus
) -> None:
    outcome = robots_outcome(FetchResult(URL, status, ROBOTS, redirects=redirects))
    assert outcome.status is expected
    if expected is RobotsStatus.UNREACHABLE:
        (reason,) = outcome.reasons("http://127.0.0.1/public", "tdmcrawl")
        assert reason.code is ReasonCode.ROBOTS_UNREACHABLE
        assert "redirects" in reason.evidence
        assert any("TDMCRAWL_ROBOTS_REDIRECTS_UNAVAILABLE" in w for w in outcome.warnings)


@pytest.mark.parametrize(("status", "redirects", "expected"), REDIRECT_CASES)
def test_policy_redirects_unavailable_switch_gives_the_rfc_lenient_reading(
    status: int, redirects: int, expected: RobotsStatus
) -> None:
    result = FetchResult(URL, status, ROBOTS, redirects=redirects)
    outcome = robots_outcome(result, redirects_unavailable=True)
    lenient = RobotsStatus.UNAVAILABLE if expected is RobotsStatus.UNREACHABLE else expected
    assert outcome.status is lenient
    if lenient is RobotsStatus.UNAVAILABLE:
        assert any("2.3.1.2" in w for w in outcome.warnings)
    # A 3xx that cannot be followed (no Location) reads alike.
    assert robots_outcome(FetchResult(URL, 301, b""), redirects_unavailable=True).status is (
        RobotsStatus.UNAVAILABLE
    )


def test_parsed_outcome_keeps_parser_and_content_type_warnings() -> None:
    body = b"<html>" + b"x" * 600_000 + b"\nUser-agent: *\nDisallow: /\n"
    outcome = robots_outcome(
        FetchResult(URL, 200, body, headers=(("Content-Type", "text/html; charset=utf-8"),))
    )
    assert outcome.status is RobotsStatus.PARSED
    assert not outcome.robots.allowed("http://127.0.0.1/x", "tdmcrawl")  # past 500 KiB, read
    assert any("text/html" in w for w in outcome.warnings)


# Our choice: a robots.txt cut by a size limit is not read in part (a Disallow past the
# cut could forbid anything): complete disallow, as RFC 9309 2.3.1.4 for a failed fetch.
@pytest.mark.parametrize(
    "result",
    [
        FetchResult(URL, None, None, error="larger than 8388608 bytes", truncated=True),
        FetchResult(URL, 200, b"User-agent: *\nAllow: /\n", truncated=True),
        FetchResult(URL, 200, b"User-agent: *\nAllow: /\n" + b"#" * (MAX_PARSE_BYTES + 1)),
    ],
    ids=["cancelled", "cut-body", "over-parse-limit"],
)
def test_policy_robots_too_large_to_read_whole_is_unreachable(result: FetchResult) -> None:
    outcome = robots_outcome(result)
    assert outcome.status is RobotsStatus.UNREACHABLE
    (reason,) = outcome.reasons("http://127.0.0.1/anything", "tdmcrawl")
    assert reason.code is ReasonCode.ROBOTS_UNREACHABLE
    assert "whole" in reason.evidence


def test_file_body_only_for_success() -> None:
    assert file_body(FetchResult(URL, 200, b"[]")) == b"[]"
    assert file_body(FetchResult(URL, 200, None)) == b""
    assert file_body(FetchResult(URL, 404, b"nope")) is None
    assert file_body(FetchResult(URL, 500, b"x")) is None
    assert file_body(FetchResult(URL, None, error="timeout")) is None
    assert file_body(FetchResult(URL, 200, b"x", redirects=9)) is None
    assert file_body(None) is None


# --- the same rules on a real server ----------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """/<status>/robots.txt answers with that status; /hop/<n>/robots.txt
    redirects n more times before answering 200."""

    def do_GET(self) -> None:
        parts = self.path.strip("/").split("/")
        if parts[0] == "hop" and int(parts[1]) > 0:
            self.send_response(302)
            self.send_header("Location", f"/hop/{int(parts[1]) - 1}/robots.txt")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status = 200 if parts[0] == "hop" else int(parts[0])
        body = ROBOTS if status == 200 else b"error page"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _fetch(url: str, max_redirects: int = MAX_REDIRECTS) -> FetchResult:
    """A minimal fetcher in the shape the crawler's origin gate reports."""
    current, hops = url, 0
    while True:
        parts = urlsplit(current)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
        try:
            conn.request("GET", parts.path)
            response = conn.getresponse()
            body = response.read()
        except OSError as exc:
            return FetchResult(url, None, error=str(exc) or type(exc).__name__, redirects=hops)
        finally:
            conn.close()
        location = response.getheader("Location")
        if 300 <= response.status < 400 and location and hops < max_redirects:
            current, hops = urljoin(current, location), hops + 1
            continue
        return FetchResult(
            url, response.status, body, tuple(response.getheaders()), None, hops, current
        )


@pytest.mark.parametrize(
    ("path", "expected", "private_blocked"),
    [
        ("/200/robots.txt", RobotsStatus.PARSED, True),
        ("/404/robots.txt", RobotsStatus.UNAVAILABLE, False),
        ("/429/robots.txt", RobotsStatus.UNREACHABLE, True),
        ("/503/robots.txt", RobotsStatus.UNREACHABLE, True),
        ("/hop/5/robots.txt", RobotsStatus.PARSED, True),
        ("/hop/6/robots.txt", RobotsStatus.UNREACHABLE, True),
    ],
)
def test_loopback_fetch_outcomes(
    server: str, path: str, expected: RobotsStatus, private_blocked: bool
) -> None:
    outcome = robots_outcome(_fetch(server + path))
    assert outcome.status is expected
    assert bool(outcome.reasons(server + "/private/page", "tdmcrawl")) is private_blocked


def test_loopback_connection_refused_is_unreachable(server: str) -> None:
    # A port that was just free: nothing listens there.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    outcome = robots_outcome(_fetch(f"http://127.0.0.1:{port}/robots.txt"))
    assert outcome.status is RobotsStatus.UNREACHABLE
    assert outcome.reasons(f"http://127.0.0.1:{port}/", "tdmcrawl")[0].blocks_fetch
