"""The contracts of DESIGN.md that the code must keep: reason codes and the CLI surface."""

import re

import pytest

from tdmcrawl.optout.decision import FETCH_BLOCKING, Decision, Reason, ReasonCode
from tests.support import paths

DESIGN = paths.DESIGN


@pytest.mark.skipif(not DESIGN.exists(), reason="shared/DESIGN.md is not beside the checkout")
def test_reason_codes_equal_the_design_table():
    table = re.findall(r"^\| `([a-z-]+)` \|", DESIGN.read_text(encoding="utf-8"), re.MULTILINE)
    assert sorted(table) == sorted(code.value for code in ReasonCode)


def test_readme_lists_every_reason_code():
    readme = (paths.ROOT / "README.md").read_text(encoding="utf-8")
    missing = [code.value for code in ReasonCode if f"`{code.value}`" not in readme]
    assert missing == []


def test_only_robots_reasons_block_fetching():
    assert {c.value for c in FETCH_BLOCKING} == {"robots", "robots-unreachable"}
    robots = Reason("robots", "robots.txt", "Disallow: /", line=2)
    tdm = Reason("tdmrep", "header", "tdm-reservation: 1")
    assert Decision("https://a.kz/", (tdm,)).fetch_allowed
    assert not Decision("https://a.kz/", (tdm, robots)).fetch_allowed


def test_decisive_reason_comes_first_and_allowed_is_derived():
    tdm = Reason("tdmrep", "header", "tdm-reservation: 1")
    robots = Reason("robots", "robots.txt", "Disallow: /", line=2)
    decision = Decision("https://a.kz/", (tdm, robots, tdm))
    assert decision.reasons == (robots, tdm)
    assert not decision.allowed
    assert Decision("https://a.kz/").allowed


def test_inconsistent_json_is_refused():
    with pytest.raises(ValueError, match="inconsistent"):
        Decision.from_dict(
            {
                "url": "https://a.kz/",
                "allowed": True,
                "reasons": [{"code": "noai", "source": "header", "evidence": "noai"}],
            }
        )
