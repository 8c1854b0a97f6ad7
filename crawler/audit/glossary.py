"""Reason codes and policy switches in plain words, with the standard each comes from.

What the HTML report's glossary and its "policy in plain words" say. The
texts are English source messages, marked with ``N_`` so Babel extracts them
into the catalogs (``registry/locale``); the report translates them when it
renders. The reason table is DESIGN.md's, including ``rsl`` and
``robots-comment`` (read by the crawl once their signals are implemented).
"""

from __future__ import annotations

from dataclasses import dataclass


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message


@dataclass(frozen=True)
class ReasonEntry:
    code: str
    meaning: str  # plain words (English source message)
    standard: str  # the standard or convention, by its own name (not translated)
    url: str


REASONS: tuple[ReasonEntry, ...] = (
    ReasonEntry(
        "robots",
        N_("The site's robots.txt forbids our crawler to fetch the page; it was never fetched."),
        "RFC 9309 (Robots Exclusion Protocol)",
        "https://www.rfc-editor.org/rfc/rfc9309",
    ),
    ReasonEntry(
        "robots-unreachable",
        N_(
            "The site's robots.txt could not be read (server error or no answer); the "
            "standard says to treat the whole site as forbidden, so nothing was fetched."
        ),
        "RFC 9309, section 2.3.1.4",
        "https://www.rfc-editor.org/rfc/rfc9309#section-2.3.1.4",
    ),
    ReasonEntry(
        "robots-ai-agents",
        N_(
            "The site's robots.txt shuts out known AI-training crawlers (GPTBot, CCBot, "
            "Google-Extended and others); read as a reservation against AI training."
        ),
        "RFC 9309, AI crawler user-agent tokens",
        "https://www.rfc-editor.org/rfc/rfc9309",
    ),
    ReasonEntry(
        "content-usage",
        N_("The site states, in robots.txt or an HTTP header, that AI training is not allowed."),
        "IETF AI Preferences (aipref), Content-Usage",
        "https://datatracker.ietf.org/wg/aipref/about/",
    ),
    ReasonEntry(
        "tdmrep",
        N_(
            "The rights holder reserved text and data mining (tdm-reservation: 1) in the "
            "site's tdmrep.json, an HTTP header or a meta tag."
        ),
        "W3C TDM Reservation Protocol (TDMRep)",
        "https://www.w3.org/community/reports/tdmrep/CG-FINAL-tdmrep-20240510/",
    ),
    ReasonEntry(
        "content-signal",
        N_("The site's robots.txt says ai-train=no in a Content-Signal line."),
        "Cloudflare Content Signals Policy",
        "https://blog.cloudflare.com/content-signals-policy/",
    ),
    ReasonEntry(
        "noai",
        N_(
            "The page carries a noai (or, for images, noimageai) directive in a header or meta tag."
        ),
        "X-Robots-Tag / robots meta noai convention",
        "https://www.deviantart.com/team/journal/UPDATE-All-Deviations-Are-Opted-Out-of-AI-Datasets-934500371",
    ),
    ReasonEntry(
        "ai-txt",
        N_("The site's ai.txt file disallows the page for AI training."),
        "Spawning ai.txt",
        "https://spawning.substack.com/p/aitxt-a-new-way-for-websites-to-set",
    ),
    ReasonEntry(
        "registry-url",
        N_("An author registered this address (page, prefix or site) in the opt-out registry."),
        "Authors' opt-out registry (tdmcrawl)",
        "https://github.com/tdmcrawl/tdmcrawl",
    ),
    ReasonEntry(
        "registry-content",
        N_("The page is a copy or near-copy of a work an author registered in the registry."),
        "Authors' opt-out registry (tdmcrawl), near-duplicate check",
        "https://github.com/tdmcrawl/tdmcrawl",
    ),
    ReasonEntry(
        "reserved-copy",
        N_("The page is a copy or near-copy of another page that is reserved."),
        "Near-duplicate check against reserved pages (tdmcrawl)",
        "https://github.com/tdmcrawl/tdmcrawl",
    ),
    ReasonEntry(
        "rsl",
        N_(
            "A Really Simple Licensing (RSL) licence forbids AI training, or allows it only "
            "on terms the operator does not hold."
        ),
        "RSL 1.0 (Really Simple Licensing)",
        "https://rslstandard.org/",
    ),
    ReasonEntry(
        "robots-comment",
        N_(
            "The site's robots.txt states a reservation against AI training in words, in a "
            "comment (a documented reading of the site's evident intent)."
        ),
        "RFC 9309 comments (tdmcrawl reading)",
        "https://www.rfc-editor.org/rfc/rfc9309",
    ),
)
REASON_BY_CODE = {entry.code: entry for entry in REASONS}

# Policy switches as the manifest and warcinfo name them -> what honouring them means.
POLICY_SWITCHES: tuple[tuple[str, str], ...] = (
    ("robots", N_("robots.txt rules for this crawler (cannot be switched off)")),
    ("robots-ai-agents", N_("robots.txt rules that shut out AI-training crawlers")),
    ("content-usage", N_("IETF AI preferences (Content-Usage)")),
    ("aipref-compat", N_("older AI-preference labels read as a training reservation")),
    ("content-signal", N_("Cloudflare Content-Signal ai-train=no")),
    ("tdmrep", N_("W3C TDMRep reservations (tdmrep.json, header, meta tag)")),
    ("noai", N_("noai and noimageai directives")),
    ("ai-txt", N_("Spawning ai.txt")),
    ("registry", N_("the authors' opt-out registry")),
    ("near-duplicates", N_("copies of reserved works and pages kept out")),
    ("require-robots", N_("pages of sites without a robots.txt capture excluded")),
    ("fetch-reserved", N_("reserved pages fetched only to recognise copies, never stored")),
    ("pages", N_("every kept page requested again to read its headers and meta tags")),
)
