"""The item the spider yields for every page that passed the post-fetch gate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tdmcrawl.optout.decision import Decision


@dataclass
class PageItem:
    """One page that may be used, on its way through the item pipelines to the WARC output.

    ``capture`` is a ``crawler.capture.Capture`` (the response and request as
    on the wire); it is ``None`` only when the capture middleware is absent.
    """

    url: str  # final URL of the response
    decision: Decision  # the post-fetch Decision (allowed)
    # The body and the text stay out of repr: a log line names the page, never prints it.
    capture: Any = field(repr=False)  # crawler.capture.Capture
    text: str | None = field(default=None, repr=False)  # main text, for the near-duplicate gate
    # crawler.workers.Prepared: fingerprint and response record from a page worker (or None)
    prepared: Any = field(default=None, repr=False)
    depth: int = 0
