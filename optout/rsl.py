"""RSL 1.0 (Really Simple Licensing, RSL Technical Steering Committee, Recommendation
of 2025-12-10): discovering a licence document, reading it, and what it says of AI training.

Discovery (RSL 1.0 section 4; all are equivalent and every one is read):

* robots.txt ``License: <absolute URI>``: outside any group it is global; inside a
  group it applies to the crawlers selecting that group, and a group's own
  licences replace the global ones (:meth:`RobotsTxt.licenses_for`);
* the HTTP ``Link`` header, ``rel="license"`` with ``type="application/rsl+xml"``
  (:func:`from_link_headers`);
* HTML ``<link rel="license" type="application/rsl+xml" href=...>`` and an inline
  ``<script type="application/rsl+xml">`` document (:func:`from_html`).

The document (:class:`RslDocument`) is XML in the namespace
``https://rslstandard.org/rsl``: ``<rsl>`` holds ``<content url server encrypted>``
elements, each with ``<license>`` elements of ``<permits>``/``<prohibits>`` (``type``
``usage``, ``user``, ``geo``; space-separated tokens), ``<payment type>`` (with
``<standard>``, ``<custom>``, ``<amount>``) and ``<reporting>``. A ``url`` is a full
URL or an RFC 9309 path pattern (``*``, ``$``), matched as robots.txt paths are.

What it says of training (:func:`training_terms`), for the ``<content>`` elements
that match the URL most specifically:

* a ``<prohibits type="usage">`` naming ``ai-train``, ``ai-all`` or ``all`` prohibits
  training; so does a ``<permits type="usage">`` that leaves training out (the list
  is closed, RSL 1.0 section 3.4.1). Conflicting licences resolve to the most
  restrictive reading (section 3.3);
* a licence that permits training only against payment (``purchase``,
  ``subscription``, ``training``, ``crawl``, ``use``), through a licence server
  (``server``: a token is needed "even for free licenses"), with reporting, or for
  some users or countries only, sets *terms*: the caller reserves unless the
  operator holds that licence;
* a licence that permits training with no payment (none, ``free``, ``attribution``,
  ``contribution``) is a grant.

A malformed document (not XML, wrong root or namespace, a ``<content>`` without
``url`` or ``<license>``, an unknown RSL element) is never read as a grant; its
prohibitions still count, with a warning (the evident intent is a reservation).
Never raises on bad input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from urllib.parse import urljoin, urlsplit

from lxml import etree

from tdmcrawl.optout.robots import PathPattern, request_path

NAMESPACE = "https://rslstandard.org/rsl"
MEDIA_TYPE = "application/rsl+xml"
# The same cap as tdmrep.json: real licences are a few KiB.
MAX_FILE_BYTES = 512 * 1024
MAX_CONTENTS = 1000
EVIDENCE_CHARS = 600

USAGE_TOKENS = frozenset({"all", "ai-all", "ai-train", "ai-input", "ai-index", "search"})
# Tokens whose use covers AI training (ai-all and all are supersets of ai-train).
TRAINING_TOKENS = frozenset({"ai-train", "ai-all", "all"})
# Spellings publishers write for ai-train that RSL does not define (seen in deployed
# files: "train-ai" is aipref's label); read in a prohibition only, never in a grant.
TRAINING_VARIANTS = frozenset(
    {"train-ai", "ai-training", "training", "ai_train", "train", "ai-train-all", "genai"}
)
PAID = frozenset({"purchase", "subscription", "training", "crawl", "use", "inference"})
UNPAID = frozenset({"free", "attribution", "contribution"})
_KNOWN = frozenset(
    {
        "rsl",
        "content",
        "license",
        "permits",
        "prohibits",
        "payment",
        "standard",
        "custom",
        "amount",
        "accepts",
        "legal",
        "schema",
        "alternate",
        "copyright",
        "terms",
        "reporting",
    }
)
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True
)


class Terms(IntEnum):
    """What a licence says of AI training, ordered from least to most restrictive."""

    SILENT = 0  # no matching content, or nothing about usage: no signal
    FREE = 1  # training permitted with no payment: a grant
    TERMS = 2  # permitted only on terms (payment, licence server, ...): reserves unless held
    PROHIBITED = 3  # training prohibited (directly, by a broader token, or by closure)


@dataclass(frozen=True)
class RslLicense:
    """One ``<license>``: its usage lists, payments and the URLs that identify it."""

    permits: tuple[tuple[str, tuple[str, ...]], ...]  # (type, tokens)
    prohibits: tuple[tuple[str, tuple[str, ...]], ...]
    payments: tuple[str, ...]  # payment types ("free" when there is no <payment>)
    identifiers: tuple[str, ...]  # <standard> and <custom> URLs
    reporting: bool
    raw: str

    def listed(self, kind: str, which: str) -> tuple[str, ...] | None:
        """The tokens of ``<permits|prohibits type=kind>``, or None without one."""
        pairs = self.permits if which == "permits" else self.prohibits
        found = [tokens for k, tokens in pairs if k == kind]
        return tuple(t for tokens in found for t in tokens) if found else None


@dataclass(frozen=True)
class RslContent:
    """One ``<content>``: its URL pattern, licence server, and licences."""

    url: str
    server: str | None
    encrypted: bool
    licenses: tuple[RslLicense, ...]
    _host: str | None = field(default=None, repr=False, compare=False)
    _pattern: PathPattern | None = field(default=None, repr=False, compare=False)

    def match_length(self, page_url: str, path: str | None = None, host: str | None = None) -> int:
        """How specifically this content's ``url`` matches ``page_url`` (-1: no match);
        ``path`` and ``host`` of the URL may be given when already known."""
        if self._pattern is None:
            return 0  # url="": the scope of the association (the page or the site)
        if self._host is not None:
            if host is None:
                host = (urlsplit(page_url).hostname or "").lower()
            if host != self._host:
                return -1
        if path is None:
            path = request_path(page_url)
        return self._pattern.priority if self._pattern.matches(path) else -1


@dataclass(frozen=True)
class RslDocument:
    """A parsed licence document; ``valid`` is False for a malformed one."""

    url: str
    contents: tuple[RslContent, ...] = ()
    warnings: tuple[str, ...] = ()
    valid: bool = False

    @property
    def _hosts(self) -> bool:
        return any(c._host is not None for c in self.contents)

    @classmethod
    def parse(cls, body: bytes | str | None, url: str) -> RslDocument:
        """Parse a licence document fetched from ``url``. Never raises."""
        return _parse(body, url)

    def matching(self, page_url: str) -> tuple[RslContent, ...]:
        """The ``<content>`` elements matching ``page_url`` most specifically."""
        best = -1
        found: list[RslContent] = []
        path = request_path(page_url)
        host = (urlsplit(page_url).hostname or "").lower() if self._hosts else None
        for content in self.contents:
            length = content.match_length(page_url, path, host)
            if length > best:
                best, found = length, [content]
            elif length == best and length >= 0:
                found.append(content)
        return tuple(found)


@dataclass(frozen=True)
class TrainingTerms:
    """What one licence document says of training ``url``: the verdict, why, and the
    evidence (the licence element that decided), with warnings about the document."""

    terms: Terms
    why: str = ""
    evidence: str = ""
    held: bool = False
    warnings: tuple[str, ...] = ()


def training_terms(
    document: RslDocument,
    page_url: str,
    *,
    held: Iterable[str] = (),
    token_variants: bool = True,
) -> TrainingTerms:
    """What ``document`` says of AI training on ``page_url``.

    ``held``: licence URLs the operator holds (the document's URL, a ``<standard>`` or
    ``<custom>`` URL, or a licence server); a licence with terms whose identifier is
    held is read as a grant. ``token_variants``: read ``train-ai`` and similar
    spellings in ``<prohibits>`` as ``ai-train`` (with a warning).
    """
    warnings = list(document.warnings)
    contents = document.matching(page_url)
    if not contents:
        return TrainingTerms(Terms.SILENT, warnings=tuple(warnings))
    held_set = frozenset(h.strip() for h in held if h.strip())
    results = [_content_terms(document, c, held_set, token_variants, warnings) for c in contents]
    worst = max(results, key=lambda r: r.terms)
    if not document.valid and worst.terms in (Terms.FREE, Terms.TERMS):
        # A malformed document never grants, and its terms are not a licence offer.
        warnings.append(
            f"RSL licence {document.url} is malformed: its permission is not read as a grant"
        )
        return TrainingTerms(Terms.SILENT, warnings=tuple(warnings))
    return TrainingTerms(worst.terms, worst.why, worst.evidence, worst.held, tuple(warnings))


def _content_terms(
    document: RslDocument,
    content: RslContent,
    held: frozenset[str],
    token_variants: bool,
    warnings: list[str],
) -> TrainingTerms:
    offers: list[TrainingTerms] = []
    closed: list[RslLicense] = []
    for licence in content.licenses:
        prohibited = set(licence.listed("usage", "prohibits") or ())
        direct = sorted(prohibited & TRAINING_TOKENS)
        if direct:
            why = f"prohibits usage {' '.join(direct)}"
            return TrainingTerms(Terms.PROHIBITED, why, licence.raw)
        variants = sorted(prohibited & TRAINING_VARIANTS)
        if variants and token_variants:
            warnings.append(
                f"RSL licence {document.url}: prohibits usage {' '.join(variants)}, not an "
                "RSL token; read as ai-train (evident intent)"
            )
            return TrainingTerms(
                Terms.PROHIBITED, f"prohibits usage {' '.join(variants)}", licence.raw
            )
        permitted = licence.listed("usage", "permits")
        if permitted is not None and not set(permitted) & TRAINING_TOKENS:
            closed.append(licence)
            continue
        offers.append(_offer_terms(document, content, licence, held))
    if offers:
        return min(offers, key=lambda r: r.terms)
    if closed:
        listed = " ".join(closed[0].listed("usage", "permits") or ()) or "(nothing)"
        return TrainingTerms(
            Terms.PROHIBITED, f"permits usage {listed} only: not ai-train", closed[0].raw
        )
    return TrainingTerms(Terms.SILENT)


def _offer_terms(
    document: RslDocument, content: RslContent, licence: RslLicense, held: frozenset[str]
) -> TrainingTerms:
    """A licence whose usage lists allow training: free, or on which terms."""
    conditions: list[str] = []
    paid = [p for p in licence.payments if p not in UNPAID]
    if paid:
        conditions.append(f"payment {' '.join(paid)}")
    if content.server:
        conditions.append(f"a licence token from the server {content.server}")
    if content.encrypted:
        conditions.append("decryption (encrypted content)")
    if licence.reporting:
        conditions.append("reporting")
    for kind in ("user", "geo"):
        if licence.listed(kind, "permits") is not None or licence.listed(kind, "prohibits"):
            conditions.append(f"{kind} restrictions")
    if not conditions:
        return TrainingTerms(Terms.FREE, "permits ai-train with no payment", licence.raw)
    why = "permits ai-train only with " + ", ".join(conditions)
    ids = {document.url, *licence.identifiers, *([content.server] if content.server else [])}
    if ids & held:
        return TrainingTerms(Terms.FREE, why + " (licence held)", licence.raw, held=True)
    return TrainingTerms(Terms.TERMS, why, licence.raw)


# --- parsing ------------------------------------------------------------------------


def _parse(body: bytes | str | None, url: str) -> RslDocument:
    if body is None:
        return RslDocument(url, warnings=(f"RSL licence {url}: empty",))
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    if len(data) > MAX_FILE_BYTES:
        return RslDocument(
            url, warnings=(f"RSL licence {url}: over {MAX_FILE_BYTES} bytes, ignored",)
        )
    if not data.strip():
        return RslDocument(url, warnings=(f"RSL licence {url}: empty",))
    try:
        root = etree.fromstring(data, _PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        return RslDocument(url, warnings=(f"RSL licence {url} is not XML ({str(exc)[:120]})",))
    if root is None:
        return RslDocument(url, warnings=(f"RSL licence {url} is not XML",))
    problems: list[str] = []
    if _local(root) != "rsl":
        return RslDocument(
            url, warnings=(f"RSL licence {url}: root element <{_local(root)}>, not <rsl>",)
        )
    if _namespace(root) != NAMESPACE:
        problems.append(f"namespace {_namespace(root) or '(none)'!r}, not {NAMESPACE}")
    contents: list[RslContent] = []
    for element in root:
        if not isinstance(element.tag, str):
            continue
        name = _local(element)
        if _namespace(element) not in (NAMESPACE, _namespace(root)):
            continue  # another namespace: an extension, ignored (RSL 1.0 section 3)
        if name != "content":
            problems.append(f"unexpected <{name}> under <rsl>")
            continue
        if len(contents) >= MAX_CONTENTS:
            problems.append(f"more than {MAX_CONTENTS} <content> elements; the rest ignored")
            break
        contents.append(_content(element, url, problems))
    for element in root.iter():
        if (
            isinstance(element.tag, str)
            and _namespace(element) == _namespace(root)
            and _local(element) not in _KNOWN
        ):
            problems.append(f"unknown RSL element <{_local(element)}>")
            break
    if not contents:
        problems.append("no <content> element")
    warnings = [f"RSL licence {url} is malformed: {p}" for p in _unique(problems)[:5]]
    return RslDocument(url, tuple(contents), tuple(warnings), valid=not problems)


def _content(element: etree._Element, doc_url: str, problems: list[str]) -> RslContent:
    url = element.get("url")
    if url is None:
        problems.append("a <content> without url")
        url = ""
    url = url.strip()
    server = (element.get("server") or "").strip() or None
    encrypted = (element.get("encrypted") or "").strip().lower() == "true"
    licences = [
        _license(child)
        for child in element
        if isinstance(child.tag, str) and _local(child) == "license"
    ]
    if not licences:
        problems.append(f"<content url={url!r}> has no <license>")
    host: str | None = None
    pattern: PathPattern | None = None
    if url:
        path = url
        if "://" in url:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        elif not url.startswith(("/", "*")):
            path = "/" + url
        pattern = PathPattern(path)
    return RslContent(url, server, encrypted, tuple(licences), host, pattern)


def _license(element: etree._Element) -> RslLicense:
    permits: list[tuple[str, tuple[str, ...]]] = []
    prohibits: list[tuple[str, tuple[str, ...]]] = []
    payments: list[str] = []
    identifiers: list[str] = []
    reporting = False
    for child in element:
        if not isinstance(child.tag, str):
            continue
        name = _local(child)
        if name in ("permits", "prohibits"):
            kind = (child.get("type") or "usage").strip().lower()
            tokens = tuple(t.lower() for t in re.split(r"[\s,]+", child.text or "") if t)
            (permits if name == "permits" else prohibits).append((kind, tokens))
        elif name == "payment":
            payments.append((child.get("type") or "free").strip().lower())
            for sub in child:
                named = isinstance(sub.tag, str) and _local(sub) in ("standard", "custom")
                if named and sub.text and sub.text.strip():
                    identifiers.append(sub.text.strip())
        elif name == "reporting":
            reporting = True
    raw = etree.tostring(element, encoding="unicode", with_tail=False)
    raw = re.sub(r"\s+xmlns(:\w+)?=\"[^\"]*\"", "", raw)
    raw = " ".join(raw.split())
    if len(raw) > EVIDENCE_CHARS:
        raw = raw[: EVIDENCE_CHARS - 1] + "…"
    return RslLicense(
        tuple(permits),
        tuple(prohibits),
        tuple(payments) or ("free",),
        tuple(identifiers),
        reporting,
        raw,
    )


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _namespace(element: etree._Element) -> str:
    return etree.QName(element).namespace or "" if isinstance(element.tag, str) else ""


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


# --- discovery ----------------------------------------------------------------------


@dataclass(frozen=True)
class LicenseRef:
    """Where a licence was named: its URL, the ``Reason.source`` (``robots.txt``,
    ``header``, ``html``), the raw evidence (line, header, tag) and its line number;
    ``inline`` holds an inline document (HTML ``<script>``)."""

    url: str
    source: str
    evidence: str
    line: int | None = None
    inline: RslDocument | None = None


_LINK_SPLIT = re.compile(r",(?=\s*<)")
_LINK = re.compile(r"^\s*<([^>]*)>(.*)$", re.DOTALL)
_PARAM = re.compile(r";\s*([A-Za-z0-9!#$&+\-.^_`|~*]+)\s*(?:=\s*(\"(?:[^\"\\]|\\.)*\"|[^;,\s]*))?")


def from_link_headers(headers: Iterable[tuple[str, str]], base_url: str) -> tuple[LicenseRef, ...]:
    """``Link: <url>; rel="license"; type="application/rsl+xml"`` (RFC 8288) references.

    A ``rel="license"`` link without a type counts when its URL ends in ``.xml``
    (a Creative Commons deed is also a ``rel="license"``, and is not RSL)."""
    refs: list[LicenseRef] = []
    for name, value in headers:
        if name.strip().lower() != "link":
            continue
        for part in _LINK_SPLIT.split(value):
            match = _LINK.match(part)
            if match is None:
                continue
            params = {
                key.lower(): (raw or "").strip('"').strip()
                for key, raw in _PARAM.findall(match.group(2))
            }
            if "license" not in params.get("rel", "").lower().split():
                continue
            target = match.group(1).strip()
            kind = params.get("type", "").lower()
            if kind != MEDIA_TYPE and not (not kind and urlsplit(target).path.endswith(".xml")):
                continue
            refs.append(LicenseRef(urljoin(base_url, target), "header", f"{name}: {value}".strip()))
    return tuple(_unique_refs(refs))


_LINK_TAG = re.compile(rb"<link\b[^>]{0,2048}>", re.IGNORECASE)
_SCRIPT = re.compile(
    rb"<script\b([^>]{0,1024})>(.{0,%d}?)</script\s*>" % MAX_FILE_BYTES, re.IGNORECASE | re.DOTALL
)
_ATTR = re.compile(r"""([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)""")


_HEAD_END = re.compile(rb"</head\s*>|<body[\s>]", re.IGNORECASE)


def from_html(body: bytes, page_url: str, max_bytes: int | None = None) -> tuple[LicenseRef, ...]:
    """``<link rel="license" type="application/rsl+xml" href>`` and inline
    ``<script type="application/rsl+xml">`` licences in the ``<head>`` of an HTML page
    (within ``max_bytes``): there they cover the document (RSL 1.0 section 4.6); one
    inside the body covers only its element, which a per-URL decision cannot honour
    alone, so the page is decided by its head."""
    data = bytes(body[:max_bytes]) if isinstance(body, bytes | bytearray | memoryview) else b""
    end = _HEAD_END.search(data)
    if end is not None:
        data = data[: end.start()]
    if b"rsl+xml" not in data.lower():
        return ()
    refs: list[LicenseRef] = []
    for match in _LINK_TAG.finditer(data):
        attrs = _attributes(match.group(0))
        if "license" not in attrs.get("rel", "").lower().split():
            continue
        if attrs.get("type", "").lower().strip() != MEDIA_TYPE or not attrs.get("href"):
            continue
        tag = match.group(0).decode("utf-8", "replace")
        refs.append(LicenseRef(urljoin(page_url, attrs["href"].strip()), "html", tag))
    for match in _SCRIPT.finditer(data):
        attrs = _attributes(b"<script" + match.group(1) + b">")
        if attrs.get("type", "").lower().strip() != MEDIA_TYPE:
            continue
        inline = _parse(match.group(2).strip(), page_url)
        shown = " ".join(match.group(0).decode("utf-8", "replace").split())
        refs.append(LicenseRef(page_url, "html", shown[:EVIDENCE_CHARS], inline=inline))
    return tuple(_unique_refs(refs))


def from_robots(lines: Iterable[object], robots_url: str) -> tuple[LicenseRef, ...]:
    """``License`` records of robots.txt (``RobotsLine`` objects) as references; a
    relative URI is resolved against robots.txt (RSL asks for an absolute one)."""
    refs: list[LicenseRef] = []
    for line in lines:
        value = str(getattr(line, "value", "")).strip()
        if not value:
            continue
        refs.append(
            LicenseRef(
                urljoin(robots_url, value),
                "robots.txt",
                str(getattr(line, "raw", value)),
                getattr(line, "line_no", None),
            )
        )
    return tuple(_unique_refs(refs))


def _attributes(tag: bytes) -> dict[str, str]:
    text = tag.decode("utf-8", "replace")
    return {k.lower(): v.strip("\"'") for k, v in _ATTR.findall(text)}


def _unique_refs(refs: list[LicenseRef]) -> list[LicenseRef]:
    seen: set[tuple[str, str]] = set()
    out = []
    for ref in refs:
        key = (ref.url, ref.evidence)
        if key not in seen:
            seen.add(key)
            out.append(ref)
    return out
