"""W3C TDMRep conformance (CG Final Report, 2024-05-10), one table per technique.

Spec sentences are quoted above the tests that check them.
"""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tdmcrawl.optout import tdmrep
from tdmcrawl.optout.tdmrep import (
    TdmRepFile,
    TdmValue,
    file_value,
    from_headers,
    from_meta,
    resolve,
    url_path,
)

SPEC_EXAMPLE = b"""[
  { "location": "/directory-a/", "tdm-reservation": 1 },
  { "location": "/directory-b/html/", "tdm-reservation": 1,
    "tdm-policy": "https://provider.com/policies/policy.json" },
  { "location": "/directory-b/images/*.jpg", "tdm-reservation": 0 }
]"""


def _file(*rules):
    return TdmRepFile.parse(json.dumps(list(rules)).encode())


# §Technique 1, the spec's own example file.
@pytest.mark.parametrize(
    ("url", "reservation", "index"),
    [
        ("https://a.example/directory-a/page.html", 1, 0),
        ("https://a.example/directory-a/", 1, 0),
        ("https://a.example/directory-a", None, None),
        ("https://a.example/directory-b/html/x.html", 1, 1),
        ("https://a.example/directory-b/images/cat.jpg", 0, 2),
        ("https://a.example/directory-b/images/sub/cat.jpg?size=2", 0, 2),
        ("https://a.example/directory-b/images/cat.png", None, None),
        ("https://a.example/", None, None),
    ],
)
def test_tdmrep_spec_example_file(url, reservation, index):
    tdm = TdmRepFile.parse(SPEC_EXAMPLE)
    rule = tdm.match(url)
    assert (rule.reservation if rule else None) == reservation
    assert (rule.index if rule else None) == index
    assert tdm.warnings == ()


# "The most specific match found MUST be used. The most specific match is the
#  first in sequence." -- first match in array order, not longest match.
def test_tdmrep_first_match_in_array_order_wins():
    tdm = _file(
        {"location": "/", "tdm-reservation": 1}, {"location": "/public/", "tdm-reservation": 0}
    )
    rule = tdm.match("https://a.example/public/x")
    assert rule.reservation == 1 and rule.index == 0
    shadow = tdm.shadowed("https://a.example/public/x", rule)
    assert shadow is not None and shadow.location == "/public/"
    reversed_order = _file(
        {"location": "/public/", "tdm-reservation": 0}, {"location": "/", "tdm-reservation": 1}
    )
    assert reversed_order.match("https://a.example/public/x").reservation == 0
    assert reversed_order.match("https://a.example/other").reservation == 1


# "special characters borrowed from draft-koster-rep: $ = end of pattern, * = 0+
#  characters"; "The matching SHOULD be case sensitive"; prefix match otherwise.
@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/fish", "/fish", True),
        ("/fish", "/fish.html", True),
        ("/fish", "/Fish.asp", False),
        ("/fish", "/catfish", False),
        ("/fish*", "/fishheads/yummy.html", True),
        ("/fish/", "/fish", False),
        ("/fish/", "/fish/salmon.htm", True),
        ("/*.php", "/index.php", True),
        ("/*.php", "/folder/filename.php?parameters", True),
        ("/*.php$", "/filename.php", True),
        ("/*.php$", "/filename.php?parameters", False),
        ("/*.php$", "/filename.php5", False),
        ("/fish*.php", "/fishheads/catfish.php?parameters", True),
        ("/fish*.php", "/Fish.PHP", False),
        ("*.jpg", "/a/b.jpg", True),
        ("/a/*/*/z$", "/a/b/c/z", True),
        ("/a/*/*/z$", "/a/b/z", False),
        ("/a**b", "/axxb", True),
        ("/$", "/", True),
        ("/$", "/x", False),
        # percent-encoded unreserved ASCII decoded before comparison
        ("/%7Euser/", "/~user/page", True),
        ("/~user/", "/%7euser/page", True),
        # non-ASCII compares by its UTF-8 percent-encoding, either spelling
        ("/қазақ/", "/%D2%9B%D0%B0%D0%B7%D0%B0%D2%9B/бет", True),
        ("/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8/", "/новости/1", True),
        # a literal "$" in a URI is matched as "%24"
        ("/price%24/", "/price$/x", True),
    ],
)
def test_tdmrep_pattern_matching(pattern, path, matches):
    tdm = _file({"location": pattern, "tdm-reservation": 1})
    assert (tdm.match("https://a.example" + path) is not None) is matches


# "Failure to provide access to such a representation implies that the origin
#  server does not implement this protocol." -- an invalid file is no file.
@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"<html><body>404</body></html>",
        b'{"location": "/", "tdm-reservation": 1}',  # brackets are mandatory
        b'"[]"',
        b"\xff\xfe\x00[",
    ],
)
def test_tdmrep_invalid_file_is_no_file_with_warning(body):
    tdm = TdmRepFile.parse(body)
    assert tdm.rules == () and not tdm.valid
    assert tdm.warnings
    assert tdm.match("https://a.example/") is None


def test_tdmrep_empty_array_is_valid_and_silent():
    tdm = TdmRepFile.parse(b"[]")
    assert tdm.valid and tdm.rules == () and tdm.warnings == ()


# "Other values are considered protocol errors. In such a case the TDM Agents
#  MUST consider that tdm-reservation is unset."
@pytest.mark.parametrize(
    ("value", "reservation", "warns"),
    [
        (1, 1, False),
        (0, 0, False),
        ("1", 1, True),  # our choice: the string "1" is a reservation, with a warning
        (" 0 ", None, True),  # our choice: a malformed value is never read as a permission
        (2, None, True),
        (True, None, True),
        ("yes", None, True),
        (None, None, True),
        (1.5, None, True),
    ],
)
def test_tdmrep_rule_values(value, reservation, warns):
    tdm = _file(
        {"location": "/", "tdm-reservation": value}, {"location": "/", "tdm-reservation": 1}
    )
    rule = tdm.match("https://a.example/x")
    # A rule with an invalid value still matches first: the reservation is unset.
    assert rule.index == 0
    assert rule.reservation == reservation
    assert bool(tdm.warnings) is warns


def test_tdmrep_rules_without_location_are_skipped():
    tdm = _file(
        {"tdm-reservation": 1},
        "junk",
        {"location": "", "tdm-reservation": 1},
        {"location": "/b/", "tdm-reservation": 1},
    )
    assert [r.location for r in tdm.rules] == ["/b/"]
    assert len(tdm.warnings) == 3
    assert tdm.match("https://a.example/a/") is None


def test_tdmrep_location_forms_publishers_write():
    tdm = _file(
        {"location": "https://a.example/docs/", "tdm-reservation": 1},
        {"location": "images/", "tdm-reservation": 1},
    )
    assert tdm.match("https://a.example/docs/x").index == 0
    assert tdm.match("https://a.example/images/x").index == 1
    assert len(tdm.warnings) == 2


def test_tdmrep_policy_and_bom():
    tdm = TdmRepFile.parse(b"\xef\xbb\xbf" + SPEC_EXAMPLE)
    rule = tdm.match("https://a.example/directory-b/html/")
    assert rule.policy == "https://provider.com/policies/policy.json"
    assert '"tdm-policy"' in rule.raw


# §Technique 2: header names are case-insensitive (HTTP). Repeated / folded
# values: "1, 1" is 1 (datadiligence reads it as allowed, wrongly).
@pytest.mark.parametrize(
    ("headers", "reservation"),
    [
        ([("tdm-reservation", "1")], 1),
        ([("TDM-Reservation", "1")], 1),
        ([("tdm-reservation", "0")], 0),
        ([("tdm-reservation", "1, 1")], 1),
        ([("tdm-reservation", "1"), ("tdm-reservation", "1")], 1),
        ([("tdm-reservation", "0"), ("tdm-reservation", "1")], 1),  # conflict: most restrictive
        ([("tdm-reservation", "0, 1")], 1),
        ([("tdm-reservation", "2")], None),  # removed value 2: protocol error -> unset
        ([("tdm-reservation", "true")], None),
        ([("tdm-reservation", "")], None),
        ([("tdm-reservation", "2"), ("tdm-reservation", "0")], 0),
        ([("TDM-a", "1")], None),  # legacy name from the techniques note: not normative
        ([("content-type", "text/html")], None),
    ],
)
def test_tdmrep_header_values(headers, reservation):
    assert from_headers(headers).reservation == reservation


def test_tdmrep_header_conflict_and_error_warn():
    assert from_headers([("tdm-reservation", "0, 1")]).warnings
    assert from_headers([("tdm-reservation", "2")]).warnings
    assert from_headers([("tdm-reservation", "1")]).warnings == ()


def test_tdmrep_header_policy_and_evidence():
    value = from_headers([("TDM-Reservation", "1"), ("tdm-policy", " https://p.example/p.json ")])
    assert value.policy == "https://p.example/p.json"
    assert value.evidence == "TDM-Reservation: 1\ntdm-policy:  https://p.example/p.json "


# §Technique 3: <meta name="tdm-reservation" content="1">
@pytest.mark.parametrize(
    ("pairs", "reservation"),
    [
        ([("tdm-reservation", "1")], 1),
        ([("TDM-Reservation", " 1 ")], 1),
        ([("tdm-reservation", "0")], 0),
        ([("tdm-reservation", "0"), ("tdm-reservation", "1")], 1),
        ([("tdm-reservation", "yes")], None),
        ([("robots", "noai")], None),
    ],
)
def test_tdmrep_meta_values(pairs, reservation):
    value = from_meta(pairs)
    assert value.reservation == reservation
    assert value.source == "meta"


# §"Processing priority": header values "supercede any value inferred from a TDM
# file"; meta values "supercede previous values"; "the absence of
# tdm-reservation and tdm-policy MUST not reset current values".
@pytest.mark.parametrize(
    ("file", "header", "meta", "reservation", "source"),
    [
        (1, None, None, 1, "well-known"),
        (1, 0, None, 0, "header"),
        (0, 1, None, 1, "header"),
        (1, None, 0, 0, "meta"),  # a more specific source can relax a reservation
        (1, 0, 1, 1, "meta"),
        (None, None, 1, 1, "meta"),
        (None, None, None, None, None),
        (1, "2", None, 1, "well-known"),  # an invalid later value does not reset
        (1, "2", "x", 1, "well-known"),
        (0, None, "", 0, "well-known"),
    ],
)
def test_tdmrep_processing_order(file, header, meta, reservation, source):
    rules = [] if file is None else [{"location": "/", "tdm-reservation": file}]
    rule = _file(*rules).match("https://a.example/page")
    headers = [] if header is None else [("tdm-reservation", str(header))]
    metas = [] if meta is None else [("tdm-reservation", str(meta))]
    outcome = resolve([file_value(rule), from_headers(headers), from_meta(metas)])
    assert outcome.reservation == reservation
    assert outcome.source == source


def test_tdmrep_policy_only_source_keeps_the_reservation():
    header = from_headers([("tdm-reservation", "1")])
    meta = from_meta([("tdm-policy", "https://p.example/policy.json")])
    outcome = resolve([header, meta])
    assert outcome.reservation == 1 and outcome.source == "header"
    assert outcome.policy == "https://p.example/policy.json"


def test_tdmrep_override_is_recorded_as_warning():
    outcome = resolve([TdmValue("well-known", 1, evidence="x"), TdmValue("meta", 0, evidence="y")])
    assert any("supersedes" in w for w in outcome.warnings)


def test_tdmrep_url_path_keeps_query_drops_fragment():
    assert url_path("https://a.example/a/b?x=1#frag") == "/a/b?x=1"
    assert url_path("https://a.example") == "/"
    assert url_path("http://[::1") == "/"


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(
    st.one_of(
        st.binary(), st.text().map(str.encode), _json_values.map(lambda v: json.dumps(v).encode())
    ),
    st.text(),
)
def test_tdmrep_file_parse_and_match_never_raise(body, path):
    tdm = TdmRepFile.parse(body)
    rule = tdm.match("https://a.example/" + path)
    assert rule is None or rule.reservation in (0, 1, None)


@given(st.lists(st.tuples(st.sampled_from(["tdm-reservation", "TDM-Policy", "x"]), st.text())))
def test_tdmrep_header_parse_never_raises(headers):
    value = from_headers(headers)
    assert value.reservation in (0, 1, None)


@given(st.lists(st.tuples(st.text(max_size=5), st.text(max_size=30)), max_size=5))
def test_tdmrep_rule_patterns_never_raise(rules):
    tdm = _file(*({"location": loc, "tdm-reservation": 1} for loc, _ in rules))
    for _, path in rules:
        tdm.match("https://a.example/" + path)
    assert len(tdm.rules) <= len(rules)


# -- our choices: a file that cannot be read whole (issue 10) ----------------------------
# It never grants more than the whole file would: the rules read before the break come
# first in array order, so they decide their paths; any other path could be reserved by
# a rule that was not read, and is reserved (TdmRepFile.unread says why).

OPEN_THEN_CUT = b'[{"location": "/open/", "tdm-reservation": 0},\n {"location": "/", "tdm-res'


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (OPEN_THEN_CUT, "after 1 rule(s) (Unterminated string"),
        (b'[{"location": "/open/", "tdm-reservation": 0}, {"location": "/x", }]', "breaks at"),
        (b'[{"location": "/open/", "tdm-reservation": 0} {"location": "/"}]', "no ',' or ']'"),
        (b'[{"location": "/open/", "tdm-reservation": 0}, {"location": "/\xff"}]', "not UTF-8"),
        (b'[{"location": "/open/", "tdm-reservation": 0},', "ends after 1 rule(s)"),
    ],
    ids=["cut", "broken", "no-comma", "not-utf8", "cut-after-comma"],
)
def test_policy_tdmrep_array_read_in_part_reserves_what_was_not_read(body, why):
    tdm = TdmRepFile.parse(body)
    assert tdm.valid and why in tdm.unread
    assert [r.location for r in tdm.rules] == ["/open/"]
    assert tdm.match("https://a.example/open/a").reservation == 0  # read, first: it decides
    assert tdm.match("https://a.example/other") is None  # no rule read: the policy reserves
    assert any("read as reserved" in w for w in tdm.warnings)


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b"[ {", b'[ "unterminated'],
    ids=["deep-nesting", "cut-in-first-rule", "unterminated-string"],
)
def test_policy_tdmrep_array_unreadable_from_the_start_reserves_everything(body):
    tdm = TdmRepFile.parse(body)
    assert tdm.valid and tdm.rules == () and tdm.unread


def test_policy_tdmrep_more_rules_than_kept_reserves_what_the_kept_do_not_match(monkeypatch):
    monkeypatch.setattr(tdmrep, "MAX_RULES", 3)
    tdm = _file(*({"location": f"/s{i}/", "tdm-reservation": 0} for i in range(5)))
    assert len(tdm.rules) == 3 and "more than 3 rules" in tdm.unread
    assert tdm.match("https://a.example/s2/x").index == 2
    assert tdm.match("https://a.example/s4/x") is None


def test_policy_tdmrep_whole_file_of_any_size_is_read_whole():
    rules = [{"location": f"/s{i}/", "tdm-reservation": 1} for i in range(20_000)]
    body = json.dumps(rules).encode()
    assert len(body) > 512 * 1024  # the old limit, past which the file was ignored
    tdm = TdmRepFile.parse(body)
    assert tdm.unread is None and len(tdm.rules) == 20_000
    assert tdm.match("https://a.example/s19999/a").index == 19_999
    assert tdm.match("https://a.example/free") is None  # read whole: nothing over-read


@pytest.mark.parametrize(
    ("body", "warning"),
    [
        (b'[{"location": "/", "tdm-reservation": 1},]', "comma before its ']'"),
        (b'[{"location": "/", "tdm-reservation": 1}] <!-- cms -->', "text after its array"),
        (b"[" + b" " * 600_000 + b"]", None),
    ],
)
def test_policy_tdmrep_harmless_slips_lose_no_rule(body, warning):
    tdm = TdmRepFile.parse(body)
    assert tdm.valid and tdm.unread is None
    assert bool(tdm.warnings) is (warning is not None)
    if warning:
        assert any(warning in w for w in tdm.warnings)
        assert tdm.match("https://a.example/x").reservation == 1


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32"])
def test_policy_tdmrep_utf16_with_bom_is_decoded(codec):
    body = json.dumps([{"location": "/жеке/", "tdm-reservation": 1}], ensure_ascii=False)
    raw = body.encode(codec)
    if codec == "utf-16-be":
        raw = b"\xfe\xff" + raw
    tdm = TdmRepFile.parse(raw)
    assert tdm.match("https://a.example/жеке/1").reservation == 1
    assert any("byte order mark" in w for w in tdm.warnings)


def test_policy_tdmrep_unreadable_file_has_no_rules_and_says_why():
    tdm = TdmRepFile.unreadable("is larger than 8388608 bytes")
    assert tdm.valid and tdm.rules == () and tdm.unread == "is larger than 8388608 bytes"
    assert tdm.match("https://a.example/anything") is None


@pytest.mark.parametrize(
    ("location", "url"),
    [
        ("/?s={q}/", "https://a.example/?s=%7Bq%7D/"),
        ("/b/*|", "https://a.example/b/x%7C"),
        ("/c/^", "https://a.example/c/%5E1"),
    ],
)
def test_policy_tdmrep_raw_unsafe_characters_match_the_encoded_request(location, url):
    assert _file({"location": location, "tdm-reservation": 1}).match(url).index == 0


# The rule index gives the first match in array order, as a scan of every rule would.
_LOCATIONS = st.sampled_from(
    ["/", "/a", "/a/", "/a/*", "/a*.pdf$", "*", "*.pdf", "/a/b$", "/b/", "/ab", "*/b/", "/a$"]
)
_PATHS = st.sampled_from(["/", "/a", "/a/", "/a/b", "/a/b/c.pdf", "/ab", "/b/", "/x.pdf", "/c"])


@given(st.lists(_LOCATIONS, max_size=12), _PATHS)
def test_policy_tdmrep_index_finds_the_first_rule_a_scan_finds(locations, path):
    tdm = _file(*({"location": loc, "tdm-reservation": i % 2} for i, loc in enumerate(locations)))
    scanned = next((r for r in tdm.rules if r.matches(path)), None)
    assert tdm.match_path(path) is scanned
    if scanned is not None:
        later = [
            r
            for r in tdm.rules
            if r.index > scanned.index
            and len(r.location) > len(scanned.location)
            and r.reservation != scanned.reservation
            and r.matches(path)
        ]
        assert tdm.shadowed("", scanned, path=path) is (later[0] if later else None)
