"""``tdmcrawl demo``: the bundled example web (``crawler/demo/sites/``), served and crawled.

Each directory of ``sites/`` is one site, served on its own loopback port
(its own origin); ``sites.json`` adds per-path headers and statuses. The
directory ``well-known/`` is served as ``/.well-known/`` (dot-directories don't
survive packaging).
"""

from __future__ import annotations

import json
import mimetypes
from importlib import resources
from pathlib import Path
from typing import Any

from tdmcrawl.crawler.demo.loopback import LoopbackWeb, Reply, Site

DEMO_WEB = Path(str(resources.files("tdmcrawl.crawler.demo") / "sites"))

# Settings for a crawl of loopback servers we run ourselves: no need to be gentle.
DEMO_SETTINGS: dict[str, Any] = {
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY": 0,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
    "TDMCRAWL_SCOPE": "host",
}

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
}


def load_sites(root: Path = DEMO_WEB) -> list[Site]:
    manifest = json.loads((root / "sites.json").read_text(encoding="utf-8"))
    sites = []
    for name, spec in manifest.items():
        if name.startswith("_"):
            continue
        site = Site(name)
        base = root / name
        for file in sorted(p for p in base.rglob("*") if p.is_file()):
            rel = file.relative_to(base).as_posix()
            path = "/" + rel.replace("well-known/", ".well-known/", 1)
            content_type = _TYPES.get(file.suffix) or (
                mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            )
            headers = [
                ("Content-Type", content_type),
                *map(tuple, spec.get("headers", {}).get(path, [])),
            ]
            status = spec.get("status", {}).get(path, 200)
            site.add(path, Reply(status, headers, file.read_bytes()))
            if path.endswith("/index.html"):
                site.add(path[: -len("index.html")], Reply(status, headers, file.read_bytes()))
        for path, status in spec.get("status", {}).items():
            if path not in site.routes:
                site.add(path, Reply(status, [("Content-Type", "text/plain")], b"unavailable\n"))
        sites.append(site)
    return sites


def demo_web() -> LoopbackWeb:
    """The example web, not yet started."""
    return LoopbackWeb(load_sites())


def describe(web: LoopbackWeb) -> list[tuple[str, str, str]]:
    """(site, origin, what it shows) for the demo's banner."""
    manifest = json.loads((DEMO_WEB / "sites.json").read_text(encoding="utf-8"))
    return [(name, web.origin(name), manifest[name].get("about", "")) for name in web.sites]
