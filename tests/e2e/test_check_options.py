"""`tdmcrawl check` option checks and human output, without a crawl.

Invalid option values are usage errors (exit 2, Click's "Invalid value"
line), found before Scrapy starts; the human output stays on one screen.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tdmcrawl.crawler.cli import main
from tdmcrawl.crawler.cli.check import MAX_LINES_PER_KIND, CheckResult, render, result_dict
from tdmcrawl.crawler.cli.options import validate_token
from tdmcrawl.crawler.demo.loopback import free_port
from tdmcrawl.optout.decision import Decision, Reason, ReasonCode
from tests.support.web import tdmcrawl


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def assert_usage_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in error_lines[0]


@pytest.mark.parametrize(
    "command",
    [["check", "http://127.0.0.1:9/"], ["crawl", "--out", "never-created", "http://127.0.0.1:9/"]],
)
@pytest.mark.parametrize("token", ["bad/1.0", "", "Қазақ", "two words", "bot1"])
def test_invalid_token_is_a_usage_error(command, token, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_usage_error(
        invoke(*command, "--product-token", token), "'--product-token'", "product token"
    )
    assert not (tmp_path / "never-created").exists()


@pytest.mark.parametrize("token", ["GPTBot", "anthropic-ai", "my_bot"])
def test_valid_tokens_pass_the_check(token):
    assert validate_token(None, None, token) == token  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("agent", "why"),
    [
        ("Scrapy/2.13 (+https://scrapy.org)", "Scrapy"),
        ("mybot (built on scrapy)", "Scrapy"),
        ("   ", "empty"),
        ("tdmcrawl\r\nX-Evil: 1", "printable ASCII"),
        ("тдмкраул/1.0", "printable ASCII"),
    ],
)
def test_invalid_user_agent_is_a_usage_error(agent, why):
    assert_usage_error(
        invoke("check", "--user-agent", agent, "http://127.0.0.1:9/"), "'--user-agent'", why
    )


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://[::1", "Invalid IPv6"),
        ("https://қазақ.kz:99999/", "Port out of range"),
        ("http://127.0.0.1:0/", "port 0"),
        ("mailto:a@b.kz", "not an http(s) URL"),
        ("https:///path-without-host", "not an http(s) URL"),
    ],
)
def test_unusable_urls_are_usage_errors(url, why):
    assert_usage_error(invoke("check", url), "URLS", why)


def _reason(i: int, code: ReasonCode = ReasonCode.ROBOTS_AI_AGENTS) -> Reason:
    return Reason(code, "robots.txt", f"User-agent: Bot{i}; Disallow: /", line=i + 1)


def test_json_object_has_exactly_the_contract_keys():
    decision = Decision(
        "https://xn--80aa1a.kz/a",
        reasons=(_reason(0),),
        warnings=("w",),
        grants=(Reason(ReasonCode.TDMREP, "header", "tdm-reservation: 0"),),
    )
    out = result_dict(
        "https://Қазақ.kz/a?q=1", CheckResult(decision, fetched=False, stages=("pre-fetch",))
    )
    # The contract's keys, then what issue 10 added (fetched, status, each reason's stage).
    assert list(out) == ["url", "allowed", "reasons", "warnings", "fetched", "status"]
    assert out["url"] == "https://Қазақ.kz/a?q=1"  # as given, not as normalised
    assert out["allowed"] is False and out["warnings"] == ["w"]
    assert out["fetched"] is False and out["status"] is None
    assert out["reasons"] == [
        {
            "code": "robots-ai-agents",
            "source": "robots.txt",
            "evidence": "User-agent: Bot0; Disallow: /",
            "line": 1,
            "stage": "pre-fetch",
        }
    ]


def test_human_output_puts_the_decisive_reason_first_and_fits_one_screen():
    reasons = (
        *(_reason(i) for i in range(30)),
        Reason(ReasonCode.ROBOTS, "robots.txt", "Disallow: /private/", line=7),
    )
    decision = Decision(
        "https://a.kz/private/x", reasons=reasons, warnings=tuple(f"warning {i}" for i in range(20))
    )
    text = render("https://a.kz/private/x", decision)
    lines = text.splitlines()
    assert len(lines) <= 1 + 2 * MAX_LINES_PER_KIND
    assert lines[0].startswith("EXCLUDED") and "(robots; never fetched)" in lines[0]
    assert "robots.txt:7" in lines[1] and "Disallow: /private/" in lines[1]
    assert "26 more reasons (see --json)" in text and "15 more warnings" in text


def test_human_output_keeps_every_line_when_few_and_shortens_long_evidence():
    long = "Disallow: /" + "ә" * 400
    decision = Decision(
        "https://a.kz/",
        reasons=(Reason(ReasonCode.AI_TXT, "ai.txt", long),),
        warnings=("one", "two"),
    )
    lines = render("https://a.kz/", decision).splitlines()
    assert len(lines) == 4 and "more" not in "".join(lines)
    assert lines[1].endswith("…") and len(lines[1]) < 220
    allowed = render("https://a.kz/ok", Decision("https://a.kz/ok"))
    assert allowed == "ALLOWED   https://a.kz/ok"


@pytest.mark.parametrize("args", [["--help"], ["check", "--help"], ["registry", "--help"]])
def test_help_ends_with_an_example(args):
    result = invoke(*args)
    assert result.exit_code == 0
    blocks = result.stdout.strip().split("\n\n")
    assert blocks[-2].strip() == "Example:"
    assert blocks[-1].strip().startswith(("tdmcrawl ",))


@pytest.mark.parametrize(
    ("setting", "why"),
    [("TDMCRAWL_TOKEN=bad/1", "product token"), ("TDMCRAWL_USER_AGENT=Scrapy/2", "Scrapy")],
)
def test_the_same_values_given_as_settings_are_usage_errors_too(setting, why):
    assert_usage_error(
        invoke("check", "http://127.0.0.1:9/", "-s", setting),
        "-s " + setting.partition("=")[0],
        why,
    )


def test_a_setting_scrapy_refuses_is_one_error_line_without_traceback():
    # Checked with the other settings before Scrapy starts (issue 10): a usage error.
    proc = tdmcrawl(
        "check", f"http://127.0.0.1:{free_port()}/", "-s", "DOWNLOAD_DELAY=abc", timeout=60
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "Unhandled error" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: DOWNLOAD_DELAY=")
    assert "'abc'" in lines[0] and proc.stdout == ""
