"""The registry's form in a real headless chromium, as an author uses it: in Kazakh,
uploading a .docx and a Windows-1251 .txt, printing the receipt, removing the opt-out
with the token; a site with the www offer; a mistake explained. No console errors;
screenshots and the printed receipt kept in test-artifacts/."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tdmcrawl.registry import Registry
from tests.support import paths
from tests.support.audit import Browser, chromium_path
from tests.support.registry import work_text
from tests.support.registry_service import RegistryServer, russian_text
from tests.support.work_files import docx_bytes

pytestmark = pytest.mark.skipif(
    chromium_path() is None,
    reason="chromium is not installed (apt-get install chromium; scripts/setup-dev does it)",
)

ARTIFACTS = paths.ARTIFACTS


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    with RegistryServer(tmp_path_factory.mktemp("form") / "optout.sqlite") as running:
        yield running


def _wait_load(browser: Browser, action: str) -> None:
    """Run ``action`` (JavaScript from DevTools, which the page itself never runs) and
    wait for the page it leads to."""
    browser.events.clear()
    browser.evaluate(action)
    deadline = time.monotonic() + browser.timeout
    while not any(e.get("method") == "Page.loadEventFired" for e in browser.events):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no page after {action}")
        browser._event(json.loads(browser.ws.recv()))


def _text(browser: Browser, selector: str) -> str:
    return str(browser.evaluate(f"document.querySelector({json.dumps(selector)}).innerText"))


def _fill(browser: Browser, selector: str, text: str) -> None:
    browser.evaluate(f"document.querySelector({json.dumps(selector)}).value = ''")
    browser.type_text(selector, text)


def _set_files(browser: Browser, selector: str, files: list[Path]) -> None:
    root = browser.call("DOM.getDocument")["root"]["nodeId"]
    node = browser.call("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
    browser.call("DOM.setFileInputFiles", nodeId=node, files=[str(p) for p in files])


def test_an_author_registers_a_work_in_kazakh_prints_the_receipt_and_removes_it(
    service: RegistryServer, browser: Browser, tmp_path: Path
) -> None:
    docx = tmp_path / "Абай жолы.docx"
    docx.write_bytes(docx_bytes([work_text(801, 240)]))
    cp1251 = tmp_path / "глава-2.txt"
    cp1251.write_bytes(russian_text(802, 240).encode("cp1251"))

    browser.navigate(service.base + "/")
    # The page cannot run scripts at all (no <script>, CSP without script-src):
    # everything below works without JavaScript.
    assert browser.evaluate("document.scripts.length") == 0
    _wait_load(browser, "document.querySelector('a[hreflang=kk]').click()")  # the switch
    assert browser.evaluate("document.documentElement.lang") == "kk"
    assert _text(browser, "h1") == "Жасанды интеллектті оқытудан бас тарту"
    assert "train-ai" not in browser.evaluate("document.body.innerText")
    _fill(browser, "#author", "Әлия Қасымова")
    _fill(browser, "#email", "aliya@example.kz")
    browser.evaluate("document.querySelector('input[name=kind][value=work]').click()")
    _set_files(browser, "#files", [docx, cp1251])
    _fill(browser, "#title", "Абай жолы")
    browser.screenshot(ARTIFACTS / "registry-form-kk.png")
    _wait_load(browser, "document.querySelector('#submit').click()")

    assert _text(browser, "h1") == "Бас тартуыңыз тіркелді"
    token = _text(browser, "#token").strip()
    entry_id = _text(browser, ".entry-id").strip()
    digests = browser.evaluate(
        "Array.from(document.querySelectorAll('.files .digest')).map(td => td.innerText)"
    )
    assert digests == [
        hashlib.sha256(docx.read_bytes()).hexdigest(),
        hashlib.sha256(cp1251.read_bytes()).hexdigest(),
    ]
    assert "тек осы жолы ғана көрсетіледі" in _text(browser, ".warning")
    browser.screenshot(ARTIFACTS / "registry-receipt-kk.png")
    printed = base64.b64decode(browser.call("Page.printToPDF", printBackground=False)["data"])
    (ARTIFACTS / "registry-receipt-kk.pdf").write_bytes(printed)
    from pypdf import PdfReader

    pdf_text = "".join(
        page.extract_text(extraction_mode="layout") for page in PdfReader(io.BytesIO(printed)).pages
    )
    assert token in pdf_text.replace(" ", "") and entry_id in pdf_text.replace(" ", "")
    assert "Ctrl+P" not in pdf_text  # the print hint is for the screen only
    with Registry(service.db, read_only=True) as reg:
        entry = reg.get(entry_id)
        assert entry.files == ("Абай жолы.docx", "глава-2.txt") and entry.fingerprinted == 2
        assert entry.author == "Әлия Қасымова"

    browser.navigate(f"{service.base}/remove?id={entry_id}")
    _fill(browser, "#token", token)
    _wait_load(browser, "document.querySelector('#remove').click()")
    assert _text(browser, "h1") == "Бас тартуыңыз өшірілді"
    browser.screenshot(ARTIFACTS / "registry-removed-kk.png")
    with Registry(service.db, read_only=True) as reg:
        assert all(e.id != entry_id for e in reg.entries())
    assert browser.errors == []


def test_a_site_with_www_is_offered_its_twin_and_a_mistake_is_explained(
    service: RegistryServer, browser: Browser
) -> None:
    browser.navigate(service.base + "/?lang=ru")
    _fill(browser, "#author", "Иван Петров")
    _fill(browser, "#email", "не-почта")
    browser.evaluate("document.querySelector('input[name=kind][value=domain]').click()")
    _fill(browser, "#address", "www.ivan-petrov.kz")
    _wait_load(browser, "document.querySelector('#submit').click()")
    error = _text(browser, "#form-error")
    assert "не-почта" in error and "электронной почты" in error
    assert browser.evaluate("document.querySelector('#author').value") == "Иван Петров"
    assert browser.evaluate("document.querySelector('#email').getAttribute('aria-invalid')")
    _fill(browser, "#email", "ivan@example.ru")
    _wait_load(browser, "document.querySelector('#submit').click()")
    assert browser.evaluate("!!document.querySelector('#offer')")
    assert "ivan-petrov.kz" in _text(browser, "#offer")
    browser.screenshot(ARTIFACTS / "registry-offer-ru.png")
    _wait_load(browser, "document.querySelector('#submit').click()")  # "also" is preselected
    assert _text(browser, "h1") == "Ваш отказ зарегистрирован"
    shown = browser.evaluate(
        "Array.from(document.querySelectorAll('.entry h2')).map(h => h.innerText)"
    )
    assert shown == [
        "сайт www.ivan-petrov.kz и все его поддомены",
        "сайт ivan-petrov.kz и все его поддомены",
    ]
    browser.screenshot(ARTIFACTS / "registry-receipt-ru.png")
    assert browser.errors == []
