"""The hostile-input suite: attacks a careful tester made on the crawler, each kept as a test.

Hostile origins (real loopback servers serving malformed or evasive signals), kills and
signals sent to real crawl processes, and typos in options and settings. Each test is
named after what it attacks, failed on the code before its fix, and asserts that the
crawler fails closed: the page is reserved, or the run stops with one clear line, and
nothing already collected is lost or written twice.
"""
