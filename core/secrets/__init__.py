"""The machinery behind :class:`core.secret.Secret`: typed fields, backends and a cache.

``core.secret`` is the public entry point; the modules here are split by concern:
``types`` (one pydantic model per secret type), ``base`` and ``registry`` (the
backend protocol and the name -> backend table), ``local`` and ``aws`` (the two
backends), ``cache`` (the per-process time-to-live cache) and ``errors``.
"""
