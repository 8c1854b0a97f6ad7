"""The gates a URL passes, in the order of DESIGN.md's data flow.

``netguard`` (no public-to-private hops), ``origin`` (robots.txt, tdmrep.json,
ai.txt and registry URL rules before fetching), ``response`` (headers and
meta after fetching), ``neardup`` (copies of reserved works, and the release
step before a WARC file is finalised).
"""
