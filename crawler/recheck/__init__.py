"""``tdmcrawl recheck``: a past corpus under today's opt-outs, as a new version.

``parent`` reads DIR, ``decide`` runs today's signals on its kept pages inside
a crawl through the add-on (``spider``), ``copy`` writes the new version,
``run`` puts the steps together. See docs/recheck.md.
"""

from tdmcrawl.crawler.recheck.parent import RecheckError
from tdmcrawl.crawler.recheck.result import RecheckOptions, RecheckResult
from tdmcrawl.crawler.recheck.run import recheck_corpus

__all__ = ["RecheckError", "RecheckOptions", "RecheckResult", "recheck_corpus"]
