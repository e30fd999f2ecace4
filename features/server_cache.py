"""A server-side cache of public reads that never serves older data than the database.

What is cached: the whole 200 answer (body, ``ETag``, ``Cache-Control``,
``Link``) of the public reads, a product, a list page (numbered or cursor), a
batch fetch and ``/api/config``, keyed by the request's scheme, host, path and
query string. A view opts in with ``@cached("catalog")`` (or ``"config"``) and
answers through ``http_cache.public_response``; the decorator keeps the
complete answer the view returns, and the pipeline's ``answer_conditionally``
step applies ``If-None-Match`` afterwards, to a hit and a miss alike. A hit
skips the view altogether (no product query, no ``COUNT``, no marshmallow, no JSON
encoding, no digest),
and a client's ``If-None-Match`` is still answered 304, from the cached ETag.

Read your writes, across processes and instances
------------------------------------------------
Catalog keys contain the catalog version token (``models/catalog.py``): one row
in the database whose token changes in the same transaction as every write to
``products``. Each catalog read first reads the token (a primary-key read of one
row, ``models.catalog.current_token``). Once a write is committed,
and so before it is answered, every process of every instance on that database
reads the new token, so no entry stored before the write can be found again:

- a reader that read the old token just before the write committed may still
  store what it read, but under the old token, which nobody reads again;
- a reader that reads the new token reads the products after the write too
  (the token is read first, and both databases' snapshots only move forward).

``/api/config`` is built from settings only: its key holds the values it is
built from, so an instance restarted with other settings misses the old entry.

Why the version lives in the database rather than in the cache store: with
``simple://`` each process has its own store, so a counter there could not
tell process B about a write made in process A; the database is what every
process and instance shares, and a bump in the write's own transaction cannot
be lost or come late (a Redis counter bumped after the commit would leave a
window, and would be missed when Redis is down at that moment). One token for
the whole catalog, not one per product: any write can change any list page
(which rows it holds, its total), so pages need it anyway, and catalog reads
far outnumber writes.

Settings
--------
``CACHE_URL``:

- ``simple://`` (the default): entries in each worker process (cachelib's
  ``SimpleCache``, at most ``SIMPLE_THRESHOLD`` entries). Correct with any
  number of processes and instances, because only the token needs sharing and
  the database shares it; each process warms its own copy.
- ``redis://host:port/db``: one store for every process and instance, warmed
  once, at the cost of a round trip per read. Use a Redis db of its own.
- ``none``: no cache; every read is computed.

Entries live ``ENTRY_TTL`` seconds at most (a write makes them unreachable long
before). Keys start with a digest of ``SECRET_KEY`` and ``DATABASE_URL``, so
services that share a Redis but not a database, or sign cursors with another
key, never read each other's entries. A cache store that fails never fails a
request: the read is computed as if the entry were missing, a warning is
logged, and the store is left alone for ``RETRY_AFTER_FAILURE`` seconds.
"""

import hashlib
import logging
import time
from functools import wraps

from flask import current_app
from flask.globals import request_ctx
from flask_caching import Cache

from config import REDIS_TIMEOUTS, VERSION
from models.catalog import current_token
from models.fast_read import autocommit_engine
from plumbing.view_order import CACHED, record_layer

log = logging.getLogger("api.server_cache")

ENTRY_TTL = 300  # seconds
SIMPLE_THRESHOLD = 2000  # entries per process
RETRY_AFTER_FAILURE = 5.0  # seconds without the store after it failed
# Headers a public answer is rebuilt with; everything else is added per request.
_KEPT_HEADERS = ("Content-Type", "Cache-Control", "Link")

cache = Cache()


class _State:
    """The cache's per-app state: its store (Flask-Caching's backend, looked up
    once rather than through ``cache`` on each call), the app's response class,
    its key namespace and whether the store is usable."""

    def __init__(self, store, response_class, namespace):
        self.store = store
        self.response_class = response_class
        self.namespace = namespace
        self.unusable_until = 0.0

    def usable(self):
        return time.monotonic() >= self.unusable_until

    def failed(self, action):
        log.warning("server cache store failed to %s; reading from the database", action)
        self.unusable_until = time.monotonic() + RETRY_AFTER_FAILURE


def init_app(app):
    """Attach the store ``CACHE_URL`` names, unless it is ``none``."""
    url = app.config["CACHE_URL"]
    if url == "none":
        return
    if url.startswith("simple"):
        config = {"CACHE_TYPE": "SimpleCache", "CACHE_THRESHOLD": SIMPLE_THRESHOLD}
    else:
        config = {
            "CACHE_TYPE": "RedisCache",
            "CACHE_REDIS_URL": url,
            "CACHE_OPTIONS": dict(REDIS_TIMEOUTS),
        }
    namespace = hashlib.sha256(
        f"{app.config['SECRET_KEY']}\0{app.config['SQLALCHEMY_DATABASE_URI']}".encode()
    ).hexdigest()[:16]
    cache.init_app(
        app,
        config={**config, "CACHE_DEFAULT_TIMEOUT": ENTRY_TTL, "CACHE_KEY_PREFIX": "api-cache:"},
    )
    with app.app_context():
        store = cache.cache
    app.extensions["server_cache"] = _State(store, app.response_class, namespace)


def cached(scope):
    """Serve the decorated public view from the cache; ``scope`` is ``"catalog"``
    (keyed by the catalog version) or ``"config"`` (keyed by the settings)."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            state = current_app.extensions.get("server_cache")
            if state is not None and state.usable():
                key = _key(state, scope)
                if key is not None:
                    try:
                        entry = state.store.get(key)
                    except Exception:
                        # Nor stored: one failed try, one warning (docs/performance.md).
                        state.failed("read an entry")
                        return view(*args, **kwargs)
                    if entry is not None:
                        return _rebuild(state, entry)
                    response = view(*args, **kwargs)
                    _store(state, key, response)
                    return response
            return view(*args, **kwargs)

        return record_layer(wrapper, view, CACHED)

    return decorator


def _store(state, key, response):
    """Keep ``response``, the view's complete answer, when it is a 200."""
    if response.status_code != 200:
        return
    headers = [(name, response.headers[name]) for name in _KEPT_HEADERS if name in response.headers]
    entry = (response.get_data(), response.get_etag()[0], headers)
    try:
        state.store.set(key, entry)
    except Exception:
        state.failed("store an entry")


def _key(state, scope):
    if scope == "config":
        version = f"{VERSION}:{current_app.config['ALLOW_REGISTRATION']}"
    else:
        version = current_token(autocommit_engine())
        if version is None:  # no version row (an emptied database): cannot cache safely
            return None
    req = request_ctx.request  # not the proxy: read four times (pipeline.py)
    address = f"{req.scheme}://{req.host}{req.path}?{req.query_string!r}"
    digest = hashlib.blake2b(address.encode(), digest_size=16).hexdigest()
    return f"{state.namespace}:{scope}:{version}:{digest}"


def _rebuild(state, entry):
    body, etag, headers = entry
    response = state.response_class(body, headers=headers)
    response.set_etag(etag)
    return response
