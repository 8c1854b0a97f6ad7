"""Small pure parts of the crawler: netguard rules, scope, options, settings, add-on, recovery."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from scrapy.settings import Settings
from warcio.archiveiterator import ArchiveIterator

from tdmcrawl.crawler import __version__
from tdmcrawl.crawler import settings as tdm_settings
from tdmcrawl.crawler.addon import TdmcrawlAddon
from tdmcrawl.crawler.cli.options import parse_overrides, read_seeds
from tdmcrawl.crawler.errors import UsageError
from tdmcrawl.crawler.gates.netguard import crosses_inward, is_public
from tdmcrawl.crawler.politeness import accept_encoding
from tdmcrawl.crawler.progress import summary_table
from tdmcrawl.crawler.run import build_settings
from tdmcrawl.crawler.spider import PageRequest, TdmcrawlSpider, host_of, in_scope
from tdmcrawl.crawler.warc.capture import Capture
from tdmcrawl.crawler.warc.recover import recover_open_files
from tdmcrawl.crawler.warc.writer import RotatingWarcWriter
from tdmcrawl.optout.decision import Decision
from tests.support import paths

DOCS = paths.DOCS / "crawl.md"


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888"])
def test_public_addresses(address):
    assert is_public(address)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.1",
        "172.16.5.4",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "0.0.0.0",
        "not an address",
    ],
)
def test_non_public_addresses(address):
    assert not is_public(address)


def test_crosses_inward_only_from_public():
    assert crosses_inward(["8.8.8.8"], ["127.0.0.1"])
    assert crosses_inward(["8.8.8.8"], ["1.1.1.1", "10.0.0.1"])  # any private answer counts
    assert not crosses_inward(["8.8.8.8"], ["1.1.1.1"])
    assert not crosses_inward(["127.0.0.1"], ["10.0.0.1"])  # seeds on loopback may go anywhere
    assert not crosses_inward([], ["127.0.0.1"])


def test_scope():
    seeds = {"www.example.kz", "127.0.0.1"}
    assert in_scope("http://www.example.kz/a", "host", seeds)
    assert not in_scope("http://news.example.kz/a", "host", seeds)
    assert in_scope("http://news.example.kz/a", "domain", seeds)
    assert in_scope("https://example.kz/", "domain", seeds)
    assert not in_scope("http://notexample.kz/", "domain", seeds)
    assert in_scope("http://127.0.0.1:8080/x", "host", seeds)
    assert not in_scope("http://localhost:8080/x", "host", seeds)
    assert in_scope("http://anywhere.org/", "any", seeds)
    assert not in_scope("mailto:someone@example.kz", "any", seeds)
    assert in_scope("http://User:pw@WWW.Example.KZ:8080/a", "host", seeds)
    assert not in_scope("http:///no-host", "any", seeds)


def test_page_requests_go_to_the_disk_queue_as_scrapy_would_store_them() -> None:
    """The JOBDIR form names the callbacks without Scrapy's search through the spider:
    the same dict (plus the class), and the same request when read back."""
    from scrapy import Request
    from scrapy.utils.request import request_from_dict

    spider = TdmcrawlSpider(seeds=["https://сайт.kz/"])
    fields = {"callback": spider.parse, "errback": spider.failed, "meta": {"depth": 2}}
    ours = PageRequest("https://сайт.kz/бет", **fields).to_dict(spider=spider)
    scrapys = Request("https://сайт.kz/бет", **fields).to_dict(spider=spider)
    assert ours["_class"] == "tdmcrawl.crawler.spider.PageRequest"
    assert {k: v for k, v in ours.items() if k != "_class"} == scrapys
    back = request_from_dict(ours, spider=spider)
    assert type(back) is PageRequest
    assert (back.callback, back.errback, back.meta) == (spider.parse, spider.failed, {"depth": 2})


def test_page_requests_with_other_callbacks_are_stored_as_scrapy_stores_them() -> None:
    spider = TdmcrawlSpider(seeds=["https://a.kz/"])
    other = TdmcrawlSpider(seeds=["https://b.kz/"])
    # Another spider's method: Scrapy's search finds the same function by name.
    request = PageRequest("https://a.kz/x", callback=other.parse, errback=spider.failed)
    assert request.to_dict(spider=spider)["callback"] == "parse"
    assert request.callback == other.parse  # left as it was
    # A function that is no method: Scrapy's error.
    with pytest.raises(ValueError, match="not an instance method"):
        PageRequest("https://a.kz/y", callback=lambda response: None).to_dict(spider=spider)


@pytest.mark.parametrize(
    "url",
    [
        "http://User:pw@WWW.Example.KZ:8080/x",
        "http://[::1]:80/",
        "http://127.0.0.1:8080/x",
        "http:///x",
        "https://ҚАЗАҚ.kz/",
        "http://a.b/?q=http://c.d/",
    ],
)
def test_host_of_is_the_lowercase_hostname(url):
    # The spider's cached host of a netloc: what urlsplit's hostname property gives.
    parts = urlsplit(url)
    assert host_of(parts.netloc) == (parts.hostname or "").lower()


def test_overrides_and_seeds(tmp_path):
    assert parse_overrides(["A=1", "B=x=y", "C="]) == {"A": "1", "B": "x=y", "C": ""}
    with pytest.raises(UsageError):
        parse_overrides(["NOVALUE"])
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(
        "\ufeff# comment\nhttp://a.kz/қала#frag\n\n  http://b.ru/  \n", encoding="utf-8"
    )
    assert read_seeds(seeds) == ["http://a.kz/қала#frag", "http://b.ru/"]
    with pytest.raises(UsageError):
        read_seeds(tmp_path / "missing.txt")


def test_user_agent_identifies_the_project():
    agent = tdm_settings.user_agent(Settings())
    assert agent == f"tdmcrawl/{__version__} (+{tdm_settings.DEFAULT_CONTACT})"
    assert "Scrapy" not in agent
    custom = Settings({"TDMCRAWL_CONTACT": "https://ops.example.kz/"})
    assert tdm_settings.user_agent(custom).endswith("(+https://ops.example.kz/)")
    assert tdm_settings.user_agent(Settings({"TDMCRAWL_USER_AGENT": "x/1"})) == "x/1"


def test_settings_read_strings_from_the_command_line():
    settings = Settings(
        {
            "TDMCRAWL_FETCH_RESERVED": "False",
            "TDMCRAWL_AI_AGENTS": "0",
            "TDMCRAWL_TEXT_TYPES": "text/html, text/plain",
        }
    )
    assert tdm_settings.getbool(settings, "TDMCRAWL_FETCH_RESERVED") is False
    assert tdm_settings.getlist(settings, "TDMCRAWL_TEXT_TYPES") == ["text/html", "text/plain"]
    config = tdm_settings.policy_config(
        Settings({"TDMCRAWL_TOKEN": "mybot", "TDMCRAWL_AI_AGENTS": "0"})
    )
    assert (config.token, config.ai_agents) == ("mybot", False)


def test_accept_encoding_is_what_warcio_decodes():
    codings = [c.strip() for c in accept_encoding().split(",")]
    assert codings[:2] == ["gzip", "deflate"] and "zstd" not in codings


def test_addon_installs_the_gates_and_respects_the_project():
    settings = Settings({"USER_AGENT": "project-agent/1"}, priority="project")
    TdmcrawlAddon().update_settings(settings)
    downloader = settings.getdict("DOWNLOADER_MIDDLEWARES")
    assert downloader["scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware"] is None
    assert downloader["tdmcrawl.crawler.gates.origin.OriginGateMiddleware"] == 100
    assert downloader["tdmcrawl.crawler.gates.response.ResponseGateMiddleware"] < 550
    assert downloader["tdmcrawl.crawler.capture.CaptureMiddleware"] == 595
    pipelines = settings.getdict("ITEM_PIPELINES")
    assert pipelines["tdmcrawl.crawler.output.WarcOutputPipeline"] == max(pipelines.values())
    assert settings.get("USER_AGENT") == "project-agent/1"  # the project's own setting wins
    assert settings.getbool("AUTOTHROTTLE_ENABLED")
    assert "zstd" not in settings.getdict("DEFAULT_REQUEST_HEADERS")["Accept-Encoding"]

    off = Settings({"TDMCRAWL_OUTPUT": False}, priority="project")
    TdmcrawlAddon().update_settings(off)
    assert "tdmcrawl.crawler.output.WarcOutputPipeline" not in off.getdict("ITEM_PIPELINES")


REMOTE = "scrapy.extensions.remote_control.RemoteControl"
COOKIES = "scrapy.downloadermiddlewares.cookies.CookiesMiddleware"


def test_addon_leaves_out_components_whose_setting_is_off():
    # Off (the add-on's defaults): not in the lists Scrapy builds components from.
    settings = Settings()
    TdmcrawlAddon().update_settings(settings)
    assert REMOTE not in settings.get_component_priority_dict_with_base("EXTENSIONS")
    assert COOKIES not in settings.get_component_priority_dict_with_base("DOWNLOADER_MIDDLEWARES")
    # A project that switches one on gets it, at Scrapy's own priority.
    on = Settings({"REMOTE_CONTROL_ENABLED": True, "COOKIES_ENABLED": True}, priority="project")
    TdmcrawlAddon().update_settings(on)
    assert on.get_component_priority_dict_with_base("EXTENSIONS")[REMOTE] == 0
    assert on.get_component_priority_dict_with_base("DOWNLOADER_MIDDLEWARES")[COOKIES] == 700


def test_components_left_out_are_never_imported():
    # Their modules (aiohttp, tldextract, requests) are what leaving them out saves: building
    # the component lists as Scrapy does must not import them. A fresh interpreter, as the
    # test session has imported them already.
    modules = [REMOTE.rsplit(".", 1)[0], COOKIES.rsplit(".", 1)[0], "aiohttp", "tldextract"]
    script = f"""
import sys
from scrapy.settings import Settings
from tdmcrawl.crawler.addon import TdmcrawlAddon
settings = Settings()
TdmcrawlAddon().update_settings(settings)
for name in ("EXTENSIONS", "DOWNLOADER_MIDDLEWARES", "SPIDER_MIDDLEWARES"):
    settings.get_component_priority_dict_with_base(name)
print([name for name in {modules!r} if name in sys.modules])
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_every_setting_is_documented():
    documented = set(re.findall(r"`(TDMCRAWL_[A-Z_]+)`", DOCS.read_text(encoding="utf-8")))
    assert set(tdm_settings.SETTINGS) <= documented
    assert documented <= set(tdm_settings.SETTINGS)


def test_summary_table():
    table = summary_table(3, Counter({("pre-fetch", "robots"): 2, ("post-fetch", "noai"): 1}))
    lines = table.splitlines()
    assert lines[0].split() == ["outcome", "stage", "pages"]
    assert lines[2].split() == ["kept", "3"]
    assert lines[3].split() == ["excluded:", "robots", "pre-fetch", "2"]
    assert lines[-1].split() == ["total", "excluded", "3"]


def _capture(url: str, text: str) -> Capture:
    body = f"<p>{text}</p>".encode()
    return Capture(
        url=url,
        protocol="HTTP/1.1",
        status=200,
        reason="OK",
        headers=(
            (b"Content-Type", b"text/html; charset=utf-8"),
            (b"Content-Length", str(len(body)).encode()),
        ),
        body=body,
        request_method="GET",
        request_target="/" + url.rsplit("/", 1)[1],
        request_protocol="HTTP/1.1",
        request_headers=((b"Host", b"example.kz"),),
        request_body=b"",
        peer_ip="127.0.0.1",
        fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_recovery_of_a_killed_writer(tmp_path):
    directory = tmp_path / "warc"
    writer = RotatingWarcWriter(directory, warcinfo={"software": "test"}, prefix="t")
    urls = [f"http://example.kz/{i}.html" for i in range(3)]
    for url in urls:
        writer.write_page(_capture(url, "Қазақ мәтіні " + url), Decision(url=url))
    open_file = writer.current_path
    data = open_file.read_bytes()
    # A kill in the middle of the last page's records: keep the bytes, drop the writer.
    cut = data[: len(data) - 40]
    writer.close()
    for path in directory.iterdir():
        path.unlink()
    open_file.write_bytes(cut)

    pages = recover_open_files(directory).pages
    assert [p.url for p in pages] == urls[:2]
    final = open_file.with_name(open_file.name.removesuffix(".open"))
    assert final.exists() and not open_file.exists()
    assert pages[0].warc_file == final.name
    with final.open("rb") as stream:
        kinds = [r.rec_type for r in ArchiveIterator(stream)]
    assert kinds == ["warcinfo"] + ["response", "request", "metadata"] * 2
    assert pages[1].decision == Decision(url=urls[1])


def test_commands_run_few_item_tasks_unless_told():
    # tdmcrawl's spiders yield only requests: a few output tasks a page, not Scrapy's 100.
    assert build_settings({}).getint("CONCURRENT_ITEMS") == 8
    assert build_settings({}, {"CONCURRENT_ITEMS": "50"}).getint("CONCURRENT_ITEMS") == 50
