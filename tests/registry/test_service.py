"""The registry service, run for real (`tdmcrawl registry serve` on a free loopback port):
the JSON API, the feed, privacy, the guards, and 50 authors writing at once."""

from __future__ import annotations

import http.client
import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from tdmcrawl.registry import Registry
from tests.support.registry import work_text
from tests.support.registry_service import (
    RegistryServer,
    get,
    multipart,
    post_json,
    request,
    russian_text,
    upload_work,
    work_bytes,
)
from tests.support.work_files import docx_bytes


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    db = tmp_path_factory.mktemp("service") / "optout.sqlite"
    with RegistryServer(db) as running:
        yield running


def _create(server: RegistryServer, lang: str = "en", **body: object) -> tuple[int, dict]:
    return post_json(server.base + "/api/v1/entries", body, {"Accept-Language": lang})


def test_register_read_change_list_and_remove_with_the_token(server):
    status, made = _create(
        server,
        kind="prefix",
        pattern="жазушы.kz/блог/",
        author="Әлия Қасымова",
        email="aliya@example.kz",
    )
    assert status == 201, made
    entry_id, token = made["id"], made["token"]
    assert made["entries"][0]["pattern"] == "https://xn--80ale2czas.kz/%D0%B1%D0%BB%D0%BE%D0%B3/*"
    assert made["entries"][0]["shown"] == "https://жазушы.kz/блог/*"
    # Anyone may read an entry, never who registered it.
    status, _, raw = get(f"{server.base}/api/v1/entries/{entry_id}")
    public = json.loads(raw)
    assert status == 200 and public["kind"] == "prefix" and public["verified"] is False
    assert "author" not in public and "email" not in public
    assert "aliya@example.kz" not in raw.decode() and "Әлия" not in raw.decode()
    auth = {"Authorization": f"Bearer {token}"}
    status, changed = post_json(
        f"{server.base}/api/v1/entries/{entry_id}", {"title": "Блог"}, auth, method="PATCH"
    )
    assert status == 200 and changed["title"] == "Блог" and changed["author"] == "Әлия Қасымова"
    status, _, raw = get(server.base + "/api/v1/mine", auth)
    assert status == 200 and [e["id"] for e in json.loads(raw)["entries"]] == [entry_id]
    status, _, raw = request("DELETE", f"{server.base}/api/v1/entries/{entry_id}")
    assert status == 422 and json.loads(raw)["error"]["field"] == "token"
    wrong = {"Authorization": "Bearer " + "x" * 32}
    status, _, raw = request("DELETE", f"{server.base}/api/v1/entries/{entry_id}", headers=wrong)
    assert status == 403 and json.loads(raw)["error"]["code"] == "wrong-token"
    status, _, raw = request("DELETE", f"{server.base}/api/v1/entries/{entry_id}", headers=auth)
    assert status == 200 and json.loads(raw)["removed"] == entry_id
    assert get(f"{server.base}/api/v1/entries/{entry_id}")[0] == 404


def test_errors_are_one_message_in_the_authors_language(server):
    cases = [
        ("kk", {"kind": "domain", "pattern": "aliya.kx", "author": "Әлия"}, "pattern", "kx"),
        (
            "ru",
            {"kind": "url", "pattern": "a.kz/x", "author": "Иван", "email": "nope"},
            "email",
            "",
        ),
        ("en", {"kind": "domain", "pattern": "co.uk", "author": "A"}, "pattern", "public suffix"),
    ]
    for lang, body, field, needle in cases:
        status, answer = _create(server, lang, **body)
        assert status == 422, answer
        error = answer["error"]
        assert error["code"] == "invalid-input" and error["field"] == field
        assert needle in error["message"]
        assert "\n" not in error["message"] and "Traceback" not in error["message"]
    # The same mistake reads in each language (not the English source in kk or ru).
    messages = {
        lang: _create(server, lang, kind="domain", pattern="aliya.kx", author="A")[1]["error"][
            "message"
        ]
        for lang in ("kk", "ru", "en")
    }
    assert len(set(messages.values())) == 3
    assert re.search("[әғқңөұүһі]", messages["kk"]) and re.search("[а-я]", messages["ru"])


def test_www_twin_is_offered_and_shares_one_token(server):
    status, checked = post_json(
        server.base + "/api/v1/check", {"kind": "url", "pattern": "www.saule.kz/өлең"}
    )
    assert status == 200
    assert checked["twin"]["shown"] == "https://saule.kz/өлең"
    status, made = _create(
        server, kind="url", pattern="www.saule.kz/өлең", author="Сәуле", also_twin=True
    )
    assert status == 201
    assert [e["shown"] for e in made["entries"]] == [
        "https://www.saule.kz/өлең",
        "https://saule.kz/өлең",
    ]
    status, _, raw = get(server.base + "/api/v1/mine", {"Authorization": f"Bearer {made['token']}"})
    assert len(json.loads(raw)["entries"]) == 2
    # A later entry can join the same token; a token the registry never gave cannot.
    status, more = _create(server, kind="domain", pattern="saule.kz", author="Сәуле")
    assert status == 201 and more["token"] != made["token"]
    status, answer = post_json(
        server.base + "/api/v1/entries",
        {"kind": "domain", "pattern": "other-saule.kz", "author": "Сәуле"},
        {"Authorization": "Bearer made-up-token-made-up-token"},
    )
    assert status == 422 and answer["error"]["field"] == "token"


def test_works_upload_keeps_fingerprints_and_digests_not_texts(server):
    text = work_text(101, 200)
    status, made = upload_work(
        server.base,
        "Мұхтар",
        [
            ("тарау.docx", docx_bytes([text])),
            ("тарау-2.txt", russian_text(102, 200).encode("cp1251")),
        ],
        title="Абай жолы",
    )
    assert status == 201, made
    files = made["entries"][0]["files"]
    assert [f["filename"] for f in files] == ["тарау.docx", "тарау-2.txt"]
    assert all(len(f["sha256"]) == 64 and f["text_kept"] is False for f in files)
    with sqlite3.connect(server.db) as conn:
        kept = conn.execute(
            "SELECT text FROM work_texts WHERE entry_id = ?", (made["id"],)
        ).fetchall()
    assert kept == [("",), ("",)]
    # Not in the database file nor its write-ahead log, in any form.
    raw = server.db.read_bytes() + server.db.with_name(server.db.name + "-wal").read_bytes()
    assert " ".join(text.split()[:12]).encode() not in raw
    status, _, info = get(server.base + "/api/v1/info")
    assert json.loads(info)["keeps_texts"] is False
    status, _, page = get(server.base + "/?lang=en")
    assert b"never their texts" in page


def test_a_work_too_short_is_refused_with_advice_in_the_authors_language(server):
    status, answer = upload_work(
        server.base,
        "Ерлан",
        [("өлең.txt", "Бір жол ғана.".encode())],
        headers={"Accept-Language": "kk"},
    )
    assert status == 422 and answer["error"]["field"] == "files"
    message = answer["error"]["message"]
    assert "өлең.txt" in message and "URL" in message
    assert re.search("[әғқңөұүһі]", message)


def test_feed_cursor_etag_and_tombstones_never_carry_names_emails_or_texts(server):
    for i in range(3):
        assert _create(server, kind="domain", pattern=f"feed{i}.kz", author="Фид")[0] == 201
    status, head, raw = get(server.base + "/api/v1/feed?since=0&limit=2")
    first = json.loads(raw)
    assert status == 200 and len(first["entries"]) == 2 and first["more"] is True
    cursor = first["cursor"]
    status, head, raw = get(f"{server.base}/api/v1/feed?since={cursor}&limit=10000")
    rest = json.loads(raw)
    latest = rest["cursor"]
    status, head, raw = get(f"{server.base}/api/v1/feed?since={latest}")
    assert status == 200 and json.loads(raw)["entries"] == []
    etag = head["etag"]
    assert get(f"{server.base}/api/v1/feed?since={latest}", {"If-None-Match": etag})[0] == 304
    text = work_text(301, 200)
    status, made = upload_work(
        server.base, "Жасырын Автор", [("w.txt", text.encode())], email="secret@example.kz"
    )
    assert status == 201
    status, head, raw = get(f"{server.base}/api/v1/feed?since={latest}", {"If-None-Match": etag})
    page = json.loads(raw)
    assert status == 200 and [e["id"] for e in page["entries"]] == [made["id"]]
    (item,) = page["entries"]
    assert item["kind"] == "work" and len(item["fingerprints"]) == 1
    body = raw.decode()
    for secret in ("Жасырын", "secret@example.kz", " ".join(text.split()[:6])):
        assert secret not in body
    auth = {"Authorization": f"Bearer {made['token']}"}
    request("DELETE", f"{server.base}/api/v1/entries/{made['id']}", headers=auth)
    status, head, raw = get(f"{server.base}/api/v1/feed?since={page['cursor']}")
    assert json.loads(raw)["entries"] == [
        {"seq": int(json.loads(raw)["cursor"]), "id": made["id"], "deleted": True}
    ]
    assert get(server.base + "/api/v1/feed?since=abc")[0] == 422


def test_openapi_documents_the_api_and_the_feed(server):
    status, _, raw = get(server.base + "/openapi.json")
    spec = json.loads(raw)
    assert status == 200 and spec["openapi"].startswith("3.")
    paths = set(spec["paths"])
    assert {"/api/v1/entries", "/api/v1/works", "/api/v1/feed", "/api/v1/mine"} <= paths
    assert {"patch", "delete", "get"} <= set(spec["paths"]["/api/v1/entries/{entry_id}"])
    assert not any(p in paths for p in ("/", "/register", "/remove"))  # the form is not API


def test_security_headers_csrf_and_no_traceback_page(server):
    status, head, page = get(server.base + "/")
    assert status == 200
    assert "script-src" not in head["content-security-policy"]
    assert "default-src 'none'" in head["content-security-policy"]
    assert head["x-content-type-options"] == "nosniff"
    assert head["referrer-policy"] == "no-referrer"
    assert "samesite=strict" in head["set-cookie"].lower()
    assert "httponly" in head["set-cookie"].lower()
    # A form posted from elsewhere (no cookie, or another token) is refused.
    body, ctype = multipart(
        {"csrf": "forged-value-forged-value", "author": "A", "kind": "domain", "address": "x.kz"},
        [],
    )
    status, head, page = request("POST", server.base + "/register", body, {"Content-Type": ctype})
    assert status == 403 and b"another site" in page
    assert "content-security-policy" in head
    with sqlite3.connect(server.db) as conn:
        assert conn.execute("SELECT count(*) FROM entries WHERE pattern = 'x.kz'").fetchone() == (
            0,
        )
    # Garbage bodies and unknown pages: one clear page or JSON error, never a traceback.
    for method, path, data, ctype in (
        ("POST", "/register", b"--x\r\ngarbage", "multipart/form-data; boundary=x"),
        ("POST", "/api/v1/entries", b"{not json", "application/json"),
        ("POST", "/api/v1/works", b"\x00\x01", "multipart/form-data; boundary=y"),
        ("GET", "/no/such/page", None, "text/plain"),
        ("GET", "/api/v1/entries/not-a-uuid", None, "text/plain"),
    ):
        status, head, answer = request(method, server.base + path, data, {"Content-Type": ctype})
        assert 400 <= status < 500, (path, status, answer[:300])
        assert b"Traceback" not in answer and b'File "' not in answer
        assert "content-security-policy" in head
    assert "Traceback" not in server.output()


def test_uploads_over_the_size_limit_are_refused(tmp_path):
    with RegistryServer(tmp_path / "r.sqlite", "--max-file-mb", "1", "--max-files", "2") as small:
        big = work_bytes(5, 200) * 600  # over 1 MiB, under the request limit
        status, answer = upload_work(small.base, "A", [("big.txt", big)])
        assert status == 422 and "larger than the 1 MiB limit" in answer["error"]["message"]
        # A body announced over the limit is refused before it is read.
        conn = http.client.HTTPConnection("127.0.0.1", small.port, timeout=30)
        conn.putrequest("POST", "/api/v1/works")
        conn.putheader("Content-Type", "multipart/form-data; boundary=z")
        conn.putheader("Content-Length", str(4 * 1024 * 1024))
        conn.endheaders()
        answer = conn.getresponse()
        assert answer.status == 413
        assert json.loads(answer.read())["error"]["code"] == "too-large"
        conn.close()
        # And so is one that grows past it without announcing its length.
        conn = http.client.HTTPConnection("127.0.0.1", small.port, timeout=30)
        conn.putrequest("POST", "/register?lang=en")
        conn.putheader("Content-Type", "multipart/form-data; boundary=z")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        head = b'--z\r\nContent-Disposition: form-data; name="files"; filename="a.txt"\r\n\r\n'
        conn.send(b"%x\r\n%s\r\n" % (len(head), head))
        chunk = b"x" * 65536
        try:
            for _ in range(60):  # 3.75 MiB, over 2 x 1 MiB + 1 MiB
                conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            conn.send(b"0\r\n\r\n")
        except OSError:
            pass  # the server may stop reading once it has answered
        answer = conn.getresponse()
        assert answer.status == 413 and b"too large" in answer.read()
        conn.close()


def test_rate_limit_per_client(tmp_path):
    with RegistryServer(
        tmp_path / "r.sqlite", "--writes-per-minute", "6", "--reads-per-minute", "0", limits=True
    ) as limited:
        answers = [
            _create(limited, kind="domain", pattern=f"site{i}.kz", author="A")[0] for i in range(8)
        ]
        assert answers[:5] == [201] * 5 and 429 in answers[5:]
        status, head, raw = request(
            "POST",
            limited.base + "/api/v1/entries",
            json.dumps({"kind": "domain", "pattern": "late.kz", "author": "A"}).encode(),
            {"Content-Type": "application/json", "Accept-Language": "ru"},
        )
        assert status == 429 and int(head["retry-after"]) >= 1
        assert re.search("[а-я]", json.loads(raw)["error"]["message"])
        assert get(limited.base + "/api/v1/feed")[0] == 200  # reads are not writes


def test_fifty_concurrent_authors_lose_nothing(server):
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(50)

    def author(i: int) -> None:
        barrier.wait()
        if i % 5 == 0:
            got = upload_work(server.base, f"Автор {i}", [(f"w{i}.txt", work_bytes(1000 + i))])
        else:
            got = _create(server, kind="domain", pattern=f"concurrent{i}.kz", author=f"Автор {i}")
        with lock:
            results.append(got)

    threads = [threading.Thread(target=author, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sorted(status for status, _ in results) == [201] * 50
    ids = {made["id"] for _, made in results}
    with Registry(server.db, read_only=True) as reg:
        for _, made in results:
            assert reg.get(made["id"]).id == made["id"]
    assert len(ids) == 50
    # Every registration is in the feed exactly once.
    _status, _, raw = get(server.base + "/api/v1/feed?since=0&limit=10000")
    fed = [e["id"] for e in json.loads(raw)["entries"]]
    assert ids <= set(fed) and len(fed) == len(set(fed))


class _Site(BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        body = self.files.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        self.wfile.write(body or b"not found")

    def log_message(self, *args: object) -> None:
        """Quiet: the test reads what the site served, not its request log."""


def test_ownership_is_verified_by_a_file_on_the_site(tmp_path: Path):
    site = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{site.server_address[1]}"
    try:
        with RegistryServer(tmp_path / "r.sqlite", "--verify-private") as service:
            status, made = _create(service, kind="prefix", pattern=f"{origin}/blog/", author="A")
            assert status == 201
            entry_id = made["id"]
            status, _, raw = get(f"{service.base}/api/v1/entries/{entry_id}/verification")
            how = json.loads(raw)
            assert how["urls"] == [f"{origin}/.well-known/tdmcrawl-verify.txt"]
            status, answer = post_json(f"{service.base}/api/v1/entries/{entry_id}/verify", {})
            assert status == 200 and answer["verified"] is False and answer["problem"]
            _Site.files["/.well-known/tdmcrawl-verify.txt"] = f"{how['code']}\n".encode()
            status, answer = post_json(f"{service.base}/api/v1/entries/{entry_id}/verify", {})
            assert status == 200 and answer["verified"] is True
            status, _, raw = get(f"{service.base}/api/v1/entries/{entry_id}")
            assert json.loads(raw)["verified"] is True
            status, _, raw = get(f"{service.base}/api/v1/feed")
            (item,) = json.loads(raw)["entries"]
            assert item["verified"] is True
        # Without --verify-private, the service never fetches from a private address.
        with RegistryServer(tmp_path / "r2.sqlite") as guarded:
            status, made = _create(guarded, kind="prefix", pattern=f"{origin}/x/", author="A")
            status, answer = post_json(f"{guarded.base}/api/v1/entries/{made['id']}/verify", {})
            assert answer["verified"] is False and "private" in answer["problem"]
    finally:
        site.shutdown()
        _Site.files.clear()


def test_keep_texts_is_the_operators_explicit_choice_and_the_form_says_so(tmp_path):
    with RegistryServer(tmp_path / "r.sqlite", "--keep-texts") as keeping:
        text = work_text(77, 200)
        status, made = upload_work(keeping.base, "A", [("w.txt", text.encode())])
        assert status == 201 and made["entries"][0]["files"][0]["text_kept"] is True
        status, _, page = get(keeping.base + "/?lang=en")
        assert b"keeps the texts of registered works" in page
    with Registry(tmp_path / "r.sqlite") as reg:
        assert reg.work_texts(made["id"])[0].text == text
        assert reg.reindex().fingerprinted == 1
