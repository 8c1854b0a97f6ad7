"""The bundled example web (``sites/``) and the loopback servers that serve it.

``loopback`` serves any set of sites on 127.0.0.1 with a request log (the
demo and the tests use it); ``example`` loads ``sites/`` for ``tdmcrawl demo``.
"""
