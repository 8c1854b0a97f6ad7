"""Opt-out signals: pure parsers and the policy that combines them (no network, no Scrapy)."""
