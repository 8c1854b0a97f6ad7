"""WARC/1.1 output without Scrapy: records, the rotating writer, rewriting, crash recovery.

``capture`` (one HTTP exchange as received), ``records`` (building and
serialising records), ``writer`` (``.open`` -> rename, rotation, the veto
hook; the evidence writer), ``rewrite`` (a file's layout, and removing pages
from it), ``recover`` (finalising what a killed process left open).
See docs/warc.md.
"""
