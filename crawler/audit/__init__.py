"""The audit database (``DIR/audit.sqlite``) and what reads it.

``db`` (schema, migrations, the batched writer the crawl uses), ``queries``
(summary, one URL's story), ``export`` (CSV/JSONL), ``report`` (the HTML
report), ``serve`` (Datasette), ``merge`` (several nodes' audits into one).
See docs/audit.md.
"""
