"""Acceptance: every PolicyConfig switch has a TDMCRAWL_* setting, and a real crawl obeys it."""

from __future__ import annotations

import dataclasses
import sqlite3

import pytest
from scrapy.settings import Settings
from warcio.archiveiterator import ArchiveIterator

from tdmcrawl.crawler import settings as tdm_settings
from tdmcrawl.crawler.demo.loopback import LoopbackWeb, Site, text_reply
from tdmcrawl.optout.policy import PolicyConfig
from tests.support.web import FAST, KAZAKH, RUSSIAN, page, tdmcrawl

SWITCHES = {
    "ai_agents": "TDMCRAWL_AI_AGENTS",
    "ai_txt": "TDMCRAWL_AI_TXT",
    "noai": "TDMCRAWL_NOAI",
    "tdmrep": "TDMCRAWL_TDMREP",
    "content_usage": "TDMCRAWL_CONTENT_USAGE",
    "content_signal": "TDMCRAWL_CONTENT_SIGNAL",
    "aipref_compat": "TDMCRAWL_AIPREF_COMPAT",
    "rsl": "TDMCRAWL_RSL",
    "rsl_token_variants": "TDMCRAWL_RSL_TOKEN_VARIANTS",
    "tdmrep_object": "TDMCRAWL_TDMREP_OBJECT",
    "tdmrep_string": "TDMCRAWL_TDMREP_STRING",
    "tdmrep_variants": "TDMCRAWL_TDMREP_VARIANTS",
    "ai_agent_lookalikes": "TDMCRAWL_AI_AGENTS_LOOKALIKES",
}
# Fields that are not on/off switches, each with a setting tested below.
VALUED = {"token", "html_meta_max_bytes", "rsl_licenses", "robots_comments", "agents"}


def test_every_policy_field_has_a_setting():
    fields = {f.name for f in dataclasses.fields(PolicyConfig)}
    off_by_default = {"robots_redirects_unavailable": "TDMCRAWL_ROBOTS_REDIRECTS_UNAVAILABLE"}
    assert set(SWITCHES) | set(off_by_default) | VALUED == fields
    for field, name in off_by_default.items():
        assert getattr(tdm_settings.policy_config(Settings()), field) is False
        assert getattr(tdm_settings.policy_config(Settings({name: "True"})), field) is True
    for field, name in SWITCHES.items():
        assert getattr(tdm_settings.policy_config(Settings()), field) is True
        off = tdm_settings.policy_config(Settings({name: "False"}))
        assert getattr(off, field) is False, name
        others = {f: getattr(off, f) for f in SWITCHES if f != field}
        assert all(others.values()), f"{name} switched more than itself: {others}"


def test_valued_policy_fields_reach_the_policy():
    config = tdm_settings.policy_config(
        Settings(
            {
                "TDMCRAWL_ROBOTS_COMMENTS": "warn",
                "TDMCRAWL_RSL_LICENSES": "https://a.kz/license.xml,https://c.org/l",
            }
        )
    )
    assert config.robots_comments == "warn"
    assert config.rsl_licenses == ("https://a.kz/license.xml", "https://c.org/l")
    assert config.agents is not None and config.agents.version
    default = tdm_settings.policy_config(Settings())
    assert (default.robots_comments, default.rsl_licenses) == ("reserve", ())
    with pytest.raises(ValueError, match="TDMCRAWL_ROBOTS_COMMENTS"):
        tdm_settings.policy_config(Settings({"TDMCRAWL_ROBOTS_COMMENTS": "maybe"}))


def test_meta_scan_size_and_token_reach_the_policy():
    config = tdm_settings.policy_config(
        Settings({"TDMCRAWL_HTML_META_MAX_BYTES": "4096", "TDMCRAWL_TOKEN": "kzbot"})
    )
    assert (config.html_meta_max_bytes, config.token) == (4096, "kzbot")


@pytest.mark.parametrize(
    "name, value",
    [
        ("TDMCRAWL_NOAI", "Flase"),
        ("TDMCRAWL_TDMREP", "жоқ"),
        ("TDMCRAWL_HTML_META_MAX_BYTES", "big"),
        ("TDMCRAWL_HTML_META_MAX_BYTES", "10"),
    ],
)
def test_a_bad_switch_is_an_error_naming_it_not_a_silent_off(name, value):
    with pytest.raises(ValueError) as info:
        tdm_settings.policy_config(Settings({name: value}))
    assert name in str(info.value) or "html_meta_max_bytes" in str(info.value)


def _web() -> LoopbackWeb:
    return LoopbackWeb(
        [
            Site(
                "site",
                {
                    "/robots.txt": text_reply("User-agent: *\nAllow: /\n"),
                    "/": page("Home", KAZAKH, ["/noai.html", "/tdm.html", "/usage.html"]),
                    "/noai.html": page("noai", RUSSIAN, head='<meta name="robots" content="noai">'),
                    "/tdm.html": page(
                        "tdm", RUSSIAN + " tdm", head='<meta name="tdm-reservation" content="1">'
                    ),
                    "/usage.html": page(
                        "usage", KAZAKH + " usage", headers=[("Content-Usage", "train-ai=n")]
                    ),
                },
            )
        ]
    )


def _kept(out) -> set[str]:
    uris = set()
    for path in (out / "warc").glob("*.warc.gz"):
        with path.open("rb") as stream:
            uris |= {
                r.rec_headers.get_header("WARC-Target-URI")
                for r in ArchiveIterator(stream)
                if r.rec_type == "response"
            }
    return {uri.rsplit("/", 1)[1] for uri in uris}


def test_switches_change_what_a_real_crawl_keeps(tmp_path):
    with _web() as web:
        seed = web.url("site", "/")
        default = tdmcrawl(
            "crawl", seed, "--out", str(tmp_path / "default"), "--progress", "0", *FAST
        )
        off = tdmcrawl(
            "crawl",
            seed,
            "--out",
            str(tmp_path / "off"),
            "--progress",
            "0",
            *FAST,
            "-s",
            "TDMCRAWL_NOAI=False",
            "-s",
            "TDMCRAWL_TDMREP=off",
        )
        requests_before_typo = len(web.requested_paths("site"))
        typo = tdmcrawl(
            "crawl",
            seed,
            "--out",
            str(tmp_path / "typo"),
            "--progress",
            "0",
            *FAST,
            "-s",
            "TDMCRAWL_NOAI=Flase",
        )
        requests_after_typo = len(web.requested_paths("site"))
    assert default.returncode == 0 and off.returncode == 0, default.stderr + off.stderr
    assert _kept(tmp_path / "default") == {""}
    # Content-Usage stays on: only the two switched signals are let through.
    assert _kept(tmp_path / "off") == {"", "noai.html", "tdm.html"}
    db = sqlite3.connect(tmp_path / "off" / "audit.sqlite")
    reasons = {row[0] for row in db.execute("select reason from exclusions")}
    assert reasons == {"content-usage"}
    assert typo.returncode != 0
    assert "TDMCRAWL_NOAI" in typo.stderr and "Traceback" not in typo.stderr
    assert requests_after_typo == requests_before_typo  # failed before its first request


def test_rebinding_a_public_name_to_loopback_is_dropped_after_download():
    """The name resolved public before the download; the connection went to 127.0.0.1."""
    import asyncio
    import ipaddress

    from scrapy import Request
    from scrapy.http import HtmlResponse

    from tdmcrawl.crawler.gates.netguard import (
        SEED_META,
        AddressResolver,
        NetGuardBlocked,
        NetGuardMiddleware,
    )

    resolver = AddressResolver(["news.example"])
    resolver._cache["rebind.example"] = ["93.184.216.34"]  # the first, public, DNS answer
    guard = NetGuardMiddleware(resolver)
    request = Request("http://rebind.example/a.html", headers={"Referer": "http://news.example/"})

    def served_from(ip: str, req: Request = request) -> HtmlResponse:
        return HtmlResponse(
            req.url, body=b"<p>x</p>", request=req, ip_address=ipaddress.ip_address(ip)
        )

    asyncio.run(guard.process_request(request))  # before the download: looks public
    with pytest.raises(NetGuardBlocked, match=r"non-public 127\.0\.0\.1"):
        asyncio.run(guard.process_response(request, served_from("127.0.0.1")))
    with pytest.raises(NetGuardBlocked):
        asyncio.run(guard.process_response(request, served_from("10.1.2.3")))
    ok = served_from("93.184.216.34")
    assert asyncio.run(guard.process_response(request, ok)) is ok
    # An explicit seed, a private source, or a host the operator declared public: no check.
    seed = Request(
        "http://rebind.example/",
        meta={SEED_META: True},
        headers={"Referer": "http://news.example/"},
    )
    assert asyncio.run(guard.process_response(seed, served_from("127.0.0.1", seed)))
    inner = Request("http://rebind.example/b", headers={"Referer": "http://127.0.0.1:8/"})
    assert asyncio.run(guard.process_response(inner, served_from("127.0.0.1", inner)))
    declared = Request("http://news.example/b", headers={"Referer": "http://news.example/"})
    assert asyncio.run(guard.process_response(declared, served_from("127.0.0.1", declared)))
