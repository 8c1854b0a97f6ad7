"""`tdmcrawl crawl` refuses unusable seed URLs as usage errors, before touching --out."""

import pytest
from click.testing import CliRunner

from tdmcrawl.crawler.cli import main


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ("http://[::1", "not a valid URL"),
        ("http://a.kz:99999/", "not a valid URL"),
        ("ftp://a.kz/", "not an http(s) URL"),
        ("қазақ", "not an http(s) URL"),
    ],
)
def test_bad_seed_is_a_usage_error_and_creates_nothing(tmp_path, seed, message):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["crawl", seed, "--out", str(out)])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_bad_seed_in_a_seeds_file_is_refused_too(tmp_path):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# comment\nhttp://127.0.0.1:8/\nhttp://[::1\n", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["crawl", "--seeds", str(seeds), "--out", str(out)])
    assert result.exit_code == 2
    assert "not a valid URL" in result.output
    assert not out.exists()


def test_a_setting_scrapy_refuses_is_one_error_line(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tdmcrawl.crawler.cli",
            "crawl",
            "http://127.0.0.1:9/",
            "--out",
            str(tmp_path / "out"),
            "-s",
            "DOWNLOAD_DELAY=abc",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # Checked with every setting before the crawl starts (issue 10): a usage error.
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == ["Error: DOWNLOAD_DELAY='abc': use a number"]
    assert not (tmp_path / "out").exists()
