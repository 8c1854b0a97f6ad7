"""The registry as a service authors reach from anywhere, and crawlers follow.

``create_app(ServiceConfig(registry=Path("optout.sqlite")))`` is an ASGI
application (FastAPI, served by uvicorn through ``tdmcrawl registry serve``):

- ``app``: assembly, errors, languages; ``core``: what the form and the API share;
- ``web``: the form (server-rendered, no JavaScript), receipts, removal, verification;
- ``api``: the JSON API ``/api/v1`` and the crawlers' feed;
- ``security``: headers, request-size and rate limits, CSRF;
- ``verify``: ownership of a site shown by a well-known file.

See docs/registry.md for running it behind a reverse proxy, as a systemd unit
and in a container.
"""

from tdmcrawl.registry.service.app import RegistryApp, create_app
from tdmcrawl.registry.service.core import ServiceConfig

__all__ = ["RegistryApp", "ServiceConfig", "create_app"]
