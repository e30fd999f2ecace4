"""Rate limits: counted per request on the public API of ``limits``.

A small limiter of the service's own instead of Flask-Limiter: this service has
one default limit and a few named ones, each a fixed window keyed by the caller,
so the work per request is one counter increment and one expiry read in the
storage, with nothing worked out again per request (bench/README.md has the
figures). The settings are the ones Flask-Limiter read, under the same names
(``RATELIMIT_ENABLED``, ``RATELIMIT_STORAGE_URI``, ``RATELIMIT_DEFAULT``, ...),
and the counters live under the same storage keys (``LIMITS:LIMITER/<key>/
<endpoint>/<amount>/<multiples>/<period>`` in Redis).

- Every ``/api`` route has the default limit (``RATELIMIT_DEFAULT``); a view
  marked with a named limit below has only that one. Other paths (``/healthz``,
  ``/readyz``, ``/metrics``), unknown routes and CORS preflights are never
  limited.
- The key is ``user:<id>`` for a request with a valid token, else the client
  address (which ProxyFix has taken from ``X-Forwarded-For`` when, and only when,
  ``TRUSTED_PROXIES`` says so). Login and password reset count per address.
- Every request is counted before the view runs, in ``check_request``, so a 429
  costs no further work.
- Failed attempts that are no request of their own (a wrong ``current_password``
  when changing one's password) are counted by ``FailedAttempts``: only the
  failures count, per user, at ``RATELIMIT_LOGIN``, in the same storage.
- Fail open: when the storage (Redis) cannot be reached, a warning is logged and
  the process counts in its own memory until the storage answers again (checked
  after 1 s, then 2, 4, ... up to 32 s); "Rate limit storage recovered" is
  logged at WARNING too, so operators who log warnings only learn both.
"""

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import NamedTuple

from flask import current_app, g
from limits.errors import StorageError
from limits.storage import storage_from_string
from sqlalchemy.exc import SQLAlchemyError

from auth.access import authentication_of
from config import REDIS_TIMEOUTS
from errors import RateLimited
from extensions import db

log = logging.getLogger("api.rate_limits")

FIRST_RECHECK, LONGEST_RECHECK = 1.0, 32.0  # seconds between checks of a down storage


def client_address(req, ctx_g):
    return req.remote_addr or "127.0.0.1"


def rate_limit_key(req, ctx_g):
    """``user:<id>`` for a valid token, else the client address.

    The authentication is kept on ``g``, so the view's own reuses it. A database
    error here is not the limiter's storage failing: count by address and let
    the view meet (and report) the database error itself.
    """
    try:
        user = authentication_of(req, ctx_g).user
    except SQLAlchemyError:
        db.session.rollback()
        user = None
    return f"user:{user.id}" if user else client_address(req, ctx_g)


class MemoryCounters:
    """``memory://``: fixed-window counters in this process's memory.

    The same three calls as a ``limits`` storage (``incr``, ``get``,
    ``get_expiry``). limits' own memory storage starts a thread (a
    ``threading.Timer``) on an increment whenever the previous one has fired,
    under load about one per request; here expired counters are swept inline,
    at most once a second (an expired counter is never read anyway).
    """

    SWEEP_INTERVAL = 1.0  # seconds

    def __init__(self):
        self.counters = {}  # key -> [count, expires_at (epoch seconds)]
        self.lock = threading.Lock()
        self.next_sweep = time.time() + self.SWEEP_INTERVAL

    def incr(self, key, expiry, amount=1):
        now = time.time()
        with self.lock:
            if now >= self.next_sweep:
                self.next_sweep = now + self.SWEEP_INTERVAL
                self.counters = {k: v for k, v in self.counters.items() if v[1] > now}
            counter = self.counters.get(key)
            if counter is None or counter[1] <= now:
                counter = self.counters[key] = [0, now + expiry]
            counter[0] += amount
            return counter[0]

    def get(self, key):
        counter = self.counters.get(key)
        return counter[0] if counter is not None and counter[1] > time.time() else 0

    def get_expiry(self, key):
        counter = self.counters.get(key)
        return counter[1] if counter is not None else time.time()


class Window(NamedTuple):
    """What the ``RateLimit-*`` headers report: one limit's state for this key."""

    amount: int
    remaining: int
    resets_at: float  # epoch seconds


class Counters:
    """The configured storage, with this process's memory standing in while it is down."""

    def __init__(self, uri):
        self.memory = MemoryCounters()
        if uri.startswith("memory"):
            self.storage = self.memory
        else:
            self.storage = storage_from_string(uri, wrap_exceptions=True, **REDIS_TIMEOUTS)
        self.down = False
        self.recheck_at = 0.0
        self.recheck_pause = FIRST_RECHECK

    def call(self, method, *args):
        """``method`` of the storage, or of the memory while the storage is down."""
        if self.storage is self.memory or (self.down and not self.recovered()):
            return getattr(self.memory, method)(*args)
        try:
            return getattr(self.storage, method)(*args)
        except StorageError:
            self.went_down()
            return getattr(self.memory, method)(*args)

    def went_down(self):
        log.warning("Rate limit storage unreachable - falling back to in-memory storage")
        self.down = True
        self.recheck_pause = FIRST_RECHECK
        self.recheck_at = time.monotonic() + self.recheck_pause

    def recovered(self):
        if time.monotonic() < self.recheck_at:
            return False
        try:
            alive = self.storage.check()
        except Exception:  # check() answers False for a down Redis; be as safe for others
            alive = False
        if not alive:
            self.recheck_pause = min(self.recheck_pause * 2, LONGEST_RECHECK)
            self.recheck_at = time.monotonic() + self.recheck_pause
            return False
        log.warning("Rate limit storage recovered")
        self.down = False
        return True

    def hit(self, item, identifiers):
        """Count one request against ``item``: whether it is within the limit, and
        the ``Window`` after the count."""
        key = item.key_for(*identifiers)
        count = self.call("incr", key, item.get_expiry())
        window = Window(item.amount, max(0, item.amount - count), self.call("get_expiry", key))
        return count <= item.amount, window

    def peek(self, item, identifiers):
        """``item``'s ``Window`` for ``identifiers``, counting nothing."""
        key = item.key_for(*identifiers)
        count = self.call("get", key)
        return Window(item.amount, max(0, item.amount - count), self.call("get_expiry", key))


@dataclass(frozen=True)
class RouteLimit:
    """A named limit: the setting that holds it and the key it counts by
    (``key(req, ctx_g)``, called by ``check_request``)."""

    setting: str
    key: object = rate_limit_key

    def __call__(self, view):
        """Mark ``view`` as limited by this limit instead of the default one.

        A mark, not a wrapper: ``check_request`` reads it from the routed view,
        through any decorator made with ``functools.wraps`` (which copies it).
        """
        view.rate_limit = self
        return view


DEFAULT_LIMIT = RouteLimit("RATELIMIT_DEFAULT")

# The stricter limits, one decorator per setting. Login counts every attempt,
# failed ones included, per client address: a token says nothing there.
login_limit = RouteLimit("RATELIMIT_LOGIN", key=client_address)
register_limit = RouteLimit("RATELIMIT_REGISTER")
# Password reset requests mail someone: per client address, like login.
password_reset_limit = RouteLimit("RATELIMIT_PASSWORD_RESET", key=client_address)
feedback_limit = RouteLimit("RATELIMIT_FEEDBACK")


class Limiter:
    """One app's rate limiting: its counters and the limits of each endpoint."""

    def __init__(self, config):
        self.config = config
        self.counters = Counters(config["RATELIMIT_STORAGE_URI"])
        self.by_endpoint = {}  # endpoint -> (RouteLimit, its parsed items, smallest first)

    def limits_for(self, endpoint):
        found = self.by_endpoint.get(endpoint)
        if found is None:
            view = current_app.view_functions[endpoint]
            route_limit = getattr(view, "rate_limit", None) or DEFAULT_LIMIT
            found = (route_limit, self.config[route_limit.setting])
            self.by_endpoint[endpoint] = found
        return found

    def items(self, setting):
        return self.config[setting]

    def check_request(self, req, ctx_g):
        """Count the request against its route's limits; 429 once one is used up.

        The step before the view (``request_check``): a method of the app's own
        limiter, so no request looks the limiter up through ``current_app`` (each
        read of that proxy is a lookup of the app context)."""
        endpoint = req.endpoint
        if endpoint is None or req.method == "OPTIONS":
            return
        path = req.path
        if not (path == "/api" or path.startswith("/api/")):
            return
        route_limit, items = self.limits_for(endpoint)
        identifiers = (route_limit.key(req, ctx_g), endpoint)
        reported = None
        for item in items:
            allowed, window = self.counters.hit(item, identifiers)
            if reported is None:
                reported = window
            if not allowed:
                ctx_g.rate_limit_window = window
                log.info("rate limit %s (%s) exceeded at %s", item, identifiers[0], endpoint)
                raise RateLimited(
                    f"Too many requests (limit: {item}); "
                    "retry after the number of seconds in Retry-After."
                )
        ctx_g.rate_limit_window = reported


def request_check(app):
    """``app``'s step that counts each request: its limiter's ``check_request``."""
    return app.extensions["rate_limits"].check_request


class FailedAttempts:
    """Failed attempts of one kind, counted per key at the rate a setting names.

    A route limit counts requests; this counts only failures, where the view
    says one happened (the failure is known inside the view, and only some
    requests to the route make an attempt at all)::

        CURRENT_PASSWORD = FailedAttempts("RATELIMIT_LOGIN", "current_password")
        CURRENT_PASSWORD.check(key)      # 429 once this window's failures are used up
        if wrong:
            CURRENT_PASSWORD.failed(key)  # count one

    Both report this limit in the response's ``RateLimit-*`` headers (and a 429's
    ``Retry-After``) instead of the route's. The counters live in the limiter's
    storage (Redis when configured), so every process and instance shares them.
    """

    def __init__(self, setting, scope):
        self.setting = setting
        self.scope = scope

    def _limits(self):
        limiter = current_app.extensions.get("rate_limits")
        return (limiter, limiter.items(self.setting)) if limiter else (None, [])

    def check(self, key):
        limiter, items = self._limits()
        for item in items:
            window = limiter.counters.peek(item, (key, self.scope))
            g.rate_limit_window = window
            if window.remaining == 0:
                raise RateLimited(
                    f"Too many failed attempts (limit: {item}); "
                    "retry after the number of seconds in Retry-After."
                )

    def failed(self, key):
        limiter, items = self._limits()
        for item in reversed(items):  # the shortest window is reported last
            g.rate_limit_window = limiter.counters.hit(item, (key, self.scope))[1]


# Changing one's own password proves the caller knows the current one: a stolen
# access token must not guess it faster than login allows.
current_password_attempts = FailedAttempts("RATELIMIT_LOGIN", "current_password")


def rate_limit_headers(response, req, ctx_g):
    """``RateLimit-*`` on every limited response and ``Retry-After`` on a 429,
    the reset given as seconds until the window resets.

    No other step or view writes these headers, so they are added, not set
    (which looks through every header for one to replace)."""
    window = ctx_g.get("rate_limit_window")
    if window is None:
        return response
    seconds = max(0, math.ceil(window.resets_at - time.time()))
    headers = response.headers
    headers.add("RateLimit-Limit", str(window.amount))
    headers.add("RateLimit-Remaining", str(window.remaining))
    headers.add("RateLimit-Reset", str(seconds))
    if response.status_code == 429:
        headers.add("Retry-After", str(max(1, seconds)))
    return response


def init_app(app):
    """The limiter for ``app``, unless rate limiting is switched off; ``pipeline``
    registers its ``check_request`` (``request_check(app)``) and
    ``rate_limit_headers`` then."""
    if app.config["RATELIMIT_ENABLED"]:
        app.extensions["rate_limits"] = Limiter(app.config)
