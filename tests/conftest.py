"""Session-wide test settings. Shared helpers and fixtures live in the tests.support package."""

import os
import tempfile

# Keep every test's network traffic on loopback: no proxy may divert it.
for _var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
    os.environ.pop(_var, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

# The AI-crawler list in force is the packaged one unless a test says otherwise: a
# developer's own override (tdmcrawl agents update) must not change what tests see.
os.environ["TDMCRAWL_AGENTS_FILE"] = os.path.join(
    tempfile.gettempdir(), f"tdmcrawl-tests-no-agents-override-{os.getpid()}.json"
)
