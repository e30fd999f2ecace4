"""Request features with tables or storage of their own (their models live in ``models/``).

- ``idempotency``: ``Idempotency-Key`` on creates, so a retry replays the first success
  (``models/idempotency.py``);
- ``server_cache``: the server-side cache of public reads, keyed by the catalog
  version (``models/catalog.py``);
- ``rate_limits``: the rate limiter (on ``limits``), its key and the named limits.
"""
